"""Drawing for the detect job, in place: boxes with 'label #id score', zones, lines and the current counts."""

from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

from ...results import Detections
from .._images import _color as _make_color
from ._zones import Line, Zone

__all__ = ["draw_stream"]

_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX (a constant, so the module imports without touching cv2)
_COLORS: dict[int, tuple[int, int, int]] = {}


def _color(key: int) -> tuple[int, int, int]:
    """The SDK's colour for ``key`` (track id or class id), computed once (997 colours, repeating: a long run
    must not grow the cache with every track id)."""
    key %= 997
    c = _COLORS.get(key)
    if c is None:
        c = _COLORS[key] = _make_color(key)
    return c


def _text(img: np.ndarray, text: str, org: tuple[int, int], color: tuple[int, int, int], scale: float = 0.5) -> None:
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    x, y = org
    y = max(th + base, y)
    cv2.rectangle(img, (x, y - th - base), (x + tw + 2, y), color, -1)
    cv2.putText(img, text, (x + 1, y - base), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)


def draw_stream(img: np.ndarray, det: Detections, labels: Sequence[str], zones: Sequence[Zone] = (),
                lines: Sequence[Line] = (), counts: Mapping[str, int] | None = None) -> None:
    """Draw on ``img`` (H, W, 3) uint8 BGR in place. ``det`` in pixels; ``labels[i]`` names row i."""
    thick = max(1, round(min(img.shape[:2]) / 300))
    for z in zones:
        pts = np.asarray(z.points, np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], True, (0, 200, 255), thick, cv2.LINE_AA)
        _text(img, z.name, (int(z.points[0][0]), int(z.points[0][1])), (0, 200, 255))
    for ln in lines:
        a, b = (int(ln.a[0]), int(ln.a[1])), (int(ln.b[0]), int(ln.b[1]))
        cv2.line(img, a, b, (255, 0, 255), thick + 1, cv2.LINE_AA)
        _text(img, ln.name, a, (255, 0, 255))
    ids = det.tracker_id
    for i in range(len(det)):
        x1, y1, x2, y2 = (int(v) for v in det.xyxy[i])
        key = int(ids[i]) if ids is not None else int(det.class_id[i])
        color = _color(key)
        cv2.rectangle(img, (x1, y1), (x2, y2), color, thick, cv2.LINE_AA)
        tid = f" #{int(ids[i])}" if ids is not None else ""
        _text(img, f"{labels[i]}{tid} {float(det.score[i]):.2f}", (x1, y1), color)
    if counts:
        y = 18
        for k in sorted(counts):
            _text(img, f"{k}: {counts[k]}", (4, y), (230, 230, 230))
            y += 18
