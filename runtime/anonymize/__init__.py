"""Anonymization on the device: strategies (blur, pixelate, solid, mask), the IoU tracker that holds masks
over detector misses, and the threaded fail-closed pipeline behind ``edgesdk anonymize``."""

from ._leaks import LeakReport, count_leaks, face_coverage, leak_detections, leak_report, thorough_face_detector
from ._detectors import STILL_TILE_FACTOR, VIDEO_TILE_FACTOR, MultiDetector, SSDDetector, build_detectors
from ._job import AnonymizeConfig, anonymize, summary_text
from ._batch import anonymize_inputs, plan_inputs
from ._pipeline import AnonymizePipeline, MaskStage, Renderer, RunSummary
from ._strategies import MODES, Anonymizer, Blur, EllipseMask, Pixelate, Solid, make_anonymizer
from ._tracker import IoUTracker, Track

__all__ = [
    "AnonymizeConfig",
    "anonymize",
    "anonymize_inputs",
    "plan_inputs",
    "summary_text",
    "AnonymizePipeline",
    "Anonymizer",
    "Blur",
    "EllipseMask",
    "IoUTracker",
    "LeakReport",
    "MODES",
    "MaskStage",
    "MultiDetector",
    "Pixelate",
    "Renderer",
    "RunSummary",
    "SSDDetector",
    "STILL_TILE_FACTOR",
    "Solid",
    "Track",
    "VIDEO_TILE_FACTOR",
    "build_detectors",
    "count_leaks",
    "face_coverage",
    "leak_detections",
    "leak_report",
    "make_anonymizer",
    "thorough_face_detector",
]
