"""YOLO detection heads as Ultralytics exports them to TFLite -> Detections (pure functions over arrays).

Layouts (one output tensor, batch 1; C classes, N candidate boxes):

- ``YoloHead.V5``: (1, N, 5 + C): cx, cy, w, h, objectness, C class scores (YOLOv5; score = obj * class);
- ``YoloHead.V8``: (1, 4 + C, N): cx, cy, w, h, C class scores, no objectness (YOLOv8, YOLO11).

Scores are already probabilities (the exports apply the sigmoid). Boxes are centre/size, normalized to the
model input (what Ultralytics writes for TFLite) or in input pixels (``normalized=False`` and the input size).
Integer outputs (int8 / uint8) are read with their scale and zero point: the score threshold is applied in the
integer domain first, so only candidate rows are dequantized.
"""

from __future__ import annotations

import enum

import numpy as np

from ...results import Detections
from .boxes import class_nms

__all__ = ["YoloHead", "decode_yolo"]


class YoloHead(enum.Enum):
    """Which YOLO output layout; the value is the manifest's decoder name."""

    V5 = "yolo-v5"
    V8 = "yolo-v8"

    @property
    def box_rows(self) -> int:
        """Values per candidate before the class scores (box + objectness for v5)."""
        return 5 if self is YoloHead.V5 else 4


def _dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if q.dtype.kind == "f":
        return q.astype(np.float32, copy=False)
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def _quantized_threshold(threshold: float, dtype: np.dtype, scale: float, zero_point: int) -> float:
    """The integer value at or above which a real value is >= threshold (scale > 0)."""
    if dtype.kind == "f" or scale <= 0:
        return threshold
    return float(np.floor(threshold / scale + zero_point - 1e-6))


def decode_yolo(
    output: np.ndarray,
    head: YoloHead,
    *,
    scale: float = 0.0,
    zero_point: int = 0,
    normalized: bool = True,
    input_size: tuple[int, int] | None = None,
    threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_detections: int = 300,
    max_candidates: int = 3000,
) -> Detections:
    """One YOLO output -> normalized Detections (x1, y1, x2, y2 in [0, 1] of the model input), best first.

    output: (1, N, 5 + C) for V5 or (1, 4 + C, N) for V8, float or int8/uint8 with ``scale`` / ``zero_point``.
    normalized: boxes are fractions of the input; else input pixels and ``input_size`` (width, height) is needed.
    threshold: minimum score (v5: objectness x class score); iou_threshold: class-aware NMS; at most
    ``max_candidates`` boxes (the best) enter the NMS and ``max_detections`` come out.
    """
    a = np.asarray(output)
    if a.ndim == 3:
        if a.shape[0] != 1:
            raise ValueError(f"YOLO output must have batch 1, got shape {a.shape}")
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"YOLO output must be (1, rows, cols), got shape {np.shape(output)}")
    if not normalized and input_size is None:
        raise ValueError("boxes in pixels need the model's input size")
    if head is YoloHead.V8:
        rows = a  # (4 + C, N): reduce over contiguous rows
        if rows.shape[0] < 5:
            raise ValueError(f"a v8 YOLO output needs 4 + C rows, got shape {np.shape(output)}")
        cls = rows[4:]
        best_q = cls.max(axis=0)
        cand = np.flatnonzero(best_q >= _quantized_threshold(threshold, a.dtype, scale, zero_point))
        conf = _dequantize(best_q[cand], scale, zero_point)
        class_id = cls[:, cand].argmax(axis=0) if len(cand) else np.zeros(0, np.int64)
        boxes = _dequantize(rows[:4, cand].T, scale, zero_point)
    else:
        if a.shape[1] < 6:
            raise ValueError(f"a v5 YOLO output needs 5 + C columns, got shape {np.shape(output)}")
        obj_q = a[:, 4]
        # score = obj * class <= obj: rows with obj under the threshold cannot pass
        cand = np.flatnonzero(obj_q >= _quantized_threshold(threshold, a.dtype, scale, zero_point))
        sub = _dequantize(a[cand], scale, zero_point)
        class_id = sub[:, 5:].argmax(axis=1)
        conf = sub[:, 4] * sub[np.arange(len(sub)), 5 + class_id]
        boxes = sub[:, :4]
    ok = conf >= threshold
    conf, class_id, boxes = conf[ok], class_id[ok], boxes[ok]
    if len(conf) > max_candidates:
        top = np.argpartition(-conf, max_candidates - 1)[:max_candidates]
        conf, class_id, boxes = conf[top], class_id[top], boxes[top]
    if not normalized:
        w, h = input_size  # type: ignore[misc]
        boxes = boxes / np.array([w, h, w, h], np.float32)
    half = boxes[:, 2:4] / 2
    xyxy = np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)
    keep = class_nms(xyxy, conf, class_id, iou_threshold, max_detections)
    return Detections(np.clip(xyxy[keep], 0.0, 1.0), conf[keep], class_id[keep].astype(np.int32), normalized=True)
