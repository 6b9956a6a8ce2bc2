"""Anonymize's part of the stream pipeline: the frame stage that masks every tracked box (``MaskStage``), and
``AnonymizePipeline``, the pipeline composed for this job (edgesdk.runtime.stream.Pipeline with the IoU tracker
that holds boxes over misses and a fail-closed mask stage).

Fail closed: a frame the detector or the renderer failed on is blanked (all black) before it reaches a sink.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ...results import Detections
from ..stream import Detector, FrameStage, Pipeline, RunError, RunSummary, Sink, Source, StreamFrame
from ._strategies import Anonymizer
from ._tracker import IoUTracker

__all__ = ["AnonymizePipeline", "MaskStage", "Renderer", "RunError", "RunSummary"]


class Renderer:
    """Enlarges boxes by ``mask_scale`` and applies the anonymizer in place."""

    def __init__(self, anonymizer: Anonymizer, mask_scale: float = 1.3) -> None:
        if mask_scale < 1.0:
            raise ValueError("mask_scale must be >= 1.0 (it enlarges boxes)")
        self.anonymizer = anonymizer
        self.mask_scale = float(mask_scale)

    def boxes(self, det: Detections, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """(masked boxes (n, 4) float pixels, feather margins (n,))."""
        if not len(det):
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        b = det.xyxy  # Detections.expand(mask_scale).clip(width, height) without building the two records
        c = (b[:, :2] + b[:, 2:]) / 2
        half = (b[:, 2:] - b[:, :2]) / 2 * self.mask_scale
        big = np.minimum(np.maximum(np.concatenate([c - half, c + half], axis=1), 0),
                         np.array([width, height, width, height], np.float32))
        wh = b[:, 2:] - b[:, :2]
        margins = np.maximum(0.0, wh.min(axis=1) * (self.mask_scale - 1.0) / 2.0)
        return big.astype(np.float32, copy=False), margins

    def __call__(self, frame: np.ndarray, det: Detections) -> np.ndarray:
        """Mask ``det`` in ``frame`` (in place); returns the int boxes covered."""
        h, w = frame.shape[:2]
        boxes, margins = self.boxes(det, w, h)
        return self.anonymizer.apply(frame, boxes, margins)


class MaskStage:
    """FrameStage of anonymize: mask every box (found and held); blank the frame when anything failed."""

    name = "renderer"

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def apply(self, frame: StreamFrame) -> None:
        self.renderer(frame.image, frame.detections)

    def fail(self, frame: StreamFrame) -> None:
        frame.image[...] = 0
        frame.blanked = True

    def finish(self, frame: StreamFrame) -> None:
        """Anonymize reports no track records: nothing to end."""


class AnonymizePipeline(Pipeline):
    """source -> detector -> IoU tracker (holding boxes ``hold_frames`` frames after a miss) -> mask -> sinks.

    live: drop the oldest queued frame when detection falls behind (default: the source's ``live``).
    on_frame: called after each written frame with the number written so far.
    stage: a FrameStage replacing the default ``MaskStage(Renderer(anonymizer, mask_scale))`` (for example one
    that also masks a segmentation's person pixels); it must fail closed (blank the frame in ``fail``).
    """

    def __init__(
        self, source: Source, detector: Detector, anonymizer: Anonymizer, sinks: Sequence[Sink], *,
        hold_frames: int = 5, mask_scale: float = 1.3, live: bool | None = None, queue_size: int = 4,
        max_detect_errors: int = 30, on_frame: Callable[[int], None] | None = None, stage: FrameStage | None = None,
    ) -> None:
        self.renderer = Renderer(anonymizer, mask_scale)
        super().__init__(source, detector, IoUTracker(hold_frames), stage or MaskStage(self.renderer), sinks,
                         live=live, queue_size=queue_size, max_detect_errors=max_detect_errors, on_frame=on_frame)


# kept for callers of the old name
_RunError = RunError
