"""The stream pipeline's parts, as protocols, and the record that travels between its stages.

    source -> detector -> tracker -> frame stage -> sinks

- ``Source`` (edgesdk.runtime.sources) yields ``Frame(image, timestamp, index)``.
- ``Detector``: ``detect(image) -> Detections`` in pixels of that image.
- ``Tracker``: ``track(detections, index) -> Tracked`` (ids, held boxes, tracks that started or ended);
  ``finish()`` ends the tracks still live when the stream ends.
- ``FrameStage``: what a job does to a frame after detection and tracking. THE EXTENSION POINT: anonymize masks
  the boxes, detect draws them and turns tracks into events; a new job (segmentation, ...) adds its own stage
  (and, if it needs one, its own Detector producing what the stage consumes) and reuses everything else.
- ``Sink`` (edgesdk.runtime.sinks) gets ``write(frame, detections, meta)`` for every frame, ``close()`` once.

When the stream ends (its end, ``max_frames``, ``stop`` / Ctrl-C; not after an error) the pipeline calls
``tracker.finish()`` once, passes what it ended to ``stage.finish(frame)`` on a final StreamFrame (no image; the
last frame's index and time) and hands that frame's records to every sink's ``write_events(meta)``: a track in
view at the end gets its "end" record like one that ends mid-stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ...results import Detections
from ..sinks import FrameMeta, Sink
from ..sources import Source

__all__ = ["Detector", "FrameStage", "Sink", "Source", "StreamFrame", "Tracked", "Tracker"]


@runtime_checkable
class Detector(Protocol):
    """Finds boxes in one BGR frame. ``labels[class_id]`` names a class; ``reset()`` forgets state carried from
    frame to frame (called before each frame of a source of unrelated pictures); ``close()`` stops workers."""

    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> Sequence[str]: ...

    def detect(self, image: np.ndarray) -> Detections: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Tracked:
    """One frame's tracking result.

    detections: the rows the frame stage acts on, in pixels, with a ``tracker_id`` column.
    held: (n,) bool, True for a row kept from an earlier frame (not detected in this one).
    started: (k,) int64 ids of tracks confirmed in this frame.
    ended: the last box of each track that ended in this frame (``tracker_id`` set).
    """

    detections: Detections
    held: np.ndarray
    started: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ended: Detections = field(default_factory=Detections.empty)


@runtime_checkable
class Tracker(Protocol):
    """``track`` one frame's detections; ``reset()`` forgets every track (unrelated pictures); ``finish()``: the
    stream ended: the last box of every track still live (``tracker_id`` set; empty for a tracker that reports
    no ends), and the tracker is left empty."""

    def track(self, detections: Detections, index: int) -> Tracked: ...

    def reset(self) -> None: ...

    def finish(self) -> Detections: ...


@dataclass(eq=False)
class StreamFrame:
    """A frame on its way through the pipeline (owned by one stage at a time).

    image: (H, W, 3) uint8 BGR, modified in place by the frame stage.
    index, timestamp: from the source (seconds: media time for files, time since open for live sources).
    source_name: the file the frame came from (image folders), else None.
    detections / held / started / ended: the tracker's output for this frame (see Tracked).
    failed: the detector raised on this frame; blanked: the stage replaced the frame by black (fail closed).
    final: not a frame but the end of the stream: ``image`` is empty (0, 0, 3), index / timestamp are the last
        frame's, ``ended`` holds the tracks still live (see FrameStage.finish); sinks get only its records.
    events: JSON-ready track records of this frame; counts: current counts (see FrameMeta).
    """

    image: np.ndarray
    index: int
    timestamp: float
    source_name: str | None = None
    detections: Detections = field(default_factory=Detections.empty)
    held: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    started: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ended: Detections = field(default_factory=Detections.empty)
    found: int = 0  # detections the detector returned (before tracking)
    failed: bool = False
    blanked: bool = False
    final: bool = False
    events: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def meta(self, labels: Sequence[str]) -> FrameMeta:
        det = self.detections
        ids = det.tracker_id if det.tracker_id is not None else np.zeros(len(det), np.int64)
        return FrameMeta(self.index, self.timestamp, ids, self.held, self.blanked, labels, tuple(self.events),
                         dict(self.counts), self.source_name)


@runtime_checkable
class FrameStage(Protocol):
    """What a job does with a tracked frame before it reaches the sinks.

    apply(frame): act on ``frame.image`` in place (mask, draw) and fill ``frame.events`` / ``frame.counts``.
    fail(frame): the detector or ``apply`` raised on this frame: make it safe to write. A fail-closed job
        (anonymize) blanks the image and sets ``frame.blanked``; a job that only reports (detect) passes it on.
    finish(frame): the stream ended (``frame.final``, no image): fill ``frame.events`` / ``frame.counts`` with
        the last records, e.g. an "end" for each track in ``frame.ended``. Called once, after the last apply.
    """

    name: str

    def apply(self, frame: StreamFrame) -> None: ...

    def fail(self, frame: StreamFrame) -> None: ...

    def finish(self, frame: StreamFrame) -> None: ...
