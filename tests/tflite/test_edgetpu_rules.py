"""The Edge TPU rules as pure functions over hand-built graphs (no model file)."""

from __future__ import annotations

import pytest

from edgesdk.tflite import (
    ModelInfo,
    OperatorInfo,
    Quantization,
    SubgraphInfo,
    TensorInfo,
    op_problem,
    predict_edgetpu,
    tensor_problem,
)

Q = Quantization(scale=[0.02], zero_point=[0])


def act(i, shape, dtype="UINT8", sig=(), **kw):
    return TensorInfo(index=i, name=f"t{i}", shape=shape, dtype=dtype, shape_signature=sig, quantization=Q, **kw)


def const(i, shape, dtype="UINT8", values=None, zero=False):
    return TensorInfo(
        index=i, name=f"c{i}", shape=shape, dtype=dtype, is_constant=True, buffer=i + 1, nbytes=4,
        const_values=tuple(values) if values is not None else None, const_all_zero=zero,
    )


def graph(tensors, ops, inputs=(0,), outputs=None):
    outputs = outputs if outputs is not None else (ops[-1].outputs[0],)
    return SubgraphInfo(index=0, name="main", tensors=tuple(tensors), inputs=inputs, outputs=outputs, operators=tuple(ops))


def op(i, name, ins, outs, custom=False, **options):
    return OperatorInfo(index=i, opcode=name, inputs=ins, outputs=outs, custom_code=name if custom else None, options=options)


def one_op(name, in_shape=(1, 8, 8, 16), out_shape=(1, 8, 8, 16), dtype="UINT8", extra=(), **options):
    """A graph with a single op: input t0 (+ extra constant tensors) -> output."""
    tensors = [act(0, in_shape, dtype)]
    ins = [0]
    for k, t in enumerate(extra, start=1):
        tensors.append(TensorInfo(**{**t.__dict__, "index": k}))
        ins.append(k)
    out = len(tensors)
    tensors.append(act(out, out_shape, dtype))
    o = op(0, name, ins, [out], **options)
    return o, graph(tensors, [o])


# ---------------------------------------------------------------------------------------------- tensors
@pytest.mark.parametrize(
    "tensor, fragment",
    [
        (act(0, (1, 8, 8, 3), "FLOAT32"), "float tensor"),
        (act(0, (1, 8, 8, 3), "INT16"), "INT16 tensor"),
        (act(0, (1, 8, 8, 3), "INT32"), "INT32 tensor"),
        (act(0, (1, 8, 8, 3), sig=(-1, 8, 8, 3)), "dynamic shape ?x8x8x3"),
        (act(0, (1, 1, 8, 8, 3)), None),  # rank 5, only the innermost 3 dimensions > 1
        (act(0, (2, 1, 8, 8, 3)), "unsupported rank"),  # rank 5 with an outer dimension > 1
        (act(0, (2, 8, 8, 3)), "unsupported rank"),  # batch 2
        (act(0, (1, 8, 8, 3)), None),
        (act(0, (1, 1, 1, 256)), None),  # rank 4 with only the channel dimension > 1
        (act(0, (7,)), None),
        (act(0, ()), "scalar"),
        (const(0, (16, 3, 3, 3), "UINT8"), None),  # weights: rank rule is for activations
        (const(0, (16,), "INT32"), None),  # bias
        (const(0, (16, 3, 3, 3), "FLOAT32"), "float constant"),
    ],
)
def test_tensor_rules(tensor, fragment):
    msg = tensor_problem(tensor)
    if fragment is None:
        assert msg is None
    else:
        assert msg is not None and fragment in msg


def test_int16_state_allowed_only_for_lstm_variables():
    state = act(0, (1, 20), "INT16", is_variable=True)
    assert tensor_problem(state) is not None
    assert tensor_problem(state, allow_int16_state=True) is None
    assert tensor_problem(act(0, (1, 20), "INT16"), allow_int16_state=True) is not None


# ---------------------------------------------------------------------------------------------- ops
@pytest.mark.parametrize(
    "case, fragment",
    [
        (lambda: one_op("MAX_POOL_2D", fused_activation_function="RELU"), "fused RELU"),
        (lambda: one_op("MAX_POOL_2D", fused_activation_function="NONE"), None),
        (lambda: one_op("AVERAGE_POOL_2D", fused_activation_function="RELU6"), "fused RELU6"),
        (lambda: one_op("CONCATENATION", fused_activation_function="RELU"), "fused RELU"),
        (lambda: one_op("ADD", fused_activation_function="RELU"), None),  # allowed on other ops
        (lambda: one_op("CONV_2D", dilation_w_factor=2, dilation_h_factor=1), "dilation"),
        (lambda: one_op("CONV_2D", dilation_w_factor=2, dilation_h_factor=2), None),
        (lambda: one_op("DEPTHWISE_CONV_2D", dilation_w_factor=1, dilation_h_factor=3), "dilation"),
        (lambda: one_op("SOFTMAX", (1, 1001), (1, 1001)), None),
        (lambda: one_op("SOFTMAX", (1, 16001), (1, 16001)), "at most 16000"),
        (lambda: one_op("SOFTMAX", (1, 16000), (1, 16000)), None),
        (lambda: one_op("SOFTMAX", (1, 896, 2), (1, 896, 2)), "not one-dimensional"),
        (lambda: one_op("FULLY_CONNECTED", (1, 64), (1, 10), weights_format="DEFAULT"), None),
        (lambda: one_op("FULLY_CONNECTED", (4, 64), (4, 10)), "not one-dimensional"),
        (lambda: one_op("FULLY_CONNECTED", (1, 64), (1, 10), weights_format="SHUFFLED4x16INT8"), "weights format"),
        (lambda: one_op("MEAN", (1, 7, 7, 64), (1, 64), extra=[const(0, (2,), "INT32", [1, 2])]), None),
        (lambda: one_op("MEAN", (1, 7, 7, 64), (7, 7, 64), extra=[const(0, (1,), "INT32", [0])]), "batch"),
        (lambda: one_op("MEAN", (1, 7, 7, 6), (1, 7, 7), extra=[const(0, (1,), "INT32", [-1])]), "multiple of 4"),
        (lambda: one_op("MEAN", (1, 7, 7, 8), (1, 7, 7), extra=[const(0, (1,), "INT32", [3])]), None),
        (lambda: one_op("REDUCE_MAX", (1, 7, 7, 8), (7, 7, 8), extra=[const(0, (1,), "INT32", [0])]), "batch"),
        (lambda: one_op("PAD", (1, 8, 3), (3, 8, 3), extra=[const(0, (3, 2), "INT32", [1, 1, 0, 0, 0, 0])]), "batch"),
        (lambda: one_op("PAD", (1, 8, 8, 3), (1, 10, 10, 3), extra=[const(0, (4, 2), "INT32", [0, 0, 1, 1, 1, 1, 0, 0])]), None),
        (lambda: one_op("PACK", (8, 3), (1, 8, 3), axis=0), "batch"),
        (lambda: one_op("PACK", (8, 3), (8, 1, 3), axis=1), None),
        (lambda: one_op("PRELU", extra=[const(0, (1, 1, 16), "UINT8")]), None),
        (lambda: one_op("PRELU", extra=[const(0, (8, 8, 16), "UINT8")]), "alpha"),
        (lambda: one_op("CONCATENATION", extra=[const(0, (1, 8, 8, 4), "UINT8", zero=True)], fused_activation_function="NONE"), None),
        (lambda: one_op("CONCATENATION", extra=[const(0, (1, 8, 8, 4), "UINT8", zero=False)], fused_activation_function="NONE"), "constant"),
        (lambda: one_op("RESIZE_BILINEAR", (1, 8, 8, 16), (1, 16, 16, 16), extra=[const(0, (2,), "INT32", [16, 16])]), None),
        (lambda: one_op("RESIZE_BILINEAR", (1, 1, 1, 256), (1, 33, 33, 256), extra=[const(0, (2,), "INT32", [33, 33])]), "3-D"),
        (lambda: one_op("RESIZE_NEAREST_NEIGHBOR", (1, 8, 8, 16), (1, 16, 16, 16), extra=[const(0, (2,), "INT32", [16, 16])]), None),
        (lambda: one_op("ARG_MAX", (1, 8, 8, 16), (1, 8, 8)), "not supported"),
        (lambda: one_op("CAST"), "not supported"),
        (lambda: one_op("GATHER"), "not supported"),
        (lambda: one_op("HARD_SWISH"), "not supported"),
        (lambda: one_op("TFLite_Detection_PostProcess", custom=True), "custom op"),
        (lambda: one_op("CONV_2D", dtype="FLOAT32"), "float tensor"),
    ],
)
def test_op_rules(case, fragment):
    o, g = case()
    msg = op_problem(o, g)
    if fragment is None:
        assert msg is None, msg
    else:
        assert msg is not None and fragment in msg, msg


def test_lstm_with_int16_state_maps():
    tensors = [act(0, (1, 28, 28), "INT8"), act(1, (1, 20), "INT8", is_variable=True),
               act(2, (1, 20), "INT16", is_variable=True), act(3, (1, 28, 20), "INT8")]
    o = op(0, "UNIDIRECTIONAL_SEQUENCE_LSTM", [0, 1, 2], [3])
    assert op_problem(o, graph(tensors, [o])) is None
    b = op(0, "BIDIRECTIONAL_SEQUENCE_LSTM", [0, 1, 2], [3])
    assert op_problem(b, graph(tensors, [b])) is not None


# ---------------------------------------------------------------------------------------------- the walk
def _model(tensors, ops, inputs=(0,), outputs=None, extra_subgraphs=()):
    g = graph(tensors, ops, inputs=inputs, outputs=outputs)
    return ModelInfo(subgraphs=(g, *extra_subgraphs))


def test_first_unmapped_op_cuts_everything_after_in_execution_order():
    # conv -> argmax(cut) ; an independent conv on t0 comes after it in execution order and still goes to the CPU
    tensors = [act(0, (1, 8, 8, 3)), act(1, (1, 8, 8, 8)), act(2, (1, 8, 8), "INT32"), act(3, (1, 8, 8, 8))]
    ops = [op(0, "CONV_2D", [0], [1]), op(1, "ARG_MAX", [1], [2]), op(2, "CONV_2D", [0], [3])]
    r = predict_edgetpu(_model(tensors, ops, outputs=(2, 3)))
    d = r.to_dict()
    assert d["compiled"] is False
    assert d["mapped_ops"] == {"CONV_2D": 1}
    assert d["cpu_ops"] == {"ARG_MAX": 1, "CONV_2D": 1}
    assert d["first_unmapped"]["op"] == "ARG_MAX" and d["first_unmapped"]["index"] == 1
    assert "does not use its result" in d["ops"][2]["reason"]


def test_float_io_quantize_and_dequantize_stay_on_cpu_without_cutting():
    tensors = [
        act(0, (1, 8, 8, 3), "FLOAT32"), act(1, (1, 8, 8, 3), "INT8"), act(2, (1, 8, 8, 8), "INT8"),
        act(3, (1, 8, 8, 8), "FLOAT32"), act(4, (1, 8, 8, 8), "INT8"), act(5, (1, 8, 8, 8), "FLOAT32"),
    ]
    ops = [
        op(0, "QUANTIZE", [0], [1]),
        op(1, "CONV_2D", [1], [2]),
        op(2, "DEQUANTIZE", [2], [3]),  # first head's output
        op(3, "CONV_2D", [1], [4]),  # second head, after the first DEQUANTIZE in execution order
        op(4, "DEQUANTIZE", [4], [5]),
    ]
    d = predict_edgetpu(_model(tensors, ops, outputs=(3, 5))).to_dict()
    assert d["mapped_ops"] == {"CONV_2D": 2}
    assert d["cpu_ops"] == {"QUANTIZE": 1, "DEQUANTIZE": 2}
    assert d["first_unmapped"] is None


def test_quantize_in_the_middle_of_a_float_graph_cuts():
    # float conv first: the model is not fully quantized -> nothing maps
    tensors = [act(0, (1, 8, 8, 3), "FLOAT32"), act(1, (1, 8, 8, 8), "FLOAT32"), act(2, (1, 8, 8, 8), "INT8")]
    ops = [op(0, "CONV_2D", [0], [1]), op(1, "QUANTIZE", [1], [2])]
    d = predict_edgetpu(_model(tensors, ops)).to_dict()
    assert d["mapped_ops"] == {}
    assert d["first_unmapped"]["index"] == 0 and "float" in d["first_unmapped"]["reason"]


def test_ops_of_other_subgraphs_run_on_cpu():
    tensors = [act(0, (1, 8)), act(1, (1, 8))]
    body = SubgraphInfo(index=1, name="body", tensors=tuple(tensors), inputs=(0,), outputs=(1,),
                        operators=(op(0, "ADD", [0, 0], [1]),))
    d = predict_edgetpu(_model(tensors, [op(0, "RELU", [0], [1])], extra_subgraphs=(body,))).to_dict()
    assert d["mapped_ops"] == {"RELU": 1}
    assert d["cpu_ops"] == {"ADD": 1}
    assert d["ops"][1]["reason"] == "More than one subgraph is not supported"


def test_compiled_model_reports_ops_outside_the_custom_op():
    tensors = [act(0, (1, 8, 8, 3)), act(1, (1, 8, 8, 8)), act(2, (1, 8, 8), "INT64")]
    ops = [op(0, "edgetpu-custom-op", [0], [1], custom=True), op(1, "ARG_MAX", [1], [2])]
    info = _model(tensors, ops)
    assert info.is_edgetpu_compiled
    d = predict_edgetpu(info).to_dict()
    assert d["compiled"] is True
    assert d["mapped_ops"] == {}
    assert d["cpu_ops"] == {"ARG_MAX": 1}
    assert d["edgetpu_segments"] == 1
    assert d["first_unmapped"]["op"] == "ARG_MAX"


def test_report_shape():
    o, g = one_op("CONV_2D")
    d = predict_edgetpu(ModelInfo(subgraphs=(g,))).to_dict()
    assert {"compiled", "mapped_ops", "cpu_ops", "first_unmapped"} <= set(d)
    assert d == {**d, "compiled": False, "mapped_ops": {"CONV_2D": 1}, "cpu_ops": {}, "first_unmapped": None}


# ---------------------------------------------------------------------------------------------- rules beyond the docs
def test_unmappable_ops_at_the_start_stay_on_cpu_without_cutting():
    # uint8 input -> CAST -> QUANTIZE (float in) -> CONV -> CONV: CAST and the QUANTIZE of its float result stay
    # on the CPU, the convolutions map
    tensors = [act(0, (1, 8, 8, 3), "UINT8"), act(1, (1, 8, 8, 3), "FLOAT32"), act(2, (1, 8, 8, 3), "INT8"),
               act(3, (1, 8, 8, 8), "INT8"), act(4, (1, 8, 8, 8), "INT8")]
    ops = [op(0, "CAST", [0], [1]), op(1, "QUANTIZE", [1], [2]), op(2, "CONV_2D", [2], [3]),
           op(3, "CONV_2D", [3], [4])]
    d = predict_edgetpu(_model(tensors, ops)).to_dict()
    assert d["cpu_ops"] == {"CAST": 1, "QUANTIZE": 1}
    assert d["mapped_ops"] == {"CONV_2D": 2}
    assert d["first_unmapped"] is None
    assert "mapping starts after it" in d["ops"][0]["reason"]


def test_an_unmappable_op_after_the_mapping_started_still_cuts():
    tensors = [act(0, (1, 8, 8, 3), "UINT8"), act(1, (1, 8, 8, 3), "INT32"), act(2, (1, 8, 8, 8)),
               act(3, (1, 8, 8, 8), "INT32"), act(4, (1, 8, 8, 8))]
    ops = [op(0, "CAST", [0], [1]), op(1, "CONV_2D", [0], [2]), op(2, "CAST", [2], [3]), op(3, "CONV_2D", [2], [4])]
    d = predict_edgetpu(_model(tensors, ops, outputs=(1, 3, 4))).to_dict()
    assert d["first_unmapped"]["index"] == 2
    assert d["mapped_ops"] == {"CONV_2D": 1}
    assert d["cpu_ops"] == {"CAST": 2, "CONV_2D": 1}


def test_tile_maps_although_the_table_omits_it():
    o, g = one_op("TILE", (1, 4, 4, 8), (1, 8, 8, 8), extra=[const(1, (4,), "INT32", values=(1, 2, 2, 1))])
    assert op_problem(o, g) is None
    assert predict_edgetpu(ModelInfo(subgraphs=(g,))).to_dict()["mapped_ops"] == {"TILE": 1}
