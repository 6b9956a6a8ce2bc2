"""Anonymization on the device: strategies (blur, pixelate, solid, mask), the IoU tracker that holds masks
over detector misses, and the threaded fail-closed pipeline behind ``edgesdk anonymize``."""

from ._detectors import MultiDetector, SSDDetector, build_detectors
from ._pipeline import AnonymizePipeline, Renderer, RunSummary
from ._strategies import MODES, Anonymizer, Blur, EllipseMask, Pixelate, Solid, make_anonymizer
from ._tracker import IoUTracker, Track

__all__ = [
    "AnonymizePipeline",
    "Anonymizer",
    "Blur",
    "EllipseMask",
    "IoUTracker",
    "MODES",
    "MultiDetector",
    "Pixelate",
    "Renderer",
    "RunSummary",
    "SSDDetector",
    "Solid",
    "Track",
    "build_detectors",
    "make_anonymizer",
]
