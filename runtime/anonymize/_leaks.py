"""Leak check: does a detector still find, in the anonymized output, a face the input had?

For each frame pair (input, output): the faces of the input are found with a thorough detector (every tile on
every frame); the output is searched with the same detector at a low threshold; an input face with an output
detection overlapping it (IoU >= ``match_iou``) is a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..faces import FaceDetector, TiledDetector, iou_matrix

__all__ = ["LeakReport", "count_leaks", "thorough_face_detector"]


@dataclass
class LeakReport:
    frames: int = 0
    input_faces: int = 0
    leaked_faces: int = 0
    leaked_frames: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.leaked_faces / self.input_faces if self.input_faces else 0.0

    def to_dict(self) -> dict:
        return {"frames": self.frames, "input_faces": self.input_faces, "leaked_faces": self.leaked_faces,
                "leak_rate": round(self.rate, 4), "leaked_frames": self.leaked_frames[:50]}


def thorough_face_detector(model: str = "face", threshold: float | None = None, threads: int | None = None) -> TiledDetector:
    """BlazeFace with every tile on every frame: slow, for checking."""
    return TiledDetector(FaceDetector(model, threshold=threshold, threads=threads), "auto", sweep_frames=1)


def count_leaks(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, reference: TiledDetector | None = None,
    probe: TiledDetector | None = None, match_iou: float = 0.3,
) -> LeakReport:
    """pairs: (input frame, anonymized frame). reference finds the input's faces (default: thorough BlazeFace
    at its default threshold); probe searches the output (default: thorough BlazeFace at threshold 0.3)."""
    reference = reference or thorough_face_detector()
    probe = probe or thorough_face_detector(threshold=0.3)
    rep = LeakReport()
    for i, (src, out) in enumerate(pairs):
        reference.reset()
        probe.reset()
        faces = reference.detect(src)
        rep.frames += 1
        rep.input_faces += len(faces)
        if not len(faces):
            continue
        found = probe.detect(out)
        if not len(found):
            continue
        hit = iou_matrix(faces.xyxy, found.xyxy).max(axis=1) >= match_iou
        if hit.any():
            rep.leaked_faces += int(hit.sum())
            rep.leaked_frames.append(i)
    return rep
