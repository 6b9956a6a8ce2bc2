"""What a classifier's output holds, read from the graph: the op that produces it."""

from __future__ import annotations

from ._types import ModelInfo

__all__ = ["final_activation", "classifier_decoder"]

# Ops that move or re-type values without changing what they mean (followed back to the real producer).
_PASS_THROUGH = {"RESHAPE", "SQUEEZE", "QUANTIZE", "DEQUANTIZE", "IDENTITY", "CAST"}


def final_activation(info: ModelInfo, output: int = 0) -> str | None:
    """``"SOFTMAX"`` / ``"LOGISTIC"`` when that op produces the main graph's output ``output`` (through
    reshapes and (de)quantizations), else None (the output holds logits or something else)."""
    g = info.main
    if not 0 <= output < len(g.outputs):
        return None
    producer = {t: op for op in g.operators for t in op.outputs}
    tensor = g.outputs[output]
    for _ in range(len(g.operators)):
        op = producer.get(tensor)
        if op is None:
            return None
        if op.opcode in ("SOFTMAX", "LOGISTIC"):
            return op.opcode
        if op.opcode not in _PASS_THROUGH or not op.inputs:
            return None
        tensor = op.inputs[0]
    return None


def classifier_decoder(info: ModelInfo) -> str:
    """The bundle decoder for a classifier: ``softmax`` (ends in SOFTMAX), ``probabilities`` (ends in
    LOGISTIC: independent per-class probabilities), else ``logits`` (the runtime applies a softmax)."""
    act = final_activation(info)
    return {"SOFTMAX": "softmax", "LOGISTIC": "probabilities"}.get(act or "", "logits")
