"""Predict what Google's ``edgetpu_compiler`` maps to the Edge TPU, from its documented rules.

Rules (coral.ai/docs/edgetpu/models-intro, mirrored in ../shared/reference/edgetpu.md and Axis' ARTPEC-7 notes):

* every tensor int8 or uint8 (full-integer quantization); float model input/output only through a QUANTIZE of a
  model input / a DEQUANTIZE of a model output, which stay on the CPU without cutting the graph;
* tensor sizes fixed at compile time (no dynamic dimension);
* tensors of rank 1 to 3; a tensor of higher rank only when just its innermost 3 dimensions are larger than 1
  (so ``1x224x224x3`` maps, ``2x224x224x3`` does not);
* only the operators of the table below, with their constraints; custom operators never map;
* the compiler walks the ops in execution order and maps them until the first one it cannot map: that op and
  every op after it (whether or not it uses that op's result) run on the CPU;
* ops of subgraphs other than the main one are not mapped ("More than one subgraph is not supported");
* observed in compiled models, beyond the documentation (../shared/reference/edgetpu.md): ops at the start of a
  graph that cannot map (a CAST of a uint8 input ahead of the first QUANTIZE) stay on the CPU and the mapping
  starts after them instead of the graph being cut there; and TILE, absent from the table, is mapped.

The rules model ``edgetpu_compiler`` 16.0.384591198, the last public release (the version in the compiler logs
people post since 2021; 15.0.340273435 and 14.1.317412892 logs show the same statuses); without the
``-a``/``-d``/``-n`` options (one Edge TPU subgraph, no delegate search, no segmentation).

Every rule is a pure function over :mod:`._types` objects, so it can be tested on hand-built graphs.
"""

from __future__ import annotations

from typing import Callable

from ._placement import EdgeTpuReport, OpPlacement
from ._types import OperatorInfo, SubgraphInfo, TensorInfo

__all__ = [
    "EdgeTpuReport",
    "OpPlacement",
    "SUPPORTED_OPS",
    "op_caveat",
    "op_problem",
    "tensor_problem",
]

#: Builtin operators the Edge TPU compiler can map (TFLite names of the documented table).
SUPPORTED_OPS = frozenset(
    {
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "EXPAND_DIMS",
        "FULLY_CONNECTED",
        "L2_NORMALIZATION",
        "LOGISTIC",
        "LSTM",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "MAXIMUM",
        "MAX_POOL_2D",
        "MEAN",
        "MINIMUM",
        "MUL",
        "PACK",
        "PAD",
        "PRELU",
        "QUANTIZE",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "RSQRT",
        "SLICE",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SPLIT",
        "SQUEEZE",
        "STRIDED_SLICE",
        "SUB",
        "SUM",
        "SQUARED_DIFFERENCE",
        "TANH",
        "TILE",  # not in the documented table; mapped by compiler 16 in practice (see the module)
        "TRANSPOSE",
    }
)

_QUANT_TYPES = ("INT8", "UINT8")
_FLOAT_TYPES = ("FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16")
_LSTM_OPS = ("LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM")
_NO_FUSED_ACTIVATION = ("AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION")
_SOFTMAX_MAX = 16000
_SRAM_BYTES = 8 * 1024 * 1024

# ---------------------------------------------------------------------------------------------- tensor rules
def _shape(t: TensorInfo) -> str:
    return "x".join(str(d) for d in t.shape) if t.shape else "scalar"


def _squeeze_leading(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Drop leading size-1 dimensions: (1, 1, 1, 256) -> (256,); the effective shape the TPU sees."""
    i = 0
    while i < len(shape) - 1 and shape[i] == 1:
        i += 1
    return tuple(shape[i:])


def rank_ok(shape: tuple[int, ...]) -> bool:
    """Rank 1 to 3, or higher when only the innermost 3 dimensions are larger than 1."""
    if len(shape) == 0:
        return False
    return all(d == 1 for d in shape[:-3])


def tensor_problem(t: TensorInfo, *, role: str = "tensor", allow_int16_state: bool = False) -> str | None:
    """Why ``t`` keeps an op off the Edge TPU, or None. ``role`` names it in the message ('input', 'output')."""
    label = f"{role} {t.name or t.index!r} ({t.dtype} {_shape(t)})"
    if t.is_constant:
        if t.dtype in _FLOAT_TYPES:
            return f"float constant {label}: weights must be quantized to int8/uint8"
        return None  # int32 bias, int32/int64 shape/axis parameters are fine
    if t.dtype not in _QUANT_TYPES and not (allow_int16_state and t.is_variable and t.dtype == "INT16"):
        if t.dtype in _FLOAT_TYPES:
            return f"float tensor {label}: the Edge TPU needs int8/uint8 tensors (full-integer quantization)"
        return f"{t.dtype} tensor {label}: the Edge TPU needs int8/uint8 tensors"
    if t.is_dynamic:
        sig = "x".join("?" if d < 0 else str(d) for d in t.shape_signature)
        return f"dynamic shape {sig} of {role} {t.name or t.index!r}: tensor sizes must be fixed at compile time"
    if not rank_ok(t.shape):
        if not t.shape:
            return f"scalar {label}: tensors must have rank 1 to 3"
        return (
            f"unsupported rank: {label} has rank {len(t.shape)}; only the innermost 3 dimensions may be larger than 1"
        )
    return None


def _op_tensors(op: OperatorInfo, g: SubgraphInfo):
    for role, ids in (("input", op.inputs), ("output", op.outputs)):
        for i in ids:
            if i >= 0:
                t = g.tensor(i)
                if t is not None:
                    yield role, t


# ---------------------------------------------------------------------------------------------- op rules
def _axes(op: OperatorInfo, g: SubgraphInfo, rank: int, input_index: int = 1) -> tuple[int, ...] | None:
    if len(op.inputs) <= input_index or op.inputs[input_index] < 0:
        return None
    t = g.tensor(op.inputs[input_index])
    if t is None or t.const_values is None:
        return None
    return tuple(a + rank if a < 0 else a for a in t.const_values)


def _in(op: OperatorInfo, g: SubgraphInfo, k: int = 0) -> TensorInfo | None:
    if len(op.inputs) > k and op.inputs[k] >= 0:
        return g.tensor(op.inputs[k])
    return None


def _out(op: OperatorInfo, g: SubgraphInfo, k: int = 0) -> TensorInfo | None:
    if len(op.outputs) > k and op.outputs[k] >= 0:
        return g.tensor(op.outputs[k])
    return None


def _fused(op: OperatorInfo) -> str:
    return str(op.options.get("fused_activation_function", "NONE"))


def _rule_no_fused_activation(op, g):
    act = _fused(op)
    if act not in ("NONE", "0"):
        return f"{op.opcode} with a fused {act} activation is not supported (no fused activation allowed)"
    return None


def _rule_concatenation(op, g):
    msg = _rule_no_fused_activation(op, g)
    if msg:
        return msg
    consts = [t for t in (g.tensor(i) for i in op.inputs if i >= 0) if t is not None and t.is_constant]
    if consts and (len(op.inputs) != 2 or not all(t.const_all_zero for t in consts)):
        return "CONCATENATION with a constant input is only supported as a zero-padding (2 inputs, constant all zeros)"
    return None


def _rule_same_dilation(op, g):
    dw, dh = op.options.get("dilation_w_factor", 1), op.options.get("dilation_h_factor", 1)
    if dw != dh:
        return f"{op.opcode} with different dilation in x and y ({dw} vs {dh}) is not supported"
    return None


def _rule_fully_connected(op, g):
    fmt = str(op.options.get("weights_format", "DEFAULT"))
    if fmt not in ("DEFAULT", "0"):
        return f"FULLY_CONNECTED weights format {fmt} is not supported (only the default format)"
    out = _out(op, g)
    if out is not None and len(_squeeze_leading(out.shape)) > 1:
        return f"FULLY_CONNECTED output {_shape(out)} is not one-dimensional"
    return None


def _batch_reduction(op, g, what: str):
    x = _in(op, g)
    if x is None:
        return None
    axes = _axes(op, g, x.rank)
    if axes is not None and x.rank >= 2 and 0 in axes:
        return f"{what} over the batch dimension is not supported"
    return None


def _rule_mean(op, g):
    msg = _batch_reduction(op, g, "MEAN")
    if msg:
        return msg
    x = _in(op, g)
    axes = _axes(op, g, x.rank) if x is not None else None
    if x is not None and axes is not None and x.rank >= 1 and (x.rank - 1) in axes and x.shape[-1] % 4:
        return f"MEAN over the z (channel) dimension needs a depth that is a multiple of 4, got {x.shape[-1]}"
    return None


def _rule_reduce_minmax(op, g):
    return _batch_reduction(op, g, op.opcode)


def _rule_pack(op, g):
    out = _out(op, g)
    axis = int(op.options.get("axis", 0))
    if out is not None and axis < 0:
        axis += out.rank
    if out is not None and out.rank >= 2 and axis == 0:
        return "PACK along the batch dimension is not supported"
    return None


def _rule_pad(op, g):
    x = _in(op, g)
    p = _in(op, g, 1)
    if x is not None and p is not None and p.const_values is not None and x.rank >= 2 and len(p.const_values) >= 2:
        if any(p.const_values[:2]):
            return "PAD in the batch dimension is not supported"
    return None


def _rule_prelu(op, g):
    alpha = _in(op, g, 1)
    if alpha is not None and len(_squeeze_leading(alpha.shape)) > 1:
        return f"PRELU alpha {_shape(alpha)} must be one-dimensional (only the innermost dimension larger than 1)"
    return None


def _rule_softmax(op, g):
    x = _in(op, g)
    if x is None:
        return None
    if len(_squeeze_leading(x.shape)) > 1:
        return f"SOFTMAX input {_shape(x)} is not one-dimensional"
    if x.size > _SOFTMAX_MAX:
        return f"SOFTMAX input has {x.size} elements; at most {_SOFTMAX_MAX} are supported"
    return None


def _rule_resize(op, g):
    for role, t in (("input", _in(op, g)), ("output", _out(op, g))):
        if t is not None and len(_squeeze_leading(t.shape)) != 3:
            return (
                f"{op.opcode} {role} {_shape(t)} is not a 3-D (height x width x channels) tensor"
            )
    return None


_OP_RULES: dict[str, Callable[[OperatorInfo, SubgraphInfo], str | None]] = {
    "AVERAGE_POOL_2D": _rule_no_fused_activation,
    "MAX_POOL_2D": _rule_no_fused_activation,
    "CONCATENATION": _rule_concatenation,
    "CONV_2D": _rule_same_dilation,
    "DEPTHWISE_CONV_2D": _rule_same_dilation,
    "FULLY_CONNECTED": _rule_fully_connected,
    "MEAN": _rule_mean,
    "REDUCE_MAX": _rule_reduce_minmax,
    "REDUCE_MIN": _rule_reduce_minmax,
    "PACK": _rule_pack,
    "PAD": _rule_pad,
    "PRELU": _rule_prelu,
    "SOFTMAX": _rule_softmax,
    "RESIZE_BILINEAR": _rule_resize,
    "RESIZE_NEAREST_NEIGHBOR": _rule_resize,
}


def op_problem(op: OperatorInfo, g: SubgraphInfo) -> str | None:
    """Why ``op`` cannot be mapped to the Edge TPU (one line), or None when the rules allow it."""
    if op.is_custom:
        return f"custom op {op.opcode!r} never maps to the Edge TPU"
    lstm = op.opcode in _LSTM_OPS
    for role, t in _op_tensors(op, g):
        msg = tensor_problem(t, role=role, allow_int16_state=lstm)
        if msg:
            return msg
    if op.opcode not in SUPPORTED_OPS:
        return f"{op.opcode} is not supported by the Edge TPU"
    rule = _OP_RULES.get(op.opcode)
    return rule(op, g) if rule else None


def op_caveat(op: OperatorInfo, g: SubgraphInfo) -> str | None:
    """A documented 'may not map' condition the rules cannot decide (sizes, precision)."""
    if op.opcode in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        return f"{op.opcode} may still not map depending on input/output size (precision loss)"
    if op.opcode == "RESHAPE":
        t = _in(op, g)
        if t is not None and t.size >= 1 << 20:
            return "RESHAPE of a large tensor may not map"
    return None
