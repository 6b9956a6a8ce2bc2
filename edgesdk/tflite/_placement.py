"""Where a model's operators run (Edge TPU or CPU): the result types shared by the rule-based predictor
(``_edgetpu``) and the reader of compiled models (``_compiled``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ._types import EDGETPU_CUSTOM_OP

__all__ = ["CPU", "EDGETPU", "EdgeTpuReport", "OpPlacement"]

CPU, EDGETPU = "cpu", "edgetpu"


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class OpPlacement:
    """Where one operator runs: ``target`` is 'edgetpu' or 'cpu'; ``reason`` says why it is on the CPU."""

    index: int
    op: str
    target: str
    reason: str | None = None
    subgraph: int = 0

    def to_dict(self) -> dict:
        d = {"index": self.index, "op": self.op, "target": self.target, "reason": self.reason}
        if self.subgraph:
            d["subgraph"] = self.subgraph
        return d


@dataclass(frozen=True)
class EdgeTpuReport:
    """Predicted (or, for a compiled model, actual) split of a model between the Edge TPU and the CPU."""

    compiled: bool
    ops: tuple[OpPlacement, ...]
    first_unmapped: OpPlacement | None = None
    caveats: tuple[OpPlacement, ...] = ()
    note: str = ""
    edgetpu_segments: int = 0

    @property
    def mapped_ops(self) -> dict[str, int]:
        """{OP: count} of ops on the Edge TPU (for a compiled model: {} since the custom op hides them)."""
        return dict(Counter(p.op for p in self.ops if p.target == EDGETPU and p.op != EDGETPU_CUSTOM_OP))

    @property
    def cpu_ops(self) -> dict[str, int]:
        return dict(Counter(p.op for p in self.ops if p.target == CPU))

    def to_dict(self) -> dict:
        fu = self.first_unmapped
        return {
            "compiled": self.compiled,
            "mapped_ops": self.mapped_ops,
            "cpu_ops": self.cpu_ops,
            "first_unmapped": {"op": fu.op, "index": fu.index, "reason": fu.reason} if fu else None,
            "edgetpu_segments": self.edgetpu_segments,
            "caveats": [{"index": c.index, "op": c.op, "note": c.reason} for c in self.caveats],
            "note": self.note,
            "ops": [p.to_dict() for p in self.ops],
        }
