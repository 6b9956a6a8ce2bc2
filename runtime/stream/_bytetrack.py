"""ByteTrack-style multi-object tracking: persistent ids across frames.

Each frame (Zhang et al., "ByteTrack", 2022, with greedy instead of Hungarian matching):
1. every track's box moves on with its Kalman filter (constant velocity);
2. detections scoring >= ``high`` are matched to confirmed and lost tracks by IoU (same class only);
3. the remaining detections scoring below ``high`` (down to the detector's threshold) are matched to the tracks
   still unmatched that were seen in the previous frame: a person half hidden keeps the id with a low score;
4. tentative tracks are matched to what is left of the high detections; a tentative track missed once is dropped;
5. high detections left over start tentative tracks, confirmed after ``min_hits`` hits in a row;
6. a confirmed track missed for more than ``max_misses`` frames ends.

Only confirmed tracks matched in this frame are output (with the detection's box and score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...results import Detections
from ..decoders.boxes import iou_matrix
from ._kalman import BoxKalman
from ._protocols import Tracked

__all__ = ["ByteTracker", "NoTracker"]


@dataclass(eq=False)
class _Track:
    id: int  # 0 until confirmed
    kf: BoxKalman
    class_id: int
    score: float
    box: np.ndarray  # (4,) last detection box, pixels
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    first_frame: int = 0


_NONE = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32),
                   tracker_id=np.zeros(0, np.int64))  # no track ended (Detections are immutable: shared)


def _boxes(tracks: list[_Track]) -> Detections:
    """The last boxes of ``tracks`` as Detections with ``tracker_id``."""
    return Detections(np.stack([t.box for t in tracks]) if tracks else np.zeros((0, 4), np.float32),
                      np.array([t.score for t in tracks], np.float32), np.array([t.class_id for t in tracks], np.int32),
                      tracker_id=np.array([t.id for t in tracks], np.int64))


def _inside(box: np.ndarray, others: np.ndarray, classes: np.ndarray, cls: int, share: float) -> bool:
    """Whether ``share`` or more of ``box`` (4,) or of one of ``others`` (k, 4) of the same class lies inside the
    other (intersection over the smaller area)."""
    iw = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    ih = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-6)
    area_o = np.maximum((others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]), 1e-6)
    ios = inter / np.minimum(area, area_o)
    return bool(np.any((ios >= share) & (classes == cls)))


def _greedy(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col) by descending IoU, each row and column once, IoU > threshold."""
    if iou.size == 0:
        return []
    rows, cols = np.nonzero(iou > threshold)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    out = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        out.append((r, c))
    return out


class ByteTracker:
    """Tracker protocol (edgesdk.runtime.stream): ``track(detections, index) -> Tracked``.

    high: score splitting the first (>= high) and second association; detections below it never start tracks
        and are only output when they continue one.
    min_hits: hits in a row that confirm a track (1: at once). max_misses: frames a confirmed track may go
        undetected (predicted by its motion model meanwhile) before it ends.
    match_iou / low_iou / new_iou: IoU thresholds of the three matchings.
    inside: a leftover detection with this share of its area (or of the other's) inside a detection that
        continues a track of the same class starts no new track (a second box on the same object).
    """

    def __init__(self, high: float = 0.5, min_hits: int = 3, max_misses: int = 30, match_iou: float = 0.2,
                 low_iou: float = 0.5, new_iou: float = 0.3, inside: float = 0.85) -> None:
        if min_hits < 1:
            raise ValueError("min_hits must be >= 1")
        if max_misses < 0:
            raise ValueError("max_misses must be >= 0")
        self.high = float(high)
        self.min_hits, self.max_misses = int(min_hits), int(max_misses)
        self.match_iou, self.low_iou, self.new_iou, self.inside = match_iou, low_iou, new_iou, inside
        self.tracks: list[_Track] = []
        self._next_id = 1
        self.confirmed_total = 0  # tracks ever confirmed (distinct ids shown)

    def reset(self) -> None:
        self.tracks = []

    @staticmethod
    def _iou(idx: list[int], boxes: np.ndarray, classes: np.ndarray, det: Detections, rows: np.ndarray) -> np.ndarray:
        """(len(idx), len(rows)) IoU of the predicted boxes of tracks ``idx`` with detection ``rows``; 0 across
        classes."""
        if not idx or not len(rows):
            return np.zeros((len(idx), len(rows)), np.float32)
        iou = iou_matrix(boxes[idx], det.xyxy[rows])
        return np.where(classes[idx][:, None] == det.class_id[rows][None, :], iou, 0.0)

    def track(self, det: Detections, index: int = 0) -> Tracked:
        tracks = self.tracks
        for t in tracks:
            t.kf.predict(freeze_height=t.misses > 0)
        # predicted boxes and classes of every track, once per frame
        boxes = np.stack([t.kf.xyxy for t in tracks]) if tracks else np.zeros((0, 4), np.float32)
        classes = np.fromiter((t.class_id for t in tracks), np.int64, len(tracks))
        high = np.flatnonzero(det.score >= self.high)
        low = np.flatnonzero(det.score < self.high)
        matched: dict[int, _Track] = {}  # detection row -> track

        # 1. high detections vs confirmed tracks (seen or lost)
        pool = [i for i, t in enumerate(tracks) if t.confirmed]
        for r, c in _greedy(self._iou(pool, boxes, classes, det, high), self.match_iou):
            matched[int(high[c])] = tracks[pool[r]]
        # 2. low detections vs confirmed tracks seen in the previous frame and not matched yet
        taken = {id(t) for t in matched.values()}
        pool2 = [i for i in pool if id(tracks[i]) not in taken and tracks[i].misses == 0]
        for r, c in _greedy(self._iou(pool2, boxes, classes, det, low), self.low_iou):
            matched[int(low[c])] = tracks[pool2[r]]
        # 3. remaining high detections vs tentative tracks
        rest = np.asarray([j for j in high if int(j) not in matched], np.int64)
        tent = [i for i, t in enumerate(tracks) if not t.confirmed]
        for r, c in _greedy(self._iou(tent, boxes, classes, det, rest), self.new_iou):
            matched[int(rest[c])] = tracks[tent[r]]

        started: list[int] = []
        for j, t in matched.items():
            t.kf.update(det.xyxy[j])
            t.box, t.score, t.misses = det.xyxy[j].copy(), float(det.score[j]), 0
            t.hits += 1
            if not t.confirmed and t.hits >= self.min_hits:
                self._confirm(t)
                started.append(t.id)
        hit = {id(t) for t in matched.values()}
        ended: list[_Track] = []
        keep: list[_Track] = []
        for t in tracks:
            if id(t) not in hit:
                t.misses += 1
                if not t.confirmed:
                    continue  # a tentative track missed once is noise
                if t.misses > self.max_misses:
                    ended.append(t)
                    continue
            keep.append(t)
        # 4. new tentative tracks from the high detections left, except a box (nearly) inside one that continues
        #    a track: a second box on the same object (legs, half a body) starts no new identity
        #    (nor inside a box that starts a track in this frame: births are taken best score first)
        for j in sorted(high.tolist(), key=lambda r: -float(det.score[r])):
            seen = np.asarray(sorted(matched), np.int64)
            if j in matched or (len(seen) and _inside(det.xyxy[j], det.xyxy[seen], det.class_id[seen],
                                                      int(det.class_id[j]), self.inside)):
                continue
            t = _Track(0, BoxKalman(det.xyxy[j]), int(det.class_id[j]), float(det.score[j]), det.xyxy[j].copy(),
                       first_frame=index)
            if self.min_hits <= 1:
                self._confirm(t)
                started.append(t.id)
            keep.append(t)
            matched[j] = t
        self.tracks = keep

        # output: confirmed tracks detected in this frame, in detection order
        rows = np.asarray([j for j in sorted(matched) if matched[j].confirmed], np.int64)
        ids = np.asarray([matched[int(j)].id for j in rows], np.int64)
        kp = None if det.keypoints is None else det.keypoints[rows]
        out = Detections(det.xyxy[rows], det.score[rows], det.class_id[rows], kp, det.normalized, ids)
        return Tracked(out, np.zeros(len(out), bool), np.asarray(started, np.int64), _boxes(ended) if ended else _NONE)

    def _confirm(self, t: _Track) -> None:
        """Confirmed tracks get ids 1, 2, 3... in the order they are confirmed (tentative ones have none)."""
        t.confirmed = True
        t.id = self._next_id
        self._next_id += 1
        self.confirmed_total += 1

    def finish(self) -> Detections:
        """End every confirmed track (the stream ended): their last boxes, ``tracker_id`` set."""
        ended = [t for t in self.tracks if t.confirmed]
        self.tracks = []
        return _boxes(ended)


class NoTracker:
    """For unrelated pictures: every detection is output as it is (no ``tracker_id``), nothing carried over."""

    def reset(self) -> None:
        pass

    def track(self, det: Detections, index: int = 0) -> Tracked:
        return Tracked(det.with_tracker_id(None), np.zeros(len(det), bool))

    def finish(self) -> Detections:
        return Detections.empty()
