"""Leak check: does a detector still find, in the anonymized output, a face the input had?

For each frame pair (input, output): the faces of the input are found with a thorough detector (every tile on
every frame); the output is searched with the same detector at a low threshold; an input face with an output
detection overlapping it (IoU >= ``match_iou``) is a leak.

The input's faces are what the reference detector finds, so its false positives (a face printed on a shirt,
hands) count as faces too. With ``confirm=True`` an input face counts only when the reference also finds it
(IoU >= 0.3) in the frame before or after: a one-frame flicker of the detector on something that is not a face
is then not counted, while any real face that stays in view is. Both counts are reported by the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ...results import Detections
from ..faces import FaceDetector, TiledDetector, iou_matrix

__all__ = ["LeakReport", "count_leaks", "face_coverage", "leak_detections", "leak_report", "thorough_face_detector"]


@dataclass
class LeakReport:
    frames: int = 0
    input_faces: int = 0
    leaked_faces: int = 0
    leaked_frames: list[int] = field(default_factory=list)
    leaked_boxes: list[tuple[int, list[float], float]] = field(default_factory=list)  # (frame, box, reference score)

    @property
    def rate(self) -> float:
        return self.leaked_faces / self.input_faces if self.input_faces else 0.0

    def to_dict(self) -> dict:
        return {"frames": self.frames, "input_faces": self.input_faces, "leaked_faces": self.leaked_faces,
                "leak_rate": round(self.rate, 4), "leaked_frames": self.leaked_frames[:50],
                "leaked_boxes": [[i, [round(v, 1) for v in b], round(s, 3)] for i, b, s in self.leaked_boxes[:20]]}


def thorough_face_detector(model: str = "face", threshold: float | None = None, threads: int | None = None,
                           tile_factor: float | None = None, pad: str = "off") -> TiledDetector:
    """BlazeFace with every tile on every frame (the video tile layout unless ``tile_factor`` is given): slow,
    for checking. No reflected margin by default: a reflection makes a symmetric blob of whatever touches the
    frame's edge, blurred or not, and the probe would report such blobs in the output as faces."""
    from ._detectors import VIDEO_TILE_FACTOR

    return TiledDetector(FaceDetector(model, threshold=threshold, threads=threads), "auto", sweep_frames=1,
                         tile_factor=VIDEO_TILE_FACTOR if tile_factor is None else tile_factor, pad=pad)


def leak_detections(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, reference: TiledDetector | None = None,
    probe: TiledDetector | None = None,
) -> list[tuple[Detections, Detections]]:
    """(input faces, output detections) per frame pair: the expensive half of ``count_leaks``, to evaluate
    several definitions (``leak_report``) from one pass."""
    reference = reference or thorough_face_detector()
    probe = probe or thorough_face_detector(threshold=0.3)
    out = []
    for src, anon in pairs:
        reference.reset()
        probe.reset()
        f = reference.detect(src)
        out.append((f, probe.detect(anon) if len(f) else Detections.empty()))
    return out


def leak_report(found: list[tuple[Detections, Detections]], *, match_iou: float = 0.3, confirm: bool = False,
                min_score: float = 0.0) -> LeakReport:
    """LeakReport from ``leak_detections``: input faces (reference score >= ``min_score``; with ``confirm``,
    also found in an adjacent frame) that the probe finds again in the output (IoU >= ``match_iou``)."""
    faces = [f[f.score >= min_score] if len(f) else f for f, _ in found]
    rep = LeakReport(frames=len(found))
    for i, (f, (_, g)) in enumerate(zip(faces, found)):
        if not len(f):
            continue
        keep = np.ones(len(f), bool)
        if confirm:
            keep[:] = False
            for j in (i - 1, i + 1):
                if 0 <= j < len(faces) and len(faces[j]):
                    keep |= iou_matrix(f.xyxy, faces[j].xyxy).max(axis=1) >= 0.3
        rep.input_faces += int(keep.sum())
        if not len(g):
            continue
        lk = (iou_matrix(f.xyxy, g.xyxy).max(axis=1) >= match_iou) & keep
        if lk.any():
            rep.leaked_faces += int(lk.sum())
            rep.leaked_frames.append(i)
            rep.leaked_boxes += [(i, f.xyxy[k].tolist(), float(f.score[k])) for k in np.flatnonzero(lk)]
    return rep


def count_leaks(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, reference: TiledDetector | None = None,
    probe: TiledDetector | None = None, match_iou: float = 0.3, confirm: bool = False,
) -> LeakReport:
    """pairs: (input frame, anonymized frame). reference finds the input's faces (default: thorough BlazeFace
    at its default threshold); probe searches the output (default: thorough BlazeFace at threshold 0.3).
    confirm: count an input face only when the reference finds it in an adjacent frame too (see the module)."""
    return leak_report(leak_detections(pairs, reference=reference, probe=probe), match_iou=match_iou, confirm=confirm)


def face_coverage(masked: np.ndarray, faces: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """How well known face boxes are covered by the boxes that were masked.

    masked: (n, 4) pixel boxes as the renderer covered them (``Renderer.boxes``; clipped to the frame here);
    faces: (m, 4) ground-truth boxes, may reach beyond the frame. Returns ((m,) visible: fraction of each face
    box inside the frame, (m,) covered: fraction of its visible part that is masked; 1.0 when nothing is
    visible)."""
    faces = np.asarray(faces, np.float64).reshape(-1, 4)
    mask = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in np.asarray(masked, np.float64).reshape(-1, 4):
        mask[int(np.floor(max(y1, 0))):max(0, int(np.ceil(min(y2, height)))),
             int(np.floor(max(x1, 0))):max(0, int(np.ceil(min(x2, width))))] = True
    visible = np.zeros(len(faces))
    covered = np.ones(len(faces))
    for k, (x1, y1, x2, y2) in enumerate(faces):
        area = max((x2 - x1) * (y2 - y1), 1e-9)
        cx1, cy1, cx2, cy2 = max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)
        visible[k] = max(0.0, cx2 - cx1) * max(0.0, cy2 - cy1) / area
        ix1, iy1, ix2, iy2 = int(round(cx1)), int(round(cy1)), int(round(cx2)), int(round(cy2))
        if ix2 > ix1 and iy2 > iy1:
            covered[k] = float(mask[iy1:iy2, ix1:ix2].mean())
    return visible, covered
