"""The step kinds a recipe file may use, by name (``[[steps]] kind = ...``)."""

from __future__ import annotations

from ._distill import DistillStep
from ._edgetpu import EdgetpuStep
from ._finetune import FinetuneStep
from ._prune import PruneStep
from ._qat import QatStep
from ._quantize import QuantizeStep

__all__ = ["STEP_KINDS"]

STEP_KINDS: dict[str, type] = {cls.kind: cls for cls in (FinetuneStep, PruneStep, DistillStep, QatStep, QuantizeStep,
                                                       EdgetpuStep)}
