"""The int8 kernels of a replayed float .tflite: GPTQ rounding on the grid, and the error budget that ReplayedTflite
simulates."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.converters import import_tf_keras
from edgesdk.errors import MissingExtraError

try:
    import_tf_keras()  # sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported
except MissingExtraError as exc:
    pytest.skip(str(exc), allow_module_level=True)

import tensorflow as tf  # noqa: E402
from _float_tflite import FACES, depthwise_pair, face_model  # noqa: E402


def test_gptq_rounds_replayed_kernels_on_their_int8_grid(tmp_path):
    """Every conv kernel comes back on TFLite's per-channel grid (levels within +-127, the largest at +-127 so the
    converter keeps the scale)."""
    from edgesdk.converters._tflite_graph import read_weights
    from edgesdk.converters._tflite_gptq import gptq_replayed
    from edgesdk.tflite import read_model

    path = depthwise_pair(tmp_path / "dw.tflite")
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

    path = face_model()
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

    path = face_model()
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
