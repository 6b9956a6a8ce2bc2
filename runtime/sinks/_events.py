"""JSONL events: one line per frame with the frame index, timestamp and the masked boxes and scores.
Never pixels."""

from __future__ import annotations

import os

import numpy as np

from ...results import Detections
from ._base import FrameMeta, JsonlFile

__all__ = ["EventsSink"]


class EventsSink:
    """Appends to (or, with ``append=False``, replaces) ``path``: ``{"frame", "t", "source_name", "boxes": [{"box",
    "score", "class_id", "label", "track", "held"}], "blanked"}`` (boxes clipped to the frame; ``source_name`` for
    frames of an image folder). Lines are flushed every ``flush_every`` frames."""

    def __init__(self, path: str | os.PathLike, *, append: bool = False, flush_every: int = 30, only_with_faces: bool = False) -> None:
        self._file = JsonlFile(path, append=append, flush_every=flush_every)
        self.path = self._file.path
        self.name = f"events:{self.path}"
        self.only_with_faces = only_with_faces

    @property
    def frames(self) -> int:
        return self._file.frames

    def write(self, frame: np.ndarray, detections: Detections, meta: FrameMeta) -> None:
        if self.only_with_faces and not len(detections):
            return
        rows = []
        labels = list(meta.labels) if meta.labels else None
        h, w = frame.shape[:2]  # boxes in pixels of the frame, clipped to it (a face at the edge reaches past it)
        for i, d in enumerate(detections.with_tracker_id(None).clip(w, h).to_dicts(labels)):
            if i < len(meta.track_ids):
                d["track"] = int(meta.track_ids[i])
            if i < len(meta.held):
                d["held"] = bool(meta.held[i])
            rows.append(d)
        line: dict = {"frame": int(meta.index), "t": round(float(meta.timestamp), 4), "boxes": rows}
        if meta.source_name is not None:  # the image a folder's frame came from
            line["source_name"] = meta.source_name
        if meta.blanked:
            line["blanked"] = True
        if meta.counts:
            line["counts"] = dict(meta.counts)  # e.g. person_mask_pixels: pixels masked by --person-mask
        self._file.write_frame([line])

    def write_events(self, meta: FrameMeta) -> None:
        """Records with no new frame: nothing to write (its lines are per frame)."""

    def close(self) -> None:
        self._file.close()
