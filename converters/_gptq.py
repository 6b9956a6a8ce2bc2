"""Sequential weight rounding with error feedback (GPTQ / Optimal Brain Quantization, Frantar et al. 2022) on
the converter's int8 grid: the same problem as AdaRound (``_adaround.py``: minimise a conv's BN-folded output
error d^T G d over its calibration input Gram matrix G, kernel left on the grid TFLite's per-channel int8 uses)
solved greedily instead of by gradient descent: weights are rounded one input row at a time (largest diag(G)
first) and the rounding error of each is pushed onto the not yet rounded weights through G's inverse, so later
weights may round up or down (or one level further) to cancel it. Closed form, no learning rate, seconds.
Per output channel the result is kept only if its error on G is below nearest rounding's, and the channel's
max-magnitude weight stays at +-127 so the converter's scale (max|W| / 127) and rounding reproduce it.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ._adaround import _grams, _targets, int8_grid

log = logging.getLogger(__name__)

__all__ = ["gptq_round"]


def _inv_chol_upper(h: np.ndarray) -> np.ndarray:
    """Upper Cholesky factor of H^-1 for (..., K, K) H (GPTQ's Hinv)."""
    hinv = np.linalg.inv(h)
    lower = np.linalg.cholesky(hinv)
    return np.swapaxes(lower, -1, -2)


def _damped(g: np.ndarray, damp: float) -> np.ndarray:
    k = g.shape[-1]
    diag = np.diagonal(g, axis1=-2, axis2=-1)
    mean = np.maximum(diag.mean(axis=-1, keepdims=True), 1e-12)
    h = g + np.eye(k) * (damp * mean)[..., None]
    return h + np.eye(k) * (diag == 0)[..., None]  # dead inputs: any weight is fine


def _gptq_columns(x: np.ndarray, g: np.ndarray, depthwise: bool, damp: float) -> np.ndarray:
    """Integer levels (K, O) for x (K, O) in grid units; g (K, K) shared, or (O, K, K) per column (depthwise)."""
    k_dim = x.shape[0]
    h = _damped(g, damp)
    if depthwise:  # per column: batch over O
        u = _inv_chol_upper(h)  # (O, K, K)
        w = x.copy()
        q = np.zeros_like(x)
        for k in range(k_dim):
            q[k] = np.clip(np.round(w[k]), -127, 127)
            err = (w[k] - q[k]) / u[:, k, k]
            w[k + 1:] -= u[:, k, k + 1:].T * err
        return q
    order = np.argsort(-np.diag(h))
    hp = h[np.ix_(order, order)]
    u = _inv_chol_upper(hp)
    w = x[order].copy()
    q = np.zeros_like(w)
    for k in range(k_dim):
        q[k] = np.clip(np.round(w[k]), -127, 127)
        err = (w[k] - q[k]) / u[k, k]
        w[k + 1:] -= np.outer(u[k, k + 1:], err)
    out = np.empty_like(q)
    out[order] = q
    return out


def _col_err(d: np.ndarray, g: np.ndarray, depthwise: bool) -> np.ndarray:
    gd = np.einsum("okl,lo->ko", g, d) if depthwise else g @ d
    return np.sum(d * gd, axis=0)


def gptq_levels(m: np.ndarray, s: np.ndarray, g: np.ndarray, depthwise: bool, damp: float = 0.01
                ) -> tuple[np.ndarray, float]:
    """Levels q (K, O) for the columns m with scales s, and the output error relative to nearest rounding."""
    x = m / s
    near = np.round(x)
    q = _gptq_columns(x, g, depthwise, damp)
    top = np.abs(x).argmax(axis=0)
    cols = np.arange(x.shape[1])
    q[top, cols] = near[top, cols]  # keeps the scale
    e0, e1 = _col_err(near - x, g, depthwise), _col_err(q - x, g, depthwise)
    worse = e1 > e0
    q[:, worse] = near[:, worse]
    return q, float(np.minimum(e0, e1).sum() / max(e0.sum(), 1e-30))


def gptq_round(model, calib: np.ndarray, *, images: int = 64, damp: float = 0.01, batch: int = 8,
               dense: bool = False) -> tuple[object, dict]:
    """A copy of the tf_keras functional ``model`` whose Conv2D/DepthwiseConv2D (and with ``dense`` Dense) kernels
    sit on the converter's int8 grid, rounded sequentially with error feedback; details (layers, median relative
    output error vs nearest rounding, seconds). ``calib``: (n, h, w, c) float32 images, the first ``images`` used;
    ``damp``: diagonal added to the Gram matrices, as a fraction of their mean diagonal."""
    import tf_keras

    t0 = time.perf_counter()
    clone = tf_keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    targets = _targets(clone, dense)
    if not targets:
        return clone, {"layers": 0}
    grams = _grams(clone, targets, calib[:images], batch)
    rel = []
    for t, g in zip(targets, grams):
        layer = clone.get_layer(t.name)
        w = layer.get_weights()
        m, s = int8_grid(w[0], t.depthwise)
        q, r = gptq_levels(m, s, g, t.depthwise, damp)  # the BN factor scales a whole column: no effect here
        w[0] = (q * s).astype(np.float32).reshape(w[0].shape)
        layer.set_weights(w)
        rel.append(r)
    secs = time.perf_counter() - t0
    log.info("sequential rounding: %d layers, output error %.3f of nearest rounding (median), %.1f s",
             len(targets), float(np.median(rel)), secs)
    return clone, {"layers": len(targets), "median_relative_error": float(np.median(rel)), "seconds": round(secs, 1)}
