"""Temporal safety: an IoU tracker that keeps masking a face for ``hold_frames`` frames after the detector
loses it, so a one-frame miss never shows a face."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...results import Detections
from ..faces import iou_matrix
from ..stream import Tracked

__all__ = ["IoUTracker", "Track"]


@dataclass
class Track:
    id: int
    box: np.ndarray  # (4,) float32 pixels
    score: float
    class_id: int
    velocity: np.ndarray  # (4,) per-frame change of the box, smoothed
    missed: int = 0
    hits: int = 1


class IoUTracker:
    """Greedy IoU matching of detections to tracks.

    A matched track takes the detection's box. An unmatched track is held for ``hold_frames`` frames: its box
    moves on with the track's recent velocity and grows by ``grow`` (fraction of its size) per missed frame,
    so a face that keeps moving stays covered. ``update`` returns what to mask: this frame's detections plus
    the held boxes (score of the held track, decayed).
    """

    def __init__(self, hold_frames: int = 5, iou_threshold: float = 0.2, grow: float = 0.05) -> None:
        if hold_frames < 0:
            raise ValueError("hold_frames must be >= 0")
        self.hold_frames = int(hold_frames)
        self.iou_threshold = float(iou_threshold)
        self.grow = float(grow)
        self.tracks: list[Track] = []
        self._next_id = 1
        self.held_boxes = 0  # boxes emitted from hold (counter for the summary)

    def reset(self) -> None:
        self.tracks = []

    def finish(self) -> Detections:
        """The stream ended: forget every track. Reports no ends (``track`` reports none either: anonymize has
        no track records)."""
        self.tracks = []
        return Detections.empty()

    def track(self, det: Detections, index: int = 0) -> Tracked:
        """The stream pipeline's Tracker protocol: ``update`` as a Tracked record (held rows flagged)."""
        boxes, ids = self.update(det)
        held = np.zeros(len(boxes), bool)
        held[len(det):] = True
        return Tracked(boxes.with_tracker_id(ids), held)

    def update(self, det: Detections) -> tuple[Detections, np.ndarray]:
        """Feed one frame's pixel detections; returns (boxes to mask, (n,) track ids)."""
        n = len(det)
        matched_det = np.zeros(n, bool)
        ids = np.zeros(n, np.int64)
        tracks = self.tracks
        if tracks and n:
            tb = np.stack([t.box for t in tracks])
            ious = iou_matrix(tb, det.xyxy)
            same = np.array([[t.class_id == c for c in det.class_id] for t in tracks])
            ious = np.where(same, ious, 0.0)
            pairs = sorted(((ious[i, j], i, j) for i in range(len(tracks)) for j in range(n) if ious[i, j] > self.iou_threshold), reverse=True)
            used_t: set[int] = set()
            for _, i, j in pairs:
                if i in used_t or matched_det[j]:
                    continue
                used_t.add(i)
                matched_det[j] = True
                t = tracks[i]
                ids[j] = t.id
                new = det.xyxy[j].astype(np.float32)
                t.velocity = 0.5 * t.velocity + 0.5 * (new - t.box) if t.missed == 0 else (new - t.box) / (t.missed + 1)
                t.box, t.score, t.missed, t.hits = new, float(det.score[j]), 0, t.hits + 1
            for i, t in enumerate(tracks):
                if i not in used_t:
                    t.missed += 1
        else:
            for t in tracks:
                t.missed += 1
        for j in np.flatnonzero(~matched_det):  # type: ignore[assignment]
            tracks.append(Track(self._next_id, det.xyxy[j].astype(np.float32), float(det.score[j]), int(det.class_id[j]), np.zeros(4, np.float32)))
            ids[j] = self._next_id
            self._next_id += 1
        self.tracks = [t for t in tracks if t.missed <= self.hold_frames]
        # output: the detections as found, then the held tracks
        held = [t for t in self.tracks if t.missed > 0]
        if not held:
            return det, ids
        boxes, scores, classes = [], [], []
        for t in held:
            t.box = t.box + t.velocity
            c = (t.box[:2] + t.box[2:]) / 2
            half = (t.box[2:] - t.box[:2]) / 2 * (1.0 + self.grow)
            t.box = np.concatenate([c - half, c + half]).astype(np.float32)
            boxes.append(t.box)
            scores.append(t.score * 0.9 ** t.missed)
            classes.append(t.class_id)
        self.held_boxes += len(held)
        extra = Detections(np.stack(boxes), np.asarray(scores, np.float32), np.asarray(classes, np.int32), normalized=det.normalized)
        base = det if det.keypoints is None else Detections(det.xyxy, det.score, det.class_id, None, det.normalized)
        out = Detections.concat([base, extra]) if n else extra
        return out, np.concatenate([ids, np.asarray([t.id for t in held], np.int64)])
