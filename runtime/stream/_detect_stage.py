"""The detect job's frame stage: turns tracks into events and counts (new, end, zones entered and left, lines
crossed), saves a snapshot per new track, and draws the frame when an output shows it."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import EdgeSDKError
from .._images import write_image
from ._annotate import draw_stream
from ._protocols import StreamFrame
from ._zones import Line, Zone, ZoneCounter

log = logging.getLogger(__name__)

__all__ = ["DetectStage", "SnapshotWriter"]


class SnapshotWriter:
    """``folder/<frame>_<track id>_<label>.jpg``: each new track cropped to its box (with a 10 % margin),
    written atomically. The folder is created (its parent must exist)."""

    def __init__(self, folder: str | Path, margin: float = 0.1) -> None:
        self.folder = Path(folder)
        self.margin = margin
        self.folder.mkdir(exist_ok=True)
        self.written = 0
        self.failed = 0

    def save(self, image: np.ndarray, box: np.ndarray, frame: int, track_id: int, label: str) -> None:
        h, w = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in box)
        mx, my = (x2 - x1) * self.margin, (y2 - y1) * self.margin
        xa, ya, xb, yb = int(max(0, x1 - mx)), int(max(0, y1 - my)), int(min(w, x2 + mx)), int(min(h, y2 + my))
        if xb <= xa or yb <= ya:
            return
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label) or "object"
        try:
            write_image(self.folder / f"{frame:06d}_{track_id}_{safe}.jpg", image[ya:yb, xa:xb])
            self.written += 1
        except (OSError, EdgeSDKError) as exc:
            self.failed += 1
            if self.failed == 1:
                log.error("cannot write a snapshot to %s: %s", self.folder, exc)


class DetectStage:
    """FrameStage of ``detect_stream``.

    labels: the model's labels (class id -> name; ids past the end are shown as numbers).
    draw: draw boxes, ids, zones, lines and counts on the frame (only when an output shows pixels).
    Totals for the summary: ``tracks`` (distinct tracks per label), ``frames_with_detections``.
    """

    name = "annotate"

    def __init__(self, labels: Sequence[str], *, zones: Sequence[Zone] = (), lines: Sequence[Line] = (),
                 draw: bool = True, snapshots: SnapshotWriter | None = None) -> None:
        self.labels = list(labels)
        self.zones, self.lines = list(zones), list(lines)
        self.counter = ZoneCounter(self.zones, self.lines)
        self.draw = draw
        self.snapshots = snapshots
        self.tracks: Counter[str] = Counter()
        self.detections: Counter[str] = Counter()
        self.frames_with_detections = 0
        self._track_label: dict[int, str] = {}
        self._counts: dict[str, int] = {}  # the last frame's counts
        self._warned: set[int] = set()

    def label(self, class_id: int) -> str:
        if 0 <= class_id < len(self.labels) and self.labels[class_id]:
            return self.labels[class_id]
        if class_id not in self._warned:
            self._warned.add(class_id)
            if self.labels:
                log.warning("class %d has no label (the labels have %d lines): showing class ids", class_id, len(self.labels))
        return str(class_id)

    @staticmethod
    def _event(frame: StreamFrame, kind: str, tid: int, label: str, where: str | None = None,
               name: str | None = None, direction: str | None = None) -> dict:
        e: dict = {"type": kind, "frame": int(frame.index), "time": round(float(frame.timestamp), 4),
                   "track_id": tid, "label": label}
        if where is not None:
            e[where] = name
        if direction is not None:
            e["direction"] = direction
        return e

    def _ends(self, frame: StreamFrame, leave: bool) -> list[dict]:
        """An "end" record for each track of ``frame.ended`` (``leave``: after a "leave" for each zone it was in)."""
        events: list[dict] = []
        ended = frame.ended
        if ended.tracker_id is None:
            return events
        for k, tid in enumerate(int(t) for t in ended.tracker_id):
            label = self._track_label.pop(tid, self.label(int(ended.class_id[k])))
            if leave:
                for kind, _, _, name, _ in self.counter.end(tid):
                    events.append(self._event(frame, kind, tid, label, "zone", name))
            events.append(self._event(frame, "end", tid, label))
        return events

    def apply(self, frame: StreamFrame) -> None:
        h, w = frame.image.shape[:2]
        det = frame.detections.clip(w, h)
        frame.detections = det
        names = [self.label(int(c)) for c in det.class_id]
        events: list[dict] = []
        ids = det.tracker_id
        if ids is not None and len(frame.started):
            row = {int(t): i for i, t in enumerate(ids)}
            for tid in (int(t) for t in frame.started):
                i = row.get(tid)
                label = names[i] if i is not None else "?"
                self._track_label[tid] = label
                self.tracks[label] += 1
                events.append(self._event(frame, "new", tid, label))
                if self.snapshots is not None and i is not None:
                    self.snapshots.save(frame.image, det.xyxy[i], frame.index, tid, label)
        if ids is not None and (self.zones or self.lines):
            feet = np.stack([(det.xyxy[:, 0] + det.xyxy[:, 2]) / 2, det.xyxy[:, 3]], axis=1)
            for kind, tid, label, name, d in self.counter.update(ids, feet, names):
                events.append(self._event(frame, kind, tid, label, "zone" if kind != "cross" else "line", name, d))
        events.extend(self._ends(frame, leave=True))
        for n in names:
            self.detections[n] += 1
        self.frames_with_detections += bool(len(det))
        frame.events.extend(events)
        counts = dict(Counter(names))
        counts.update(self.counter.counts())
        frame.counts.update(counts)
        self._counts = frame.counts  # the frame is not changed after this stage
        if self.draw:
            draw_stream(frame.image, det, names, self.zones, self.lines, frame.counts)

    def finish(self, frame: StreamFrame) -> None:
        """The stream ended: an "end" for every track still live (``frame.ended``). No "leave": the tracks did not
        leave their zones, the stream stopped; so the counts (in view, per zone) stay those of the last frame
        (summary, live page and retained MQTT counts show the scene as it was when the stream ended)."""
        frame.events.extend(self._ends(frame, leave=False))
        frame.counts.update(self._counts)

    def fail(self, frame: StreamFrame) -> None:
        """Detection failed on this frame: it is written as it is, with no detections (nothing to hide)."""
        return None
