"""Low-resolution model maps -> the source image's size, without blocky edges.

Every function takes the map at the model's output resolution, the ``window`` (x0, y0, x1, y1) in map pixels
where the source image lies (the whole map for a stretched input, less for a letterboxed one), and the
target ``size`` (width, height) in source pixels.

- scores and probabilities are interpolated bilinearly, *then* thresholded or argmaxed (smooth boundaries);
- label maps (models whose graph ends in ARG_MAX) are upscaled either by nearest neighbour or "smooth": each
  present class's indicator is interpolated bilinearly and the largest wins (a majority vote of the 2x2
  neighbours weighted by distance, which removes the staircase that nearest neighbour leaves).
Measured in benchmarks/segment_upscale.py.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

__all__ = ["UPSCALE_METHODS", "full_window", "upscale_probability", "upscale_scores", "upscale_labels"]

UPSCALE_METHODS = ("smooth", "nearest")
Window = Sequence[float]


def full_window(shape: Sequence[int]) -> tuple[float, float, float, float]:
    """The whole (h, w, ...) map as a window."""
    return 0.0, 0.0, float(shape[1]), float(shape[0])


def _affine(window: Window, size: tuple[int, int]) -> np.ndarray:
    """2x3 matrix mapping target pixel (x, y) to map coordinates (pixel centres at +0.5 on both sides)."""
    x0, y0, x1, y1 = (float(v) for v in window)
    w, h = size
    ax, ay = (x1 - x0) / w, (y1 - y0) / h
    return np.array([[ax, 0.0, 0.5 * ax + x0 - 0.5], [0.0, ay, 0.5 * ay + y0 - 0.5]], np.float64)


def _nearest(a: np.ndarray, window: Window, size: tuple[int, int]) -> np.ndarray:
    """Nearest neighbour by index arithmetic (any dtype): target pixel centre -> the map pixel it falls in."""
    x0, y0, x1, y1 = (float(v) for v in window)
    w, h = size
    cols = np.clip(np.floor((np.arange(w) + 0.5) * (x1 - x0) / w + x0), 0, a.shape[1] - 1).astype(np.intp)
    rows = np.clip(np.floor((np.arange(h) + 0.5) * (y1 - y0) / h + y0), 0, a.shape[0] - 1).astype(np.intp)
    return a[rows[:, None], cols[None, :]]


def _warp(a: np.ndarray, window: Window, size: tuple[int, int], interp: int) -> np.ndarray:
    if interp == cv2.INTER_NEAREST:
        return _nearest(a, window, size)
    x0, y0, x1, y1 = window
    if tuple(float(v) for v in (x0, y0, x1, y1)) == full_window(a.shape):
        return cv2.resize(a, size, interpolation=interp)  # same result, faster path
    return cv2.warpAffine(a, _affine(window, size), size, flags=interp | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def upscale_probability(prob: np.ndarray, window: Window, size: tuple[int, int], method: str = "smooth") -> np.ndarray:
    """(h, w) float32 probability -> (H, W) float32 (bilinear, or nearest for ``method="nearest"``)."""
    interp = cv2.INTER_NEAREST if method == "nearest" else cv2.INTER_LINEAR
    return np.clip(_warp(np.ascontiguousarray(prob, np.float32), window, size, interp), 0.0, 1.0)


def upscale_scores(scores: np.ndarray, window: Window, size: tuple[int, int], method: str = "smooth") -> np.ndarray:
    """(h, w, C) per-class scores -> (H, W) int32 labels: each channel interpolated, then a running argmax
    (one (H, W) channel in memory at a time)."""
    if method == "nearest":
        labels = np.argmax(scores, axis=-1).astype(np.int32)
        return _warp(labels, window, size, cv2.INTER_NEAREST)
    w, h = size
    best = np.full((h, w), -np.inf, np.float32)
    out = np.zeros((h, w), np.int32)
    for c in range(scores.shape[2]):
        up = _warp(np.ascontiguousarray(scores[:, :, c], np.float32), window, size, cv2.INTER_LINEAR)
        better = up > best
        out[better] = c
        np.maximum(best, up, out=best)
    return out


def upscale_labels(labels: np.ndarray, window: Window, size: tuple[int, int], method: str = "smooth") -> np.ndarray:
    """(h, w) int labels -> (H, W) int32 by nearest neighbour or the smooth (bilinear one-hot) vote."""
    labels = np.ascontiguousarray(labels, np.int32)
    present = np.unique(labels)
    if method == "nearest" or len(present) == 1:
        return _warp(labels, window, size, cv2.INTER_NEAREST)
    w, h = size
    best = np.full((h, w), -1.0, np.float32)
    out = np.zeros((h, w), np.int32)
    for c in present:
        up = _warp((labels == c).astype(np.float32), window, size, cv2.INTER_LINEAR)
        better = up > best
        out[better] = int(c)
        np.maximum(best, up, out=best)
    return out
