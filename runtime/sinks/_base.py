"""The Sink protocol: ``write(frame, detections, meta)`` for every anonymized frame, ``close()`` once.

``frame`` is the anonymized BGR image (sinks must not keep a reference past ``write`` without copying),
``detections`` the boxes that were masked (pixels), ``meta`` a FrameMeta. ``close()`` finalizes (a video file
gets its index so it plays) and is safe to call twice. Writing errors raise SinkError (an EdgeSDKError).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ...errors import EdgeSDKError
from ...results import Detections

__all__ = ["FrameMeta", "Sink", "SinkError", "disk_error"]


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

    def close(self) -> None: ...


def disk_error(exc: OSError, path, written: int, what: str = "frames") -> SinkError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return SinkError(f"disk full while writing {path}: stopped after {written} {what} (what was written is kept)")
    return SinkError(f"cannot write {path}: {exc.strerror or exc}")
