"""A face bundle (what `edgesdk convert face_detection_*.tflite` writes) in the runtime: FaceDetector, anonymize's
detectors and the Edge TPU fallback message. The bundle here packs the float model (no conversion: fast); the
int8 bundle itself is tested in tests/converters/test_convert_tflite.py."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from _paths import TESTDATA

from edgesdk.bundle import InputSpec, Manifest, OutputSpec, write_bundle
from edgesdk.errors import MissingExtraError


@pytest.fixture(scope="module")
def face_bundle(tmp_path_factory):
    from edgesdk.runtime.faces import face_model_path

    try:
        src = face_model_path("face")
    except MissingExtraError as exc:
        pytest.skip(str(exc))
    anchors = {"input_size_width": 128, "input_size_height": 128, "strides": [8, 16, 16, 16],
               "interpolated_scale_aspect_ratio": 1.0}
    m = Manifest(task="face", input=InputSpec.from_range(-1.0, 1.0, color="RGB", resize="letterbox"),
                 output=OutputSpec("blazeface", 0, {"anchors": anchors, "threshold": 0.5, "model": "face"}),
                 labels="labels.txt")
    out = tmp_path_factory.mktemp("b") / "face-bundle"
    write_bundle(out, m, {"model.tflite": src, "labels.txt": b"face\n"})
    return out


def _image():
    return cv2.imread(str(TESTDATA / "faces" / "2008_001322.jpg"))


def test_face_bundle_detects_like_the_builtin_model(face_bundle):
    from edgesdk.runtime.faces import FaceDetector, is_face_bundle

    assert is_face_bundle(face_bundle) and not is_face_bundle("face")
    a, b = FaceDetector("face").detect(_image()), FaceDetector(face_bundle).detect(_image())
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
    assert FaceDetector(face_bundle).config.min_face == FaceDetector("face").config.min_face


def test_anonymize_takes_a_face_bundle_as_a_tiled_face_detector(face_bundle):
    from edgesdk.runtime.anonymize import build_detectors

    det = build_detectors([str(face_bundle)], still=True, workers=1)
    try:
        assert det.detectors[0].labels == ["face"]
        assert type(det.detectors[0].inner).__name__ == "TiledDetector"
        assert len(det.detect(_image())) >= 3
    finally:
        det.close()


def test_edgetpu_without_twin_says_which_model_stays_on_the_cpu(face_bundle, caplog):
    from edgesdk.runtime.faces import FaceDetector
    from edgesdk.runtime.faces import _detector as mod

    mod._WARNED.clear()
    with caplog.at_level(logging.WARNING):
        d = FaceDetector(face_bundle, device="edgetpu")
        FaceDetector("face", device="edgetpu")
    text = caplog.text
    assert "face model face-bundle stays on the CPU" in text and "no Edge TPU twin" in text
    assert "face_detection_short_range.tflite is a float model" in text
    assert d.model.device == "cpu"
