import numpy as np
import pytest

from edgesdk.bundle import InputSpec
from edgesdk.errors import InputError
from edgesdk.results import Detections
from edgesdk.runtime import Preprocessor, TensorSpec


def spec(shape=(1, 8, 8, 3), dtype=np.uint8, scale=0.0, zp=0):
    return TensorSpec("in", 0, shape, np.dtype(dtype), scale, zp)


def test_raw_uint8_is_identity_and_rgb_order():
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0] = 10  # B
    img[..., 2] = 200  # R
    pre = Preprocessor(spec(scale=1 / 128, zp=128), InputSpec(raw=True, range=None))
    t, tf = pre(img)
    assert t.shape == (1, 8, 8, 3) and t.dtype == np.uint8
    assert t[0, 0, 0].tolist() == [200, 0, 10]  # RGB
    assert (tf.sx, tf.sy, tf.pad_x, tf.pad_y) == (1.0, 1.0, 0.0, 0.0)


def test_quantized_lut_matches_formula():
    # model trained on [0, 1], int8 input with scale 1/255, zero point -128
    ts = spec(dtype=np.int8, scale=1 / 255, zp=-128)
    pre = Preprocessor(ts, InputSpec.from_range(0, 1, color="BGR"))
    img = np.arange(192, dtype=np.uint8).reshape(8, 8, 3)
    t, _ = pre(img)
    expected = np.clip(np.rint(img / 255.0 / (1 / 255) - 128), -128, 127).astype(np.int8)
    assert np.array_equal(t[0], expected)


def test_float_input_mean_std_per_channel():
    ts = spec(dtype=np.float32)
    s = InputSpec(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), range=None)
    pre = Preprocessor(ts, s)
    img = np.full((8, 8, 3), 128, np.uint8)
    t, _ = pre(img)
    assert t.dtype == np.float32
    assert t[0, 0, 0] == pytest.approx([(128 - 123.675) / 58.395, (128 - 116.28) / 57.12, (128 - 103.53) / 57.375], rel=1e-5)


def test_letterbox_transform_maps_back():
    pre = Preprocessor(spec(shape=(1, 100, 100, 3)), InputSpec(raw=True, range=None, resize="letterbox"))
    img = np.full((50, 200, 3), 255, np.uint8)  # wide image -> bars top and bottom
    t, tf = pre(img)
    assert tf.sx == pytest.approx(0.5) and tf.pad_y == pytest.approx(37.0)
    assert t[0, 0, 50].tolist() == [0, 0, 0] and t[0, 50, 50].tolist() == [255, 255, 255]
    det = Detections([[0.0, 0.37, 1.0, 0.63]], [1.0], [0], normalized=True)
    back = tf.to_source(det)
    assert back.xyxy[0].tolist() == pytest.approx([0, 0, 200, 50], abs=1.0)  # y2 52 clipped to the image


def test_buffers_reused_no_per_call_allocation():
    pre = Preprocessor(spec(scale=1 / 128, zp=128), InputSpec.from_range(-1, 1))
    a, _ = pre(np.zeros((16, 16, 3), np.uint8))
    b, _ = pre(np.full((16, 16, 3), 255, np.uint8))
    assert a is b


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 5), np.uint8), "image"])
def test_bad_images(bad):
    pre = Preprocessor(spec(), InputSpec(raw=True, range=None))
    with pytest.raises(InputError):
        pre(bad)


def test_gray_and_bgra_accepted():
    pre = Preprocessor(spec(), InputSpec(raw=True, range=None))
    assert pre(np.full((4, 4), 7, np.uint8))[0][0, 0, 0].tolist() == [7, 7, 7]
    assert pre(np.full((4, 4, 4), 9, np.uint8))[0][0, 0, 0].tolist() == [9, 9, 9]
