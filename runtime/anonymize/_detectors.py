"""What to anonymize: face detectors (BlazeFace, tiled) and any SSD detector bundle, combined into one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from ...errors import InputError
from ...results import Detections
from ..stream import Detector as StreamDetector

if TYPE_CHECKING:
    from ..faces import TiledDetector

log = logging.getLogger(__name__)

__all__ = ["Detector", "SSDDetector", "MultiDetector", "build_detectors", "STILL_TILE_FACTOR", "VIDEO_TILE_FACTOR"]

# Face tiles, in multiples of the model input: 1.75 (224 px for BlazeFace short range) finds faces from 35 px
# (20 px in the input) in a video at a cost the frame rate allows; photos get 1.25 (160 px: from 25 px) because
# the borderline faces of that size (one of the 18 dlib faces scores 0.4-0.5 at 20 px) are then found too.
VIDEO_TILE_FACTOR = 2.0
STILL_TILE_FACTOR = 1.25


class Detector(StreamDetector, Protocol):
    """The stream pipeline's Detector (name, labels, detect, reset, close) that also gives its model's input
    size (width, height)."""

    @property
    def input_size(self) -> tuple[int, int]: ...


class SSDDetector:
    """A detector bundle or ``.tflite`` with the SSD post-process (TFLite_Detection_PostProcess), through the
    runtime loader's ``Model.detect``. ``classes``: label names or ids to keep (None = all)."""

    def __init__(self, model: str | Path, *, classes: Sequence[str] | None = None, threshold: float = 0.5,
                 device: str = "cpu", threads: int | None = None) -> None:
        from .. import load

        self.model = load(model, device, threads)
        self.name = Path(str(model)).name
        self.threshold = threshold
        self.labels = list(self.model.labels) or []
        self.keep = self._resolve(classes)
        from ..decoders import ssd_output_order

        outs = self.model.outputs
        try:
            ssd_output_order([o.name for o in outs], [o.shape for o in outs])
        except ValueError:
            raise InputError(f"{self.name} is not an SSD detector (outputs {[o.shape for o in outs]}); --detector takes "
                             "face, face-full or a model with the SSD post-process") from None

    def _resolve(self, classes: Sequence[str] | None) -> np.ndarray | None:
        if not classes:
            return None
        ids = []
        for c in classes:
            c = c.strip()
            if c.isdigit():
                ids.append(int(c))
                continue
            hits = [i for i, name in enumerate(self.labels) if name.lower() == c.lower()]
            if not hits:
                known = ", ".join(dict.fromkeys(x for x in self.labels if x and x != "???"))[:300]
                raise InputError(f"class {c!r} is not a label of {self.name} (labels: {known or 'none: give class ids'})")
            ids.extend(hits)
        return np.asarray(sorted(set(ids)), np.int32)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.model.input_size

    def detect(self, image: np.ndarray) -> Detections:
        det = self.model.detect(image, self.threshold)
        if self.keep is not None and len(det):
            det = det[np.isin(det.class_id, self.keep)]
        return det

    def reset(self) -> None:
        """Nothing carries over from frame to frame."""

    def close(self) -> None:
        """No worker threads."""


class MultiDetector:
    """Runs several detectors on each frame. Detector i's class c becomes class ``1000 * i + c``; ``labels``
    maps every such id to a name (the detector's label, or ``name:c`` when it has no labels)."""

    STRIDE = 1000

    def __init__(self, detectors: Sequence[Detector]) -> None:
        if not detectors:
            raise ValueError("at least one detector")
        self.detectors = list(detectors)
        self.labels: list[str] = []
        for d in self.detectors:
            own = list(d.labels)[: self.STRIDE]
            self.labels += [own[c] if c < len(own) and own[c] else f"{d.name}:{c}" for c in range(self.STRIDE)]
        self.name = "+".join(d.name for d in self.detectors)

    def label_names(self) -> list[str]:
        """The labels that exist, once each, in detector order (``labels`` has STRIDE ids per detector): a
        detector's own labels, or its name when it has none."""
        names: list[str] = []
        for d in self.detectors:
            own = [x for x in d.labels if x and x != "???"]
            names += own or [d.name]
        return list(dict.fromkeys(names))

    @property
    def input_size(self) -> tuple[int, int]:
        return self.detectors[0].input_size

    def reset(self) -> None:
        for d in self.detectors:
            d.reset()

    def close(self) -> None:
        """Stop worker threads (tiled face detectors)."""
        for d in self.detectors:
            d.close()

    @property
    def tiled_frames(self) -> int:
        """Frames on which a face detector ran tiles or crops around small faces (for the summary)."""
        return sum(d.inner.tiled_frames for d in self.detectors if isinstance(d, _FaceAdapter))

    def detect(self, image: np.ndarray) -> Detections:
        if len(self.detectors) == 1:  # one detector: its classes as they are, no concatenation
            det = self.detectors[0].detect(image)
            return Detections(det.xyxy, det.score, det.class_id, None, det.normalized) if len(det) else Detections.empty()
        parts = []
        for i, d in enumerate(self.detectors):
            det = d.detect(image)
            if len(det):
                parts.append(Detections(det.xyxy, det.score, det.class_id + self.STRIDE * i, None, det.normalized))
        return Detections.concat(parts) if parts else Detections.empty()


class _FaceAdapter:
    """A tiled FaceDetector as a Detector with labels ['face']."""

    def __init__(self, inner: TiledDetector, name: str) -> None:
        self.inner = inner
        self.name = name
        self.labels = ["face"]

    @property
    def input_size(self) -> tuple[int, int]:
        return self.inner.input_size

    @property
    def last_tiled(self) -> bool:
        return self.inner.last_tiled

    def reset(self) -> None:
        self.inner.reset()

    def close(self) -> None:
        self.inner.close()

    def detect(self, image: np.ndarray) -> Detections:
        return self.inner.detect(image)


def build_detectors(
    specs: Sequence[str] | None, *, classes: Sequence[Sequence[str]] | None = None, threshold: float | None = None,
    tiles: str | tuple[int, int] = "auto", device: str = "cpu", threads: int | None = None, sweep_frames: int = 1,
    still: bool = False, workers: int | None = None,
) -> MultiDetector:
    """``face`` | ``face-full`` | a bundle/.tflite path, each once or more -> MultiDetector.

    classes: one list per bundle detector, in order; a single list applies to every bundle detector.
    threshold: score threshold (None = each model's default: 0.5 short range, 0.6 full range, 0.5 SSD).
    sweep_frames: spread the face tiles over this many frames (video); 1 = all tiles every frame.
    still: the frames are unrelated photos: every tile on every frame, and finer tiles (``STILL_TILE_FACTOR``
        x the model input instead of ``VIDEO_TILE_FACTOR``), since time matters less than in a stream.
    workers: face-model interpreters sharing each frame's tiles in parallel threads (default: 2 on a machine
        with 2 or more CPUs, else 1).
    """
    import os

    from ..faces import FACE_MODELS, FaceDetector, TiledDetector, is_face_bundle

    specs = list(specs or ["face"])
    classes = [list(c) for c in (classes or [])]
    faces = [s for s in specs if s in FACE_MODELS or is_face_bundle(s)]  # built-in or `edgesdk convert` face bundle
    bundles = [s for s in specs if s not in faces]
    if len(classes) > 1 and len(classes) != len(bundles):
        raise InputError(f"{len(classes)} --classes lists for {len(bundles)} detector bundle(s): give one per bundle, or one for all")
    if classes and not bundles:
        raise InputError("--classes selects classes of a detector bundle (--detector BUNDLE); face detectors have one class")
    dets: list[Detector] = []
    b = 0
    for spec in specs:
        if spec in faces:
            fd = FaceDetector(spec, device=device, threads=threads, threshold=threshold)
            n = workers if workers is not None else (2 if (os.cpu_count() or 1) >= 2 else 1)
            extra = [FaceDetector(spec, device=device, threads=threads, threshold=threshold) for _ in range(max(0, n - 1))]
            if tiles == "off":
                extra = []  # one pass per frame: nothing to share
            tiler = TiledDetector(fd, tiles, sweep_frames=1 if still else sweep_frames,
                                  tile_factor=STILL_TILE_FACTOR if still else VIDEO_TILE_FACTOR, workers=extra)
            dets.append(_FaceAdapter(tiler, spec if spec in FACE_MODELS else Path(spec).name))
        else:
            p = Path(spec)
            if not p.exists():
                raise InputError(f"detector not found: {spec} (use face, face-full, or a bundle / .tflite path)")
            cls = classes[b] if len(classes) > 1 else (classes[0] if classes else None)
            dets.append(SSDDetector(p, classes=cls, threshold=0.5 if threshold is None else threshold, device=device, threads=threads))
            b += 1
    return MultiDetector(dets)
