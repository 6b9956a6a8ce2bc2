"""Cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019) of conv -> BN -> ReLU6 -> conv pairs.

A conv's output channel i can be divided by s_i (its kernel and batch norm's gamma/beta) if the next conv's
input channel i is multiplied by s_i: ReLU is scale-equivariant, so the float function is unchanged, and
s_i = sqrt(r1_i / r2_i) makes both layers' weight ranges of channel i equal (r1: BN-folded kernel range of the
first layer's output channel, r2: the second layer's range over input channel i).

ReLU6 is not scale-equivariant: ``clip(y/s, 0, 6) * s = clip(y, 0, 6s)``. Two ways around it:
- ``replace_relu6=False`` (safe): a channel is rescaled only as far as the calibration images show it exact:
  a channel that never reaches 6 (max m_i <= 6 over the images) may take any s_i >= m_i / 6; a channel that
  saturates keeps s_i = 1;
- ``replace_relu6=True``: the ReLU6 between the pairs becomes ReLU, and s is free (this changes the float model:
  measure it).
Chains (expand -> depthwise -> project) are swept a few times, as in the paper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["equalize"]


@dataclass
class _Pair:
    first: Any  # Conv2D / DepthwiseConv2D
    bn: Any  # its BatchNormalization
    relu: Any  # the ReLU between
    second: Any  # Conv2D / DepthwiseConv2D fed by the ReLU (maybe through a ZeroPadding2D)


def balance_scale(r1: np.ndarray, r2: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """Per-channel s = sqrt(r1 / r2) (1 where either range is <= ``eps``): dividing channel c of the first
    layer's output by s_c and multiplying the second layer's weights on it by s_c leaves both at sqrt(r1 * r2).
    r1, r2: (C,) non-negative ranges (of the first layer's output or weights, of the second layer's weights)."""
    r1, r2 = np.asarray(r1, np.float64), np.asarray(r2, np.float64)
    ok = (r1 > eps) & (r2 > eps)
    return np.where(ok, np.sqrt(np.where(ok, r1, 1.0) / np.where(ok, r2, 1.0)), 1.0)


def _single_next(layer):
    nodes = layer._outbound_nodes  # noqa: SLF001
    return nodes[0].outbound_layer if len(nodes) == 1 else None


def find_pairs(model) -> list[_Pair]:
    """Every conv -> BN -> ReLU(6) -> [ZeroPadding2D] -> conv chain of single-consumer layers of ``model``."""
    import tf_keras

    convs = (tf_keras.layers.Conv2D, tf_keras.layers.DepthwiseConv2D)
    pairs = []
    for layer in model.layers:
        if not isinstance(layer, convs) or getattr(layer, "depth_multiplier", 1) != 1:
            continue
        bn = _single_next(layer)
        if not isinstance(bn, tf_keras.layers.BatchNormalization):
            continue
        relu = _single_next(bn)
        if not isinstance(relu, tf_keras.layers.ReLU) or relu.negative_slope != 0 or relu.threshold != 0:
            continue
        nxt = _single_next(relu)
        if isinstance(nxt, tf_keras.layers.ZeroPadding2D):
            nxt = _single_next(nxt)
        if isinstance(nxt, convs) and getattr(nxt, "depth_multiplier", 1) == 1:
            pairs.append(_Pair(layer, bn, relu, nxt))
    return pairs


def _bn_factor(bn) -> np.ndarray:
    gamma = bn.gamma.numpy() if bn.gamma is not None else 1.0
    return gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)


def _out_range(conv, bn) -> np.ndarray:
    """(C,) range of the BN-folded kernel per output channel."""
    k = conv.get_weights()[0]
    k = k.reshape(k.shape[0], k.shape[1], 1, -1) if _is_dw(conv) else k
    return np.abs(k).max(axis=(0, 1, 2)) * np.abs(_bn_factor(bn))


def _in_range(conv, bn_after) -> np.ndarray:
    """(C,) range of the kernel over input channel i (a depthwise kernel: its BN-folded channel i)."""
    k = conv.get_weights()[0]
    if _is_dw(conv):
        r = np.abs(k).max(axis=(0, 1, 3))
        return r * np.abs(_bn_factor(bn_after)) if bn_after is not None else r
    return np.abs(k).max(axis=(0, 1, 3))


def _is_dw(conv) -> bool:
    import tf_keras

    return isinstance(conv, tf_keras.layers.DepthwiseConv2D)


def _scale_pair(p: _Pair, s: np.ndarray) -> None:
    """Divide p.first's output channel i by s_i (through its BN) and multiply p.second's input channel i by s_i."""
    bn = p.bn
    if bn.gamma is not None:
        bn.gamma.assign(bn.gamma.numpy() / s)
    if bn.beta is not None:
        bn.beta.assign(bn.beta.numpy() / s)
    w = p.second.get_weights()
    k = w[0]
    w[0] = (k * s[None, None, :, None]).astype(k.dtype)
    p.second.set_weights(w)


def _bn_after(layer):
    import tf_keras

    nxt = _single_next(layer)
    return nxt if isinstance(nxt, tf_keras.layers.BatchNormalization) else None


def _max_preact(model, pairs: list[_Pair], calib: np.ndarray, batch: int) -> list[np.ndarray]:
    """Per pair, (C,) max over the calibration images of the BN output feeding the ReLU6."""
    import tf_keras

    probe = tf_keras.Model(model.inputs, [p.bn.output for p in pairs])
    maxes: list = [None] * len(pairs)
    for i in range(0, len(calib), batch):
        outs = probe(calib[i:i + batch], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for k, o in enumerate(outs):
            m = np.asarray(o).max(axis=(0, 1, 2))
            maxes[k] = m if maxes[k] is None else np.maximum(maxes[k], m)
    return maxes


def _clone(model, replace_relu6: bool, names: set[str]):
    import tf_keras

    def clone_layer(layer):
        cfg = layer.get_config()
        if replace_relu6 and layer.name in names:
            cfg["max_value"] = None
        return layer.__class__.from_config(cfg)

    clone = tf_keras.models.clone_model(model, clone_function=clone_layer)
    clone.set_weights(model.get_weights())
    return clone


def equalize(model, calib: np.ndarray | None = None, *, replace_relu6: bool = False, sweeps: int = 4,
             batch: int = 25) -> tuple[object, dict]:
    """A copy of the tf_keras functional ``model`` with equalized conv pairs, and details (pairs, channels
    rescaled). ``calib`` (n, h, w, c) float32 images are needed unless ``replace_relu6`` (the safe mode bounds s
    by the ReLU6 inputs seen on them)."""
    pairs0 = find_pairs(model)
    relu_names = {p.relu.name for p in pairs0 if p.relu.max_value is not None}
    clone = _clone(model, replace_relu6, relu_names)
    pairs = [_Pair(*(clone.get_layer(x.name) for x in (p.first, p.bn, p.relu, p.second))) for p in pairs0]
    if not pairs:
        return clone, {"pairs": 0, "channels_rescaled": 0}
    bound: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(pairs)  # (lower, upper) for s per pair
    if not replace_relu6:
        if calib is None:
            raise ValueError("safe equalization needs calibration images")
        maxes = _max_preact(clone, pairs, calib, batch)
        for k, p in enumerate(pairs):
            if p.relu.max_value is None:
                continue
            cap = float(p.relu.max_value)
            sat = maxes[k] > cap
            lo = np.where(sat, 1.0, np.maximum(maxes[k], 1e-12) / cap)
            hi = np.where(sat, 1.0, np.inf)
            bound[k] = (lo, hi)
    cum = [np.ones(len(_out_range(p.first, p.bn))) for p in pairs]  # each channel's total s
    for _ in range(sweeps):
        for k, p in enumerate(pairs):
            r1 = _out_range(p.first, p.bn)
            r2 = _in_range(p.second, _bn_after(p.second))
            s = balance_scale(r1, r2)
            b = bound[k]
            if b is not None:
                lo, hi = b
                s = np.clip(s, lo, hi)
                bound[k] = (lo / s, hi / s)  # the pre-activation is now divided by s
            _scale_pair(p, s.astype(np.float32))
            cum[k] *= s
    moved = int(sum(np.sum(np.abs(c - 1) > 1e-3) for c in cum))
    log.info("cross-layer equalization: %d pairs, %d channels rescaled", len(pairs), moved)
    return clone, {"pairs": len(pairs), "channels": int(sum(len(c) for c in cum)), "channels_rescaled": moved,
                   "relu6_replaced": len(relu_names) if replace_relu6 else 0}
