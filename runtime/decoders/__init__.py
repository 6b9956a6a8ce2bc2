"""Output decoders: plain functions from output arrays to result types (no model needed to test them).

The YOLO, MediaPipe and detection-strategy modules load on first use (they pull in the face package's anchors
and NMS), so that ``import edgesdk.runtime`` stays fast."""

from __future__ import annotations

import importlib

from .classify import decode_classification, softmax
from .ssd import decode_ssd, ssd_output_order

_LAZY = {
    "YoloHead": "yolo", "decode_yolo": "yolo",
    "PERSON_ANCHORS": "mediapipe", "PERSON_KEYPOINTS": "mediapipe", "decode_mediapipe_person": "mediapipe",
    "person_boxes": "mediapipe",
    "DetectionDecoder": "detect", "detection_decoder": "detect",
}

__all__ = ["DetectionDecoder", "PERSON_ANCHORS", "PERSON_KEYPOINTS", "YoloHead", "decode_classification",
           "decode_mediapipe_person", "decode_ssd", "decode_yolo", "detection_decoder", "person_boxes", "softmax",
           "ssd_output_order"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
