"""The standard TFLite_Detection_PostProcess outputs (boxes, classes, scores, count) -> Detections."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...results import Detections


def ssd_output_order(names: Sequence[str], shapes: Sequence[Sequence[int]]) -> tuple[int, int, int, int]:
    """Indices of (boxes, classes, scores, count) among a model's outputs.

    Uses the op's output names (``TFLite_Detection_PostProcess``, ``:1``, ``:2``, ``:3``) when present, else
    shapes: boxes are (1, N, 4), count has one element; of the two (1, N) outputs the first is taken as
    classes (TF1 export order). Raises ValueError when the outputs are not an SSD post-process.
    """
    by_name = {}
    for i, n in enumerate(names):
        base, _, suffix = n.rpartition(":")
        if "Detection_PostProcess" in n:
            key = int(suffix) if base and suffix.isdigit() else 0
            by_name[key] = i
    if all(k in by_name for k in range(4)):
        return by_name[0], by_name[1], by_name[2], by_name[3]
    boxes = [i for i, s in enumerate(shapes) if len(s) == 3 and s[-1] == 4]
    count = [i for i, s in enumerate(shapes) if int(np.prod(s)) == 1]
    pair = [i for i, s in enumerate(shapes) if len(s) == 2 and i not in count]
    if len(boxes) == 1 and len(count) == 1 and len(pair) == 2:
        return boxes[0], pair[0], pair[1], count[0]
    raise ValueError(f"outputs {list(names)} are not the SSD post-process outputs (boxes, classes, scores, count)")


def decode_ssd(
    boxes: np.ndarray,
    classes: np.ndarray,
    scores: np.ndarray,
    count: np.ndarray | int,
    threshold: float = 0.5,
    *,
    class_filter: Sequence[int] | None = None,
) -> Detections:
    """boxes: (1, N, 4) or (N, 4) normalized (ymin, xmin, ymax, xmax); classes, scores: (1, N) or (N,);
    count: valid rows. Returns normalized Detections (x1, y1, x2, y2) with score >= threshold."""
    n = int(np.asarray(count).reshape(-1)[0]) if np.size(count) else 0
    b = np.asarray(boxes, np.float32).reshape(-1, 4)[:n]
    c = np.asarray(classes).reshape(-1)[:n]
    s = np.asarray(scores, np.float32).reshape(-1)[:n]
    keep = s >= threshold
    if class_filter is not None:
        keep &= np.isin(c.astype(np.int64), np.asarray(list(class_filter), np.int64))
    b, c, s = b[keep], c[keep], s[keep]
    xyxy = np.clip(b[:, [1, 0, 3, 2]], 0.0, 1.0)
    return Detections(xyxy, s, np.rint(c).astype(np.int32), normalized=True)
