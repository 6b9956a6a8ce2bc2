"""Output decoders: plain functions from output arrays to result types (no model needed to test them)."""

from .classify import decode_classification, softmax
from .ssd import decode_ssd, ssd_output_order
from .yolo import YoloHead, decode_yolo

__all__ = ["YoloHead", "decode_classification", "decode_ssd", "decode_yolo", "softmax", "ssd_output_order"]
