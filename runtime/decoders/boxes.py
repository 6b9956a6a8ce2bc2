"""BlazeFace output decoding as pure functions over arrays (MediaPipe's TensorsToDetectionsCalculator and
NonMaxSuppressionCalculator with the face graphs' options).

raw boxes: (1, N, 16) or (N, 16) per anchor: x, y, w, h offsets then 6 keypoints (x, y), in input pixels
relative to the anchor (``reverse_output_order``: x before y). raw scores: (1, N, 1) logits.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ...results import Detections

__all__ = ["sigmoid_scores", "decode_boxes", "iou_matrix", "weighted_nms", "nms", "class_nms", "decode_blazeface",
           "decode_blazeface_many"]

NUM_KEYPOINTS = 6
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


def sigmoid_scores(raw_scores: np.ndarray, clip: float | None = 100.0) -> np.ndarray:
    """Logits -> (N,) float32 probabilities; logits are clipped to [-clip, clip] first (score_clipping_thresh)."""
    x = np.asarray(raw_scores, np.float64).reshape(-1)
    if clip is not None:
        x = np.clip(x, -clip, clip)
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def decode_boxes(
    raw_boxes: np.ndarray, anchors: np.ndarray, scale: tuple[float, float] = (128.0, 128.0),
    num_keypoints: int = NUM_KEYPOINTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw regressors + anchors (x_center, y_center, w, h) -> (xyxy (N, 4), keypoints (N, k, 2)), normalized
    to the model input. ``scale`` is (x_scale, y_scale) = (w_scale, h_scale), the input size in pixels."""
    raw = np.asarray(raw_boxes, np.float32)
    raw = raw.reshape(-1, raw.shape[-1])
    a = np.asarray(anchors, np.float32)
    if len(raw) != len(a):
        raise ValueError(f"{len(raw)} boxes but {len(a)} anchors")
    if raw.shape[1] < 4 + 2 * num_keypoints:
        raise ValueError(f"boxes have {raw.shape[1]} values, need {4 + 2 * num_keypoints}")
    sx, sy = float(scale[0]), float(scale[1])
    # every value is offset / input size * anchor size + anchor centre (x and y interleaved after the box)
    mul = np.empty((len(a), 2), np.float32)
    mul[:, 0] = a[:, 2] / sx
    mul[:, 1] = a[:, 3] / sy
    centre = raw[:, 0:2] * mul + a[:, 0:2]
    half = raw[:, 2:4] * mul / 2
    xyxy = np.concatenate([centre - half, centre + half], axis=1).astype(np.float32, copy=False)
    kp = raw[:, 4:4 + 2 * num_keypoints].reshape(-1, num_keypoints, 2) * mul[:, None, :] + a[:, None, 0:2]
    return xyxy, kp.astype(np.float32, copy=False)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) intersection over union of xyxy boxes (``iou_matrix(x, x)``: the areas computed once)."""
    same = b is a
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = a if same else np.asarray(b, np.float32).reshape(-1, 4)
    # plain ufuncs (no np.prod / np.clip wrappers): this runs for every tile of every frame
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    area_a = np.maximum(a[:, 2] - a[:, 0], 0) * np.maximum(a[:, 3] - a[:, 1], 0)
    area_b = area_a if b is a else np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32, copy=False)


def _clusters(over: list[list[bool]], max_detections: int | None = None) -> list[list[int]]:
    """Greedy clusters of rows sorted best first: each unclaimed row takes the unclaimed rows it overlaps
    (``over[i][j]``: IoU above the threshold), in plain Python (n is a handful per face after the threshold)."""
    n = len(over)
    alive = [True] * n
    groups: list[list[int]] = []
    for best in range(n):
        if not alive[best]:
            continue
        row = over[best]
        cand = [j for j in range(best, n) if alive[j] and row[j]] or [best]  # a zero-area box: kept alone
        for j in cand:
            alive[j] = False
        groups.append(cand)
        if max_detections is not None and len(groups) >= max_detections:
            break
    return groups


def weighted_nms(
    xyxy: np.ndarray, score: np.ndarray, keypoints: np.ndarray | None = None, iou_threshold: float = 0.3,
    max_detections: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """MediaPipe's WEIGHTED non-max suppression: take the best remaining box, gather every remaining box whose
    IoU with it is above ``iou_threshold`` (itself included), and output the score-weighted mean of their
    corners and keypoints with the best box's score. Returns (xyxy, score, keypoints), best first."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    score = np.asarray(score, np.float32).reshape(-1)
    if not len(score):
        k = None if keypoints is None else np.zeros((0, np.shape(keypoints)[1] if np.ndim(keypoints) == 3 else 0, 2), np.float32)
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), k
    order = np.argsort(-score, kind="stable")
    boxes, scores = xyxy[order], score[order]
    kps = None if keypoints is None else np.asarray(keypoints, np.float32)[order]
    n = len(boxes)
    # clusters in plain Python over the IoU rows (n is small after the score threshold: a handful per face)
    over = (iou_matrix(boxes, boxes) > iou_threshold).tolist()  # all pairs once
    groups = _clusters(over, max_detections)
    # score-weighted means of every cluster at once: (clusters, n) weights times the (n, ...) corners / keypoints
    w = np.zeros((len(groups), n), np.float32)
    for g, cand in enumerate(groups):
        w[g, cand] = scores[cand]
    w /= w.sum(axis=1, keepdims=True)
    out_b = w @ boxes
    out_s = scores[[c[0] for c in groups]]
    out_k = None if kps is None else (w @ kps.reshape(n, -1)).reshape(len(groups), -1, 2)
    return out_b.astype(np.float32, copy=False), out_s, out_k


def nms(xyxy: np.ndarray, score: np.ndarray, iou_threshold: float = 0.3) -> np.ndarray:
    """Plain greedy NMS; returns the kept indices, best first."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(score, np.float32).reshape(-1), kind="stable")
    if order.size <= 256:  # all pairs at once (one vectorised IoU) beats one IoU row per kept box
        xo = xyxy[order]
        over = iou_matrix(xo, xo) > iou_threshold
        alive = np.ones(order.size, bool)
        kept = []
        for i in range(order.size):
            if alive[i]:
                kept.append(i)
                alive &= ~over[i]
        return order[np.asarray(kept, np.int64)] if kept else np.zeros(0, np.int64)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        ious = iou_matrix(xyxy[i:i + 1], xyxy[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, np.int64)


def class_nms(xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray, iou_threshold: float = 0.45,
              max_detections: int | None = None) -> np.ndarray:
    """Class-aware greedy NMS: boxes suppress only boxes of their own class. Returns the kept indices, best
    first. (Each class is shifted to its own region of the plane and :func:`nms` runs once.)"""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    if len(xyxy) == 0:
        return np.zeros(0, np.int64)
    span = float(np.abs(xyxy).max()) * 2 + 1
    shifted = xyxy + (np.asarray(class_id, np.float32).reshape(-1, 1) * span)
    keep = nms(shifted, score, iou_threshold)
    return keep if max_detections is None else keep[:max_detections]


@functools.lru_cache(maxsize=8)
def _empty(num_keypoints: int) -> Detections:
    """No detections, normalized, with (0, num_keypoints, 2) keypoints (read-only arrays: safe to share)."""
    return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32),
                      np.zeros((0, num_keypoints, 2), np.float32), normalized=True)


def decode_blazeface(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    *,
    scale: tuple[float, float] = (128.0, 128.0),
    threshold: float = 0.5,
    iou_threshold: float = 0.3,
    score_clip: float | None = 100.0,
    max_detections: int | None = None,
    num_keypoints: int = NUM_KEYPOINTS,
) -> Detections:
    """BlazeFace raw outputs -> normalized Detections (boxes and ``num_keypoints`` keypoints in [0, 1] of the
    model input), class_id 0. Scores are sigmoid(clip(logit)); boxes under ``threshold`` are dropped before
    weighted NMS. Any MediaPipe SSD detector with this output layout decodes here (the person detector: 4
    keypoints, see ``decoders.mediapipe``)."""
    logits = np.asarray(raw_scores).reshape(-1)
    if len(logits) != len(anchors):
        raise ValueError(f"{len(logits)} scores but {len(anchors)} anchors")
    # threshold on the logits (sigmoid is monotonic), with a little slack for rounding; exact check below
    if 0.0 < threshold < 1.0:
        cut = math.log(threshold / (1.0 - threshold)) - 1e-3
        if score_clip is not None:
            cut = min(cut, score_clip)
        cand = np.flatnonzero(logits >= cut)
        if cand.size == 0:  # most tiles of most frames: nothing more to compute
            return _empty(num_keypoints)
    else:
        cand = np.arange(len(logits))
    scores_c = sigmoid_scores(logits[cand], score_clip)
    ok = scores_c >= threshold
    keep, scores_c = cand[ok], scores_c[ok]
    if keep.size == 0:
        return _empty(num_keypoints)
    raw = np.asarray(raw_boxes, np.float32)
    raw = raw.reshape(-1, raw.shape[-1])
    xyxy, kps = decode_boxes(raw[keep], np.asarray(anchors, np.float32)[keep], scale, num_keypoints)
    b, s, k = weighted_nms(xyxy, scores_c, kps, iou_threshold, max_detections)
    return Detections(b, s, np.zeros(len(b), np.int32), k, normalized=True)


def decode_blazeface_many(
    raw_boxes: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    *,
    scale: tuple[float, float] = (128.0, 128.0),
    threshold: float = 0.5,
    iou_threshold: float = 0.3,
    score_clip: float | None = 100.0,
    num_keypoints: int = NUM_KEYPOINTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`decode_blazeface` of T model inputs at once (the tiles of a frame): one score threshold over every
    input's logits, one box decode, then weighted NMS within each input (never across inputs).

    raw_boxes: (T, N, >= 4 + 2k) float32; logits: (T, N). Returns (xyxy (n, 4), score (n,), keypoints (n, k, 2),
    counts (T,) int64): normalized to the model input, input 0's rows first, each input's rows as
    :func:`decode_blazeface` gives them (the same values)."""
    t, n = logits.shape[:2]
    if n != len(anchors):
        raise ValueError(f"{n} scores but {len(anchors)} anchors")
    flat = logits.reshape(-1)
    counts = np.zeros(t, np.int64)
    if 0.0 < threshold < 1.0:
        cut = math.log(threshold / (1.0 - threshold)) - 1e-3
        if score_clip is not None:
            cut = min(cut, score_clip)
        cand = np.flatnonzero(flat >= cut)
    else:
        cand = np.arange(len(flat))
    scores_c = sigmoid_scores(flat[cand], score_clip) if cand.size else np.zeros(0, np.float32)
    ok = scores_c >= threshold
    keep, scores_c = cand[ok], scores_c[ok]
    if keep.size == 0:
        return (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, num_keypoints, 2), np.float32),
                counts)
    raw = raw_boxes.reshape(t * n, raw_boxes.shape[-1])
    xyxy, kps = decode_boxes(raw[keep], np.asarray(anchors, np.float32)[keep % n], scale, num_keypoints)
    b, sc, k, tile = _weighted_nms_many(xyxy, scores_c, kps, keep // n, iou_threshold)
    counts += np.bincount(tile, minlength=t)
    return b, sc, k, counts


def _weighted_nms_many(
    xyxy: np.ndarray, score: np.ndarray, kps: np.ndarray, tile: np.ndarray, iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`weighted_nms` within each input (``tile`` (n,) ascending: the input of each row) at once: one sort,
    one IoU matrix and one pass of clustering (boxes of different inputs never cluster); the score-weighted
    means are taken per input exactly as :func:`weighted_nms` takes them (the same values, bit for bit).
    Returns (xyxy, score, keypoints, input of each row), input by input, best first within each."""
    order = np.lexsort((-score, tile))  # by input, then as weighted_nms's stable argsort(-score)
    boxes, scores, kp, tl = xyxy[order], score[order], kps[order], tile[order]
    n = len(boxes)
    over = ((iou_matrix(boxes, boxes) > iou_threshold) & (tl[:, None] == tl[None, :])).tolist()
    groups = _clusters(over)
    tiles = tl.tolist()
    starts = [i for i in range(n) if i == 0 or tiles[i] != tiles[i - 1]] + [n]  # each input's rows: [a, b)
    out_b, out_k, g0 = [], [], 0  # type: list[np.ndarray], list[np.ndarray], int
    for a, b in zip(starts[:-1], starts[1:]):
        g1 = g0
        while g1 < len(groups) and groups[g1][0] < b:
            g1 += 1
        if all(len(c) == 1 for c in groups[g0:g1]):  # lone boxes: their own corners (weight exactly 1)
            idx = [c[0] for c in groups[g0:g1]]
            out_b.append(boxes[idx])
            out_k.append(kp[idx])
            g0 = g1
            continue
        w = np.zeros((g1 - g0, b - a), np.float32)
        for g, cand in enumerate(groups[g0:g1]):
            w[g, [c - a for c in cand]] = scores[cand]
        w /= w.sum(axis=1, keepdims=True)
        out_b.append(w @ boxes[a:b])
        out_k.append((w @ kp[a:b].reshape(b - a, -1)).reshape(g1 - g0, -1, 2))
        g0 = g1
    firsts = [c[0] for c in groups]
    return (np.concatenate(out_b).astype(np.float32, copy=False), scores[firsts],
            np.concatenate(out_k).astype(np.float32, copy=False), tl[firsts])
