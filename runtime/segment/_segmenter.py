"""Segmenter: a loaded model + its decoder + the upscaler -> :class:`Segmentation` at the source's size."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ...bundle import InputSpec, is_bundle, load_bundle
from ...errors import InputError, ModelError
from ...results import Segmentation
from ...tflite import check_tflite_file, read_model
from .._loader import load
from .._model import Model
from .._preprocess import resize_like_pil
from ._decode import DECODERS, SELFIE_CLASSES, SegmentDecodeError, decode_segmentation, infer_decoder
from ._labels import segment_labels
from ._upscale import UPSCALE_METHODS, upscale_labels, upscale_probability, upscale_scores

__all__ = ["RESIZE_MODES", "Segmenter", "load_segmenter"]

RESIZE_MODES = ("stretch", "pad", "model")

log = logging.getLogger(__name__)

_DETECTOR_OPS = ("TFLite_Detection_PostProcess",)


class Segmenter:
    """Runs a segmentation :class:`Model` on BGR uint8 images.

    decoder: one of DECODERS (default: the bundle's, else inferred from the output tensor).
    upscale: ``smooth`` (bilinear on scores / probabilities / one-hot labels, then argmax or threshold) or
    ``nearest``.
    resize: as Coral's semantic_segmentation example feeds images: ``stretch`` (its default: the whole image
    resized to the input, the map scaled back over the whole image) or ``pad`` (its --keep_aspect_ratio: scaled
    into the top-left corner over black, the padding cropped off the map); ``model`` uses the model's own
    input pipeline (a bundle's letterbox or crop). Default: stretch, or pad for a bundle that says letterbox.
    """

    def __init__(self, model: Model, decoder: str | None = None, class_names: Sequence[str] | None = None,
                 upscale: str = "smooth", resize: str | None = None) -> None:
        if upscale not in UPSCALE_METHODS:
            raise ValueError(f"upscale must be one of {UPSCALE_METHODS}, got {upscale!r}")
        if resize is None:
            resize = {"stretch": "stretch", "letterbox": "pad"}.get(model.input_spec.resize, "model")
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
        self.model = model
        self.upscale = upscale
        self.resize = resize
        self.output_index, self.decoder = _pick_output(model, decoder)
        if self.decoder == "mediapipe-selfie":
            names: tuple[str, ...] = tuple(class_names or model.labels or SELFIE_CLASSES)
        else:
            names = tuple(class_names or model.labels or ())
            if not names:
                names = segment_labels(None)
        self.class_names = names

    @property
    def name(self) -> str:
        return self.model.path.name

    def describe(self) -> dict:
        w, h = self.model.input_size
        return {"model": str(self.model.path), "decoder": self.decoder, "input_size": [w, h], "upscale": self.upscale,
                "resize": self.resize, "device": self.model.device}

    def infer(self, image: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """Run the model: (decoded map at the output resolution, window of the source in that map).
        The map is (h, w) int32 labels, (h, w, C) float32 scores or (h, w) float32 probability."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise InputError(f"expected a uint8 image array, got {getattr(image, 'dtype', type(image).__name__)}")
        m = self.model
        iw, ih = m.input_size
        h, w = image.shape[:2]
        if self.resize == "stretch":
            fed, (nw, nh) = resize_like_pil(image, iw, ih), (iw, ih)
        elif self.resize == "pad":
            s = min(iw / w, ih / h)
            nw, nh = max(1, int(w * s)), max(1, int(h * s))
            fed = np.zeros((ih, iw) + image.shape[2:], np.uint8)
            fed[:nh, :nw] = resize_like_pil(image, nw, nh)
        else:
            fed = image
        raw, tf = m.invoke_image(fed)
        spec = m.outputs[self.output_index]
        out = raw[self.output_index]
        decoded = decode_segmentation(self.decoder, out if self.decoder == "deeplab-argmax" else spec.dequantize(out))
        mh, mw = decoded.shape[:2]
        kx, ky = mw / tf.in_w, mh / tf.in_h
        if self.resize in ("stretch", "pad"):
            return decoded, (0.0, 0.0, nw * kx, nh * ky)
        x0, y0 = tf.pad_x * kx, tf.pad_y * ky
        return decoded, (x0, y0, x0 + tf.src_w * tf.sx * kx, y0 + tf.src_h * tf.sy * ky)

    def segment(self, image: np.ndarray, size: tuple[int, int] | None = None) -> Segmentation:
        """(H, W, 3) BGR uint8 -> Segmentation at (H, W), or at ``size`` (width, height) when given (a cheaper
        working resolution for masks)."""
        decoded, window = self.infer(image)
        size = size or (int(image.shape[1]), int(image.shape[0]))
        if self.decoder == "mediapipe-selfie":
            prob = upscale_probability(decoded, window, size, self.upscale)
            return Segmentation((prob >= 0.5).astype(np.int32), self.class_names, prob)
        if self.decoder == "deeplab-logits":
            return Segmentation(upscale_scores(decoded, window, size, self.upscale), self.class_names)
        return Segmentation(upscale_labels(decoded, window, size, self.upscale), self.class_names)

    def close(self) -> None:
        """Nothing to release beyond the interpreter (kept for the stage protocol)."""


def _pick_output(model: Model, decoder: str | None) -> tuple[int, str]:
    if decoder is not None:
        if decoder not in DECODERS:
            raise ModelError(f"{model.path.name}: unknown segmentation decoder {decoder!r}; known: {', '.join(DECODERS)}")
        return 0, decoder
    errors = []
    for i, o in enumerate(model.outputs):
        try:
            return i, infer_decoder(o.shape, o.dtype, quantized=o.quantized)
        except SegmentDecodeError as exc:
            errors.append(str(exc))
    raise ModelError(f"{model.path.name}: {errors[0] if errors else 'the model has no outputs'}")


def load_segmenter(
    model: str | os.PathLike, device: str = "cpu", threads: int | None = None, *, labels: str | None = None,
    input_range: tuple[float, float] | None = None, upscale: str = "smooth", resize: str | None = None,
) -> Segmenter:
    """Load a segmentation ``.tflite`` or bundle. Raises ModelError (one line) for a model of another task
    (a detector, a classifier) or an output shape no decoder knows, and the errors of :func:`load`."""
    from ..stream import cap_threads

    path = Path(model)
    threads = cap_threads(threads)  # more threads than cores only slow it (said once)
    spec = InputSpec.from_range(*input_range) if input_range else None
    decoder = None
    if is_bundle(path) and not path.name.endswith(".tflite"):
        bundle = load_bundle(path)
        task = bundle.manifest.task
        if task != "segment":
            raise ModelError(f"{path.name} is a {task} model (bundle task {task!r}); `segment` needs a segmentation model")
        decoder = bundle.manifest.output.decoder if bundle.manifest.output.decoder in DECODERS else None
        m = load(bundle, device=device, threads=threads, input_spec=spec)
    else:
        check_tflite_file(path)
        info = read_model(path)
        if any(op in info.op_counts for op in _DETECTOR_OPS):
            raise ModelError(f"{path.name} is a detection model (TFLite_Detection_PostProcess: boxes, classes, "
                             "scores, count); `segment` needs a segmentation model")
        if spec is None and info.outputs and info.inputs and info.inputs[0].np_dtype == np.float32:
            o = info.outputs[0]
            q = o.quantization is not None and o.quantization.is_quantized
            try:
                if infer_decoder(o.shape, o.np_dtype or np.float32, q) == "mediapipe-selfie":
                    spec = InputSpec.from_range(0.0, 1.0)  # MediaPipe's segmenters take RGB in [0, 1]
            except SegmentDecodeError:
                pass
        m = load(path, device=device, threads=threads, input_spec=spec)
    seg = Segmenter(m, decoder, segment_labels(labels) if labels else None, upscale=upscale, resize=resize)
    if not labels and m.bundle is None and seg.decoder != "mediapipe-selfie":
        seg.class_names = segment_labels(None, near=m.path)
    return seg
