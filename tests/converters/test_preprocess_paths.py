"""One preprocessing for the whole SDK: the runtime's Preprocessor, the converters' numpy loading (calibration,
evaluation) and their tf.data pipeline (training) turn the same image file into the same tensor."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgesdk.bundle import InputSpec
from edgesdk.converters import ImageSet, import_tf, load_images, tf_dataset
from edgesdk.errors import InputError, MissingExtraError
from edgesdk.runtime import Preprocessor, TensorSpec, read_image

SPECS = [
    InputSpec.from_range(-1.0, 1.0, resize="stretch", color="RGB"),
    InputSpec.from_range(0.0, 1.0, resize="letterbox", color="BGR"),
    InputSpec(color="RGB", resize="crop", mean=(123.7, 116.3, 103.5), std=(58.4, 57.1, 57.4), range=None),
]


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    """A non-square image with structure in every channel, so a wrong crop, pad or colour order shows."""
    h, w = 37, 53
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, (xx * yy) % 256], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("img") / "a.png"
    cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.resize}-{s.color}")
def test_runtime_numpy_and_tf_data_give_the_same_tensor(image_file, spec):
    try:
        tf = import_tf()
    except MissingExtraError as exc:
        pytest.skip(str(exc))
    w, h = 24, 20
    runtime = Preprocessor(TensorSpec("image", 0, (1, h, w, 3), np.dtype(np.float32)), spec)(read_image(image_file))[0][0]
    numpy_path = load_images([image_file], (h, w), spec)[0]
    ds = tf_dataset(ImageSet(image_file.parent, [image_file], np.zeros(1, np.int64), ["a"], "classes"), (h, w), spec,
                    batch_size=1, cache=False)
    tf_path = next(iter(ds))[0].numpy()[0]
    assert runtime.shape == numpy_path.shape == tf_path.shape == (h, w, 3)
    np.testing.assert_array_equal(numpy_path, runtime)  # the same code: bit for bit
    np.testing.assert_allclose(tf_path, runtime, rtol=0, atol=1e-5)  # (x - mean) / std in TF: float rounding only
    assert float(np.abs(runtime).max()) > 0.1 and tf.is_tensor(next(iter(ds))[0])


def test_one_reader_one_failure(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    gray = tmp_path / "g.png"
    cv2.imwrite(str(gray), np.full((9, 7), 40, np.uint8))
    with pytest.raises(InputError, match="image not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="not a readable image"):
        read_image(bad)
    with pytest.raises(InputError, match="grayscale"):
        read_image(gray, convert=False)
    assert read_image(gray).shape == (9, 7, 3) and read_image(gray, 1).shape == (9, 7, 1)
    with pytest.raises(InputError, match="not a readable image"):
        load_images([bad], (8, 8), InputSpec())
