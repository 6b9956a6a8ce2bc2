"""BlazeFace anchors, decoding and weighted NMS as pure functions (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.runtime.faces import (
    FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, AnchorOptions, decode_blazeface, decode_boxes, merge_detections, nms,
    padded_input, parse_tiles, sigmoid_scores, ssd_anchors, tile_plan, weighted_nms,
)
from edgesdk.results import Detections


def test_short_range_anchors_match_mediapipe_layout():
    a = ssd_anchors(SHORT_RANGE_ANCHORS)
    assert a.shape == (896, 4)
    # stride 8: 16x16 cells x 2 anchors (aspect 1.0 + interpolated), then strides 16 merged: 8x8 x 6
    assert np.allclose(a[0], [0.5 / 16, 0.5 / 16, 1, 1]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 16, 0.5 / 16, 1, 1])
    assert np.allclose(a[511], [15.5 / 16, 15.5 / 16, 1, 1])
    assert np.allclose(a[512:518, :2], [[0.5 / 8, 0.5 / 8]] * 6)
    assert np.allclose(a[-1], [7.5 / 8, 7.5 / 8, 1, 1])
    assert np.all(a[:, 2:] == 1.0)  # fixed_anchor_size


def test_full_range_anchors_one_per_cell():
    a = ssd_anchors(FULL_RANGE_ANCHORS)
    assert a.shape == (2304, 4)  # 48 x 48, no interpolated anchor
    assert np.allclose(a[0], [0.5 / 48, 0.5 / 48, 1, 1])
    assert np.allclose(a[48], [0.5 / 48, 1.5 / 48, 1, 1])


def test_anchor_sizes_when_not_fixed():
    opts = AnchorOptions(128, 128, strides=(8, 16), fixed_anchor_size=False, interpolated_scale_aspect_ratio=1.0,
                         aspect_ratios=(1.0, 2.0))
    a = ssd_anchors(opts)
    assert a.shape == (16 * 16 * 3 + 8 * 8 * 3, 4)
    s0 = 0.1484375
    s1 = 0.75
    assert np.allclose(a[0, 2:], [s0, s0])
    assert np.allclose(a[1, 2:], [s0 * np.sqrt(2), s0 / np.sqrt(2)], atol=1e-6)
    assert np.allclose(a[2, 2:], [np.sqrt(s0 * s1)] * 2, atol=1e-6)
    with pytest.raises(ValueError):
        AnchorOptions(128, 128, strides=(8, 16), num_layers=3)


def test_sigmoid_clips_logits():
    s = sigmoid_scores(np.array([[-1e6], [0.0], [1e6], [2.0]], np.float32), clip=100.0)
    assert s.dtype == np.float32 and np.all(np.isfinite(s))
    assert s[1] == pytest.approx(0.5) and s[2] == pytest.approx(1.0) and s[0] == pytest.approx(0.0, abs=1e-30)
    assert s[3] == pytest.approx(1 / (1 + np.exp(-2.0)))
    # clipping changes the value of a logit beyond the clip
    assert sigmoid_scores(np.array([5.0]), clip=1.0)[0] == pytest.approx(1 / (1 + np.exp(-1.0)))


def test_decode_boxes_offsets_relative_to_anchor():
    anchors = np.array([[0.5, 0.25, 1.0, 1.0]], np.float32)
    raw = np.zeros((1, 1, 16), np.float32)
    raw[0, 0, :4] = [12.8, -6.4, 32.0, 64.0]  # dx, dy, w, h in input pixels (scale 128)
    raw[0, 0, 4:6] = [6.4, 0.0]  # keypoint 0
    xyxy, kp = decode_boxes(raw, anchors, (128.0, 128.0))
    cx, cy, w, h = 0.5 + 0.1, 0.25 - 0.05, 0.25, 0.5
    assert np.allclose(xyxy[0], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    assert kp.shape == (1, 6, 2)
    assert np.allclose(kp[0, 0], [0.55, 0.25]) and np.allclose(kp[0, 1], [0.5, 0.25])
    with pytest.raises(ValueError):
        decode_boxes(raw, np.zeros((2, 4), np.float32))


def test_weighted_nms_blends_overlaps_and_keeps_best_score():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    kps = np.array([[[1, 1]], [[3, 3]], [[55, 55]]], np.float32)
    b, s, k = weighted_nms(boxes, scores, kps, iou_threshold=0.3)
    assert len(b) == 2
    assert s.tolist() == pytest.approx([0.9, 0.8])
    expected = (boxes[0] * 0.9 + boxes[1] * 0.6) / 1.5
    assert np.allclose(b[0], expected)
    assert np.allclose(k[0, 0], (np.array([1, 1]) * 0.9 + np.array([3, 3]) * 0.6) / 1.5)
    assert np.allclose(b[1], boxes[2])
    # max_detections and empty input
    assert len(weighted_nms(boxes, scores, None, 0.3, max_detections=1)[0]) == 1
    eb, es, ek = weighted_nms(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)))
    assert eb.shape == (0, 4) and es.shape == (0,)


def test_plain_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.5, 0.9, 0.7]), 0.3)
    assert keep.tolist() == [1, 2]


def test_decode_blazeface_thresholds_then_merges():
    anchors = ssd_anchors(SHORT_RANGE_ANCHORS)
    raw_boxes = np.zeros((1, 896, 16), np.float32)
    raw_boxes[0, :, 2:4] = 20.0  # every box 20 px wide/tall
    logits = np.full((1, 896, 1), -10.0, np.float32)
    logits[0, [0, 1], 0] = [3.0, 2.0]  # two anchors at the same cell: merged into one
    logits[0, 600, 0] = 1.0  # one elsewhere
    det = decode_blazeface(raw_boxes, logits, anchors, threshold=0.5)
    assert det.normalized and len(det) == 2 and det.keypoints.shape == (2, 6, 2)
    assert det.score[0] == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert np.allclose((det.xyxy[0, :2] + det.xyxy[0, 2:]) / 2, anchors[0, :2], atol=1e-6)
    assert np.allclose(det.xyxy[0, 2:] - det.xyxy[0, :2], [20 / 128, 20 / 128], atol=1e-6)
    none = decode_blazeface(raw_boxes, logits, anchors, threshold=0.99)
    assert len(none) == 0 and none.keypoints.shape == (0, 6, 2)
    with pytest.raises(ValueError):
        decode_blazeface(raw_boxes, logits[:, :10], anchors)


@pytest.mark.parametrize("w, h", [(640, 480), (500, 375), (360, 480), (480, 270), (768, 432), (1280, 720)])
def test_every_face_the_full_pass_may_miss_lies_wholly_in_a_tile(w, h):
    p = tile_plan(w, h, 128, min_face=20.0, tile_factor=1.75)
    side = max(w, h)
    assert p.full_min_face == pytest.approx(20.0 * side / 128)
    assert (p.full[2] - p.full[0]) == side == (p.full[3] - p.full[1])  # a square around the frame
    t = p.tiles
    assert len(t) and np.all(t[:, 2] - t[:, 0] == t[:, 3] - t[:, 1])  # square tiles
    m = max(p.margin)
    assert t[:, 0].min() <= -p.margin[-1] and t[:, 2].max() >= w + p.margin[-1]  # reach over the frame's edges
    assert t[:, 1].min() <= -p.margin[-1] and t[:, 3].max() >= h + p.margin[-1]
    assert t.min() >= -m - side and m <= p.full_min_face
    # brute force: every square face of a size the full pass may miss, at every position (step 3 px) with its
    # centre in the frame, lies wholly inside some tile of some level; the finest level finds faces from min_face
    f = int(np.ceil(p.full_min_face))
    lo = int(np.ceil(p.min_face))
    for size in (lo, (lo + f) // 2, f):
        for cx in range(0, w, 3):
            x1 = cx - size / 2
            okx = (t[:, 0] <= x1) & (t[:, 2] >= x1 + size)
            for cy in range(0, h, 7):
                y1 = cy - size / 2
                ok = okx & (t[:, 1] <= y1) & (t[:, 3] >= y1 + size)
                sizes_ok = (t[:, 2] - t[:, 0]) * 20.0 / 128 <= size  # found at that tile's scale
                assert (ok & sizes_ok).any(), (size, cx, cy)


def test_tile_plan_levels_and_small_frames():
    assert len(tile_plan(200, 150, 128).tiles) == 0  # already small: the full pass only
    p = tile_plan(640, 480, 128)
    assert p.levels == (224,) and p.overlap == (100,) and p.margin == (50,) and p.min_face == 35.0
    hd = tile_plan(1280, 720, 128)
    assert len(hd.levels) == 2 and hd.levels[0] > hd.levels[1] == 224  # a middle level for HD frames
    grid = tile_plan(640, 480, 128, grid=(2, 3))
    assert len(grid.tiles) == 6
    assert len(tile_plan(640, 480, 128, pad=False).tiles) and tile_plan(640, 480, 128, pad=False).margin == (0,)
    assert parse_tiles("2x3") == (2, 3) and parse_tiles("AUTO") == "auto" and parse_tiles("off") == "off"
    for bad in ("0x2", "2", "axb", "9x9"):
        with pytest.raises(ValueError):
            parse_tiles(bad)


def test_padded_input_maps_back_and_reflects():
    img = np.zeros((100, 160, 3), np.uint8)
    img[40:60, 0:10] = 255  # a bright block touching the left edge
    inp, (sx, sy, ox, oy) = padded_input(img, (-40, 0, 120, 160), (128, 128))
    assert inp.shape == (128, 128, 3)
    assert sx == pytest.approx(0.8, abs=0.01) and sy == pytest.approx(0.8, abs=0.01)
    ys, xs = np.nonzero(inp[:, :, 0] > 128)
    # the block and its mirror image across the frame's edge (x = 0 maps to input x = 32)
    assert xs.min() < 32 < xs.max() and abs((32 - xs.min()) - (xs.max() + 1 - 32)) <= 2
    # input pixels map back to frame pixels: x = x_in / sx + ox
    assert (xs.max() + 1) / sx + ox == pytest.approx(10, abs=1.5) and ys.min() / sy + oy == pytest.approx(40, abs=1.5)
    # the same as padding the frame by reflection first and scaling after (up to resampling)
    import cv2

    ref = cv2.resize(cv2.copyMakeBorder(img[:, :120], 0, 60, 40, 0, cv2.BORDER_REFLECT_101), (128, 128))
    a, b = ref[:, :, 0] > 128, inp[:, :, 0] > 128
    assert (a & b).sum() / (a | b).sum() >= 0.7
    # fully inside and already at size: a view of the frame, no copy
    same, tf = padded_input(img, (0, 0, 100, 100), (100, 100))
    assert np.shares_memory(same, img) and tf == (1.0, 1.0, 0.0, 0.0)


def test_merge_drops_duplicates_and_half_faces():
    full = Detections(np.array([[10, 10, 50, 50]], np.float32), [0.9], [0])
    tile = Detections(np.array([[11, 11, 51, 51], [10, 10, 30, 50], [100, 100, 120, 120]], np.float32), [0.8, 0.7, 0.6], [0, 0, 0])
    m = merge_detections([full, tile])
    assert len(m) == 2
    assert np.allclose(m.xyxy[0], [10, 10, 50, 50]) and np.allclose(m.xyxy[1], [100, 100, 120, 120])
    assert len(merge_detections([])) == 0


def test_merge_keeps_classes_apart_best_first():
    a = Detections(np.array([[10, 10, 50, 50], [200, 10, 240, 50]], np.float32), [0.6, 0.95], [0, 1])
    b = Detections(np.array([[11, 11, 51, 51], [12, 12, 24, 24], [201, 11, 239, 49]], np.float32), [0.9, 0.8, 0.5], [1, 0, 1])
    m = merge_detections([a, b])
    # class 0: a small box (IoU 0.09, below NMS's 0.3) scoring 0.8 and the box around it (0.6): both kept, the
    # small one is not inside an earlier kept box; class 1: the far box and its duplicate (dropped); the class-1
    # box at (11, 11) overlaps class 0's box but is another class: kept. Best first.
    assert m.score.tolist() == pytest.approx([0.95, 0.9, 0.8, 0.6])
    assert m.class_id.tolist() == [1, 1, 0, 0]
    # the same small box scoring below the box around it lies inside a kept box: dropped
    c = Detections(np.array([[12, 12, 24, 24]], np.float32), [0.5], [0])
    assert merge_detections([a, c]).score.tolist() == pytest.approx([0.95, 0.6])
