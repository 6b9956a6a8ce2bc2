"""SSD anchors as MediaPipe's SsdAnchorsCalculator generates them (non-multiscale path).

The options are the ones MediaPipe's face detection graphs pass (face_detection.pbtxt plus
face_detection_short_range.pbtxt / face_detection_full_range.pbtxt): min_scale 0.1484375, max_scale 0.75,
anchor offsets 0.5, aspect ratio 1.0, fixed_anchor_size true; short range: 128x128, strides 8, 16, 16, 16,
interpolated_scale_aspect_ratio 1.0 (896 anchors); full range: 192x192, stride 4, no interpolated anchor
(2304 anchors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["AnchorOptions", "SHORT_RANGE_ANCHORS", "FULL_RANGE_ANCHORS", "ssd_anchors"]


@dataclass(frozen=True)
class AnchorOptions:
    """SsdAnchorsCalculatorOptions (the fields the face models use)."""

    input_size_width: int
    input_size_height: int
    strides: tuple[int, ...]
    num_layers: int | None = None
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    reduce_boxes_in_lowest_layer: bool = False
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True

    def __post_init__(self) -> None:
        if not self.strides:
            raise ValueError("anchor options need at least one stride")
        if self.num_layers is None:
            object.__setattr__(self, "num_layers", len(self.strides))
        if self.num_layers != len(self.strides):
            raise ValueError(f"num_layers {self.num_layers} != number of strides {len(self.strides)}")


SHORT_RANGE_ANCHORS = AnchorOptions(128, 128, strides=(8, 16, 16, 16), interpolated_scale_aspect_ratio=1.0)
FULL_RANGE_ANCHORS = AnchorOptions(192, 192, strides=(4,), interpolated_scale_aspect_ratio=0.0)


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def ssd_anchors(opts: AnchorOptions) -> np.ndarray:
    """(N, 4) float32 anchors (x_center, y_center, w, h), normalized to [0, 1], in MediaPipe's order:
    layers of equal stride merged, then row-major over the feature map, then anchor per cell."""
    out: list[np.ndarray] = []
    strides = opts.strides
    n = len(strides)
    layer = 0
    while layer < opts.num_layers:  # type: ignore[operator]
        heights: list[float] = []
        widths: list[float] = []
        last = layer
        while last < n and strides[last] == strides[layer]:
            scale = _scale(opts.min_scale, opts.max_scale, last, n)
            ratios: list[float] = []
            scales: list[float] = []
            if last == 0 and opts.reduce_boxes_in_lowest_layer:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, scale, scale]
            else:
                for r in opts.aspect_ratios:
                    ratios.append(r)
                    scales.append(scale)
                if opts.interpolated_scale_aspect_ratio > 0.0:
                    nxt = 1.0 if last == n - 1 else _scale(opts.min_scale, opts.max_scale, last + 1, n)
                    scales.append(math.sqrt(scale * nxt))
                    ratios.append(opts.interpolated_scale_aspect_ratio)
            for r, s in zip(ratios, scales):
                root = math.sqrt(r)
                heights.append(s / root)
                widths.append(s * root)
            last += 1
        stride = strides[layer]
        fh = math.ceil(opts.input_size_height / stride)
        fw = math.ceil(opts.input_size_width / stride)
        k = len(heights)
        ys, xs = np.meshgrid(np.arange(fh, dtype=np.float64), np.arange(fw, dtype=np.float64), indexing="ij")
        xc = np.repeat(((xs + opts.anchor_offset_x) / fw).reshape(-1), k)
        yc = np.repeat(((ys + opts.anchor_offset_y) / fh).reshape(-1), k)
        if opts.fixed_anchor_size:
            w = np.ones_like(xc)
            h = np.ones_like(yc)
        else:
            w = np.tile(np.asarray(widths), fh * fw)
            h = np.tile(np.asarray(heights), fh * fw)
        out.append(np.stack([xc, yc, w, h], axis=1))
        layer = last
    return np.concatenate(out).astype(np.float32)
