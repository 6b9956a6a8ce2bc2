"""Detect's JSONL events: for each frame with detections a frame record, then the frame's track records.

    {"type": "frame", "frame", "time", "detections": [{"track_id", "label", "class_id", "score", "box"}]}
    {"type": "new" | "end" | "enter" | "leave" | "cross", "frame", "time", "track_id", "label", "zone" | "line",
     "direction"}

Pixel coordinates of the source frame. Frames from an image folder also carry ``"source_name"`` (the file).
Never pixels.
"""

from __future__ import annotations

import os

import numpy as np

from ...results import Detections
from ._base import FrameMeta, JsonlFile

__all__ = ["TrackEventsSink"]


class TrackEventsSink:
    """Writes (replaces) ``path``; lines are flushed every ``flush_every`` frames and on close."""

    def __init__(self, path: str | os.PathLike, *, flush_every: int = 30) -> None:
        self._file = JsonlFile(path, flush_every=flush_every)
        self.path = self._file.path
        self.name = f"events:{self.path}"

    @property
    def records(self) -> int:
        return self._file.records

    def write(self, frame: np.ndarray, detections: Detections, meta: FrameMeta) -> None:
        lines = []
        if len(detections):
            rows = []
            labels = list(meta.labels)
            ids = detections.tracker_id
            for i in range(len(detections)):
                cid = int(detections.class_id[i])
                rows.append({
                    "track_id": int(ids[i]) if ids is not None else None,
                    "label": labels[cid] if 0 <= cid < len(labels) and labels[cid] else str(cid),
                    "class_id": cid,
                    "score": round(float(detections.score[i]), 4),
                    "box": [round(float(v), 1) for v in detections.xyxy[i]],
                })
            rec: dict = {"type": "frame", "frame": int(meta.index), "time": round(float(meta.timestamp), 4),
                         "detections": rows}
            lines.append(rec)
        lines.extend(meta.events)
        self._write(lines, meta)

    def write_events(self, meta: FrameMeta) -> None:
        """The track records that end the stream (no frame record)."""
        self._write(list(meta.events), meta)

    def _write(self, lines: list[dict], meta: FrameMeta) -> None:
        if meta.source_name is not None:
            lines = [{**rec, "source_name": meta.source_name} for rec in lines]
        self._file.write_frame(lines)

    def close(self) -> None:
        self._file.close()
