"""Detect's JSONL events: for each frame with detections a frame record, then the frame's track records.

    {"type": "frame", "frame", "time", "detections": [{"track_id", "label", "class_id", "score", "box"}]}
    {"type": "new" | "end" | "enter" | "leave" | "cross", "frame", "time", "track_id", "label", "zone" | "line",
     "direction"}

Pixel coordinates of the source frame. Frames from an image folder also carry ``"source_name"`` (the file).
Never pixels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...results import Detections
from ._base import FrameMeta, SinkError, disk_error

__all__ = ["TrackEventsSink"]


class TrackEventsSink:
    """Writes (replaces) ``path``; lines are flushed every ``flush_every`` frames and on close."""

    def __init__(self, path: str | os.PathLike, *, flush_every: int = 30) -> None:
        self.path = Path(path)
        self.name = f"events:{self.path}"
        if not self.path.parent.is_dir():
            raise SinkError(f"output folder {self.path.parent} does not exist")
        try:
            self._fh = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror}") from None
        self.flush_every = flush_every
        self.frames = 0
        self.records = 0

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
        if meta.source_name is not None:
            lines = [{**rec, "source_name": meta.source_name} for rec in lines]
        try:
            for rec in lines:
                self._fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.records += len(lines)
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
