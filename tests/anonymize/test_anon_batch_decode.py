"""The tiles of a frame decoded in one pass give exactly what decoding them one by one gives."""

from __future__ import annotations

import numpy as np

from _paths import TESTDATA

from edgesdk.results import Detections
from edgesdk.runtime.decoders.boxes import decode_blazeface, decode_blazeface_many
from edgesdk.runtime.faces import SHORT_RANGE_ANCHORS, FaceDetector, merge_detections, padded_input, ssd_anchors
from edgesdk.runtime.faces._merge import merge_counted
from edgesdk.runtime.sources import video_frames


def test_many_inputs_decode_like_one_by_one():
    rng = np.random.default_rng(0)
    anchors = ssd_anchors(SHORT_RANGE_ANCHORS)
    t, n = 6, len(anchors)
    boxes = rng.normal(0, 8, (t, n, 16)).astype(np.float32)
    boxes[:, :, 2:4] = np.abs(boxes[:, :, 2:4]) + 10
    logits = rng.normal(-6, 2, (t, n)).astype(np.float32)
    logits[1, [5, 6, 7, 300]] = [3.0, 2.5, 0.5, 4.0]  # clusters on neighbouring anchors and a lone box
    logits[4, 600] = 1.0
    logits[2] = -20.0  # a tile with nothing
    xyxy, score, kp, counts = decode_blazeface_many(boxes, logits, anchors)
    one = [decode_blazeface(boxes[i], logits[i], anchors) for i in range(t)]
    assert counts.tolist() == [len(d) for d in one]
    assert counts[2] == 0 and counts[1] >= 2 and counts.sum() == len(score)
    assert counts[1] < (logits[1] >= 0).sum() and counts[4] == (logits[4] >= 0).sum() > 1  # merged; lone boxes
    ref = Detections.concat([d for d in one if len(d)])
    assert np.array_equal(xyxy, ref.xyxy) and np.array_equal(score, ref.score)
    assert np.array_equal(kp, ref.keypoints)
    empty = decode_blazeface_many(boxes, np.full((t, n), -20.0, np.float32), anchors)
    assert empty[0].shape == (0, 4) and empty[2].shape == (0, 6, 2) and not empty[3].any()


def test_face_tiles_in_one_pass_match_each_input_on_real_frames():
    fd = FaceDetector("face", threads=1)
    size = fd.input_size
    rects = [(-40, -40, 680, 680), (-20, -20, 236, 236), (200, 100, 456, 356), (400, 200, 656, 456)]
    found = 0
    for k, frame in enumerate(video_frames(TESTDATA / "videos" / "again.mkv")):
        if k % 10:
            continue
        inputs = [padded_input(frame, r, size)[0] for r in rects]
        xyxy, score, kp, counts = fd.detect_inputs(inputs)
        one = [fd.detect_input(im) for im in inputs]
        assert counts.tolist() == [len(d) for d in one]
        assert np.array_equal(score, np.concatenate([d.score for d in one]))
        assert np.array_equal(xyxy, np.concatenate([d.xyxy for d in one]))
        found += len(score)
        # merging the concatenation with its counts is merging the parts
        parts = [d.scale(100.0, 100.0) for d in one]
        allp = Detections.concat(parts) if len(score) else Detections.empty()
        a, b = merge_counted(allp, counts), merge_detections(parts)
        assert np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.score, b.score)
    assert found > 0
