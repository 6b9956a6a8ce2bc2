"""The detections of a frame's full pass, tiles and crops in frame pixels, and merged into one set.

A frame's model inputs are decoded together (``FaceDetector.detect_inputs``: one score threshold and one box
decode over all of them) and mapped to frame pixels in one step (:func:`to_frame`); :func:`merge_counted` then
drops the duplicates, exactly as :func:`merge_detections` does with one Detections per input.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...results import Detections
from ..decoders.boxes import nms

__all__ = ["merge_detections", "merge_counted", "to_frame"]


def to_frame(xyxy: np.ndarray, score: np.ndarray, keypoints: np.ndarray | None, counts: np.ndarray,
             size: tuple[int, int], xfs: Sequence[tuple[float, float, float, float]]) -> Detections:
    """Normalized rows of T model inputs of ``size`` (w, h) -> one pixel Detections (class 0). ``counts`` (T,):
    rows per input, in order; ``xfs``: each input's (sx, sy, ox, oy) from ``padded_input`` (frame x = x_in / sx + ox)."""
    if not len(score):
        return Detections.empty()
    mw, mh = size
    m = np.array([(mw / sx, mh / sy, ox, oy) for sx, sy, ox, oy in xfs], np.float32)
    per = np.repeat(m, counts, axis=0)  # (n, 4): each row's kx, ky, ox, oy
    out = xyxy * per[:, [0, 1, 0, 1]] + per[:, [2, 3, 2, 3]]
    kp = None if keypoints is None else keypoints * per[:, None, 0:2] + per[:, None, 2:4]
    return Detections(out, score, np.zeros(len(score), np.int32), kp, normalized=False)


def merge_counted(allp: Detections, counts: np.ndarray, iou_threshold: float = 0.3,
                  containment: float = 0.7) -> Detections:
    """:func:`merge_detections` of the parts concatenated in ``allp`` (``counts``: rows of each part, in order)."""
    filled = int(np.count_nonzero(counts))
    if filled == 0:
        return Detections.empty()
    if filled == 1:
        return allp
    return _merge(allp, iou_threshold, containment)


def merge_detections(parts: list[Detections], iou_threshold: float = 0.3, containment: float = 0.7) -> Detections:
    """Concatenate pixel Detections and drop duplicates: greedy NMS at ``iou_threshold`` (per class), then
    boxes lying mostly (``containment`` of their area) inside a kept higher-scoring box of the same class
    (a half face cut by a tile border)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections.empty()
    if len(parts) == 1:
        return parts[0]
    if any(p.keypoints is None for p in parts):
        parts = [Detections(p.xyxy, p.score, p.class_id, None, p.normalized) for p in parts]
    return _merge(Detections.concat(parts), iou_threshold, containment)


def _merge(allp: Detections, iou_threshold: float, containment: float) -> Detections:
    classes = sorted(set(allp.class_id.tolist()))  # not np.unique: its first call imports numpy.ma (30-60 ms)
    if len(classes) == 1:  # faces: one class, no per-class split
        keep = _drop_contained(allp.xyxy, nms(allp.xyxy, allp.score, iou_threshold), containment)
        return allp[keep]
    keep_all: list[int] = []
    for cid in classes:
        idx = np.flatnonzero(allp.class_id == cid)
        kept = idx[nms(allp.xyxy[idx], allp.score[idx], iou_threshold)]
        keep_all += list(_drop_contained(allp.xyxy, kept, containment))
    keep = np.asarray(sorted(keep_all, key=lambda i: -allp.score[i]), np.int64)
    return allp[keep]


def _drop_contained(xyxy: np.ndarray, kept: np.ndarray, containment: float) -> np.ndarray:
    """``kept`` (indices into xyxy, best first) without the boxes lying mostly (``containment`` of their area)
    inside a box kept before them."""
    if len(kept) < 2:
        return kept
    b = xyxy[kept]
    iw = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    ih = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6)
    inside = (np.maximum(iw, 0) * np.maximum(ih, 0) / area[:, None] >= containment).tolist()  # [i][j]: i inside j
    final: list[int] = []
    for i in range(len(kept)):
        if not any(inside[i][j] for j in final):
            final.append(i)
    return kept[final]
