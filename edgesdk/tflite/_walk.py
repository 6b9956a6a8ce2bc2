"""The Edge TPU compiler's walk over a graph, in execution order: where each op runs (rules in ``_edgetpu``)."""

from __future__ import annotations

from ._edgetpu import _FLOAT_TYPES, _QUANT_TYPES, _in, _out, op_caveat, op_problem
from ._placement import CPU, EDGETPU, OpPlacement
from ._types import OperatorInfo, SubgraphInfo

__all__ = ["predict_subgraph"]


def _is_input_quantize(op: OperatorInfo, g: SubgraphInfo) -> bool:
    """QUANTIZE of a float model input to int8/uint8: stays on the CPU ahead of the Edge TPU, no cut."""
    if op.opcode != "QUANTIZE":
        return False
    x, y = _in(op, g), _out(op, g)
    return (
        x is not None and y is not None and x.index in g.inputs and not x.is_constant
        and x.dtype in _FLOAT_TYPES and y.dtype in _QUANT_TYPES
    )


def _is_output_dequantize(op: OperatorInfo, g: SubgraphInfo) -> bool:
    """DEQUANTIZE whose results are all model outputs: stays on the CPU after the Edge TPU, no cut."""
    if op.opcode != "DEQUANTIZE":
        return False
    x = _in(op, g)
    outs = [i for i in op.outputs if i >= 0]
    return (
        x is not None and not x.is_constant and x.dtype in _QUANT_TYPES
        and bool(outs) and all(i in g.outputs for i in outs)
    )


# ---------------------------------------------------------------------------------------------- walk
def predict_subgraph(g: SubgraphInfo) -> tuple[list[OpPlacement], OpPlacement | None, list[OpPlacement]]:
    """Place the ops of one graph in execution order; returns (placements, first unmapped op, caveats).

    Ops that cannot map *before the first op that can* (a CAST of a uint8 input ahead of the first QUANTIZE)
    stay on the CPU and mapping starts after them (rule observed in compiled models, see the module); only an
    unmappable op after the mapping started cuts the graph. When nothing maps, the first op is the cut."""
    placements: list[OpPlacement] = []
    caveats: list[OpPlacement] = []
    cut: OpPlacement | None = None
    leading: OpPlacement | None = None  # the first op left on the CPU ahead of the mapping
    started = False
    tainted: set[int] = set()  # tensors computed from the cut op (only to explain the reason)
    for op in g.operators:
        if cut is not None:
            uses = any(i in tainted for i in op.inputs)
            tainted.update(op.outputs if uses else ())
            how = "uses its result" if uses else "does not use its result, but the compiler cuts in execution order"
            placements.append(
                OpPlacement(op.index, op.opcode, CPU, f"after the first unmapped op #{cut.index} {cut.op} ({how})")
            )
            continue
        if _is_input_quantize(op, g):
            placements.append(OpPlacement(op.index, op.opcode, CPU, "quantizes a float model input (runs on the CPU)"))
            continue
        if _is_output_dequantize(op, g):
            placements.append(OpPlacement(op.index, op.opcode, CPU, "dequantizes a model output (runs on the CPU)"))
            continue
        problem = op_problem(op, g)
        if problem and not started:
            p = OpPlacement(op.index, op.opcode, CPU, f"{problem}; ahead of the first mappable op: stays on the CPU "
                            "and the mapping starts after it")
            placements.append(p)
            leading = leading or OpPlacement(op.index, op.opcode, CPU, problem)
            continue
        if problem:
            cut = OpPlacement(op.index, op.opcode, CPU, problem)
            placements.append(cut)
            tainted.update(op.outputs)
            continue
        started = True
        placements.append(OpPlacement(op.index, op.opcode, EDGETPU))
        caveat = op_caveat(op, g)
        if caveat:
            caveats.append(OpPlacement(op.index, op.opcode, EDGETPU, caveat))
    if cut is None and not started and leading is not None:
        cut = leading  # nothing maps: the first op is where the model leaves the Edge TPU
    return placements, cut, caveats
