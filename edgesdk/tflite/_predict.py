"""``predict_edgetpu``: the Edge TPU mapping of a model, read from a compiled model or predicted from the rules."""

from __future__ import annotations

from ._compiled import compiled_report
from ._edgetpu import _SRAM_BYTES
from ._placement import CPU, EDGETPU, EdgeTpuReport, OpPlacement
from ._types import ModelInfo
from ._walk import predict_subgraph

__all__ = ["predict_edgetpu"]


def predict_edgetpu(info: ModelInfo) -> EdgeTpuReport:
    """The Edge TPU mapping of a model: predicted from the rules, or read from a compiled model.

    ``report.to_dict()`` gives ``{compiled, mapped_ops, cpu_ops, first_unmapped, ...}``.
    """
    if info.is_edgetpu_compiled:
        return compiled_report(info)
    placements, cut, caveats = predict_subgraph(info.main)
    for g in info.subgraphs[1:]:
        for op in g.operators:
            placements.append(
                OpPlacement(op.index, op.opcode, CPU, "More than one subgraph is not supported", subgraph=g.index)
            )
    n_tpu = sum(p.target == EDGETPU for p in placements)
    notes = ["predicted from the Edge TPU compiler's documented rules (not a compilation)"]
    if n_tpu == 0:
        notes.append("nothing maps to the Edge TPU")
    if info.parameter_bytes > _SRAM_BYTES:
        notes.append(
            f"{info.parameter_bytes / 2**20:.1f} MiB of parameters exceed the 8 MB on-chip memory: "
            "part will stream from host memory"
        )
    return EdgeTpuReport(
        compiled=False,
        ops=tuple(placements),
        first_unmapped=cut,
        caveats=tuple(caveats),
        note="; ".join(notes),
        edgetpu_segments=1 if n_tpu else 0,
    )
