"""The .tflite reader on the real models of ../shared/testdata and on small models built here with the schema."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from _paths import MODELS

from edgesdk.errors import MissingExtraError, ModelError
from edgesdk.tflite import check_tflite_file, is_edgetpu_compiled, is_tflite, read_model
from edgesdk.tflite import _reader

REAL = [
    "mobilenet_v2_1.0_224_quant.tflite",
    "mobilenet_v1_0.25_128_quant.tflite",
    "mobilenet_v1_0.25_128_quant_edgetpu.tflite",
    "deeplabv3_mnv2_dm05_pascal_quant.tflite",
    "deeplabv3_mnv2_dm05_pascal_quant_edgetpu.tflite",
    "ssd_traffic_lstm_quant.tflite",
]


def model(name: str):
    p = MODELS / name
    if not p.exists():
        pytest.skip(f"test data not available: {p}")
    return p


# ---------------------------------------------------------------------------------------------- real models
def test_mobilenet_v2_quant(mobilenet_v2_quant):
    info = read_model(mobilenet_v2_quant)
    assert info.size == mobilenet_v2_quant.stat().st_size
    assert info.version == 3
    (inp,) = info.inputs
    assert inp.shape == (1, 224, 224, 3) and inp.shape_signature == (1, 224, 224, 3)
    assert inp.dtype == "UINT8" and inp.np_dtype == np.uint8
    assert not inp.quantization.per_channel
    assert inp.quantization.scale[0] == pytest.approx(1 / 128) and inp.quantization.zero_point[0] == 128
    (out,) = info.outputs
    assert out.shape == (1, 1001) and out.dtype == "UINT8"
    assert info.op_counts == {"CONV_2D": 36, "DEPTHWISE_CONV_2D": 17, "ADD": 10, "AVERAGE_POOL_2D": 1, "RESHAPE": 1, "SOFTMAX": 1}
    assert info.custom_ops == ()
    assert not is_edgetpu_compiled(info)
    conv = info.operators[0]
    assert conv.opcode == "CONV_2D"
    assert conv.options["fused_activation_function"] in ("RELU6", "NONE", "RELU")
    assert conv.options["dilation_w_factor"] == conv.options["dilation_h_factor"] == 1
    assert info.parameter_bytes > 3_000_000


def test_deeplab_metadata_and_int64_output():
    info = read_model(model("deeplabv3_mnv2_dm05_pascal_quant.tflite"))
    assert info.outputs[0].dtype == "INT64" and info.outputs[0].shape == (1, 513, 513)
    assert info.outputs[0].quantization is None
    assert info.metadata_names == ("min_runtime_version",)
    assert info.min_runtime_version == "1.14.0"
    resize = [op for op in info.operators if op.opcode == "RESIZE_BILINEAR"]
    assert len(resize) == 3 and resize[0].options["align_corners"] is True
    assert info.description == "MLIR Converted."


def test_edgetpu_twin_is_detected():
    plain = read_model(model("mobilenet_v1_0.25_128_quant.tflite"))
    twin = read_model(model("mobilenet_v1_0.25_128_quant_edgetpu.tflite"))
    assert not plain.is_edgetpu_compiled
    assert twin.is_edgetpu_compiled and twin.custom_ops == ("edgetpu-custom-op",)
    assert twin.op_counts == {"edgetpu-custom-op": 1}
    assert twin.operators[0].custom_options_size > 100_000  # the compiled executable
    assert "TFLITE_METADATA" in plain.metadata_names
    assert [t.shape for t in plain.inputs] == [t.shape for t in twin.inputs]


def test_ssd_inputs_outputs_and_custom_op(ssd_model):
    info = read_model(ssd_model)
    assert [t.name for t in info.inputs] == [
        "normalized_input_image_tensor", "raw_inputs/init_lstm_c", "raw_inputs/init_lstm_h"
    ]
    assert len(info.outputs) == 6
    assert [t.dtype for t in info.outputs[:4]] == ["FLOAT32"] * 4
    assert info.custom_ops == ("TFLite_Detection_PostProcess",)
    post = info.operators[-1]
    assert post.is_custom and post.custom_code == "TFLite_Detection_PostProcess" and post.custom_options_size > 0
    split = info.operators[0]
    axis = info.main.tensors[split.inputs[0]]
    assert split.opcode == "SPLIT" and axis.is_constant and axis.const_values == (3,)


@pytest.mark.parametrize("name", [n for n in REAL if "_edgetpu" not in n])  # twins need the delegate to open
def test_agrees_with_the_litert_interpreter(name):
    """Inputs and outputs as LiteRT's own interpreter reports them (names, shapes, dtypes, quantization)."""
    interp_mod = pytest.importorskip("ai_edge_litert.interpreter")
    path = model(name)
    info = read_model(path)
    it = interp_mod.Interpreter(model_path=str(path))
    for ours, theirs in [(info.inputs, it.get_input_details()), (info.outputs, it.get_output_details())]:
        assert len(ours) == len(theirs)
        for t, d in zip(ours, theirs):
            assert t.index == d["index"] and t.name == d["name"]
            assert t.np_dtype == d["dtype"]
            assert tuple(d["shape"]) == t.shape or (t.shape == () and d["shape"].size == 0)
            qp = d["quantization_parameters"]
            if t.quantization is None:
                assert qp["scales"].size == 0
            else:
                np.testing.assert_array_equal(t.quantization.scale, qp["scales"])
                np.testing.assert_array_equal(t.quantization.zero_point, qp["zero_points"])


def test_bytes_and_path_give_the_same_model(mobilenet_v2_quant):
    a = read_model(mobilenet_v2_quant)
    b = read_model(mobilenet_v2_quant.read_bytes())
    assert b.path is None and a.path == str(mobilenet_v2_quant)
    assert a.op_counts == b.op_counts and a.inputs == b.inputs


def test_to_dict_summarizes_without_arrays(mobilenet_v2_quant):
    import json

    d = read_model(mobilenet_v2_quant).to_dict()
    json.dumps(d)  # plain JSON types only
    assert d["inputs"][0]["quantization"] == {"per_channel": False, "scale": 0.0078125, "zero_point": 128}
    assert len(d["operators"]) == 66 and d["subgraphs"][0]["operators"] == 66


# ---------------------------------------------------------------------------------------------- built models
def build(mutate=None) -> bytes:
    """A small model made with the TFLite schema: per-channel int8 conv (dynamic batch), GELU (an op code above
    127, stored in builtin_code with deprecated_builtin_code 127), a custom op, and min_runtime_version."""
    import flatbuffers

    s = _reader.load_schema()

    def tensor(shape, ttype, buffer, name, scale=None, zp=None, qdim=0, sig=None, variable=False):
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name, t.isVariable = list(shape), ttype, buffer, name, variable
        if sig is not None:
            t.shapeSignature = list(sig)
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint, q.quantizedDimension = list(scale), list(zp), qdim
            t.quantization = q
        return t

    def buf(data=b""):
        b = s.BufferT()
        b.data = list(data) if data else None
        return b

    def opcode(dep, new, custom=None, version=1):
        c = s.OperatorCodeT()
        c.deprecatedBuiltinCode, c.builtinCode, c.customCode, c.version = dep, new, custom, version
        return c

    weights = np.arange(8 * 3 * 3 * 3, dtype=np.int8).tobytes()
    bias = np.arange(8, dtype=np.int32).tobytes()
    T = s.TensorType
    m = s.ModelT()
    m.version, m.description = 3, "built in a test"
    m.buffers = [buf(), buf(weights), buf(bias), buf(b"2.3.0".ljust(16, b"\0"))]
    m.operatorCodes = [
        opcode(s.BuiltinOperator.CONV_2D, s.BuiltinOperator.CONV_2D),
        opcode(127, s.BuiltinOperator.GELU),
        opcode(s.BuiltinOperator.CUSTOM, s.BuiltinOperator.CUSTOM, "MyCustomOp"),
    ]
    g = s.SubGraphT()
    g.name = "main"
    g.tensors = [
        tensor((1, 16, 16, 3), T.INT8, 0, "input", [0.5], [-1], sig=(-1, 16, 16, 3)),
        tensor((8, 3, 3, 3), T.INT8, 1, "weights", np.linspace(0.01, 0.08, 8).tolist(), [0] * 8, qdim=0),
        tensor((8,), T.INT32, 2, "bias", (np.linspace(0.01, 0.08, 8) * 0.5).tolist(), [0] * 8),
        tensor((1, 16, 16, 8), T.INT8, 0, "conv", [0.25], [3]),
        tensor((1, 16, 16, 8), T.INT8, 0, "gelu", [0.25], [3]),
        tensor((1, 16, 16, 8), T.FLOAT32, 0, "out"),
    ]
    g.inputs, g.outputs = [0], [5]
    conv = s.OperatorT()
    conv.opcodeIndex, conv.inputs, conv.outputs = 0, [0, 1, 2], [3]
    opts = s.Conv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH = s.Padding.SAME, 1, 1
    opts.fusedActivationFunction = s.ActivationFunctionType.RELU6
    opts.dilationWFactor, opts.dilationHFactor = 1, 2
    conv.builtinOptionsType, conv.builtinOptions = s.BuiltinOptions.Conv2DOptions, opts
    gelu = s.OperatorT()
    gelu.opcodeIndex, gelu.inputs, gelu.outputs = 1, [3], [4]
    custom = s.OperatorT()
    custom.opcodeIndex, custom.inputs, custom.outputs, custom.customOptions = 2, [4, -1], [5], [1, 2, 3]
    g.operators = [conv, gelu, custom]
    m.subgraphs = [g]
    meta = s.MetadataT()
    meta.name, meta.buffer = "min_runtime_version", 3
    m.metadata = [meta]
    if mutate:
        mutate(m, s)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_built_model_fields():
    info = read_model(build())
    assert info.description == "built in a test" and info.min_runtime_version == "2.3.0"
    assert [op.opcode for op in info.operators] == ["CONV_2D", "GELU", "MyCustomOp"]
    assert info.operators[1].builtin_code == 150  # max(builtin_code, deprecated_builtin_code)
    assert info.custom_ops == ("MyCustomOp",)
    assert info.operators[2].inputs == (4, -1) and info.operators[2].custom_options_size == 3
    inp = info.inputs[0]
    assert inp.shape == (1, 16, 16, 3) and inp.shape_signature == (-1, 16, 16, 3) and inp.is_dynamic
    assert inp.quantization.zero_point.tolist() == [-1]
    w = info.main.tensors[1]
    assert w.is_constant and w.nbytes == 216 and w.const_values is None
    assert w.quantization.per_channel and w.quantization.scale.size == 8 and w.quantization.quantized_dimension == 0
    assert w.quantization.to_dict() == {
        "per_channel": True, "quantized_dimension": 0, "channels": 8, "scale_min": pytest.approx(0.01),
        "scale_max": pytest.approx(0.08), "zero_point_min": 0, "zero_point_max": 0,
    }
    assert info.main.tensors[2].const_values == tuple(range(8))
    opts = info.operators[0].options
    assert opts["fused_activation_function"] == "RELU6" and opts["padding"] == "SAME"
    assert (opts["dilation_w_factor"], opts["dilation_h_factor"]) == (1, 2)
    assert info.operators[0].options_type == "Conv2DOptions"
    assert info.parameter_bytes == 216 + 32


def test_built_model_prediction_uses_the_rules():
    from edgesdk.tflite import predict_edgetpu

    d = predict_edgetpu(read_model(build())).to_dict()
    assert d["mapped_ops"] == {}
    assert d["first_unmapped"]["index"] == 0 and "dynamic shape ?x16x16x3" in d["first_unmapped"]["reason"]
    assert d["cpu_ops"] == {"CONV_2D": 1, "GELU": 1, "MyCustomOp": 1}


def _bad_tensor_index(m, s):
    m.subgraphs[0].operators[1].inputs = [99]


def _bad_buffer_index(m, s):
    m.subgraphs[0].tensors[1].buffer = 77


def _bad_opcode_index(m, s):
    m.subgraphs[0].operators[0].opcodeIndex = 9


@pytest.mark.parametrize("mutate, fragment", [
    (_bad_tensor_index, "refers to tensor 99"),
    (_bad_buffer_index, "refers to buffer 77"),
    (_bad_opcode_index, "opcode 9"),
])
def test_corrupt_indices_are_one_line_errors(mutate, fragment):
    with pytest.raises(ModelError, match=fragment) as e:
        read_model(build(mutate))
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------------- bad input
def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg
    return msg


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found") as e:
        read_model(tmp_path / "nope.tflite")
    _one_line(e.value)
    assert not is_tflite(tmp_path / "nope.tflite")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.tflite"
    p.write_bytes(b"")
    for fn in (read_model, check_tflite_file):
        with pytest.raises(ModelError, match="empty") as e:
            fn(p)
        _one_line(e.value)


def test_directory(tmp_path):
    with pytest.raises(ModelError, match="directory"):
        read_model(tmp_path)


def test_random_bytes(tmp_path):
    p = tmp_path / "random.tflite"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    for fn in (read_model, check_tflite_file):
        with pytest.raises(ModelError, match="not a TFLite model") as e:
            fn(p)
        _one_line(e.value)
    assert not is_tflite(p)


def test_keras_h5_real_file():
    h5 = model("mobilenet_v2_1.0_224_float.h5")
    for fn in (read_model, check_tflite_file):
        with pytest.raises(ModelError) as e:
            fn(h5)
        assert "this is a Keras HDF5 file, not TFLite; convert it with `edgesdk convert`" in _one_line(e.value)


def test_keras_zip(tmp_path):
    p = tmp_path / "model.keras"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ModelError, match="zip archive"):
        read_model(p)


@pytest.mark.parametrize("fraction", [0.001, 0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("name", ["mobilenet_v2_1.0_224_quant.tflite", "deeplabv3_mnv2_dm05_pascal_quant.tflite",
                                  "ssd_traffic_lstm_quant.tflite"])
def test_truncated_file(tmp_path, name, fraction):
    data = model(name).read_bytes()
    p = tmp_path / name
    p.write_bytes(data[: max(9, int(len(data) * fraction))])
    with pytest.raises(ModelError, match="truncated or corrupt") as e:
        read_model(p)
    _one_line(e.value)


def test_truncated_built_model():
    data = build()
    for cut in range(8, len(data) - 16, 7):
        with pytest.raises(ModelError):
            read_model(data[:cut])


def test_random_corruption_never_escapes_as_another_error(mobilenet_v2_quant):
    """Bytes flipped in the structure part of a real model: either still readable or a ModelError."""
    data = bytearray(mobilenet_v2_quant.read_bytes())
    rng = np.random.default_rng(7)
    root = int.from_bytes(data[:4], "little")
    for _ in range(60):
        d = bytearray(data)
        for pos in rng.integers(8, root + 4096, 8):
            d[pos] = int(rng.integers(0, 256))
        try:
            read_model(bytes(d))
        except ModelError as e:
            _one_line(e)


def test_check_tflite_file_accepts_real_models():
    for name in REAL:
        assert check_tflite_file(model(name)) == model(name)
        assert is_tflite(model(name))


def test_missing_schema_module_is_a_clear_error(monkeypatch, mobilenet_v2_quant):
    monkeypatch.setattr(_reader, "_schema_module", None)
    monkeypatch.setattr(_reader, "_PARSED", {})  # as in a fresh process: no file parsed yet
    monkeypatch.setitem(sys.modules, "ai_edge_litert.schema_py_generated", None)
    monkeypatch.setitem(sys.modules, "tensorflow.lite.python.schema_py_generated", None)
    with pytest.raises(MissingExtraError, match="pip install") as e:
        read_model(mobilenet_v2_quant)
    _one_line(e.value)


def test_import_is_light():
    code = (
        "import sys, edgesdk, edgesdk.tflite, edgesdk.cli;"
        "bad=[m for m in sys.modules if m.startswith(('tensorflow','ai_edge_litert','flatbuffers'))];"
        "print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
