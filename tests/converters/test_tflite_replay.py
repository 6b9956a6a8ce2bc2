"""The pieces of `edgesdk convert MODEL.tflite`: known models, score-head clipping, calibration inputs, depthwise
equalization, the int8 face threshold."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.converters import import_tf_keras
from edgesdk.errors import MissingExtraError

try:
    import_tf_keras()  # sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported
except MissingExtraError as exc:
    pytest.skip(str(exc), allow_module_level=True)

from _float_tflite import depthwise_pair, face_model, photos  # noqa: E402


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

    g = read_model(face_model()).main
    heads = _heads(g, 1)  # classificators (896, 1): one conv per anchor layer
    assert len(heads) == 2 and all(g.operators[i].opcode == "CONV_2D" for i in heads)
    assert not heads & _heads(g, 0)


def test_calibration_inputs_are_whole_images_then_crops(tmp_path):
    from edgesdk.bundle import InputSpec
    from edgesdk.converters._from_tflite import calibration_inputs, input_coverage

    paths = sorted(photos(tmp_path / "c", 4).iterdir())
    spec = InputSpec.from_range(-1.0, 1.0, resize="letterbox")
    x = calibration_inputs(paths, (16, 24), spec, 12)
    assert x.shape == (12, 16, 24, 3) and x.dtype == np.float32
    assert -1.0 <= x.min() and x.max() <= 1.0
    assert input_coverage(x, spec) > 0.9
    dark = calibration_inputs(sorted(photos(tmp_path / "d", 4, value=3).iterdir()), (16, 24), spec, 8)
    assert input_coverage(dark, spec) < 0.1


def test_equalization_keeps_the_float_model_and_evens_out_channels(tmp_path):
    from edgesdk.converters._tflite_equalize import depthwise_pairs, equalize_depthwise
    from edgesdk.converters._tflite_graph import check_rebuild, read_weights, rebuild_tflite
    from edgesdk.tflite import read_model

    path = depthwise_pair(tmp_path / "dw.tflite")
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
