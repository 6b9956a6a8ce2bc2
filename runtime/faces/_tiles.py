"""Tiled detection for small faces: the full frame plus overlapping tiles, detections merged.

A face of 37 px in a 500 px photo is 9 px in BlazeFace's 128 px input, below its smallest anchors; in a tile a
third of the photo wide it is 24 px and is found. ``TiledDetector`` wraps any detector with
``detect(image) -> Detections`` (pixels) and ``input_size``; see its docstring for the modes.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from ...results import Detections
from ._decode import iou_matrix, nms

__all__ = ["TiledDetector", "tile_grid", "tile_boxes", "merge_detections", "parse_tiles"]


class _Detector(Protocol):
    input_size: tuple[int, int]

    def detect(self, image: np.ndarray) -> Detections: ...


def parse_tiles(text: str) -> str | tuple[int, int]:
    """'auto' | 'off' | 'RxC' (e.g. '2x3') -> 'auto' | 'off' | (rows, cols)."""
    t = text.strip().lower()
    if t in ("auto", "off"):
        return t
    try:
        r, c = (int(v) for v in t.split("x"))
    except ValueError:
        raise ValueError(f"tiles must be auto, off or RxC (e.g. 2x3), got {text!r}") from None
    if not (1 <= r <= 8 and 1 <= c <= 8):
        raise ValueError(f"tiles {text!r}: rows and columns must be 1..8")
    return r, c


def tile_grid(width: int, height: int, model_size: int, target_factor: float = 1.6) -> tuple[int, int]:
    """Auto grid: tiles whose short side is at most ``target_factor`` x the model input (so a face of
    ~1/25 of the frame lands on BlazeFace's anchors). (1, 1) when the frame is already small enough."""
    target = model_size * target_factor
    rows = max(1, math.ceil(height / target))
    cols = max(1, math.ceil(width / target))
    if rows * cols > 1:
        # overlapping tiles: one more along a side when the overlap would make tiles too big
        rows = max(1, math.ceil((height - 0.25 * target) / (0.75 * target))) if rows > 1 else 1
        cols = max(1, math.ceil((width - 0.25 * target) / (0.75 * target))) if cols > 1 else 1
    return min(rows, 6), min(cols, 6)


def tile_boxes(width: int, height: int, rows: int, cols: int, overlap: float = 0.25) -> np.ndarray:
    """(rows*cols, 4) int pixel rectangles x1, y1, x2, y2 covering the frame; neighbours overlap by
    ``overlap`` of a tile."""
    def spans(size: int, n: int) -> list[tuple[int, int]]:
        if n <= 1:
            return [(0, size)]
        tile = size / (n - (n - 1) * overlap)
        step = tile * (1 - overlap)
        out = []
        for i in range(n):
            a = int(round(i * step))
            b = int(round(min(size, i * step + tile))) if i < n - 1 else size
            out.append((a, b))
        return out

    return np.array([[x1, y1, x2, y2] for (y1, y2) in spans(height, rows) for (x1, x2) in spans(width, cols)], np.int32)


def merge_detections(parts: list[Detections], iou_threshold: float = 0.3, containment: float = 0.7) -> Detections:
    """Concatenate pixel Detections and drop duplicates: greedy NMS at ``iou_threshold`` (per class), then
    boxes lying mostly (``containment`` of their area) inside a kept higher-scoring box of the same class
    (a half face cut by a tile border)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections.empty()
    if any(p.keypoints is None for p in parts):
        parts = [Detections(p.xyxy, p.score, p.class_id, None, p.normalized) for p in parts]
    allp = Detections.concat(parts)
    keep_all: list[int] = []
    for cid in np.unique(allp.class_id):
        idx = np.flatnonzero(allp.class_id == cid)
        kept = idx[nms(allp.xyxy[idx], allp.score[idx], iou_threshold)]
        final: list[int] = []
        for i in kept:  # best first
            b = allp.xyxy[i]
            area = max(float((b[2] - b[0]) * (b[3] - b[1])), 1e-6)
            inside = False
            for j in final:
                o = allp.xyxy[j]
                iw = max(0.0, min(b[2], o[2]) - max(b[0], o[0]))
                ih = max(0.0, min(b[3], o[3]) - max(b[1], o[1]))
                if iw * ih / area >= containment:
                    inside = True
                    break
            if not inside:
                final.append(int(i))
        keep_all += final
    keep = np.asarray(sorted(keep_all, key=lambda i: -allp.score[i]), np.int64)
    return allp[keep]


class TiledDetector:
    """Runs ``detector`` on the full frame plus, for small faces, on crops; merges the results.

    tiles: ``"off"`` (full frame only), (rows, cols) (every tile on every frame) or ``"auto"``:
      - the tile grid comes from the frame size (``tile_grid``: tiles about ``target_factor`` x the model
        input); a frame that is already small gets no tiles;
      - ``sweep_frames`` > 1 spreads the tiles over that many frames (a rolling sweep: every part of the frame
        is searched at tile resolution once per ``sweep_frames`` frames); 1 runs them all on every frame
        (what still images get);
      - faces found small relative to the frame (short side under ``small_fraction`` of the frame's) are
        followed with a crop around them on every following frame, for ``roi_hold`` frames after the last hit.
    ``last_tiled`` says whether the last call ran any tile or crop; ``tiled_frames`` counts such calls.
    """

    def __init__(
        self, detector: _Detector, tiles: str | tuple[int, int] = "auto", *, overlap: float = 0.25,
        target_factor: float = 1.6, sweep_frames: int = 1, small_fraction: float = 0.3, roi_hold: int = 5,
        max_rois: int = 8,
    ) -> None:
        self.detector = detector
        self.tiles = parse_tiles(tiles) if isinstance(tiles, str) else tuple(tiles)
        self.overlap = overlap
        self.target_factor = target_factor
        self.sweep_frames = max(1, int(sweep_frames))
        self.small_fraction = small_fraction
        self.roi_hold = roi_hold
        self.max_rois = max_rois
        self._grid_cache: dict[tuple[int, int], np.ndarray] = {}
        self._rois: list[list] = []  # [box (4,), age]
        self._next_tile = 0
        self._frames = 0
        self.last_tiled = False
        self.tiled_frames = 0

    @property
    def input_size(self) -> tuple[int, int]:
        return self.detector.input_size

    def reset(self) -> None:
        """Forget followed faces and restart the sweep (call between unrelated images)."""
        self._rois = []
        self._next_tile = 0
        self._frames = 0

    def grid(self, w: int, h: int) -> np.ndarray:
        """The tile rectangles used for a w x h frame ((0, 4) when none)."""
        key = (w, h)
        if key not in self._grid_cache:
            if self.tiles == "off":
                r, c = 1, 1
            elif self.tiles == "auto":
                r, c = tile_grid(w, h, min(self.detector.input_size), self.target_factor)
            else:
                r, c = self.tiles  # type: ignore[misc]
            self._grid_cache[key] = tile_boxes(w, h, r, c, self.overlap) if r * c > 1 else np.zeros((0, 4), np.int32)
        return self._grid_cache[key]

    def _tiles_now(self, grid: np.ndarray) -> np.ndarray:
        n = len(grid)
        if n == 0:
            return grid
        if self.tiles != "auto" or self.sweep_frames <= 1 or self._frames == 0:
            return grid
        per = math.ceil(n / self.sweep_frames)
        idx = [(self._next_tile + i) % n for i in range(per)]
        self._next_tile = (self._next_tile + per) % n
        return grid[idx]

    def _roi_crops(self, w: int, h: int) -> list[tuple[int, int, int, int]]:
        side_min = float(min(self.detector.input_size))
        crops = []
        for box, _age in self._rois[: self.max_rois]:
            bw, bh = box[2] - box[0], box[3] - box[1]
            side = max(3.0 * max(bw, bh), side_min)
            if side >= 0.8 * min(w, h):
                continue  # the full-frame pass sees a face this big
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            x1 = int(max(0, min(w - side, cx - side / 2)))
            y1 = int(max(0, min(h - side, cy - side / 2)))
            crops.append((x1, y1, int(min(w, x1 + side)), int(min(h, y1 + side))))
        return crops

    def _update_rois(self, det: Detections, w: int, h: int) -> None:
        small = det.xyxy[np.minimum(det.xyxy[:, 2] - det.xyxy[:, 0], det.xyxy[:, 3] - det.xyxy[:, 1]) < self.small_fraction * min(w, h)] if len(det) else np.zeros((0, 4), np.float32)
        kept: list[list] = [[b.copy(), 0] for b in small]
        if self._rois:
            old = np.stack([r[0] for r in self._rois])
            hit = iou_matrix(old, small).max(axis=1) if len(small) else np.zeros(len(old))
            for (box, age), h_iou in zip(self._rois, hit):
                if h_iou < 0.1 and age + 1 <= self.roi_hold:
                    kept.append([box, age + 1])
        self._rois = kept

    def detect(self, image: np.ndarray) -> Detections:
        h, w = image.shape[:2]
        full = self.detector.detect(image)
        self.last_tiled = False
        if self.tiles == "off":
            return full
        crops = [tuple(int(v) for v in t) for t in self._tiles_now(self.grid(w, h))]
        crops += self._roi_crops(w, h)
        self._frames += 1
        if not crops:
            self._update_rois(full, w, h)
            return full
        parts = [full]
        for x1, y1, x2, y2 in crops:
            d = self.detector.detect(image[y1:y2, x1:x2])
            if len(d):
                parts.append(d.scale(1.0, 1.0, float(x1), float(y1)))
        merged = merge_detections(parts)
        self.last_tiled = True
        self.tiled_frames += 1
        self._update_rois(merged, w, h)
        return merged
