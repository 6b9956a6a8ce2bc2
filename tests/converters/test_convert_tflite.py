"""edgesdk convert MODEL.tflite: MediaPipe's float models -> full-integer bundles, and every bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from _paths import MODELS

from edgesdk.converters import import_tf_keras
from edgesdk.errors import MissingExtraError

try:
    import_tf_keras()  # sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported
except MissingExtraError as exc:
    pytest.skip(str(exc), allow_module_level=True)

import tensorflow as tf  # noqa: E402
from _float_tflite import FACES, depthwise_pair, face_model, one_line, photos, run_convert, tiny  # noqa: E402


# ---------------------------------------------------------------------------------------------- bad input
def test_already_quantized_model_is_refused(tmp_path, capsys):
    rc, err = run_convert(capsys, MODELS / "mobilenet_v1_0.25_128_quant.tflite", "--calib-data", FACES, "-o", tmp_path / "o")
    assert rc != 0
    assert "already quantized" in one_line(err)
    assert not (tmp_path / "o").exists()


def test_dynamic_shape_is_refused(tmp_path, capsys):
    m = tiny(tmp_path / "dyn.tflite", shape=(1, None, None, 3))
    rc, err = run_convert(capsys, m, "--calib-data", FACES, "-o", tmp_path / "o")
    assert rc != 0
    assert "dynamic input shape" in one_line(err)
    assert not (tmp_path / "o").exists()


def test_empty_and_too_small_calibration_folders(tmp_path, capsys):
    m = tiny(tmp_path / "m.tflite")
    (tmp_path / "empty").mkdir()
    rc, err = run_convert(capsys, m, "--calib-data", tmp_path / "empty", "-o", tmp_path / "o")
    assert rc != 0 and "image" in one_line(err)
    rc, err = run_convert(capsys, m, "--calib-data", photos(tmp_path / "two", 2), "-o", tmp_path / "o")
    assert rc != 0 and "has 2 image(s); at least 4" in one_line(err)
    assert not (tmp_path / "o").exists()


def test_unsupported_op_is_named_with_its_index(tmp_path, capsys):
    m = tiny(tmp_path / "cum.tflite", tail=lambda y: tf.math.cumsum(y, axis=3))
    rc, err = run_convert(capsys, m, "--calib-data", photos(tmp_path / "c", 4), "-o", tmp_path / "o")
    line = one_line(err)
    assert rc != 0 and "operator 2 (CUMSUM)" in line, line
    assert not (tmp_path / "o").exists()


def test_existing_output_folder_is_kept(tmp_path, capsys):
    m = tiny(tmp_path / "m.tflite")
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, err = run_convert(capsys, m, "--calib-data", photos(tmp_path / "c", 4), "-o", out)
    assert rc != 0 and "not empty" in one_line(err)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_wrong_kind_of_images_warns_about_saturation(tmp_path, capsys):
    m = tiny(tmp_path / "m.tflite")
    rc, err = run_convert(capsys, m, "--calib-data", photos(tmp_path / "dark", 4, value=3), "--input-range=-1,1",
                   "--latency-runs", "0", "-o", tmp_path / "o")
    assert rc == 0, err
    assert "saturate" in err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert any("saturate" in w for w in report["warnings"])


def test_adaround_is_refused_for_a_tflite(tmp_path, capsys):
    m = depthwise_pair(tmp_path / "dw.tflite")
    rc, err = run_convert(capsys, m, "--calib-data", photos(tmp_path / "c", 6), "--rounding", "adaround", "-o", tmp_path / "o")
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "--rounding adaround is for Keras models" in err and "nearest or gptq" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_small_float_model_round_trip(tmp_path, capsys):
    """A float model that is not MediaPipe's: int8 I/O, the replay checked, the report written."""
    m = tiny(tmp_path / "m.tflite", tail=lambda y: tf.nn.softmax(tf.reshape(tf.reduce_mean(y, [1, 2]), (1, 4))))
    rc, err = run_convert(capsys, m, "--calib-data", photos(tmp_path / "c", 6), "--input-range", "0,1",
                   "--latency-runs", "0", "-o", tmp_path / "o")
    assert rc == 0, err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["quantization"]["io"] == "int8"
    assert report["source"]["replay_max_abs_diff"] < 1e-4
    assert (tmp_path / "o" / "report.md").is_file()


# ---------------------------------------------------------------------------------------------- real models
def _labelled_faces():
    root = ET.parse(FACES / "training.xml").getroot()
    for image in root.iter("image"):
        boxes = [(int(b.get("left")), int(b.get("top")), int(b.get("left")) + int(b.get("width")),
                  int(b.get("top")) + int(b.get("height"))) for b in image.iter("box")]
        yield FACES / image.get("file"), np.asarray(boxes, np.float32)


@pytest.mark.slow
def test_face_bundle_is_used_like_the_builtin_model(tmp_path, capsys):
    from edgesdk.bundle import load_bundle
    from edgesdk.runtime.anonymize import build_detectors
    from edgesdk.runtime.faces import iou_matrix

    out = tmp_path / "face-int8"
    rc, err = run_convert(capsys, face_model(), "--quantize", "int8", "--calib-data", FACES, "--latency-runs", "0", "-o", out)
    assert rc == 0, err
    m = load_bundle(out).manifest
    assert (m.task, m.output.decoder) == ("face", "blazeface")
    assert m.output.params["anchors"]["strides"] == [8, 16, 16, 16]
    assert m.input.resize == "letterbox" and m.input.range == (-1.0, 1.0)
    q = json.loads((out / "report.json").read_text())["quantization"]
    assert q["calibration"] == "percentile" and q["equalized"]["pairs"] == 16
    chosen = q["score_threshold"]["candidates"]
    assert m.output.params["threshold"] == next(r["threshold"] for r in chosen if r["recall"] >= 0.99)
    assert "int8 boxes the float model lacks" in (out / "report.md").read_text()
    det = build_detectors([str(out)], still=True, workers=1)
    found = total = 0
    for path, truth in _labelled_faces():
        det.reset()  # unrelated photos of different sizes
        boxes = det.detect(cv2.imread(str(path))).xyxy
        total += len(truth)
        if len(boxes):
            found += int((iou_matrix(truth, boxes).max(1) >= 0.3).sum())
    assert (found, total) == (18, 18)


@pytest.mark.slow
def test_edgetpu_variant_maps_every_op(tmp_path, capsys):
    from edgesdk.tflite import predict_edgetpu, read_model

    out = tmp_path / "face-tpu"
    rc, err = run_convert(capsys, face_model(), "--quantize", "int8", "--edgetpu", "--calib-data", FACES,
                   "--latency-runs", "0", "-o", out)
    assert rc == 0, err
    info = read_model(out / "model.tflite")
    assert info.inputs[0].dtype == "UINT8" and info.outputs[0].dtype == "UINT8"
    pred = predict_edgetpu(info)
    cpu = [p for p in pred.ops if p.target == "cpu" and p.op not in ("QUANTIZE", "DEQUANTIZE")]
    assert cpu == []


@pytest.mark.slow
def test_selfie_segmenter_becomes_a_segment_bundle(tmp_path, capsys):
    from edgesdk.bundle import load_bundle
    from edgesdk.tflite import read_model

    out = tmp_path / "selfie"
    rc, err = run_convert(capsys, MODELS / "selfie_segmentation_landscape.tflite", "--calib-data", FACES,
                   "--latency-runs", "0", "-o", out)
    assert rc == 0, err
    m = load_bundle(out).manifest
    assert (m.task, m.output.decoder) == ("segment", "mediapipe-selfie")
    assert m.input.range == (0.0, 1.0) and m.input.resize == "stretch"
    info = read_model(out / "model.tflite")
    assert info.inputs[0].dtype == "INT8" and "TRANSPOSE_CONV" in info.op_counts  # MediaPipe's custom op, replayed
