"""PersonDetector: MediaPipe's person detector (``pose_detection.tflite``) on the same machinery as BlazeFace
(loader, letterbox to [-1, 1], anchors, weighted NMS), so :class:`TiledDetector` tiles it for small people."""

from __future__ import annotations

import functools
import os

from ._detector import BlazeFaceConfig, FaceDetector

__all__ = ["PersonDetector", "person_config"]


@functools.lru_cache(maxsize=1)
def person_config() -> BlazeFaceConfig:
    """The person detector's file name, anchors, thresholds, keypoints and decoder (imported here, not at module
    level: ``decoders.mediapipe`` itself imports this package's anchors and decoder)."""
    from ..decoders.mediapipe import PERSON_ANCHORS, PERSON_IOU, PERSON_KEYPOINTS, PERSON_THRESHOLD, decode_mediapipe_person

    return BlazeFaceConfig(
        "pose_detection.tflite", PERSON_ANCHORS, PERSON_THRESHOLD, PERSON_IOU,
        # smallest person (body box side, model-input px) the tile layout plans for. NOT measured (BlazeFace's
        # 20 px was): a starting value; tests/runtime/test_person.py checks that tiles find the far person
        min_face=60.0,
        num_keypoints=len(PERSON_KEYPOINTS), decoder=decode_mediapipe_person,
    )


class PersonDetector(FaceDetector):
    """People in a BGR image: ``detect(image) -> Detections`` (class 0) in its pixels, the box around the whole
    body (see ``decoders.mediapipe``) and 4 keypoints (``PERSON_KEYPOINTS``). ``model``: the path of
    ``pose_detection.tflite`` (not shipped: ``../shared/testdata/models`` has it, or the mediapipe wheel).

    Tiling: ``TiledDetector(PersonDetector(...), pad="constant")``. The default reflected margin mirrors a
    person at the frame's edge into a twin that hides both (Grace Hopper's portrait: 0 people with
    ``pad="reflect"``, 1 with ``"constant"``). Tiles also make animal faces look like people to this model
    (pets.jpg: 2 false people in tiles, 0 in the whole-frame pass at the default 0.5)."""

    def __init__(self, model: str | os.PathLike, *, threads: int | None = None, threshold: float | None = None,
                 iou_threshold: float | None = None, device: str = "cpu") -> None:
        super().__init__(os.fspath(model), device=device, threads=threads, threshold=threshold,
                         iou_threshold=iou_threshold, config=person_config())

    def __repr__(self) -> str:
        return f"PersonDetector({self.name}, threshold={self.threshold})"
