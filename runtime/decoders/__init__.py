"""Output decoders: plain functions from output arrays to result types (no model needed to test them)."""

from .classify import decode_classification, softmax
from .mediapipe import PERSON_ANCHORS, PERSON_KEYPOINTS, decode_mediapipe_person, person_boxes
from .ssd import decode_ssd, ssd_output_order
from .yolo import YoloHead, decode_yolo

__all__ = ["PERSON_ANCHORS", "PERSON_KEYPOINTS", "YoloHead", "decode_classification", "decode_mediapipe_person",
           "person_boxes", "decode_ssd", "decode_yolo", "softmax", "ssd_output_order"]
