"""Bias correction (Nagel et al., "Data-Free Quantization", 2019, empirical variant) for int8 weights.

Rounding a conv's weights to int8 per output channel shifts the mean of its output by dW . E[x]; on depthwise
layers with few taps this shift is a sizeable fraction of the activation range. Before conversion, every
Conv2D/DepthwiseConv2D followed by a BatchNormalization gets that expected shift, measured with the
calibration images (E[x] per input channel), folded into the batch norm's moving mean, so the quantized model's
outputs are centred where the float model's are. The weights the converter quantizes stay unchanged.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["bias_correct"]


def _quant_error(kernel: np.ndarray, axis: int) -> np.ndarray:
    """W_q - W for TFLite's symmetric per-channel int8 weights (levels -127..127) along ``axis``."""
    red = tuple(i for i in range(kernel.ndim) if i != axis)
    scale = np.max(np.abs(kernel), axis=red, keepdims=True) / 127.0
    scale = np.where(scale == 0, 1.0, scale)
    return np.round(kernel / scale) * scale - kernel


def bias_correct(model, calib: np.ndarray, *, batch: int = 25) -> tuple[object, int]:
    """Return a copy of the tf_keras functional ``model`` with corrected batch-norm means and the number of
    layers corrected. Layers whose input is not a single tensor or whose BN is not the only consumer are left."""
    import tf_keras

    pairs = []
    for layer in model.layers:
        if not isinstance(layer, (tf_keras.layers.Conv2D, tf_keras.layers.DepthwiseConv2D)):
            continue
        nodes = layer._outbound_nodes  # noqa: SLF001
        if len(nodes) != 1 or not isinstance(nodes[0].outbound_layer, tf_keras.layers.BatchNormalization):
            continue
        pairs.append((layer, nodes[0].outbound_layer))
    if not pairs:
        return model, 0
    clone = tf_keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    probe = tf_keras.Model(clone.inputs, [clone.get_layer(conv.name).input for conv, _ in pairs])
    sums: list = [None] * len(pairs)
    for i in range(0, len(calib), batch):
        outs = probe(calib[i:i + batch], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for k, o in enumerate(outs):
            s = np.asarray(o, np.float64).sum(axis=(0, 1, 2))
            sums[k] = s if sums[k] is None else sums[k] + s
    count = len(calib)
    for k, (conv, bn) in enumerate(pairs):
        x_in = conv.input
        hw = int(x_in.shape[1]) * int(x_in.shape[2])
        mean_x = sums[k] / (count * hw)
        kernel = conv.get_weights()[0]
        if isinstance(conv, tf_keras.layers.DepthwiseConv2D):
            # (kh, kw, C, m): TFLite quantizes per output channel C*m
            kh, kw, c, mult = kernel.shape
            dw = _quant_error(kernel.reshape(kh, kw, c * mult), axis=2).reshape(kh, kw, c, mult)
            shift = np.einsum("hwcm,c->cm", dw, mean_x).reshape(-1)
        else:
            dw = _quant_error(kernel, axis=3)
            shift = np.einsum("hwio,i->o", dw, mean_x)
        cbn = clone.get_layer(bn.name)
        cbn.moving_mean.assign(cbn.moving_mean.numpy() + shift.astype(np.float32))
    log.info("bias correction applied to %d conv layers", len(pairs))
    return clone, len(pairs)
