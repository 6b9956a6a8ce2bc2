"""Quantization-aware training with tensorflow-model-optimization (tf_keras models only)."""

from __future__ import annotations

import logging

from ..errors import InputError, ModelError
from ._env import import_tf_keras, import_tfmot
from ._load import LoadedModel

log = logging.getLogger(__name__)

__all__ = ["qat_train"]


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
    tfmot = import_tfmot()
    try:
        qmodel = tfmot.quantization.keras.quantize_model(loaded.model)
    except Exception as exc:  # noqa: BLE001 - tfmot rejects nested/subclassed models and some layers
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"tfmot cannot make {loaded.model.name} quantization-aware: {msg}") from None
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
