"""Output decoders: plain functions from output arrays to result types (no model needed to test them)."""

from .classify import decode_classification, softmax
from .ssd import decode_ssd, ssd_output_order

__all__ = ["decode_classification", "decode_ssd", "softmax", "ssd_output_order"]
