"""Transfer learning: a new head for N classes on a pretrained Keras model, trained in two phases.

Phase 1 trains the head with the base frozen; phase 2 unfreezes the base (or its top part, from
``unfreeze_from``) with a lower, cosine-decayed learning rate. The base's batch norms stay in inference mode in both
phases (Keras' transfer-learning advice, ``base(x, training=False)``): the model here is flat (tfmot's pruning and
QAT reject nested models), so the batch-norm layers are kept ``trainable=False``, which in Keras 2 runs them in
inference mode with their ImageNet statistics. Early stopping watches the validation split, the best epoch's weights
are kept. The input size may differ from the base's (mixed resolution: CIFAR's 32x32 images upscaled to 96 or 128
by the data pipeline feed a base pretrained at 224).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ._env import import_tf_keras
from ._training import FitResult, cosine_schedule, fit

log = logging.getLogger(__name__)

__all__ = ["FinetuneConfig", "replace_head", "logits_model", "set_base_trainable", "finetune", "compile_classifier"]

_POOL = ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten")
HEAD_LAYERS = ("head_dropout", "logits", "probs")


@dataclass
class FinetuneConfig:
    epochs_frozen: int = 1
    epochs: int = 2
    lr: float = 1e-3
    fine_lr: float = 1e-4
    warmup_epochs: float = 0.0
    unfreeze_from: str | None = None
    patience: int | None = 2
    label_smoothing: float = 0.0


def _feature_tensor(model):
    """The pooled feature vector of a classifier: the last global-pooling/flatten output, else the input of the
    last Dense layer."""
    for layer in reversed(model.layers):
        if type(layer).__name__ in _POOL:
            return layer.output
    for layer in reversed(model.layers):
        if type(layer).__name__ == "Dense":
            return layer.input
    raise ModelError(f"{model.name} has no global pooling, Flatten or Dense layer: cannot find where its head starts")


def replace_head(model, classes: int, *, input_size: int | None = None, dropout: float = 0.2):
    """A flat classifier: ``model``'s trunk (up to its pooled features) at ``input_size`` (default: the model's),
    then Dropout, ``Dense(classes, name="logits")`` and ``Activation("softmax", name="probs")``.
    The trunk's weights are copied; its batch norms are set to inference mode (trainable=False)."""
    tf_keras = import_tf_keras()
    if classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, got {classes}")
    trunk = tf_keras.Model(model.inputs[0], _feature_tensor(model), name=model.name)
    shape = tuple(model.inputs[0].shape[1:])
    size = input_size or shape[0]
    if size is None:
        raise ModelError(f"{model.name} has a dynamic input size: give input_size")
    inp = tf_keras.Input((size, size, shape[2]), name="input")
    try:
        clone = tf_keras.models.clone_model(trunk, input_tensors=inp)
        clone.set_weights(trunk.get_weights())
    except Exception as exc:  # noqa: BLE001 - fixed-size layers (Reshape...) cannot take another input size
        raise ModelError(f"{model.name} cannot be rebuilt at {size}x{size}: {str(exc).splitlines()[0][:160]}") from None
    x = clone.output
    if len(x.shape) > 2:
        x = tf_keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = tf_keras.layers.Dropout(dropout, name="head_dropout")(x)
    x = tf_keras.layers.Dense(classes, name="logits")(x)
    out = tf_keras.layers.Activation("softmax", name="probs")(x)
    new = tf_keras.Model(inp, out, name=f"{model.name}_{classes}c_{size}")
    set_base_trainable(new, False)
    log.info("new head: %d classes at %dx%d on %s", classes, size, size, model.name)
    return new


def set_base_trainable(model, trainable: bool, from_layer: str | None = None) -> int:
    """Freeze or unfreeze the layers before the head (from ``from_layer`` on, when given); batch norms always stay
    frozen (inference mode). Returns the number of trainable base layers."""
    names = [layer.name for layer in model.layers]
    start = 0
    if from_layer is not None:
        if from_layer not in names:
            raise ModelError(f"unfreeze_from: no layer {from_layer!r} in {model.name}")
        start = names.index(from_layer)
    n = 0
    for i, layer in enumerate(model.layers):
        if layer.name in HEAD_LAYERS or layer.name == "head_pool":
            layer.trainable = True
            continue
        if type(layer).__name__ == "BatchNormalization":
            layer.trainable = False
            continue
        layer.trainable = bool(trainable and i >= start)
        n += int(layer.trainable and bool(layer.weights))
    return n


def logits_model(model):
    """A model sharing ``model``'s weights that outputs logits: the input of a final softmax Activation layer,
    else None (the caller then takes log-probabilities)."""
    tf_keras = import_tf_keras()
    last = model.layers[-1]
    if type(last).__name__ == "Activation" and getattr(last.activation, "__name__", "") == "softmax":
        return tf_keras.Model(model.inputs[0], last.input, name=f"{model.name}_logits")
    act = getattr(last, "activation", None)
    if act is not None and getattr(act, "__name__", "") == "linear":
        return model
    return None


def compile_classifier(model, lr, *, label_smoothing: float = 0.0) -> None:
    tf_keras = import_tf_keras()
    if label_smoothing:
        classes = int(model.outputs[0].shape[-1])

        def loss(y, p):
            y1 = tf_keras.backend.one_hot(tf_keras.backend.cast(tf_keras.backend.flatten(y), "int32"), classes)
            return tf_keras.losses.categorical_crossentropy(y1, p, label_smoothing=label_smoothing)
    else:
        loss = tf_keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=tf_keras.optimizers.Adam(lr), loss=loss, metrics=["accuracy"])


def finetune(model, train_ds, val_ds, cfg: FinetuneConfig, work_dir: str | os.PathLike, *, strategy=None,
             steps_per_epoch: int | None = None, callbacks=()) -> tuple[object, dict]:
    """Two-phase fine-tuning of a model from :func:`replace_head` (see the module docstring). Resumable: a finished
    phase is skipped on a rerun, an interrupted one continues from its last epoch. Returns the model (best weights)
    and a summary (per-phase curves, seconds per epoch)."""
    import contextlib

    wd = Path(work_dir)
    wd.mkdir(parents=True, exist_ok=True)
    if steps_per_epoch is None:
        steps_per_epoch = _cardinality(train_ds)
    info: dict = {"phases": []}
    phases = [("head", cfg.epochs_frozen, False, cfg.lr), ("full", cfg.epochs, True, cfg.fine_lr)]
    for pname, epochs, unfreeze, lr in phases:
        if epochs <= 0:
            continue
        pdir = wd / pname
        done = pdir / "done_weights.h5"
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            set_base_trainable(model, unfreeze, cfg.unfreeze_from if unfreeze else None)
            if done.is_file():
                model.load_weights(str(done))
                log.info("phase %s already done: weights loaded from %s", pname, done)
                info["phases"].append({"phase": pname, "skipped": True})
                continue
            total = max(1, (steps_per_epoch or 1) * epochs)
            sched = cosine_schedule(lr, total, int(cfg.warmup_epochs * (steps_per_epoch or 0))) if unfreeze else lr
            compile_classifier(model, sched, label_smoothing=cfg.label_smoothing)
        res: FitResult = fit(model, train_ds, val_ds, epochs=epochs, work_dir=pdir, name=f"finetune/{pname}",
                             patience=cfg.patience, steps_per_epoch=steps_per_epoch, callbacks=callbacks)
        model.save_weights(str(done))
        info["phases"].append({"phase": pname, "epochs_run": res.epochs_run, "resumed_from": res.resumed_from,
                               "seconds_per_epoch": res.seconds_per_epoch, "best_val_accuracy": res.best,
                               "stopped_early": res.stopped_early, "csv": str(res.csv), "png": str(res.png)})
    return model, info


def _cardinality(ds) -> int | None:
    try:
        n = int(ds.cardinality().numpy())
    except Exception:  # noqa: BLE001
        return None
    return n if n > 0 else None
