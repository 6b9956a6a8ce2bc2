"""AdaRound-style weight rounding (Nagel et al., "Up or Down? Adaptive Rounding", 2020) for the converter's int8.

TFLite folds a conv's batch norm into the kernel and quantizes it per output channel, symmetric, levels
-127..127, scale = max|W_o| / 127, by rounding to nearest. The fold is a per-output-channel factor, so the
grid of the unfolded Keras kernel is the same (scale max|W_o| / 127). Here each weight's rounding (down or up)
is chosen on calibration data instead: per layer, a soft rounding h(V) in [0, 1] (rectified sigmoid) minimises
the BN-folded output error on the calibration inputs, sum_o (f_o s_o)^2 d_o^T G d_o with d = floor(W/s) + h - W/s
and G the Gram matrix of the layer's input patches (all calibration positions, computed once), plus a
regulariser that pushes h to 0 or 1 (beta annealed 20 -> 2). The kernel is then replaced by the on-grid values
s * q, so the converter's rounding to nearest reproduces q exactly (the max-magnitude weight stays at +-127, so
the scale does not move). A column is kept at nearest rounding if the learned rounding is not better on G.
Conv2D and DepthwiseConv2D (multiplier 1) are rounded; Dense layers are left to the converter.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["adaround", "int8_grid"]

_ZETA, _GAMMA = 1.1, -0.1


@dataclass
class _Target:
    name: str
    depthwise: bool
    factor: np.ndarray  # (O,) BN fold factor (1 without a BN)


def int8_grid(kernel: np.ndarray, depthwise: bool) -> tuple[np.ndarray, np.ndarray]:
    """The kernel as (K, O) columns per quantized output channel and the per-column scale (O,) of TFLite's
    symmetric per-channel int8 (max|W_o| / 127). Conv2D (kh, kw, in, out): K = kh*kw*in; depthwise (kh, kw, C, 1):
    K = kh*kw, O = C."""
    m = kernel.reshape(-1, kernel.shape[2]) if depthwise else kernel.reshape(-1, kernel.shape[-1])
    m = m.astype(np.float64)
    s = np.abs(m).max(axis=0) / 127.0
    return m, np.where(s == 0, 1.0, s)


def _targets(model, dense: bool = False) -> list[_Target]:
    """The layers whose kernels are rounded: Conv2D, DepthwiseConv2D (multiplier 1), and with ``dense`` Dense
    (TFLite quantizes FULLY_CONNECTED per output channel too)."""
    import tf_keras

    out = []
    for layer in model.layers:
        dw = isinstance(layer, tf_keras.layers.DepthwiseConv2D)
        if dense and type(layer) is tf_keras.layers.Dense:
            out.append(_Target(layer.name, False, np.ones(layer.units)))
            continue
        if not isinstance(layer, (tf_keras.layers.Conv2D, tf_keras.layers.DepthwiseConv2D)) or (
                dw and layer.depth_multiplier != 1):
            continue
        if layer.dilation_rate != (1, 1) or getattr(layer, "groups", 1) != 1:
            continue
        nodes = layer._outbound_nodes  # noqa: SLF001
        k = layer.get_weights()[0]
        factor = np.ones(k.shape[2] if dw else k.shape[-1])
        nxt = nodes[0].outbound_layer if len(nodes) == 1 else None
        if isinstance(nxt, tf_keras.layers.BatchNormalization):
            g = nxt.gamma.numpy() if nxt.gamma is not None else 1.0
            factor = g / np.sqrt(nxt.moving_variance.numpy() + nxt.epsilon)
        out.append(_Target(layer.name, dw, np.asarray(factor, np.float64)))
    return out


def _patches(tf, x, layer):
    if not hasattr(layer, "kernel_size"):  # Dense
        return x
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    if (kh, kw) == (1, 1):
        return x[:, ::sh, ::sw, :] if (sh, sw) != (1, 1) else x
    return tf.image.extract_patches(x, [1, kh, kw, 1], [1, sh, sw, 1], [1, 1, 1, 1], layer.padding.upper())


def _grams(model, targets: list[_Target], calib: np.ndarray, batch: int) -> list[np.ndarray]:
    """Per target: the Gram matrix of its input patches over all calibration positions, (K, K) or (C, K, K)."""
    import tensorflow as tf
    import tf_keras

    layers = [model.get_layer(t.name) for t in targets]
    probe = tf_keras.Model(model.inputs, [layer.input for layer in layers])
    grams: list = [None] * len(targets)
    for i in range(0, len(calib), batch):
        outs = probe(calib[i:i + batch], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for k, (t, layer, x) in enumerate(zip(targets, layers, outs)):
            p = _patches(tf, x, layer)
            if t.depthwise:
                c = int(x.shape[-1])
                p = tf.transpose(tf.reshape(p, [-1, layer.kernel_size[0] * layer.kernel_size[1], c]), [2, 0, 1])
                g = tf.matmul(p, p, transpose_a=True).numpy()  # (C, K, K)
            else:
                p = tf.reshape(p, [-1, int(p.shape[-1])])
                g = tf.matmul(p, p, transpose_a=True).numpy()
            grams[k] = g.astype(np.float64) if grams[k] is None else grams[k] + g
    return grams


def _gd(g: np.ndarray, d: np.ndarray, depthwise: bool) -> np.ndarray:
    """G d per column: (K, O)."""
    return np.einsum("okl,lo->ko", g, d) if depthwise else g @ d


def _round_layer(m: np.ndarray, s: np.ndarray, f: np.ndarray, g: np.ndarray, depthwise: bool, iters: int,
                 lr: float, lam: float) -> tuple[np.ndarray, float, float]:
    """Learned integer levels q (K, O) for the columns m with scales s; the relative output error of nearest
    rounding and of q (1.0 = nearest)."""
    x = m / s
    base = np.floor(x)
    rest = x - base
    w2 = (f * s) ** 2  # folded output units per grid step, squared
    d0 = np.round(x) - x

    def err(d: np.ndarray) -> np.ndarray:  # per column
        return w2 * np.sum(d * _gd(g, d, depthwise), axis=0)

    e0 = err(d0)
    norm = max(float(e0.sum()), 1e-30)
    p = np.clip((rest - _GAMMA) / (_ZETA - _GAMMA), 1e-4, 1 - 1e-4)
    v = np.log(p / (1 - p))
    mom, vel = np.zeros_like(v), np.zeros_like(v)
    warm = iters // 5
    for it in range(iters):
        sig = 1.0 / (1.0 + np.exp(-v))
        hr = sig * (_ZETA - _GAMMA) + _GAMMA
        h = np.clip(hr, 0.0, 1.0)
        d = base + h - x
        grad_h = 2.0 * w2 * _gd(g, d, depthwise) / norm
        if it >= warm:
            beta = 20.0 + (2.0 - 20.0) * (it - warm) / max(iters - warm - 1, 1)
            t = 2.0 * h - 1.0
            grad_h = grad_h - lam * beta * np.abs(t) ** (beta - 1) * np.sign(t) * 2.0 / h.size
        grad_v = grad_h * sig * (1 - sig) * (_ZETA - _GAMMA) * ((hr > 0) & (hr < 1))
        mom = 0.9 * mom + 0.1 * grad_v
        vel = 0.999 * vel + 0.001 * grad_v ** 2
        v -= lr * (mom / (1 - 0.9 ** (it + 1))) / (np.sqrt(vel / (1 - 0.999 ** (it + 1))) + 1e-8)
    h = np.clip((1.0 / (1.0 + np.exp(-v))) * (_ZETA - _GAMMA) + _GAMMA, 0.0, 1.0)
    q = base + (h >= 0.5)
    near = np.round(x)
    top = np.abs(x).argmax(axis=0)  # the max-magnitude weight defines the scale: keep it at +-127
    cols = np.arange(x.shape[1])
    q[top, cols] = near[top, cols]
    q = np.clip(q, -127, 127)
    e1 = err(q - x)
    worse = e1 > e0
    q[:, worse] = near[:, worse]
    return q, 1.0, float(np.minimum(e1, e0).sum() / norm)


def adaround(model, calib: np.ndarray, *, images: int = 64, iters: int = 200, lr: float = 0.1,
             lam: float = 0.1, batch: int = 8) -> tuple[object, dict]:
    """A copy of the tf_keras functional ``model`` whose conv kernels sit on the converter's int8 grid with
    learned rounding, and details (layers, mean relative output error vs nearest rounding, seconds).
    ``calib``: (n, h, w, c) float32 images; the first ``images`` are used."""
    import tf_keras

    t0 = time.perf_counter()
    clone = tf_keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    targets = _targets(clone)
    if not targets:
        return clone, {"layers": 0}
    grams = _grams(clone, targets, calib[:images], batch)
    t_gram = time.perf_counter() - t0
    rel = []
    for t, g in zip(targets, grams):
        layer = clone.get_layer(t.name)
        w = layer.get_weights()
        m, s = int8_grid(w[0], t.depthwise)
        q, _, r = _round_layer(m, s, t.factor, g, t.depthwise, iters, lr, lam)
        w[0] = (q * s).astype(np.float32).reshape(w[0].shape)
        layer.set_weights(w)
        rel.append(r)
    secs = time.perf_counter() - t0
    log.info("adaround: %d layers, output error %.3f of nearest rounding (median), %.1f s", len(targets),
             float(np.median(rel)), secs)
    return clone, {"layers": len(targets), "median_relative_error": float(np.median(rel)),
                   "gram_seconds": round(t_gram, 1), "seconds": round(secs, 1)}
