"""Pictures of a Segmentation: the Pascal VOC colour map, coloured label maps and overlays, index-PNG masks."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ...results import Segmentation

__all__ = ["label_colormap", "colorize", "overlay", "index_mask"]


def label_colormap(n: int = 256) -> np.ndarray:
    """(n, 3) uint8 BGR colours, the Pascal VOC scheme (class bits spread over the colour bits); 0 is black."""
    cmap = np.zeros((n, 3), np.int64)
    ids = np.arange(n)
    for shift in range(7, -1, -1):
        for ch in range(3):
            cmap[:, ch] |= ((ids >> (3 * (7 - shift) + ch)) & 1) << shift
    return cmap[:, ::-1].astype(np.uint8)  # RGB -> BGR


_CMAP = label_colormap()


def index_mask(seg: Segmentation, class_ids: Sequence[int] | None = None) -> np.ndarray:
    """(H, W) uint8 class indices (classes outside ``class_ids`` become 0); ids above 255 are clipped."""
    lm = seg.label_map
    if class_ids is not None:
        lm = np.where(seg.mask(class_ids), lm, 0)
    return np.clip(lm, 0, 255).astype(np.uint8)


def colorize(seg: Segmentation, class_ids: Sequence[int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 BGR picture of the label map."""
    return _CMAP[index_mask(seg, class_ids)]


def overlay(image: np.ndarray, seg: Segmentation, class_ids: Sequence[int] | None = None, alpha: float = 0.5) -> np.ndarray:
    """A copy of ``image`` (H, W, 3 BGR) with every non-background pixel (id != 0, or in ``class_ids``) tinted
    by its class colour at ``alpha``."""
    color = colorize(seg, class_ids)
    keep = seg.mask(class_ids) if class_ids is not None else seg.label_map != 0
    out = image.copy()
    blend = cv2.addWeighted(image, 1.0 - alpha, color, alpha, 0.0)
    out[keep] = blend[keep]
    return out
