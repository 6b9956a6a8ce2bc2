"""MediaPipe's person detector (``pose_detection.tflite``, BlazePose's detector) -> person Detections.

The model is a BlazeFace-style SSD: 224x224 float RGB in [-1, 1] (letterboxed), outputs (1, 2254, 12) and
(1, 2254, 1) logits; anchors as MediaPipe's pose_detection graph makes them (strides 8, 16, 32, 32, 32,
2 anchors per cell, fixed size). Per anchor: a box and 4 keypoints, in input pixels relative to the anchor.
The box is the *face* region; the keypoints are the hips centre, a point on the circle around the whole
body, the shoulders centre and a point on the circle around the upper body. The person box returned here is
the square around the whole-body circle (centre: hips; radius: hips to the second keypoint), so it covers the
person even when only face and torso are visible (the hips may lie outside the image; boxes are mapped and
clipped to the image by the caller's transform).

Decoding reuses BlazeFace's decoder (``faces._decode``) and anchor generator (``faces._anchors``).
"""

from __future__ import annotations

import numpy as np

from ...results import Detections
from .anchors import AnchorOptions
from .boxes import decode_blazeface

__all__ = ["PERSON_ANCHORS", "PERSON_KEYPOINTS", "decode_mediapipe_person", "person_boxes"]

PERSON_ANCHORS = AnchorOptions(224, 224, strides=(8, 16, 32, 32, 32))  # 2254 anchors (interpolated ratio 1.0)
PERSON_KEYPOINTS = ("hips_center", "full_body_size", "shoulders_center", "upper_body_size")
PERSON_THRESHOLD = 0.5  # pose_detection graph: min_score_thresh
PERSON_IOU = 0.3  # min_suppression_threshold (weighted NMS)


def person_boxes(det: Detections, scale: tuple[float, float] = (224.0, 224.0)) -> Detections:
    """Face boxes with the 4 person keypoints (normalized to the input) -> the square around the whole-body
    circle, in the same normalized units; keypoints kept. ``scale``: input (width, height) in pixels."""
    if det.keypoints is None or (len(det) and det.keypoints.shape[1] < 2):
        raise ValueError("person boxes need the detector's keypoints (hips centre and body size point)")
    if not len(det):
        return det
    wh = np.asarray(scale, np.float32)
    kp = det.keypoints
    centre = kp[:, 0]
    radius = np.linalg.norm((kp[:, 1] - kp[:, 0]) * wh, axis=1, keepdims=True)  # input pixels
    half = radius / wh  # back to normalized x and y
    xyxy = np.concatenate([centre - half, centre + half], axis=1)
    return Detections(xyxy, det.score, det.class_id, kp, normalized=det.normalized)


def decode_mediapipe_person(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    *,
    scale: tuple[float, float] = (224.0, 224.0),
    threshold: float = PERSON_THRESHOLD,
    iou_threshold: float = PERSON_IOU,
    score_clip: float | None = 100.0,
    max_detections: int | None = None,
) -> Detections:
    """Raw outputs ((1, N, 12), (1, N, 1) logits) + anchors (N, 4) -> normalized person Detections (class 0)
    with the 4 keypoints of ``PERSON_KEYPOINTS``. Weighted NMS runs on the face boxes, as MediaPipe's graph does."""
    faces = decode_blazeface(raw_boxes, raw_scores, anchors, scale=scale, threshold=threshold,
                             iou_threshold=iou_threshold, score_clip=score_clip, max_detections=max_detections,
                             num_keypoints=len(PERSON_KEYPOINTS))
    return person_boxes(faces, scale)
