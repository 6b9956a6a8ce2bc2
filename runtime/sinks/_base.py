"""The Sink protocol: ``write(frame, detections, meta)`` for every anonymized frame, ``write_events(meta)`` for
records that come with no new frame (the stream ended: the tracks still in view end; ``meta`` has the last
frame's index and time, no boxes), ``close()`` once.

``frame`` is the anonymized BGR image (sinks must not keep a reference past ``write`` without copying),
``detections`` the boxes that were masked (pixels), ``meta`` a FrameMeta. ``close()`` finalizes (a video file
gets its index so it plays) and is safe to call twice. Writing errors raise SinkError (an EdgeSDKError).
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ...errors import EdgeSDKError
from ...results import Detections

__all__ = ["FrameMeta", "JsonlFile", "Sink", "SinkError", "disk_error"]


class SinkError(EdgeSDKError):
    """A sink cannot write (disk full, folder gone, client error)."""


@dataclass(frozen=True)
class FrameMeta:
    index: int
    timestamp: float
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    held: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # box kept from an earlier frame
    blanked: bool = False  # the detector failed: the whole frame was blanked (fail closed)
    labels: Sequence[str] = ()
    # Stream contract shared by every job (detect, anonymize, segment) and every sink:
    # events: this frame's track records, each a JSON-ready dict in the --events format
    #   {"type": "new"|"end"|"enter"|"leave"|"cross", "frame", "time", "track_id", "label", "zone" | "line", "direction"}
    # counts: the current counts, "<label>" -> tracks in view, "<zone>/<label>" -> tracks inside the zone,
    #   "<line>/<label>/<direction>" -> crossings so far
    # source_name: the file the frame came from (image folders, several inputs), else None
    events: tuple[dict, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    source_name: str | None = None


@runtime_checkable
class Sink(Protocol):
    name: str

    def write(self, frame: np.ndarray, detections: Detections, meta: FrameMeta) -> None: ...

    def write_events(self, meta: FrameMeta) -> None: ...

    def close(self) -> None: ...


def disk_error(exc: OSError, path, written: int, what: str = "frames") -> SinkError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return SinkError(f"disk full while writing {path}: stopped after {written} {what} (what was written is kept)")
    return SinkError(f"cannot write {path}: {exc.strerror or exc}")


class JsonlFile:
    """The file behind the JSONL sinks: one JSON object per line, flushed every ``flush_every`` frames and on
    close; writing errors (disk full) become one-line SinkErrors that say how much was kept."""

    def __init__(self, path: str | os.PathLike, *, append: bool = False, flush_every: int = 30) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise SinkError(f"output folder {self.path.parent} does not exist")
        try:
            self._fh = open(self.path, "a" if append else "w", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror}") from None
        self.flush_every = flush_every
        self.frames = 0  # calls of write_frame
        self.records = 0  # lines written

    def write_frame(self, records: Sequence[dict]) -> None:
        """The records of one frame (possibly none)."""
        try:
            for rec in records:
                self._fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.records += len(records)
            self.frames += 1
            if self.frames % self.flush_every == 0:
                self._fh.flush()
        except OSError as exc:
            raise disk_error(exc, self.path, self.records, "events") from None

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            self._fh.close()
        except OSError as exc:
            raise disk_error(exc, self.path, self.records, "events") from None
