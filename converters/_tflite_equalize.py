"""Cross-layer equalization of depthwise -> pointwise pairs before a float ``.tflite`` is quantized.

In BlazeFace-like networks a DEPTHWISE_CONV_2D without activation feeds a CONV_2D directly. int8 gives the
depthwise output ONE scale for all its channels (per tensor), and those channels span very different ranges
(BlazeFace: a few reach +-200, most stay within +-10), so most channels get a handful of int8 steps and the
noise adds up through the network (measured: the score logits' int8 error near the threshold had a std of
0.87 logits). Because nothing non-linear sits between the two ops, channel c of the depthwise output can be
divided by s_c and the pointwise weights reading it multiplied by s_c without changing the float model
(Nagel et al. 2019, "Data-free quantization through weight equalization and bias correction").

s_c = sqrt(a_c / w_c) equalizes a_c / s_c = w_c * s_c = sqrt(a_c * w_c): a_c the channel's activation range
on the calibration inputs (its 99.99th percentile of |x|), w_c the largest |weight| of the pointwise filter
on input c (the pointwise weights are quantized per output channel, so this trades the two evenly).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..tflite import OperatorInfo
from ._equalize import balance_scale

log = logging.getLogger(__name__)

__all__ = ["depthwise_pairs", "equalize_depthwise"]

_EPS = 1e-6


def depthwise_pairs(g) -> list[tuple[OperatorInfo, OperatorInfo]]:
    """(depthwise op, conv op) pairs of graph ``g`` (edgesdk.tflite subgraph) where a DEPTHWISE_CONV_2D without
    fused activation and depth multiplier 1 feeds exactly one CONV_2D and nothing else."""
    consumers: dict[int, list] = {}
    for op in g.operators:
        for i in op.inputs:
            if i >= 0:
                consumers.setdefault(i, []).append(op)
    outputs = set(g.outputs)
    pairs = []
    for op in g.operators:
        if op.opcode != "DEPTHWISE_CONV_2D" or op.options.get("fused_activation_function", "NONE") != "NONE":
            continue
        if op.options.get("depth_multiplier", 1) not in (0, 1) or op.outputs[0] in outputs:
            continue
        users = consumers.get(op.outputs[0], [])
        if len(users) == 1 and users[0].opcode == "CONV_2D" and users[0].inputs[0] == op.outputs[0]:
            pairs.append((op, users[0]))
    return pairs


def _channel_ranges(path: Path, tensors: list[int], calib: np.ndarray) -> dict[int, np.ndarray]:
    """99.99th percentile of |x| per channel (last axis) of each tensor over the calibration inputs."""
    from ._env import import_tf

    tf = import_tf()
    it = tf.lite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True, num_threads=1,
                             experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    seen: dict[int, list[np.ndarray]] = {t: [] for t in tensors}
    for x in calib:
        it.set_tensor(inp, x[None].astype(np.float32))
        it.invoke()
        for t in tensors:
            v = np.abs(it.get_tensor(t))
            seen[t].append(v.reshape(-1, v.shape[-1]))
    return {t: np.percentile(np.concatenate(v), 99.99, axis=0) for t, v in seen.items()}


def equalize_depthwise(path: str | Path, info, weights: dict[int, np.ndarray], calib: np.ndarray,
                       max_inputs: int = 64) -> tuple[dict[int, np.ndarray], dict]:
    """Weights of the float model at ``path`` (``weights``: tensor index -> float array, as the replay takes
    them) with every depthwise -> pointwise pair equalized on ``calib`` ((n, h, w, c) float32, preprocessed;
    the first ``max_inputs`` are used). Returns the new weights and a summary for the report."""
    g = info.main
    pairs = depthwise_pairs(g)
    if not pairs:
        return weights, {"pairs": 0}
    ranges = _channel_ranges(Path(path), [dw.outputs[0] for dw, _ in pairs], calib[:max_inputs])
    out = dict(weights)
    spread_before, spread_after = [], []
    for dw, pw in pairs:
        a = np.maximum(ranges[dw.outputs[0]].astype(np.float64), _EPS)
        wpw = out[pw.inputs[1]].astype(np.float64)  # (O, kh, kw, I)
        s = balance_scale(a, np.abs(wpw).max(axis=(0, 1, 2)), _EPS)
        out[dw.inputs[1]] = (out[dw.inputs[1]].astype(np.float64) / s).astype(np.float32)  # (1, kh, kw, C)
        if len(dw.inputs) > 2 and dw.inputs[2] >= 0:
            out[dw.inputs[2]] = (out[dw.inputs[2]].astype(np.float64) / s).astype(np.float32)
        out[pw.inputs[1]] = (wpw * s).astype(np.float32)
        spread_before.append(float(a.max() / np.median(a)))
        spread_after.append(float((a / s).max() / np.median(a / s)))
    summary = {"pairs": len(pairs), "inputs": int(min(len(calib), max_inputs)),
               "median_channel_spread_before": round(float(np.median(spread_before)), 2),
               "median_channel_spread_after": round(float(np.median(spread_after)), 2)}
    log.info("equalized %d depthwise -> conv pairs (max/median channel range %.1f -> %.1f)", len(pairs),
             summary["median_channel_spread_before"], summary["median_channel_spread_after"])
    return out, summary
