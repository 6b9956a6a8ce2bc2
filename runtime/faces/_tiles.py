"""Tiled detection for small faces: the full frame plus overlapping tiles, detections merged.

A face of 37 px in a 500 px photo is 9 px in BlazeFace's 128 px input, below what it finds; in a tile of 160 px
it is 30 px and is found. How the tiles are laid out follows from one measured number, the smallest face the model
finds reliably (``min_face``, in model-input pixels; short range: 20 px, 95 % of the 18 dlib faces and 100 % of
larger photo faces, measured with ``benchmarks/anonymize_fps.py --sizes``):

- The full-frame pass sees the frame scaled to the model input by its long side ``L``, so it finds faces from
  ``f0 = min_face * L / input`` frame pixels up. Every smaller face must lie *wholly* inside at least one tile
  (BlazeFace misses faces cut by the border of its input): neighbouring tiles overlap by at least ``f0``.
- Tiles are ``tile_factor`` x the model input, so they find faces from ``tile_factor * min_face`` frame pixels
  (``edgesdk anonymize`` uses 2.0 on video, 40 px, and 1.25 on photos, 25 px). When ``f0`` is more than half a
  tile (big frames), a level of bigger tiles is added in between, with the same rule.
- Faces cut by the frame's edge are found far better when the frame is extended by a reflection of itself (the
  visible half of a face mirrors into a whole face): the tiles are laid over the frame padded by ``f0 / 2`` on
  every side (``BORDER_REFLECT_101``), the full-frame pass fills its square input by reflection instead of
  black bars, and crops around followed faces may reach over the edge the same way. Boxes are mapped back to the
  frame; a box with less than 10 % of its area inside the frame (a mirror image) is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

from .._cv2 import cv2
import numpy as np

from ...results import Detections
from .._preprocess import padded_input
from ..decoders.boxes import iou_matrix
from ._detector import FaceDetector
from ._merge import merge_counted, merge_detections, to_frame

__all__ = ["TiledDetector", "TilePlan", "tile_plan", "merge_detections", "parse_tiles", "padded_input"]

PAD_MODES = ("reflect", "replicate", "constant")  # cv2 border of each: _border() (cv2 loads on first use)


def _border(pad: str) -> int:
    return {"reflect": cv2.BORDER_REFLECT_101, "replicate": cv2.BORDER_REPLICATE}.get(pad, cv2.BORDER_CONSTANT)
MIN_INSIDE = 0.1  # boxes with less of their area inside the frame are mirror images: dropped
_EMPTY = Detections.empty()


class _Detector(Protocol):
    @property
    def input_size(self) -> tuple[int, int]: ...

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


def _spans(size: int, tile: int, overlap: int, margin: int, n: int | None = None) -> list[tuple[int, int]]:
    """Intervals of length ``tile`` covering [-margin, size + margin], neighbours overlapping by >= ``overlap``
    (exactly ``n`` of them when given). One interval centred on the frame when the tile covers it all."""
    lo, hi = -margin, size + margin
    ext = hi - lo
    if n is None:
        n = 1 if tile >= ext else math.ceil((ext - overlap) / (tile - overlap))
    if n <= 1:
        a = (size - tile) // 2
        return [(a, a + tile)]
    step = (ext - tile) / (n - 1)
    return [(lo + int(round(i * step)), lo + int(round(i * step)) + tile) for i in range(n)]


@dataclass(frozen=True)
class TilePlan:
    """Where a frame is searched. ``full``: the full-frame square (x1, y1, x2, y2); ``tiles``: (n, 4) int squares,
    may reach ``margin`` beyond the frame; ``full_min_face``: the smallest face (frame pixels) the full pass finds;
    ``overlap``: the overlap of neighbouring tiles per level; ``min_face``: the smallest face the tiles find."""

    width: int
    height: int
    full: tuple[int, int, int, int]
    tiles: np.ndarray
    levels: tuple[int, ...]  # tile side per level, biggest first
    overlap: tuple[int, ...]
    margin: tuple[int, ...]
    full_min_face: float
    min_face: float


def tile_plan(width: int, height: int, model_size: int, *, min_face: float = 20.0, tile_factor: float = 1.75,
              grid: tuple[int, int] | None = None, pad: bool = True) -> TilePlan:
    """The tiles for a ``width`` x ``height`` frame and a model of input ``model_size`` (see the module's doc).

    grid: (rows, cols) to force one level of that many tiles (sized to cover the frame with the same overlap)."""
    side = max(width, height)
    full = ((width - side) // 2, (height - side) // 2, (width - side) // 2 + side, (height - side) // 2 + side)
    f_prev = min_face * side / model_size
    full_min = f_prev
    t_min = int(round(tile_factor * model_size))
    tiles: list[tuple[int, int, int, int]] = []
    levels, overlaps, margins = [], [], []
    if grid is not None:
        rows, cols = grid
        if rows * cols > 1:
            o = int(math.ceil(f_prev))
            m = int(math.ceil(o / 2)) if pad else 0
            # the tile side that covers the padded frame with `cols` x `rows` tiles overlapping by o
            t = max(math.ceil((width + 2 * m + (cols - 1) * o) / cols), math.ceil((height + 2 * m + (rows - 1) * o) / rows))
            t = max(t, 2 * o)
            xs, ys = _spans(width, t, o, m, cols), _spans(height, t, o, m, rows)
            tiles += [(x1, y1, x2, y2) for (y1, y2) in ys for (x1, x2) in xs]
            levels, overlaps, margins = [t], [o], [m]
            f_prev = min_face * t / model_size
    else:
        prev_side = side
        while prev_side > t_min:
            o = int(math.ceil(f_prev))
            t = max(t_min, 2 * o)  # a tile at least twice the overlap, else the tiles would crowd
            if t >= prev_side:
                break
            m = int(math.ceil(o / 2)) if pad else 0
            xs, ys = _spans(width, t, o, m), _spans(height, t, o, m)
            tiles += [(x1, y1, x2, y2) for (y1, y2) in ys for (x1, x2) in xs]
            levels.append(t)
            overlaps.append(o)
            margins.append(m)
            f_prev = min_face * t / model_size
            prev_side = t
            if t < 1.5 * t_min:
                break  # close enough to the finest size: a level more would cost more than it finds
    arr = np.asarray(tiles, np.int32).reshape(-1, 4)
    return TilePlan(width, height, full, arr, tuple(levels), tuple(overlaps), tuple(margins), full_min, f_prev)


class TiledDetector:
    """Runs ``detector`` on the full frame plus, for small faces, on tiles and crops; merges the results.

    tiles: ``"off"`` (the full frame only), (rows, cols) (that grid, every tile on every frame) or ``"auto"``
      (``tile_plan``: tiles laid out so every face the full pass may miss lies wholly inside one; none when the
      frame is already small).
    sweep_frames: > 1 spreads the auto tiles over that many frames (a rolling sweep: every tile is searched once
      per ``sweep_frames`` frames); 1 runs them all on every frame (what still images get).
    Faces found below the full pass's reliable size, or not found by the full pass, are followed with a crop
      around them (3 x their size, at least the model input) on every following frame, for ``roi_hold`` frames
      after the last hit.
    workers: more detectors like ``detector`` (each with its own interpreter) that share each frame's tiles
      and crops in threads: on a multi-core CPU the tiles of one frame run in parallel.
    min_face: the smallest face (model-input pixels) the detector finds reliably (default: the detector's
      ``config.min_face``, else 20). pad: ``reflect`` (default), ``replicate``, ``constant`` (black) or ``off``
      (no margin: tiles stay inside the frame, the full pass is letterboxed with black).
    ``plan(w, h)`` gives the layout; ``last_tiled`` says whether the last call ran any tile or crop;
    ``tiled_frames`` counts such calls; ``invokes`` counts model runs.
    """

    def __init__(
        self, detector: _Detector, tiles: str | tuple[int, int] = "auto", *, min_face: float | None = None,
        tile_factor: float = 1.75, sweep_frames: int = 1, roi_hold: int = 5, max_rois: int = 8, pad: str = "reflect",
        workers: Sequence[_Detector] = (),
    ) -> None:
        self.detector = detector
        self.tiles = parse_tiles(tiles) if isinstance(tiles, str) else tuple(tiles)
        if min_face is None:
            min_face = float(getattr(getattr(detector, "config", None), "min_face", 20.0))
        if pad != "off" and pad not in PAD_MODES:
            raise ValueError(f"pad must be off or one of {', '.join(PAD_MODES)}, got {pad!r}")
        self.min_face = float(min_face)
        self.tile_factor = float(tile_factor)
        self.sweep_frames = max(1, int(sweep_frames))
        self.roi_hold = roi_hold
        self.max_rois = max_rois
        self.pad = pad
        self._detectors = [detector, *workers]
        self._pool = None
        self._border = _border(pad)
        self._plan: TilePlan | None = None  # the layout of the last size asked for
        self._size: tuple[int, int] | None = None  # (w, h) of the last frame detected on
        self._rois: list[list] = []  # [box (4,), age]
        self._next_tile = 0
        self._frames = 0
        self.last_tiled = False
        self.tiled_frames = 0
        self.invokes = 0

    @property
    def input_size(self) -> tuple[int, int]:
        return self.detector.input_size

    def reset(self) -> None:
        """Forget followed faces and restart the sweep (call between unrelated images; ``detect`` does it itself
        when the frame size changes)."""
        self._rois = []
        self._next_tile = 0
        self._frames = 0

    def plan(self, w: int, h: int) -> TilePlan:
        """The layout used for a w x h frame (planned again when the size changes)."""
        p = self._plan
        if p is None or (p.width, p.height) != (w, h):
            size = min(self.detector.input_size)
            pad = self.pad != "off"
            if self.tiles == "off":
                p = tile_plan(w, h, size, min_face=self.min_face, tile_factor=self.tile_factor, grid=(1, 1), pad=pad)
            elif self.tiles == "auto":
                p = tile_plan(w, h, size, min_face=self.min_face, tile_factor=self.tile_factor, pad=pad)
            else:
                p = tile_plan(w, h, size, min_face=self.min_face, tile_factor=self.tile_factor, grid=self.tiles, pad=pad)  # type: ignore[arg-type]
            self._plan = p
        return p

    def grid(self, w: int, h: int) -> np.ndarray:
        """The tile rectangles used for a w x h frame ((0, 4) when none)."""
        return self.plan(w, h).tiles

    def _tiles_now(self, grid: np.ndarray) -> np.ndarray:
        n = len(grid)
        if n == 0 or self.tiles != "auto" or self.sweep_frames <= 1 or self._frames == 0:
            return grid
        per = math.ceil(n / self.sweep_frames)
        idx = [(self._next_tile + i) % n for i in range(per)]
        self._next_tile = (self._next_tile + per) % n
        return grid[idx]

    def _roi_rects(self, plan: TilePlan) -> list[tuple[int, int, int, int]]:
        side_min = float(min(self.detector.input_size))
        full_side = plan.full[2] - plan.full[0]
        crops = []
        for box, _age in self._rois[: self.max_rois]:
            bw, bh = box[2] - box[0], box[3] - box[1]
            side = max(3.0 * max(bw, bh), side_min)
            if side >= 0.8 * full_side:
                continue  # the full-frame pass sees a face this big as well
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            x1, y1 = int(round(cx - side / 2)), int(round(cy - side / 2))
            s = int(round(side))
            crops.append((x1, y1, x1 + s, y1 + s))
        return crops

    def _update_rois(self, det: Detections, full: np.ndarray, plan: TilePlan) -> None:
        """full: (m, 4) boxes of this frame's full-frame pass."""
        if len(det):
            # follow faces below the full pass's reliable size, and any face it did not find this frame (a tile
            # or a crop did): it may well miss it on the next one
            wh = det.xyxy[:, 2:] - det.xyxy[:, :2]
            follow = wh.max(axis=1) < plan.full_min_face
            if len(full):
                follow |= iou_matrix(det.xyxy, full).max(axis=1) < 0.3
            else:
                follow[:] = True
            small = det.xyxy[follow]
        else:
            small = np.zeros((0, 4), np.float32)
        kept: list[list] = [[b.copy(), 0] for b in small]
        if self._rois:
            old = np.stack([r[0] for r in self._rois])
            hit = iou_matrix(old, small).max(axis=1) if len(small) else np.zeros(len(old))
            for (box, age), h_iou in zip(self._rois, hit):
                if h_iou < 0.1 and age + 1 <= self.roi_hold:
                    kept.append([box, age + 1])
        self._rois = kept

    def _run_cropped(self, detector, image: np.ndarray, rect) -> Detections:
        """pad ``off``: the part of ``rect`` inside the frame through the detector's own letterbox."""
        x1, y1, x2, y2 = rect
        h, w = image.shape[:2]
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        return detector.detect(image[y1:y2, x1:x2]).scale(1.0, 1.0, float(x1), float(y1))

    def _run_input(self, detector, inp: np.ndarray, xf: tuple[float, float, float, float]) -> Detections:
        """One model input made by ``padded_input`` -> Detections in frame pixels (a detector other than a
        FaceDetector: through its own letterbox)."""
        sx, sy, ox, oy = xf
        d = detector.detect(inp)
        return d.scale(1.0 / sx, 1.0 / sy, ox, oy) if len(d) else d

    def _run_many(self, detector, image: np.ndarray, rects: list) -> tuple[Detections, np.ndarray]:
        """``rects`` through ``detector`` -> (their Detections in frame pixels concatenated, rows per rect).
        Every model input is cut from the frame first, then the model runs on each: the frame is read while it
        is still in the CPU's cache (an invoke evicts it); a FaceDetector decodes them all in one pass."""
        if self.pad == "off":
            return _stacked([self._run_cropped(detector, image, r) for r in rects])
        size = self.detector.input_size
        inputs = [padded_input(image, r, size, self._border) for r in rects]
        if isinstance(detector, FaceDetector):
            xyxy, score, kp, counts = detector.detect_inputs([inp for inp, _ in inputs])
            return to_frame(xyxy, score, kp, counts, size, [xf for _, xf in inputs]), counts
        return _stacked([self._run_input(detector, inp, xf) for inp, xf in inputs])

    def _run_all(self, image: np.ndarray, rects: list) -> tuple[Detections, np.ndarray]:
        """Every rect through a detector -> (Detections, rows per part); with workers, the rects are shared out
        (each worker has its own interpreter; the model's invoke releases the GIL, so they run in parallel): the
        parts are rects[0::n] (the full pass first), then rects[1::n], ..."""
        n = len(self._detectors)
        if n == 1 or len(rects) < 2:
            return self._run_many(self.detector, image, rects)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(n - 1, thread_name_prefix="tiles")  # type: ignore[assignment]
        futures = [self._pool.submit(self._run_many, self._detectors[k], image, rects[k::n]) for k in range(1, n)]  # type: ignore[attr-defined]
        parts = [self._run_many(self.detector, image, rects[0::n])] + [f.result() for f in futures]
        return Detections.concat([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def close(self) -> None:
        """Stop the worker threads (if any)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def detect(self, image: np.ndarray) -> Detections:
        h, w = image.shape[:2]
        if self._size != (w, h):  # a new frame size (a folder of photos): what was followed was in the last one
            self.reset()
            self._size = (w, h)
        plan = self.plan(w, h)
        self.last_tiled = False
        rects = [plan.full]
        if self.tiles != "off":
            rects += [tuple(t) for t in self._tiles_now(plan.tiles).tolist()]  # type: ignore[misc]
            rects += self._roi_rects(plan)
            self._frames += 1
            if len(rects) > 1:
                self.last_tiled = True
                self.tiled_frames += 1
        self.invokes += len(rects)
        allp, counts = self._run_all(image, rects)
        det = merge_counted(allp, counts)
        if len(det) and self.pad != "off":
            b = det.xyxy
            iw = np.maximum(np.minimum(b[:, 2], w) - np.maximum(b[:, 0], 0), 0)
            ih = np.maximum(np.minimum(b[:, 3], h) - np.maximum(b[:, 1], 0), 0)
            area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6)
            inside = iw * ih / area >= MIN_INSIDE
            if not inside.all():
                det = det[inside]
        if self.tiles != "off":
            self._update_rois(det, allp.xyxy[: counts[0]], plan)
        return det


def _stacked(parts: list[Detections]) -> tuple[Detections, np.ndarray]:
    """One Detections per rect -> (them concatenated, rows per rect)."""
    counts = np.asarray([len(p) for p in parts], np.int64)
    return (Detections.concat(parts) if counts.any() else _EMPTY), counts
