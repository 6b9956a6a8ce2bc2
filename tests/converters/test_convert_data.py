"""Image folders, splits and image checks (no TensorFlow)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgesdk.bundle import InputSpec
from edgesdk.converters import load_images, sample, scan_images, stratified_split
from edgesdk.errors import InputError


def _img(path, shape=(20, 30, 3), value=None, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, shape, dtype=np.uint8) if value is None else np.full(shape, value, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def test_class_folders_flat_and_wnid_layouts(tmp_path):
    for c, n in (("cat", 3), ("dog", 5)):
        for i in range(n):
            _img(tmp_path / "classes" / c / f"{i}.png", seed=i)
    s = scan_images(tmp_path / "classes")
    assert s.layout == "classes" and s.classes == ["cat", "dog"] and len(s) == 8
    assert s.labels.tolist() == [0] * 3 + [1] * 5
    _img(tmp_path / "flat" / "a.jpg")
    _img(tmp_path / "flat" / "b.JPEG")
    assert scan_images(tmp_path / "flat").layout == "flat"
    _img(tmp_path / "wn" / "n01443537_goldfish.JPEG")
    _img(tmp_path / "wn" / "n01440764_tench.JPEG")
    w = scan_images(tmp_path / "wn", wnids=["n01440764", "n01443537"])
    assert w.layout == "wnid" and sorted(zip((p.name for p in w.paths), w.labels.tolist())) == [
        ("n01440764_tench.JPEG", 0), ("n01443537_goldfish.JPEG", 1)]
    with pytest.raises(InputError, match="no ImageNet id"):
        scan_images(tmp_path / "wn", wnids=["n09999999"])


def test_stratified_seeded_split():
    labels = np.repeat(np.arange(4), 25)
    a = stratified_split(labels, len(labels), (0.8, 0.1, 0.1), seed=3)
    b = stratified_split(labels, len(labels), (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert sorted(np.concatenate(a).tolist()) == list(range(100))
    for part, per_class in zip(a, (20, 2.5, 2.5)):
        counts = np.bincount(labels[part], minlength=4)
        assert np.all(np.abs(counts - per_class) <= 1)
    c = stratified_split(labels, len(labels), (0.8, 0.1, 0.1), seed=4)
    assert not np.array_equal(a[0], c[0])


def test_sample_is_seeded_and_spread(tmp_path):
    for c in "abcd":
        for i in range(10):
            _img(tmp_path / c / f"{i}.png", seed=i)
    s = scan_images(tmp_path)
    x, y = sample(s, 8, seed=1), sample(s, 8, seed=1)
    assert [p.name for p in x.paths] == [p.name for p in y.paths]
    assert np.bincount(x.labels).tolist() == [2, 2, 2, 2]


def test_sample_with_one_image_per_class(tmp_path):
    """ImageNet-style sets hold one image per class: a stratified split rounds every class to 0 images."""
    for c in range(12):
        _img(tmp_path / f"c{c:02d}" / "0.png", seed=c)
    s = scan_images(tmp_path)
    x = sample(s, 5, seed=0)
    assert len(x) == 5 and len(set(x.labels.tolist())) == 5
    assert [p.name for p in x.paths] == [p.name for p in sample(s, 5, seed=0).paths]


def test_load_images_normalises_per_spec(tmp_path):
    p = _img(tmp_path / "white.png", value=255)
    x = load_images([p], (8, 8), InputSpec.from_range(-1, 1))
    assert x.shape == (1, 8, 8, 3) and np.allclose(x, 1.0)
    x = load_images([p], (8, 8), InputSpec.from_range(0, 255, resize="stretch"))
    assert np.allclose(x, 255.0)


@pytest.mark.parametrize("kind", ["empty", "missing", "a file", "corrupt"])
def test_bad_folders(tmp_path, kind):
    d = tmp_path / "calib"
    if kind == "empty":
        d.mkdir()
    elif kind == "a file":
        d.write_text("x")
    elif kind == "corrupt":
        d.mkdir()
        (d / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    if kind == "corrupt":
        with pytest.raises(InputError, match="not a readable image"):
            load_images(scan_images(d).paths, (8, 8), InputSpec())
    else:
        with pytest.raises(InputError):
            scan_images(d)


@pytest.mark.parametrize("shape,kind", [((16, 16), "grayscale"), ((16, 16, 4), "RGBA")])
def test_wrong_channel_count(tmp_path, shape, kind):
    ps = [_img(tmp_path / f"x{i}.png", shape=shape) for i in range(3)]
    with pytest.raises(InputError, match=kind):
        load_images(ps, (8, 8), InputSpec())


def test_a_stray_grayscale_image_in_a_real_set_is_converted(tmp_path):
    ps = [_img(tmp_path / f"c{i}.png", seed=i) for i in range(40)] + [_img(tmp_path / "g.png", shape=(16, 16), value=7)]
    x = load_images(ps, (8, 8), InputSpec.from_range(0, 255))
    assert x.shape == (41, 8, 8, 3) and np.allclose(x[-1], 7.0)
