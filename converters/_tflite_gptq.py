"""GPTQ rounding (``_gptq.py``) of a float ``.tflite``'s convolution kernels, before the replay is quantized.

The TFLite converter rounds each kernel to the nearest level of its per-channel int8 grid (max|W_o| / 127).
On the int8 BlazeFace that rounding alone moves the score logits near the threshold by std 0.13
(benchmarks/results/convert/face_int8_error.md: about a third of the int8 error). Here every CONV_2D and
DEPTHWISE_CONV_2D (multiplier 1) of the replayed graph gets its kernel rounded sequentially with error feedback
on the same grid, against the Gram matrix of its input patches on the calibration inputs (the float replay's
activations): the same solver, acceptance rule (per output channel, only where it beats nearest rounding) and
grid-preserving maximum as the Keras path. The kernels come back on the grid, so the converter's own rounding
reproduces them exactly.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["gptq_replayed"]


def _patches(tf, x, op, kh: int, kw: int) -> np.ndarray:
    """(positions, kh * kw * c) float64 input patches of convolution ``op`` on ``x`` (n, h, w, c), in the
    (kh, kw, c) order of a TFLite kernel row."""
    o = op.options
    stride = [1, o.get("stride_h", 1), o.get("stride_w", 1), 1]
    if kh == kw == 1 and stride == [1, 1, 1, 1]:
        return x.numpy().reshape(-1, int(x.shape[-1])).astype(np.float64)
    p = tf.image.extract_patches(x, [1, kh, kw, 1], stride, [1, o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1), 1],
                                 "SAME" if o.get("padding") == "SAME" else "VALID")
    return p.numpy().reshape(-1, int(p.shape[-1])).astype(np.float64)


def _targets(g) -> list:
    return [op for op in g.operators if op.opcode == "CONV_2D"
            or (op.opcode == "DEPTHWISE_CONV_2D" and op.options.get("depth_multiplier", 1) in (0, 1))]


def gptq_replayed(path: str | Path, info, weights: dict[int, np.ndarray], calib: np.ndarray,
                  clip_outputs: dict[int, float] | None = None, *, images: int = 64, batch: int = 16,
                  damp: float = 0.01) -> tuple[dict[int, np.ndarray], dict]:
    """``weights`` (tensor index -> float array, as the replay takes them) with every conv kernel rounded by GPTQ
    on its int8 grid, and details (layers, median output error relative to nearest rounding, seconds).
    ``calib``: (n, h, w, c) float32 preprocessed inputs, the first ``images`` used; ``clip_outputs`` as for
    :func:`rebuild_tflite`; ``damp``: the Gram diagonal added, as a fraction of its mean."""
    from ._env import import_tf
    from ._gptq import gptq_levels
    from ._tflite_graph import clip_heads, custom_options, run_ops

    t0 = time.perf_counter()
    tf = import_tf()
    g = info.main
    targets = _targets(g)
    if not targets:
        return weights, {"layers": 0}
    consts = {i: tf.constant(v) for i, v in weights.items()}
    clip, custom = clip_heads(g, clip_outputs), custom_options(Path(path), g)
    grams: dict[int, np.ndarray] = {}
    x_in = info.inputs[0].index
    for i in range(0, min(len(calib), images), batch):
        vals = run_ops(tf, g, {**consts, x_in: tf.constant(calib[i:min(i + batch, images)])}, clip, custom, Path(path).name)
        for op in targets:
            _, kh, kw, _ = weights[op.inputs[1]].shape
            p = _patches(tf, vals[op.inputs[0]], op, kh, kw)
            if op.opcode == "CONV_2D":
                gram = p.T @ p  # (K, K)
            else:  # per channel: (C, kh*kw, kh*kw)
                p = p.reshape(len(p), kh * kw, -1)
                gram = np.einsum("nkc,nlc->ckl", p, p)
            grams[op.index] = grams[op.index] + gram if op.index in grams else gram
    out = dict(weights)
    rel = []
    for op in targets:
        w = weights[op.inputs[1]].astype(np.float64)  # CONV_2D (O, kh, kw, I); depthwise (1, kh, kw, C)
        depthwise = op.opcode == "DEPTHWISE_CONV_2D"
        m = w.reshape(-1, w.shape[-1]) if depthwise else w.reshape(w.shape[0], -1).T  # (K, O) columns
        s = np.abs(m).max(axis=0) / 127.0
        s = np.where(s == 0, 1.0, s)
        q, r = gptq_levels(m, s, grams[op.index], depthwise, damp)
        wq = q * s
        out[op.inputs[1]] = (wq.reshape(w.shape) if depthwise else wq.T.reshape(w.shape)).astype(np.float32)
        rel.append(r)
    secs = time.perf_counter() - t0
    details = {"layers": len(targets), "images": int(min(len(calib), images)),
               "median_relative_error": round(float(np.median(rel)), 3), "seconds": round(secs, 1)}
    log.info("GPTQ rounding of %d replayed kernels: output error %.3f of nearest rounding (median), %.1f s",
             len(targets), details["median_relative_error"], secs)
    return out, details
