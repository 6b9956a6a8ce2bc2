"""What an Edge TPU-compiled model (the output of ``edgetpu_compiler``) runs where.

The compiler replaces the ops it mapped with one custom op ``edgetpu-custom-op`` (one per segment) whose
options hold the compiled executable; which ops it holds is not recorded in the file, so ``mapped_ops`` is
empty and the report lists the ops left outside it, which run on the CPU.
"""

from __future__ import annotations

from ._placement import CPU, EDGETPU, EdgeTpuReport, OpPlacement
from ._types import EDGETPU_CUSTOM_OP, ModelInfo

__all__ = ["compiled_report", "is_edgetpu_compiled"]


def is_edgetpu_compiled(info: ModelInfo) -> bool:
    """True when the model holds an ``edgetpu-custom-op`` (made by edgetpu_compiler)."""
    return info.is_edgetpu_compiled


def compiled_report(info: ModelInfo) -> EdgeTpuReport:
    placements: list[OpPlacement] = []
    first: OpPlacement | None = None
    segments = 0
    for g in info.subgraphs:
        seen_tpu = False
        for op in g.operators:
            if op.opcode == EDGETPU_CUSTOM_OP:
                segments += 1
                seen_tpu = True
                placements.append(OpPlacement(op.index, op.opcode, EDGETPU, None, subgraph=g.index))
                continue
            where = "after" if seen_tpu else "before"
            p = OpPlacement(
                op.index, op.opcode, CPU, f"left on the CPU by edgetpu_compiler ({where} the Edge TPU op)",
                subgraph=g.index,
            )
            placements.append(p)
            if first is None and seen_tpu and g.index == 0:
                first = p
    n_cpu = sum(p.target == CPU for p in placements)
    note = (
        f"compiled by edgetpu_compiler: {segments} {EDGETPU_CUSTOM_OP} op(s) hold the mapped ops "
        f"(not listed in the file); {n_cpu} op(s) run on the CPU"
    )
    return EdgeTpuReport(
        compiled=True,
        ops=tuple(placements),
        first_unmapped=first,
        caveats=(),
        note=note,
        edgetpu_segments=segments,
    )
