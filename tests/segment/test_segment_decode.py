"""Pure parts of segmentation: decoders, decoder inference, upscaling, the Segmentation type, backgrounds."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.results import Segmentation
from edgesdk.runtime.segment import (
    BlurBackground,
    ReplaceImage,
    SegmentDecodeError,
    SolidColor,
    Transparent,
    decode_segmentation,
    feathered_alpha,
    full_window,
    infer_decoder,
    label_colormap,
    parse_background,
    upscale_labels,
    upscale_probability,
    upscale_scores,
)
from edgesdk.errors import InputError


@pytest.mark.parametrize("shape,dtype,quantized,want", [
    ((1, 513, 513), np.int64, False, "deeplab-argmax"),
    ((1, 65, 65, 1), np.int32, False, "deeplab-argmax"),
    ((1, 33, 33, 21), np.uint8, True, "deeplab-logits"),
    ((1, 513, 513, 21), np.float32, False, "deeplab-logits"),
    ((1, 256, 256, 1), np.float32, False, "mediapipe-selfie"),
    ((1, 144, 256, 1), np.int8, True, "mediapipe-selfie"),
    ((1, 144, 256), np.float32, False, "mediapipe-selfie"),
])
def test_infer_decoder(shape, dtype, quantized, want):
    assert infer_decoder(shape, dtype, quantized) == want


@pytest.mark.parametrize("shape,dtype", [((1, 1001), np.uint8), ((1, 10, 4), np.float32), ((1, 896, 16), np.float32), ((2, 64, 64, 3), np.float32),
                                         ((1, 64, 64, 3), np.int32)])
def test_unknown_output_names_the_shape(shape, dtype):
    with pytest.raises(SegmentDecodeError, match="x".join(map(str, shape))):
        infer_decoder(shape, dtype)


def test_decoders_shapes_and_values():
    labels = decode_segmentation("deeplab-argmax", np.array([[[0, 15], [15, 3]]], np.int64))
    assert labels.dtype == np.int32 and labels.tolist() == [[0, 15], [15, 3]]
    scores = decode_segmentation("deeplab-logits", np.zeros((1, 4, 5, 21), np.float32))
    assert scores.shape == (4, 5, 21)
    prob = decode_segmentation("mediapipe-selfie", np.array([[[[-0.1]], [[1.3]]]], np.float32))
    assert prob.shape == (2, 1) and prob.min() == 0.0 and prob.max() == 1.0
    with pytest.raises(SegmentDecodeError):
        decode_segmentation("nope", np.zeros((1, 2, 2)))


def _disc(n: int, r: float) -> np.ndarray:
    y, x = np.mgrid[:n, :n] + 0.5
    return ((x - n / 2) ** 2 + (y - n / 2) ** 2 <= r * r).astype(np.int32)


def test_smooth_upscale_is_closer_to_the_true_shape_than_nearest():
    """A disc sampled at 16x16, upscaled 16x: the smooth vote follows the true circle better."""
    truth = _disc(256, 80)
    low = _disc(16, 5)
    win = full_window(low.shape)
    near = upscale_labels(low, win, (256, 256), "nearest")
    smooth = upscale_labels(low, win, (256, 256), "smooth")
    assert (smooth == truth).mean() > (near == truth).mean()
    # bilinear on the soft probability is smoother still
    p = upscale_probability(low.astype(np.float32), win, (256, 256)) >= 0.5
    assert p.shape == (256, 256)


def test_upscale_scores_argmax_and_window():
    scores = np.zeros((4, 4, 3), np.float32)
    scores[:, :2, 1] = 5.0
    scores[:, 2:, 2] = 5.0
    out = upscale_scores(scores, full_window(scores.shape), (40, 20))
    assert out.shape == (20, 40) and set(np.unique(out)) == {1, 2}
    assert (out[:, :18] == 1).all() and (out[:, 22:] == 2).all()
    # the left half of the map only (a letterboxed source): all class 1
    left = upscale_scores(scores, (0, 0, 2, 4), (10, 10))
    assert (left == 1).all()
    assert (upscale_scores(scores, full_window(scores.shape), (40, 20), "nearest")[:, :20] == 1).all()


def test_segmentation_type():
    lm = np.array([[0, 0, 15, 15], [0, 12, 12, 15]])
    seg = Segmentation(lm, ("background",) + tuple(f"c{i}" for i in range(1, 15)) + ("person",))
    assert seg.size == (4, 2)
    assert seg.shares() == {"background": 0.375, "person": 0.375, "c12": 0.25}
    assert seg.class_ids(["person", "12"]) == [15, 12]
    with pytest.raises(ValueError, match="unknown class.*unicorn.*known: background"):
        seg.class_ids(["unicorn"])
    assert seg.mask([15]).sum() == 3
    with pytest.raises(ValueError):
        Segmentation(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        Segmentation(np.zeros((2, 2), np.int32), probability=np.zeros((3, 3)))
    assert not seg.label_map.flags.writeable


def test_pascal_colormap():
    c = label_colormap()[:, ::-1]  # RGB
    assert c[0].tolist() == [0, 0, 0] and c[1].tolist() == [128, 0, 0] and c[15].tolist() == [192, 128, 128]


def test_backgrounds_compose():
    frame = np.full((20, 30, 3), 200, np.uint8)
    fg = np.zeros((20, 30), np.float32)
    fg[5:15, 10:20] = 1.0
    hard = feathered_alpha(fg, 0)
    soft = feathered_alpha(fg, 4)
    assert set(np.unique(hard)) == {0.0, 1.0}
    assert 0 < soft[10, 8] < 1 and soft[10, 15] > 0.95 and soft[0, 0] < 0.01
    rgba = Transparent().compose(frame, hard)
    assert rgba.shape == (20, 30, 4) and rgba[10, 15, 3] == 255 and rgba[0, 0, 3] == 0
    green = SolidColor((0, 255, 0)).compose(frame, hard)
    assert green[0, 0].tolist() == [0, 255, 0] and green[10, 15].tolist() == [200, 200, 200]
    assert BlurBackground().compose(frame, hard).shape == frame.shape
    repl = ReplaceImage(np.zeros((7, 9, 3), np.uint8), "x.png")
    assert repl.compose(frame, hard)[0, 0].tolist() == [0, 0, 0] and repl.resized_from == (9, 7)


@pytest.mark.parametrize("text,cls", [("transparent", Transparent), ("blur", BlurBackground), ("green", SolidColor),
                                      ("#00ff00", SolidColor), ("0,255,0", SolidColor)])
def test_parse_background(text, cls):
    assert isinstance(parse_background(text), cls)
    if cls is SolidColor:
        assert parse_background(text).color == (0, 255, 0)


def test_parse_background_bad(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read the replacement image"):
        parse_background(str(bad))
    with pytest.raises(InputError, match="not transparent, blur, a colour"):
        parse_background(str(tmp_path / "missing.png"))
