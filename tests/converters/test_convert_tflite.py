"""edgesdk convert MODEL.tflite: MediaPipe's float models -> full-integer bundles, and every bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
from _paths import MODELS, TESTDATA

from edgesdk.cli import main
from edgesdk.converters import import_tf_keras
from edgesdk.errors import MissingExtraError

try:
    import_tf_keras()  # sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported
except MissingExtraError as exc:
    pytest.skip(str(exc), allow_module_level=True)

import tensorflow as tf  # noqa: E402

FACES = TESTDATA / "faces"


def _face_model(name: str = "face") -> Path:
    from edgesdk.runtime.faces import face_model_path

    try:
        return face_model_path(name)
    except MissingExtraError as exc:
        pytest.skip(str(exc))


def _float_tflite(path: Path, fn, shape) -> Path:
    cf = tf.function(fn).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([cf]).convert())
    return path


def _tiny(path: Path, tail=None, shape=(1, 32, 32, 3)) -> Path:
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.3, (1, 1, 8, 4)).astype(np.float32))

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 2, "SAME"))
        y = tf.nn.conv2d(y, w2, 1, "SAME")
        return tail(y) if tail else y

    return _float_tflite(path, fn, shape)


def _run(capsys, *args) -> tuple[int, str]:
    rc = main(["convert", *map(str, args)])
    return rc, capsys.readouterr().err


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _photos(d: Path, n: int, value: int | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) if value is None else np.full((48, 64, 3), value, np.uint8)
        cv2.imwrite(str(d / f"{i}.png"), img)
    return d


# ---------------------------------------------------------------------------------------------- pieces
@pytest.mark.parametrize("inp, outs, name, task, decoder", [
    ((1, 128, 128, 3), [(1, 896, 16), (1, 896, 1)], "face_detection_short_range", "face", "blazeface"),
    ((1, 192, 192, 3), [(1, 2304, 1), (1, 2304, 16)], "face_detection_full_range", "face", "blazeface"),
    ((1, 224, 224, 3), [(1, 2254, 12), (1, 2254, 1)], "pose_detection", "detect", "blazeface"),
    ((1, 256, 256, 3), [(1, 256, 256, 1)], "selfie_segmentation", "segment", "mediapipe-selfie"),
    ((1, 144, 256, 3), [(1, 144, 256, 1)], "selfie_segmentation_landscape", "segment", "mediapipe-selfie"),
])
def test_known_models_keep_their_decoder(inp, outs, name, task, decoder):
    from edgesdk.converters._known_tflite import identify

    k = identify(inp, outs)
    assert (k.name, k.task, k.decoder) == (name, task, decoder)
    assert identify((1, 100, 100, 3), outs) is None


def test_anchor_options_of_known_face_models_give_their_box_counts():
    from edgesdk.converters._known_tflite import identify
    from edgesdk.runtime.faces import AnchorOptions, ssd_anchors

    for inp, n in (((1, 128, 128, 3), 896), ((1, 192, 192, 3), 2304), ((1, 224, 224, 3), 2254)):
        k = identify(inp, [(1, n, 16 if n != 2254 else 12), (1, n, 1)])
        a = dict(k.params["anchors"])
        a["strides"], a["aspect_ratios"] = tuple(a["strides"]), tuple(a["aspect_ratios"])
        assert len(ssd_anchors(AnchorOptions(**a))) == n


def test_score_heads_are_found_for_the_clip():
    from edgesdk.converters._tflite_graph import _heads
    from edgesdk.tflite import read_model

    g = read_model(_face_model()).main
    heads = _heads(g, 1)  # classificators (896, 1): one conv per anchor layer
    assert len(heads) == 2 and all(g.operators[i].opcode == "CONV_2D" for i in heads)
    assert not heads & _heads(g, 0)


def test_calibration_inputs_are_whole_images_then_crops(tmp_path):
    from edgesdk.bundle import InputSpec
    from edgesdk.converters._from_tflite import calibration_inputs, input_coverage

    paths = sorted(_photos(tmp_path / "c", 4).iterdir())
    spec = InputSpec.from_range(-1.0, 1.0, resize="letterbox")
    x = calibration_inputs(paths, (16, 24), spec, 12)
    assert x.shape == (12, 16, 24, 3) and x.dtype == np.float32
    assert -1.0 <= x.min() and x.max() <= 1.0
    assert input_coverage(x, spec) > 0.9
    dark = calibration_inputs(sorted(_photos(tmp_path / "d", 4, value=3).iterdir()), (16, 24), spec, 8)
    assert input_coverage(dark, spec) < 0.1


def _depthwise_pair(path: Path) -> Path:
    """A float model with a depthwise conv (no activation) feeding a 1x1 conv; channel 0 of the depthwise
    output is 100x larger than the others (the case equalization is for)."""
    rng = np.random.default_rng(2)
    dw = rng.normal(0, 0.3, (3, 3, 4, 1)).astype(np.float32)
    dw[..., 0, :] *= 100.0
    pw = tf.constant(rng.normal(0, 0.3, (1, 1, 4, 6)).astype(np.float32))
    dw_t, w0 = tf.constant(dw), tf.constant(rng.normal(0, 0.5, (1, 1, 3, 4)).astype(np.float32))

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w0, 1, "SAME"))
        y = tf.nn.depthwise_conv2d(y, dw_t, [1, 1, 1, 1], "SAME") + 0.5
        return tf.nn.relu(tf.nn.conv2d(y, pw, 1, "SAME"))

    return _float_tflite(path, fn, (1, 16, 16, 3))


def test_equalization_keeps_the_float_model_and_evens_out_channels(tmp_path):
    from edgesdk.converters._tflite_equalize import depthwise_pairs, equalize_depthwise
    from edgesdk.converters._tflite_graph import check_rebuild, read_weights, rebuild_tflite
    from edgesdk.tflite import read_model

    path = _depthwise_pair(tmp_path / "dw.tflite")
    info = read_model(path)
    assert len(depthwise_pairs(info.main)) == 1
    calib = np.random.default_rng(3).uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
    weights, summary = equalize_depthwise(path, info, read_weights(path, info), calib)
    assert summary["pairs"] == 1
    assert summary["median_channel_spread_before"] > 20 > summary["median_channel_spread_after"]
    graph = rebuild_tflite(path, None, weights)
    assert check_rebuild(path, graph, calib[:2]) < 1e-3  # the float function is unchanged


def test_face_threshold_table_in_report_md():
    from edgesdk.converters._face_threshold import threshold_report_lines

    st = {"float_threshold": 0.5, "target_recall": 0.99, "inputs": 10, "candidates": [
        {"threshold": 0.5, "recall": 0.9, "float_boxes": 10, "found": 9, "int8_extra_boxes": 1},
        {"threshold": 0.45, "recall": 1.0, "float_boxes": 10, "found": 10, "int8_extra_boxes": 3}]}
    text = "\n".join(threshold_report_lines({"score_threshold": st, "equalized": {"pairs": 0}}))
    assert "score threshold 0.45 for int8 (float model: 0.5)" in text
    assert "| 0.45 | 10/10 (100.0%) | 3 |" in text
    assert threshold_report_lines({}) == []


def test_face_threshold_pick():
    from edgesdk.converters._face_threshold import pick

    def row(t, found, total=10):
        return {"threshold": t, "recall": found / max(1, total), "float_boxes": total, "found": found}

    assert pick([row(0.5, 9), row(0.45, 10), row(0.4, 10)], 0.99)["threshold"] == 0.45
    assert pick([row(0.5, 8), row(0.45, 9), row(0.4, 9)], 0.99)["threshold"] == 0.45  # best recall, highest t
    assert pick([row(0.5, 0, 0), row(0.45, 0, 0)], 0.99) is None  # no float boxes: the float threshold stays


# ---------------------------------------------------------------------------------------------- bad input
def test_already_quantized_model_is_refused(tmp_path, capsys):
    rc, err = _run(capsys, MODELS / "mobilenet_v1_0.25_128_quant.tflite", "--calib-data", FACES, "-o", tmp_path / "o")
    assert rc != 0
    assert "already quantized" in _one_line(err)
    assert not (tmp_path / "o").exists()


def test_dynamic_shape_is_refused(tmp_path, capsys):
    m = _tiny(tmp_path / "dyn.tflite", shape=(1, None, None, 3))
    rc, err = _run(capsys, m, "--calib-data", FACES, "-o", tmp_path / "o")
    assert rc != 0
    assert "dynamic input shape" in _one_line(err)
    assert not (tmp_path / "o").exists()


def test_empty_and_too_small_calibration_folders(tmp_path, capsys):
    m = _tiny(tmp_path / "m.tflite")
    (tmp_path / "empty").mkdir()
    rc, err = _run(capsys, m, "--calib-data", tmp_path / "empty", "-o", tmp_path / "o")
    assert rc != 0 and "image" in _one_line(err)
    rc, err = _run(capsys, m, "--calib-data", _photos(tmp_path / "two", 2), "-o", tmp_path / "o")
    assert rc != 0 and "has 2 image(s); at least 4" in _one_line(err)
    assert not (tmp_path / "o").exists()


def test_unsupported_op_is_named_with_its_index(tmp_path, capsys):
    m = _tiny(tmp_path / "cum.tflite", tail=lambda y: tf.math.cumsum(y, axis=3))
    rc, err = _run(capsys, m, "--calib-data", _photos(tmp_path / "c", 4), "-o", tmp_path / "o")
    line = _one_line(err)
    assert rc != 0 and "operator 2 (CUMSUM)" in line, line
    assert not (tmp_path / "o").exists()


def test_existing_output_folder_is_kept(tmp_path, capsys):
    m = _tiny(tmp_path / "m.tflite")
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, err = _run(capsys, m, "--calib-data", _photos(tmp_path / "c", 4), "-o", out)
    assert rc != 0 and "not empty" in _one_line(err)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_wrong_kind_of_images_warns_about_saturation(tmp_path, capsys):
    m = _tiny(tmp_path / "m.tflite")
    rc, err = _run(capsys, m, "--calib-data", _photos(tmp_path / "dark", 4, value=3), "--input-range=-1,1",
                   "--latency-runs", "0", "-o", tmp_path / "o")
    assert rc == 0, err
    assert "saturate" in err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert any("saturate" in w for w in report["warnings"])


def test_gptq_rounds_replayed_kernels_on_their_int8_grid(tmp_path):
    """Every conv kernel comes back on TFLite's per-channel grid (levels within +-127, the largest at +-127 so the
    converter keeps the scale)."""
    from edgesdk.converters._tflite_graph import read_weights
    from edgesdk.converters._tflite_gptq import gptq_replayed
    from edgesdk.tflite import read_model

    path = _depthwise_pair(tmp_path / "dw.tflite")
    info = read_model(path)
    calib = np.random.default_rng(4).uniform(-1, 1, (24, 16, 16, 3)).astype(np.float32)
    weights = read_weights(path, info)
    rounded, details = gptq_replayed(path, info, weights, calib, images=16)
    convs = [op for op in info.main.operators if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert details["layers"] == len(convs) == 3 and details["median_relative_error"] < 1.0

    def nearest(k, axis):
        s = np.abs(k).max(axis=tuple(i for i in range(k.ndim) if i != axis), keepdims=True) / 127
        return np.round(k / s) * s

    for op in convs:
        axis = 0 if op.opcode == "CONV_2D" else 3
        k, r = weights[op.inputs[1]], rounded[op.inputs[1]]
        s = np.abs(k).max(axis=tuple(i for i in range(k.ndim) if i != axis), keepdims=True) / 127
        levels = r / s
        assert np.allclose(levels, np.round(levels), atol=1e-3) and np.abs(levels).max() <= 127.001
        assert np.allclose(np.abs(levels).max(axis=tuple(i for i in range(k.ndim) if i != axis)), 127, atol=1e-3)


@pytest.mark.slow
def test_gptq_brings_the_face_scores_closer_to_float_than_nearest_rounding():
    """BlazeFace with only its kernels on the int8 grid: the score logits near the threshold move less with GPTQ
    than with nearest rounding, on inputs the rounding never saw (crops of other photos)."""
    from edgesdk.bundle import InputSpec
    from edgesdk.converters._biascorrect import _quant_error
    from edgesdk.converters._from_tflite import calibration_inputs
    from edgesdk.converters._tflite_graph import rebuild_tflite, read_weights
    from edgesdk.converters._tflite_gptq import gptq_replayed
    from edgesdk.tflite import read_model

    path = _face_model()
    info = read_model(path)
    spec = InputSpec.from_range(-1.0, 1.0, color="RGB", resize="letterbox")
    photos = sorted(FACES.glob("*.jpg"))
    calib = calibration_inputs(photos[:2], (128, 128), spec, 64, seed=0)
    unseen = calibration_inputs(photos[2:], (128, 128), spec, 24, seed=1)
    clip = {1: 16.0}  # the score output, as the converter clips it
    weights = read_weights(path, info)
    rounded, _ = gptq_replayed(path, info, weights, calib, clip)
    near = dict(weights)
    for op in info.main.operators:
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            k = weights[op.inputs[1]]
            near[op.inputs[1]] = k + _quant_error(k, 0 if op.opcode == "CONV_2D" else 3)
    fns = [rebuild_tflite(path, clip, w).fn for w in (weights, rounded, near)]
    errs = {"gptq": [], "nearest": []}
    for x in unseen:
        ref, got_g, got_n = (f(tf.constant(x[None]))[1].numpy().ravel() for f in fns)
        m = np.abs(ref) < 2
        errs["gptq"].append(got_g[m] - ref[m])
        errs["nearest"].append(got_n[m] - ref[m])
    std = {k: float(np.concatenate(v).std()) for k, v in errs.items()}
    assert std["gptq"] < 0.8 * std["nearest"], std


@pytest.mark.slow
def test_replayed_error_budget_simulates_the_int8_model(tmp_path):
    """ReplayedTflite with nearest-rounded kernels and fake-quantized activations moves the face scores about as
    much as the real int8 model (--rounding nearest) does; each part alone moves them less; GPTQ's kernels less
    than nearest's."""
    from edgesdk.converters import ConvertOptions, Gptq, Nearest, ReplayedTflite, calibration_inputs, convert, raw_outputs

    path = _face_model()
    convert(path, tmp_path / "b", ConvertOptions(quantize="int8", calib_data=str(FACES), rounding="nearest",
                                                 calib_images=64, latency_runs=0))
    from edgesdk.bundle import load_bundle

    spec = load_bundle(tmp_path / "b").manifest.input
    photos = sorted(FACES.glob("*.jpg"))
    calib = calibration_inputs(photos, (128, 128), spec, 64, seed=0)
    unseen = calibration_inputs(photos, (128, 128), spec, 40, seed=7)[4:]  # crops the calibration did not take
    replay = ReplayedTflite(path, calib)
    assert replay.score_clip == 16.0 and 40 < len(replay.quantized) < 80

    ref = replay.scores(unseen)
    near = np.abs(ref) < 2

    def std(scores):
        return float((scores[near] - ref[near]).std())

    real = std(raw_outputs(tmp_path / "b" / "model.tflite", unseen)[1])
    q = set(replay.quantized)
    nearest = replay.on_grid(Nearest())
    both, weights, acts = (std(replay.scores(unseen, weights=nearest, fake_quant=q)),
                           std(replay.scores(unseen, weights=nearest)), std(replay.scores(unseen, fake_quant=q)))
    assert 0.6 * real < both < 1.4 * real, (both, real)
    assert weights < both and acts < both
    assert std(replay.scores(unseen, weights=replay.on_grid(Gptq()))) < weights


def test_adaround_is_refused_for_a_tflite(tmp_path, capsys):
    m = _depthwise_pair(tmp_path / "dw.tflite")
    rc, err = _run(capsys, m, "--calib-data", _photos(tmp_path / "c", 6), "--rounding", "adaround", "-o", tmp_path / "o")
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "--rounding adaround is for Keras models" in err and "nearest or gptq" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_small_float_model_round_trip(tmp_path, capsys):
    """A float model that is not MediaPipe's: int8 I/O, the replay checked, the report written."""
    m = _tiny(tmp_path / "m.tflite", tail=lambda y: tf.nn.softmax(tf.reshape(tf.reduce_mean(y, [1, 2]), (1, 4))))
    rc, err = _run(capsys, m, "--calib-data", _photos(tmp_path / "c", 6), "--input-range", "0,1",
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
    rc, err = _run(capsys, _face_model(), "--quantize", "int8", "--calib-data", FACES, "--latency-runs", "0", "-o", out)
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
    rc, err = _run(capsys, _face_model(), "--quantize", "int8", "--edgetpu", "--calib-data", FACES,
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
    rc, err = _run(capsys, MODELS / "selfie_segmentation_landscape.tflite", "--calib-data", FACES,
                   "--latency-runs", "0", "-o", out)
    assert rc == 0, err
    m = load_bundle(out).manifest
    assert (m.task, m.output.decoder) == ("segment", "mediapipe-selfie")
    assert m.input.range == (0.0, 1.0) and m.input.resize == "stretch"
    info = read_model(out / "model.tflite")
    assert info.inputs[0].dtype == "INT8" and "TRANSPOSE_CONV" in info.op_counts  # MediaPipe's custom op, replayed
