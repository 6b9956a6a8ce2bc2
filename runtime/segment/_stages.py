"""Segmentation's frame stages for the stream pipeline (edgesdk.runtime.stream's extension point).

- :class:`SegmentStage`: segment each frame and draw it (coloured overlay or label map) or replace its
  background; the foreground weight is smoothed over time on videos (:class:`TemporalSmoother`).
- :class:`PersonMaskStage`: wraps anonymize's face stage; segments the *unmodified* frame, lets the face stage
  mask its boxes, then masks every person's silhouette with the same anonymizer. A failed segmentation raises,
  so the pipeline calls ``fail`` and the frame is blanked (fail closed). Per-frame masked pixel counts go into
  ``frame.counts`` (never pixels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from ...results import Segmentation
from ..stream import FrameStage, StreamFrame
from ._background import Background, feathered_alpha
from ._render import colorize, overlay
from ._segmenter import Segmenter

if TYPE_CHECKING:  # typing only: the anonymize job builds these stages, so importing it here would be a cycle
    from ..anonymize import Anonymizer

__all__ = ["SHAPES", "TemporalSmoother", "SegmentStage", "PersonMaskStage", "mask_silhouettes", "person_shapes",
           "tile_grid", "foreground", "load_person_segmenter"]


class TemporalSmoother:
    """Exponential moving average of an (H, W) float map over consecutive frames: out = w * new + (1 - w) * prev.
    ``weight`` 1.0 = off. The state resets when the frame size changes or ``reset()`` is called."""

    def __init__(self, weight: float = 0.5) -> None:
        if not 0.0 < weight <= 1.0:
            raise ValueError("smoothing weight must be in (0, 1]")
        self.weight = float(weight)
        self._prev: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None

    def __call__(self, current: np.ndarray) -> np.ndarray:
        cur = np.asarray(current, np.float32)
        if self.weight >= 1.0 or self._prev is None or self._prev.shape != cur.shape:
            self._prev = cur.copy()
            return cur
        out = cv2.addWeighted(cur, self.weight, self._prev, 1.0 - self.weight, 0.0)
        self._prev = out
        return out


def foreground(seg: Segmentation, class_ids: Sequence[int] | None) -> np.ndarray:
    """(H, W) float32 foreground weight: the person probability of a selfie segmenter (classes == [1]), else the
    mask of ``class_ids`` (default: every class but 0) as 0.0 / 1.0."""
    if seg.probability is not None and (class_ids is None or list(class_ids) == [1]):
        return seg.probability
    m = seg.mask(class_ids) if class_ids is not None else seg.label_map != 0
    return m.astype(np.float32)


class SegmentStage:
    """FrameStage: segment, then draw (``overlay`` or ``labels``) or compose over ``background``.

    classes: ids kept (None: all); smooth: EMA weight for the foreground on videos (1.0 off; ignored for
    independent pictures); feather: soft alpha edge in px (background replacement).
    frame.counts gets "pixels/<class>" for every class present. A frame the segmenter failed on is blanked
    (its background would otherwise show: fail closed, as anonymize).
    """

    name = "segmenter"

    def __init__(self, segmenter: Segmenter, *, draw: str = "overlay", background: Background | None = None,
                 classes: Sequence[int] | None = None, smooth: float = 0.5, feather: float = 3.0,
                 independent: bool = False) -> None:
        if draw not in ("overlay", "labels", "background"):
            raise ValueError(f"draw must be overlay, labels or background, got {draw!r}")
        if draw == "background" and background is None:
            raise ValueError("draw='background' needs a Background")
        self.segmenter, self.draw, self.background = segmenter, draw, background
        self.classes = list(classes) if classes is not None else None
        self.smoother = TemporalSmoother(1.0 if independent else smooth)
        self.feather = feather
        self.totals = np.zeros(max(1, len(segmenter.class_names)), np.int64)
        self.frames = 0

    def apply(self, frame: StreamFrame) -> None:
        seg = self.segmenter.segment(frame.image)
        counts = seg.counts()
        if len(counts) > len(self.totals):
            self.totals = np.pad(self.totals, (0, len(counts) - len(self.totals)))
        self.totals[:len(counts)] += counts
        self.frames += 1
        frame.counts.update({f"pixels/{seg.name(i)}": int(c) for i, c in enumerate(counts) if c})
        if self.draw == "background":
            assert self.background is not None
            fg = self.smoother(foreground(seg, self.classes))
            out = self.background.compose(frame.image, feathered_alpha(fg, self.feather))
            frame.image[...] = out[:, :, :3]
        elif self.draw == "overlay":
            frame.image[...] = overlay(frame.image, seg, self.classes)
        else:
            frame.image[...] = colorize(seg, self.classes)

    def fail(self, frame: StreamFrame) -> None:
        frame.image[...] = 0
        frame.blanked = True

    def finish(self, frame: StreamFrame) -> None:
        """Segmentation keeps no tracks: nothing to end."""

    def shares(self) -> dict[str, float]:
        """Mean share of each class over the frames segmented so far."""
        total = self.totals.sum()
        names = self.segmenter.class_names
        return {(names[i] if i < len(names) else str(i)): round(float(c) / total, 6)
                for i, c in enumerate(self.totals) if c} if total else {}


SHAPES = ("box", "hull", "silhouette")


def person_shapes(mask: np.ndarray, shape: str = "box") -> np.ndarray:
    """(H, W) bool person mask -> the region to anonymize: ``silhouette`` (the mask itself), ``hull`` (the convex
    hull of each connected region) or ``box`` (its bounding box). A black silhouette keeps the outline of a head,
    which face detectors still score as a face (measured in benchmarks/person_mask.py); hull and box do not."""
    if shape == "silhouette":
        return mask
    m = mask.astype(np.uint8)
    out = np.zeros_like(m)
    if shape == "box":
        n, _, stats, _ = cv2.connectedComponentsWithStats(m)
        for x, y, w, h, _area in stats[1:n]:
            out[y:y + h, x:x + w] = 1
    elif shape == "hull":
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            cv2.fillConvexPoly(out, cv2.convexHull(c), 1)
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    return out.astype(bool)


def mask_silhouettes(image: np.ndarray, mask: np.ndarray, anonymizer: Anonymizer, margin: int = 0) -> int:
    """Anonymize the pixels of ``mask`` ((H, W) bool, grown by ``margin`` px) in ``image`` in place, with
    ``anonymizer.render`` over the mask's bounding box; returns the number of pixels masked."""
    m: np.ndarray = mask.astype(np.uint8)
    if margin > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        m = cv2.dilate(m, k)
    x0, y0, bw, bh = cv2.boundingRect(m)
    if bw == 0 or bh == 0:
        return 0
    x1, y1 = x0 + bw, y0 + bh
    roi = image[y0:y1, x0:x1]
    sel = m[y0:y1, x0:x1].astype(bool)
    roi[sel] = anonymizer.render(roi)[sel]
    return int(sel.sum())


def tile_grid(width: int, height: int, model_size: tuple[int, int], overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Crops (x0, y0, x1, y1) segmented besides the whole frame so small, far people get more model pixels: a 2x2
    grid with ``overlap`` when the frame is at least twice the model input on both sides, else none."""
    mw, mh = model_size
    if width < 2 * mw or height < 2 * mh:
        return []
    tw, th = width / 2, height / 2
    out = []
    for r in range(2):
        for c in range(2):
            out.append((int(max(0, (c - overlap) * tw)), int(max(0, (r - overlap) * th)),
                        int(min(width, (c + 1 + overlap) * tw)), int(min(height, (r + 1 + overlap) * th))))
    return out


class PersonMaskStage:
    """FrameStage wrapping another (anonymize's face stage): faces as before, plus every person found by the
    segmenter.

    person_ids: classes that are people (selfie: [1]; Pascal DeepLab: [15]); shape: ``box`` (default), ``hull``
    or ``silhouette`` (see person_shapes); margin: px the region is grown by (default 1 % of the frame's short
    side, at least 2); tiles: also segment a 2x2 grid of crops when the frame is at least twice the model input
    (see tile_grid; small, far people), one crop per frame in turn, each crop's people kept until its next turn
    (so a far person only a crop finds may show for up to 3 frames after appearing; ``sweep=False``: every crop
    every frame, 5 model runs per frame instead of 2); hold: also mask the previous frame's people."""

    name = "renderer+person-mask"

    def __init__(self, inner: FrameStage, segmenter: Segmenter, anonymizer: Anonymizer, person_ids: Sequence[int], *,
                 shape: str = "box", margin: int | None = None, tiles: bool = True, sweep: bool = True,
                 hold: bool = True) -> None:
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
        self.inner, self.segmenter, self.anonymizer = inner, segmenter, anonymizer
        self.person_ids = list(person_ids)
        self.shape, self.margin, self.tiles, self.sweep, self.hold = shape, margin, tiles, sweep, hold
        self._tile_masks: dict[int, np.ndarray] = {}
        self._prev: np.ndarray | None = None
        self.frames = 0
        self.pixels = 0
        self.max_pixels = 0
        self.crops = 0
        self.scale = 1

    def people(self, image: np.ndarray, still: bool = False) -> np.ndarray:
        """(h, w) bool: pixels of people in ``image`` (whole frame, plus the tile crops), at a working resolution
        of 1/``f`` of the frame (f = 2 when the frame is at least twice the model input, else 1); see ``scale``."""
        h, w = image.shape[:2]
        mw, mh = self.segmenter.model.input_size
        f = self.scale = 2 if w >= 2 * mw and h >= 2 * mh else 1
        mask = self.segmenter.segment(image, (w // f, h // f)).mask(self.person_ids)
        grid = tile_grid(w, h, (mw, mh)) if self.tiles else []
        turn = [self.frames % len(grid)] if grid and self.sweep and not still else range(len(grid))
        if still:
            self._tile_masks.clear()
        for i in turn:
            x0, y0, x1, y1 = grid[i]
            part = mask[y0 // f:y1 // f, x0 // f:x1 // f]
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
            self._tile_masks[i] = self.segmenter.segment(crop, (part.shape[1], part.shape[0])).mask(self.person_ids)
            self.crops += 1
        for i, m in self._tile_masks.items():
            if i < len(grid):
                x0, y0, x1, y1 = grid[i]
                part = mask[y0 // f:y1 // f, x0 // f:x1 // f]
                if part.shape == m.shape:
                    part |= m
        return mask

    def apply(self, frame: StreamFrame) -> None:
        # pictures from files (source_name set) are unrelated: every crop, nothing carried over from the last one
        still = frame.source_name is not None
        now = self.people(frame.image, still)  # before the faces are masked: the frame as captured
        held = self.hold and not still and self._prev is not None and self._prev.shape == now.shape
        mask = now | self._prev if held else now
        self._prev = now
        self.inner.apply(frame)
        h, w = frame.image.shape[:2]
        region = person_shapes(mask, self.shape)
        if region.shape != (h, w):
            region = cv2.resize(region.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        margin = self.margin if self.margin is not None else max(2, round(0.01 * min(h, w)))
        n = mask_silhouettes(frame.image, region, self.anonymizer, margin)
        frame.counts["person_mask_pixels"] = n
        self.frames += 1
        self.pixels += n
        self.max_pixels = max(self.max_pixels, n)

    def fail(self, frame: StreamFrame) -> None:
        self._prev = None
        self._tile_masks.clear()
        self.inner.fail(frame)
        frame.counts["person_mask_pixels"] = int(frame.image.shape[0] * frame.image.shape[1]) if frame.blanked else 0

    def finish(self, frame: StreamFrame) -> None:
        self.inner.finish(frame)

    def describe(self) -> dict:
        names = self.segmenter.class_names
        return {**self.segmenter.describe(), "person_classes": [names[i] for i in self.person_ids if i < len(names)],
                "shape": self.shape, "tile_crops_per_frame": round(self.crops / self.frames, 2) if self.frames else 0,
                "frames": self.frames,
                "masked_pixels_per_frame_mean": round(self.pixels / self.frames, 1) if self.frames else 0.0,
                "masked_pixels_per_frame_max": self.max_pixels}


def load_person_segmenter(model: str | None, *, device: str = "cpu", threads: int | None = 1) -> tuple[Segmenter, list[int]]:
    """The segmenter behind ``anonymize --person-mask [MODEL]`` and the ids of its person class(es).
    model None: the default selfie segmenter (see find_model). ModelError for a model without a person class."""
    from ...errors import ModelError
    from ._models import find_model
    from ._segmenter import load_segmenter

    path = find_model(model)
    if path.suffix.lower() not in (".tflite", ".gz", ".tgz", ".tar") and not (path / "manifest.json").is_file():
        raise ModelError(f"--person-mask {model}: not a .tflite model or a bundle (a video? put --person-mask after "
                         "SOURCE, or give it the MODEL)")
    seg = load_segmenter(path, device=device, threads=threads)
    if seg.decoder == "mediapipe-selfie":
        return seg, [1]
    if "person" not in seg.class_names:
        raise ModelError(f"{seg.name} has no 'person' class (it has {', '.join(seg.class_names[:8])}...): "
                         "--person-mask needs a person segmenter")
    return seg, [seg.class_names.index("person")]
