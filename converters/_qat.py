"""Quantization-aware training with tensorflow-model-optimization (tf_keras models only)."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import InputError, ModelError
from ._env import import_tf, import_tf_keras, import_tfmot
from ._load import LoadedModel

log = logging.getLogger(__name__)

__all__ = ["depthwise_per_channel", "floor_weight_ranges", "init_ranges", "prepare_for_qat", "qat_train",
           "quantization_aware"]


_PATCHED = False


def depthwise_per_channel() -> None:
    """Make tfmot fake-quantize DepthwiseConv2D kernels per channel, as TFLite stores them.

    tfmot 0.8 builds a depthwise kernel's (kh, kw, C, 1) ranges over its last axis, of size 1: one range for all C
    channels. Before batch-norm folding those channels differ by orders of magnitude (measured here: after the first
    MobileNetV2 depthwise layer the fake-quant output was off by 21% on average), so QAT trained against an error the
    int8 model does not have. This gives such kernels one range per channel (axis 2). Idempotent."""
    global _PATCHED
    if _PATCHED:
        return
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import default_8bit_quantizers as dq

    tf = import_tf()

    def _is_dw(shape) -> bool:
        return shape is not None and len(shape) == 4 and shape[-1] == 1 and (shape[2] or 1) > 1

    build = dq.Default8BitConvWeightsQuantizer.build

    def build_dw(self, tensor_shape, name, layer):
        shape = list(tensor_shape)
        if _is_dw(shape):
            shape = [shape[0], shape[1], 1, shape[2]]
        return build(self, tf.TensorShape(shape), name, layer)

    last_value = quant_ops.LastValueQuantize

    def last_value_dw(inputs, min_var, max_var, *args, per_channel=False, **kwargs):
        shape = inputs.shape
        if per_channel and _is_dw(shape) and min_var.shape.rank == 1 and min_var.shape[0] == shape[2]:
            t = tf.transpose(inputs, [0, 1, 3, 2])
            return tf.transpose(last_value(t, min_var, max_var, *args, per_channel=True, **kwargs), [0, 1, 3, 2])
        return last_value(inputs, min_var, max_var, *args, per_channel=per_channel, **kwargs)

    dq.Default8BitConvWeightsQuantizer.build = build_dw
    quant_ops.LastValueQuantize = last_value_dw
    _PATCHED = True


def prepare_for_qat(model) -> None:
    """Make ``model`` ready for tfmot: per-channel depthwise fake-quant, every layer trainable except the batch
    norms, which stay frozen (inference mode: moving statistics, no update), as a converged model was trained.

    Measured on the 50%-pruned CIFAR-10 MobileNetV2 (float 87.8% on 500 held-out images), one PQAT epoch over
    3,000 training images at lr 1e-5: frozen batch norms 89.4% (int8 89.8%), trainable ones 87.8% (int8 87.6%)."""
    depthwise_per_channel()
    for layer in model.layers:
        layer.trainable = not type(layer).__name__.startswith("BatchNormalization")


def quantization_aware(model, *, preserve_sparsity: bool = False):
    """``model`` wrapped for QAT by tfmot (after :func:`prepare_for_qat`): its default 8-bit scheme, or the
    pruning-preserving one (:func:`_prune.pqat_model`) for a pruned model. ModelError when tfmot refuses it."""
    prepare_for_qat(model)
    if preserve_sparsity:
        from ._prune import pqat_model

        return pqat_model(model)
    try:
        return import_tfmot().quantization.keras.quantize_model(model)
    except Exception as exc:  # noqa: BLE001 - tfmot rejects nested/subclassed models and some layers
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "no reason given"
        raise ModelError(f"tfmot cannot make {model.name} quantization-aware: {msg}") from None


def init_ranges(qmodel, batches, *, decay: float = 0.9) -> int:
    """Set the activation ranges of a fresh quantization-aware model from data before training.

    tfmot starts every activation range at [-6, 6] and moves it by an EMA with a fixed decay of 0.999, so for the
    first thousands of steps a pretrained network's larger activations (MobileNetV2's linear bottlenecks reach ~40)
    are clipped: measured here, a fine-tuned MobileNetV2 at 88% top-1 scored 10% right after ``quantize_model`` and
    ended one QAT epoch at 83% on the held-out split. Here the first batch sets each range outright and later ones
    average with ``decay`` (tfmot 0.8 hard-codes its decay, so its ``MovingAvgQuantize`` is wrapped for these calls
    only).
    ``batches`` yields float image arrays (N, H, W, C) as the model takes them; ``qmodel`` comes from
    :func:`quantization_aware` (batch norms frozen). Returns the range updates made."""
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    orig = quant_ops.MovingAvgQuantize
    state = {"decay": 0.0, "calls": 0}

    def with_decay(*args, **kwargs):
        if kwargs.get("is_training", True):
            state["calls"] += 1
        kwargs["ema_decay"] = state["decay"]
        return orig(*args, **kwargs)

    # the quantizers update only in training mode, but dropout must act as in inference meanwhile (the ranges of
    # the outputs the int8 model will see); batch norms are frozen already (prepare_for_qat)
    held = []
    for layer in qmodel.layers:
        inner = getattr(layer, "layer", layer)
        if type(inner).__name__.startswith(("Dropout", "SpatialDropout")):
            held.append((inner, inner.rate))
            inner.rate = 0.0
    n = 0
    quant_ops.MovingAvgQuantize = with_decay
    try:
        for i, x in enumerate(batches):
            state["decay"] = 0.0 if i == 0 else decay
            qmodel(x, training=True)
            n += 1
    finally:
        quant_ops.MovingAvgQuantize = orig
        for layer, rate in held:
            layer.rate = rate
    log.info("QAT: activation ranges set from %d batches (%d range updates)", n, state["calls"])
    return int(state["calls"])


def floor_weight_ranges(qmodel, *, rel: float = 1e-3) -> int:
    """Give every per-channel weight range of a quantization-aware model a floor of ``rel`` times the median range
    of its tensor, so an all-zero output channel does not get a zero range. Returns the channels changed.

    tfmot sets a kernel channel's range to its [min, max]: [0, 0] for a channel with no non-zero weight (pruning
    makes them: 21 in the 50%-pruned CIFAR-10 MobileNetV2; the pretrained MobileNetV2's Conv1 has 8). The TFLite
    converter then gives that channel a weight scale of ~4e-9, the channel's bias (batch norm folded in) is
    quantized with input scale x weight scale, overflows int32 and saturates: the channel outputs a wrong
    constant. Measured on that pruned model (untrained QAT wrap, 200 held-out images): Keras 86%, int8 46%; with
    the floor, int8 86%. A zero channel's weights quantize to 0 at any scale, so the Keras model is unchanged;
    a channel below the floor (tiny but non-zero) is quantized on the floored range. Post-training int8 of the same
    model has equally tiny scales on those channels but no saturated bias. ``convert_tflite`` calls this before
    converting (it changes the model's range variables in place; a no-op on a model that is not QAT)."""
    changed = 0
    for layer in getattr(qmodel, "layers", ()):
        for _w, _quantizer, qvars in getattr(layer, "_weight_vars", []):
            if not isinstance(qvars, dict) or "min_var" not in qvars or "max_var" not in qvars:
                continue
            lo, hi = qvars["min_var"], qvars["max_var"]
            a, b = lo.numpy(), hi.numpy()
            if a.ndim == 0:  # per-tensor range: only a whole tensor of zeros would be zero
                continue
            span = np.maximum(np.abs(a), np.abs(b))
            floor = rel * float(np.median(span[span > 0])) if (span > 0).any() else 1.0
            low = span < floor
            if low.any():
                lo.assign(np.where(low, -floor, a).astype(a.dtype))
                hi.assign(np.where(low, floor, b).astype(b.dtype))
                changed += int(low.sum())
    if changed:
        log.info("QAT: %d weight channel range(s) below the floor (all-zero or tiny channels) widened", changed)
    return changed


def qat_train(loaded: LoadedModel, train_ds, val_ds=None, *, epochs: int = 1, learning_rate: float = 1e-4,
              on_epoch=None) -> tuple[LoadedModel, dict]:
    """Wrap the model with tfmot's default 8-bit quantization and fine-tune it on ``train_ds`` (batches of
    (images, sparse labels)). Returns the quantization-aware model and the training history."""
    if loaded.flavor != "tf_keras":
        raise ModelError("quantization-aware training needs a tf_keras (Keras 2) model; this is a Keras 3 model "
                         "(use post-training quantization, or re-save the model with tf_keras)")
    if epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {epochs}")
    tf_keras = import_tf_keras()
    qmodel = quantization_aware(loaded.model)
    init_ranges(qmodel, (x for x, _y in train_ds.take(8)))
    qmodel.compile(optimizer=tf_keras.optimizers.Adam(learning_rate),
                   loss=tf_keras.losses.SparseCategoricalCrossentropy(),
                   metrics=["accuracy"])
    callbacks = []
    if on_epoch is not None:
        callbacks.append(tf_keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: on_epoch(e, logs)))
    hist = qmodel.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, callbacks=callbacks)
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    log.info("QAT finished: %s", {k: v[-1] for k, v in history.items()})
    return LoadedModel(model=qmodel, flavor="tf_keras", source=loaded.source), history
