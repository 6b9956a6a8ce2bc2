"""Segmentation's frame stages for the stream pipeline (edgesdk.runtime.stream's extension point).

- :class:`SegmentStage`: segment each frame and draw it (coloured overlay or label map) or replace its
  background; the foreground weight is smoothed over time on videos (:class:`TemporalSmoother`).
- :class:`PersonMaskStage`: wraps anonymize's face stage; segments the *unmodified* frame, lets the face stage
  mask its boxes, then masks every person's silhouette with the same anonymizer. A failed segmentation raises,
  so the pipeline calls ``fail`` and the frame is blanked (fail closed). Per-frame masked pixel counts go into
  ``frame.counts`` (never pixels).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ...results import Segmentation
from ..anonymize._strategies import Anonymizer
from ..stream._protocols import FrameStage, StreamFrame
from ._background import Background, feathered_alpha
from ._render import colorize, overlay
from ._segmenter import Segmenter

__all__ = ["TemporalSmoother", "SegmentStage", "PersonMaskStage", "mask_silhouettes", "foreground", "load_person_segmenter"]


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

    def shares(self) -> dict[str, float]:
        """Mean share of each class over the frames segmented so far."""
        total = self.totals.sum()
        names = self.segmenter.class_names
        return {(names[i] if i < len(names) else str(i)): round(float(c) / total, 6)
                for i, c in enumerate(self.totals) if c} if total else {}


def mask_silhouettes(image: np.ndarray, mask: np.ndarray, anonymizer: Anonymizer, margin: int = 0) -> int:
    """Anonymize the pixels of ``mask`` ((H, W) bool, grown by ``margin`` px) in ``image`` in place, with
    ``anonymizer.render`` over the mask's bounding box; returns the number of pixels masked."""
    m = mask.astype(np.uint8)
    if margin > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        m = cv2.dilate(m, k)
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return 0
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    roi = image[y0:y1, x0:x1]
    sel = m[y0:y1, x0:x1].astype(bool)
    roi[sel] = anonymizer.render(roi)[sel]
    return int(sel.sum())


class PersonMaskStage:
    """FrameStage wrapping another (anonymize's face stage): faces as before, plus every person's silhouette.

    person_ids: classes that are people (selfie: [1]; Pascal DeepLab: [15]); margin: px the silhouette is grown
    by (default 1 % of the frame's short side, at least 2); hold: also mask the previous frame's silhouette
    (covers a person the segmenter misses for one frame)."""

    name = "renderer+person-mask"

    def __init__(self, inner: FrameStage, segmenter: Segmenter, anonymizer: Anonymizer, person_ids: Sequence[int], *,
                 margin: int | None = None, hold: bool = True) -> None:
        self.inner, self.segmenter, self.anonymizer = inner, segmenter, anonymizer
        self.person_ids = list(person_ids)
        self.margin, self.hold = margin, hold
        self._prev: np.ndarray | None = None
        self.frames = 0
        self.pixels = 0
        self.max_pixels = 0

    def apply(self, frame: StreamFrame) -> None:
        seg = self.segmenter.segment(frame.image)  # before the faces are masked: the frame as captured
        mask = seg.mask(self.person_ids)
        if self.hold and self._prev is not None and self._prev.shape == mask.shape:
            mask = mask | self._prev
        self._prev = seg.mask(self.person_ids)
        self.inner.apply(frame)
        h, w = frame.image.shape[:2]
        margin = self.margin if self.margin is not None else max(2, round(0.01 * min(h, w)))
        n = mask_silhouettes(frame.image, mask, self.anonymizer, margin)
        frame.counts["person_mask_pixels"] = n
        self.frames += 1
        self.pixels += n
        self.max_pixels = max(self.max_pixels, n)

    def fail(self, frame: StreamFrame) -> None:
        self._prev = None
        self.inner.fail(frame)
        frame.counts["person_mask_pixels"] = int(frame.image.shape[0] * frame.image.shape[1]) if frame.blanked else 0

    def describe(self) -> dict:
        return {**self.segmenter.describe(), "person_classes": [self.segmenter.class_names[i] for i in self.person_ids
                                                                 if i < len(self.segmenter.class_names)],
                "frames": self.frames, "masked_pixels_per_frame_mean": round(self.pixels / self.frames, 1) if self.frames else 0.0,
                "masked_pixels_per_frame_max": self.max_pixels}


def load_person_segmenter(model: str | None, *, device: str = "cpu", threads: int | None = 1) -> tuple[Segmenter, list[int]]:
    """The segmenter behind ``anonymize --person-mask [MODEL]`` and the ids of its person class(es).
    model None: the default selfie segmenter (see find_model). ModelError for a model without a person class."""
    from ...errors import ModelError
    from ._models import find_model
    from ._segmenter import load_segmenter

    seg = load_segmenter(find_model(model), device=device, threads=threads)
    if seg.decoder == "mediapipe-selfie":
        return seg, [1]
    if "person" not in seg.class_names:
        raise ModelError(f"{seg.name} has no 'person' class (it has {', '.join(seg.class_names[:8])}...): "
                         "--person-mask needs a person segmenter")
    return seg, [seg.class_names.index("person")]
