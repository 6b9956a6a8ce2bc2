"""Result types: small immutable records of numpy columns (DESIGN style rule 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["Detections", "Classifications", "Segmentation"]


def _column(value, dtype, shape_tail: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.size == 0:
        arr = arr.reshape((0, *shape_tail))
    if arr.ndim != 1 + len(shape_tail) or tuple(arr.shape[1:]) != shape_tail:
        raise ValueError(f"{name} must have shape (n, {', '.join(map(str, shape_tail))}), got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes found in one image.

    xyxy: (n, 4) float32 box corners (x1, y1, x2, y2), in pixels of the image they refer to
          (or in [0, 1] when ``normalized``).
    score: (n,) float32 confidence in [0, 1].
    class_id: (n,) int32 class index into the model's labels (0 for single-class detectors).
    keypoints: optional (n, k, 2) float32 landmark (x, y) in the same units as ``xyxy``.
    tracker_id: optional (n,) int64 track id given by a tracker (streams); kept by filtering, concat, scale, clip.
    """

    xyxy: np.ndarray
    score: np.ndarray
    class_id: np.ndarray
    keypoints: np.ndarray | None = None
    normalized: bool = False
    tracker_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyxy = _column(self.xyxy, np.float32, (4,), "xyxy")
        n = len(xyxy)
        score = np.asarray(self.score, np.float32).reshape(-1)
        class_id = np.asarray(self.class_id, np.int32).reshape(-1)
        if len(score) != n or len(class_id) != n:
            raise ValueError(f"Detections columns differ in length: xyxy {n}, score {len(score)}, class_id {len(class_id)}")
        score.setflags(write=False)
        class_id.setflags(write=False)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "class_id", class_id)
        if self.keypoints is not None:
            kp = np.asarray(self.keypoints, np.float32)
            if kp.size == 0:
                kp = kp.reshape(0, 0, 2) if kp.ndim < 3 else kp
            if kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 2:
                raise ValueError(f"keypoints must have shape ({n}, k, 2), got {kp.shape}")
            kp.setflags(write=False)
            object.__setattr__(self, "keypoints", kp)
        if self.tracker_id is not None:
            tid = np.asarray(self.tracker_id, np.int64).reshape(-1)
            if len(tid) != n:
                raise ValueError(f"tracker_id must have shape ({n},), got {tid.shape}")
            tid.setflags(write=False)
            object.__setattr__(self, "tracker_id", tid)

    @classmethod
    def empty(cls, normalized: bool = False) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), normalized=normalized)

    @classmethod
    def concat(cls, parts: Sequence["Detections"]) -> "Detections":
        parts = [p for p in parts]
        if not parts:
            return cls.empty()
        norm = {p.normalized for p in parts}
        if len(norm) > 1:
            raise ValueError("cannot concatenate normalized and pixel Detections")
        filled = sum(1 for p in parts if len(p))
        kps = [p.keypoints for p in parts if len(p) and p.keypoints is not None]
        keypoints: np.ndarray | None = None
        if kps and len(kps) == filled and len({k.shape[1] for k in kps}) == 1:
            keypoints = np.concatenate(kps)
        tids = [p.tracker_id for p in parts if len(p) and p.tracker_id is not None]
        tracker_id = np.concatenate(tids) if tids and len(tids) == filled else None
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            keypoints,
            normalized=norm.pop(),
            tracker_id=tracker_id,
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> "Detections":
        """Boolean mask, integer array or slice: a new Detections with those rows."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        kp = None if self.keypoints is None else self.keypoints[index]
        tid = None if self.tracker_id is None else self.tracker_id[index]
        return Detections(self.xyxy[index], self.score[index], self.class_id[index], kp, self.normalized, tid)

    def __iter__(self):
        for i in range(len(self)):
            yield self.xyxy[i], float(self.score[i]), int(self.class_id[i])

    @property
    def area(self) -> np.ndarray:
        """(n,) box areas in squared units of ``xyxy``."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def scale(self, sx: float, sy: float | None = None, dx: float = 0.0, dy: float = 0.0) -> "Detections":
        """Return boxes (and keypoints) mapped by x' = x * sx + dx, y' = y * sy + dy."""
        sy = sx if sy is None else sy
        mul = np.array([sx, sy, sx, sy], np.float32)
        add = np.array([dx, dy, dx, dy], np.float32)
        kp = None if self.keypoints is None else self.keypoints * np.array([sx, sy], np.float32) + np.array([dx, dy], np.float32)
        return Detections(self.xyxy * mul + add, self.score, self.class_id, kp, self.normalized, self.tracker_id)

    def to_pixels(self, width: int, height: int) -> "Detections":
        """Normalized [0, 1] coordinates to pixels of a width x height image."""
        if not self.normalized:
            return self
        out = self.scale(width, height)
        return Detections(out.xyxy, out.score, out.class_id, out.keypoints, normalized=False, tracker_id=self.tracker_id)

    def clip(self, width: float, height: float) -> "Detections":
        """Clip boxes to the image rectangle [0, width] x [0, height]."""
        hi = np.array([width, height, width, height], np.float32)
        return Detections(np.clip(self.xyxy, 0, hi), self.score, self.class_id, self.keypoints, self.normalized,
                          self.tracker_id)

    def expand(self, factor: float) -> "Detections":
        """Grow each box about its centre by ``factor`` (1.3 = 30% wider and taller)."""
        c = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        half = (self.xyxy[:, 2:] - self.xyxy[:, :2]) / 2 * factor
        return Detections(np.concatenate([c - half, c + half], axis=1), self.score, self.class_id, self.keypoints,
                          self.normalized, self.tracker_id)

    def with_tracker_id(self, tracker_id: np.ndarray | None) -> "Detections":
        """The same rows with a (n,) int64 ``tracker_id`` column (None removes it)."""
        return Detections(self.xyxy, self.score, self.class_id, self.keypoints, self.normalized, tracker_id)

    def to_dicts(self, labels: Sequence[str] | None = None) -> list[dict]:
        """JSON-ready rows: box, score, class_id, (when labels are given) label and (when tracked) track_id."""
        rows = []
        for i in range(len(self)):
            row = {
                "box": [round(float(v), 2 if not self.normalized else 5) for v in self.xyxy[i]],
                "score": round(float(self.score[i]), 4),
                "class_id": int(self.class_id[i]),
            }
            if labels is not None:
                cid = int(self.class_id[i])
                row["label"] = labels[cid] if 0 <= cid < len(labels) else str(cid)
            if self.tracker_id is not None:
                row["track_id"] = int(self.tracker_id[i])
            rows.append(row)
        return rows


@dataclass(frozen=True, eq=False)
class Classifications:
    """Top-k classes for one image. class_id: (k,) int32, score: (k,) float32, best first."""

    class_id: np.ndarray
    score: np.ndarray
    labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        cid = np.asarray(self.class_id, np.int32).reshape(-1)
        sc = np.asarray(self.score, np.float32).reshape(-1)
        if len(cid) != len(sc):
            raise ValueError(f"class_id ({len(cid)}) and score ({len(sc)}) differ in length")
        cid.setflags(write=False)
        sc.setflags(write=False)
        object.__setattr__(self, "class_id", cid)
        object.__setattr__(self, "score", sc)

    def __len__(self) -> int:
        return len(self.class_id)

    def label(self, i: int) -> str:
        cid = int(self.class_id[i])
        return self.labels[cid] if 0 <= cid < len(self.labels) else str(cid)

    def to_dicts(self) -> list[dict]:
        return [
            {"class_id": int(self.class_id[i]), "label": self.label(i), "score": round(float(self.score[i]), 5)}
            for i in range(len(self))
        ]


@dataclass(frozen=True, eq=False)
class Segmentation:
    """Per-pixel classes of one image, at the source image's size.

    label_map: (H, W) int32 class index per pixel (into ``class_names``).
    probability: optional (H, W) float32 in [0, 1]: the foreground (person) probability of a two-class
        segmenter (MediaPipe selfie); ``label_map`` is then ``probability >= 0.5`` as 0 background / 1 person.
    class_names: the model's class names (index = class id).
    """

    label_map: np.ndarray
    class_names: tuple[str, ...] = field(default=())
    probability: np.ndarray | None = None

    def __post_init__(self) -> None:
        lm = np.asarray(self.label_map)
        if lm.ndim != 2 or not np.issubdtype(lm.dtype, np.integer):
            raise ValueError(f"label_map must be an (H, W) integer array, got {lm.shape} {lm.dtype}")
        lm = lm.astype(np.int32, copy=False)
        lm.setflags(write=False)
        object.__setattr__(self, "label_map", lm)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.probability is not None:
            pr = np.asarray(self.probability, np.float32)
            if pr.shape != lm.shape:
                raise ValueError(f"probability {pr.shape} and label_map {lm.shape} differ in shape")
            pr.setflags(write=False)
            object.__setattr__(self, "probability", pr)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.label_map.shape[1]), int(self.label_map.shape[0])

    def name(self, class_id: int) -> str:
        return self.class_names[class_id] if 0 <= class_id < len(self.class_names) else str(class_id)

    def class_ids(self, names: Sequence[str]) -> list[int]:
        """Class names (or decimal ids) -> ids; ValueError naming the unknown ones and listing the known."""
        table = {n: i for i, n in enumerate(self.class_names)}
        ids, unknown = [], []
        for n in names:
            if n in table:
                ids.append(table[n])
            elif n.isdigit() and int(n) < max(len(self.class_names), 1):
                ids.append(int(n))
            else:
                unknown.append(n)
        if unknown:
            raise ValueError(f"unknown class(es) {', '.join(unknown)}; known: {', '.join(self.class_names)}")
        return ids

    def mask(self, class_ids: Sequence[int]) -> np.ndarray:
        """(H, W) bool: pixels of any of ``class_ids``."""
        ids = list(class_ids)
        if len(ids) == 1:
            return self.label_map == ids[0]
        return np.isin(self.label_map, np.asarray(ids, np.int32))

    def counts(self) -> np.ndarray:
        """(C,) int64 pixels per class id (C = max(len(class_names), highest id + 1))."""
        n = max(len(self.class_names), int(self.label_map.max(initial=0)) + 1)
        return np.bincount(self.label_map.ravel(), minlength=n)

    def shares(self) -> dict[str, float]:
        """Class name -> share of the image's pixels in [0, 1], classes present only, largest first."""
        c = self.counts()
        total = max(1, self.label_map.size)
        order = np.argsort(-c, kind="stable")
        return {self.name(int(i)): round(float(c[i]) / total, 6) for i in order if c[i] > 0}

    def to_dict(self) -> dict:
        """JSON-ready summary (no pixels): size and per-class pixel shares."""
        return {"size": list(self.size), "shares": self.shares()}
