"""The detection decoder a model uses, built once from its manifest's OutputSpec (or what the loader
recognised for a bare .tflite): one small strategy class per family, all called as
``decoder(raw_outputs, threshold) -> Detections`` in model-input coordinates (normalized)."""

from __future__ import annotations

import functools
from typing import Callable, Protocol, Sequence

import numpy as np

from ...bundle import OutputSpec
from ...results import Detections
from .._tensors import TensorSpec
from .anchors import AnchorOptions, ssd_anchors
from .boxes import decode_blazeface
from .mediapipe import decode_mediapipe_person
from .ssd import decode_ssd, ssd_output_order
from .yolo import YoloHead, decode_yolo

__all__ = ["AnchorDecoder", "DetectionDecoder", "SsdDecoder", "YoloDecoder", "detection_decoder"]


class DetectionDecoder(Protocol):
    name: str

    def __call__(self, raw: Sequence[np.ndarray], threshold: float) -> Detections: ...


class SsdDecoder:
    """TFLite_Detection_PostProcess outputs (boxes, classes, scores, count); the op already ran NMS."""

    name = "ssd"

    def __init__(self, outputs: Sequence[TensorSpec]) -> None:
        self.order = ssd_output_order([o.name for o in outputs], [o.shape for o in outputs])

    def __call__(self, raw: Sequence[np.ndarray], threshold: float) -> Detections:
        b, c, s, n = self.order
        return decode_ssd(raw[b], raw[c], raw[s], raw[n], threshold)


class YoloDecoder:
    """One YOLO head output (``decode_yolo``) with the tensor's quantization; params: normalized,
    iou_threshold, max_detections."""

    def __init__(self, head: YoloHead, outputs: Sequence[TensorSpec], input_size: tuple[int, int], params: dict) -> None:
        if len(outputs) != 1:
            raise ValueError(f"a {head.value} model has one output, this one has {len(outputs)}")
        self.name = head.value
        self.head = head
        self.out = outputs[0]
        self.input_size = input_size
        self.normalized = bool(params.get("normalized", True))
        self.iou_threshold = float(params.get("iou_threshold", 0.45))
        self.max_detections = int(params.get("max_detections", 300))

    def __call__(self, raw: Sequence[np.ndarray], threshold: float) -> Detections:
        o = self.out
        return decode_yolo(raw[0], self.head, scale=o.scale if o.quantized else 0.0, zero_point=o.zero_point,
                           normalized=self.normalized, input_size=self.input_size, threshold=threshold,
                           iou_threshold=self.iou_threshold, max_detections=self.max_detections)


class AnchorDecoder:
    """MediaPipe SSD detectors (BlazeFace, the person detector): raw boxes + logits + anchors built once from
    the params' SsdAnchorsCalculator options; weighted NMS."""

    def __init__(self, name: str, outputs: Sequence[TensorSpec], input_size: tuple[int, int], params: dict) -> None:
        self.name = name
        opts = dict(params.get("anchors") or {})
        if not opts:
            raise ValueError(f"decoder {name} needs anchor options in the manifest's output params")
        for key in ("strides", "aspect_ratios"):
            if key in opts:
                opts[key] = tuple(opts[key])
        try:
            self.anchors = ssd_anchors(AnchorOptions(**opts))
        except TypeError as exc:
            raise ValueError(f"bad anchor options for {name}: {exc}") from None
        self.num_keypoints = int(params.get("num_keypoints", 4 if name == "mediapipe-person" else 6))
        need = 4 + 2 * self.num_keypoints
        boxes = [i for i, o in enumerate(outputs) if len(o.shape) == 3 and o.shape[-1] == need]
        scores = [i for i, o in enumerate(outputs) if len(o.shape) == 3 and o.shape[-1] == 1]
        if len(boxes) != 1 or len(scores) != 1:
            raise ValueError(f"outputs {[o.shape for o in outputs]} are not {name}'s (1, N, {need}) boxes and (1, N, 1) scores")
        self.boxes_i, self.scores_i = boxes[0], scores[0]
        if outputs[self.boxes_i].shape[1] != len(self.anchors):
            raise ValueError(f"{outputs[self.boxes_i].shape[1]} boxes but the anchor options give {len(self.anchors)}")
        self.scale = (float(input_size[0]), float(input_size[1]))
        self.iou_threshold = float(params.get("iou_threshold", 0.3))
        self.outputs = list(outputs)
        self._decode: Callable[..., Detections] = (decode_mediapipe_person if name == "mediapipe-person"
                        else functools.partial(decode_blazeface, num_keypoints=self.num_keypoints))

    def __call__(self, raw: Sequence[np.ndarray], threshold: float) -> Detections:
        b = self.outputs[self.boxes_i].dequantize(raw[self.boxes_i])
        s = self.outputs[self.scores_i].dequantize(raw[self.scores_i])
        return self._decode(b, s, self.anchors, scale=self.scale, threshold=threshold, iou_threshold=self.iou_threshold)


def detection_decoder(spec: OutputSpec, outputs: Sequence[TensorSpec], input_size: tuple[int, int]) -> DetectionDecoder:
    """The decoder ``spec`` names, checked against the model's outputs. Raises ValueError naming the problem
    (not a detection decoder, outputs that do not fit)."""
    name = spec.decoder
    if name == "ssd":
        return SsdDecoder(outputs)
    if name in ("yolo-v5", "yolo-v8"):
        return YoloDecoder(YoloHead(name), outputs, input_size, spec.params)
    if name in ("blazeface", "mediapipe-person"):
        return AnchorDecoder(name, outputs, input_size, spec.params)
    raise ValueError(f"its output decoder is {name!r}, not a detector's (ssd, yolo-v5, yolo-v8, blazeface, mediapipe-person)")
