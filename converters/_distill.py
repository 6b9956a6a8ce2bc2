"""Knowledge distillation: a student learns from a teacher's softened outputs.

loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(teacher / T) || softmax(student / T))

With ``alpha = 0`` the labels are not used, so unlabelled images work (soft targets only). When the teacher is
frozen and augmentation is off, the teacher runs once per training image before the first epoch and its logits
are cached (a teacher pass per image, not per epoch); with augmentation the teacher sees each augmented batch.
Teacher and student may take different input sizes (a 160 px teacher, a 96 px student): the teacher sees each
image decoded at its own size (cached), or the student's batch resized to it (teacher run in the training step).
Teachers and students that end in a softmax give their logits through :func:`_finetune.logits_model`, or as
log-probabilities (the same softmax up to a constant) when the softmax is fused into the last Dense layer.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError
from ._env import import_tf, import_tf_keras
from ._finetune import logits_model
from ._training import FitResult, cosine_schedule, fit
from ._trainset import TrainingData

log = logging.getLogger(__name__)

__all__ = ["DistillConfig", "distill", "teacher_logits", "make_distiller"]


@dataclass
class DistillConfig:
    alpha: float = 0.1
    temperature: float = 4.0
    epochs: int = 3
    lr: float = 2e-3
    augment: bool = False
    cache_teacher: bool = True
    patience: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise InputError(f"distill alpha must be in [0, 1], got {self.alpha}")
        if self.temperature <= 0:
            raise InputError(f"distill temperature must be positive, got {self.temperature}")


def _logit_fn(model):
    """A callable image batch -> logits for ``model`` (see the module docstring)."""
    tf = import_tf()
    lm = logits_model(model)
    if lm is not None:
        return lm
    return lambda x, training=False: tf.math.log(tf.clip_by_value(model(x, training=training), 1e-8, 1.0))


def teacher_logits(teacher, ds) -> np.ndarray:
    """The teacher's logits over a dataset of (images, index) batches, in index order."""
    fn = _logit_fn(teacher)
    chunks, idx = [], []
    for x, i in ds:
        chunks.append(np.asarray(fn(x, training=False)))
        idx.append(np.asarray(i))
    order = np.concatenate(idx)
    out = np.empty((len(order), chunks[0].shape[-1]), np.float32)
    out[order] = np.concatenate(chunks)
    return out


def make_distiller(student, teacher, cfg: DistillConfig, classes: int, teacher_size: tuple[int, int] | None = None):
    """A Keras model that trains ``student``: its ``train_step`` takes batches ``(x, (labels, teacher_logits))``
    (teacher logits cached) or ``(x, labels)`` (teacher run on the batch, resized to ``teacher_size`` (h, w) px
    when given and different); labels < 0 mean "no label"."""
    tf = import_tf()
    tf_keras = import_tf_keras()
    s_logits = _logit_fn(student)
    t_fn = _logit_fn(teacher) if teacher is not None else None
    teacher_size = None if teacher_size is None else (int(teacher_size[0]), int(teacher_size[1]))

    def t_logits(x, training=False):
        if teacher_size is not None and tuple(x.shape[1:3]) != teacher_size:
            x = tf.image.resize(x, teacher_size)
        return t_fn(x, training=training)
    T, alpha = float(cfg.temperature), float(cfg.alpha)

    class Distiller(tf_keras.Model):  # type: ignore[name-defined]
        def __init__(self):
            super().__init__(name=f"distill_{student.name}")
            self.student = student
            self.loss_tracker = tf_keras.metrics.Mean(name="loss")
            self.kd_tracker = tf_keras.metrics.Mean(name="kd_loss")
            self.ce_tracker = tf_keras.metrics.Mean(name="ce_loss")
            self.acc = tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        @property
        def metrics(self):
            return [self.loss_tracker, self.kd_tracker, self.ce_tracker, self.acc]

        def call(self, x, training=False):
            return self.student(x, training=training)

        def _kd_terms(self, x, y, t, training):
            z = s_logits(x, training=training)
            labelled = tf.cast(y >= 0, tf.float32)
            y0 = tf.maximum(y, 0)
            ce = tf_keras.losses.sparse_categorical_crossentropy(y0, z, from_logits=True)
            ce = tf.reduce_sum(ce * labelled) / tf.maximum(tf.reduce_sum(labelled), 1.0)
            pt = tf.nn.softmax(t / T)
            kl = tf.reduce_sum(pt * (tf.nn.log_softmax(t / T) - tf.nn.log_softmax(z / T)), axis=-1)
            kd = tf.reduce_mean(kl) * T * T
            return z, ce, kd, alpha * ce + (1.0 - alpha) * kd

        def train_step(self, data):
            x, target = data
            if isinstance(target, (tuple, list)):
                y, t = target
            else:
                y, t = target, tf.stop_gradient(t_logits(x, training=False))
            y = tf.cast(tf.reshape(y, [-1]), tf.int32)
            with tf.GradientTape() as tape:
                z, ce, kd, loss = self._kd_terms(x, y, t, True)
            grads = tape.gradient(loss, self.student.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables))
            self._update_kd_metrics(y, z, ce, kd, loss)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y = tf.cast(tf.reshape(y, [-1]), tf.int32)
            z = s_logits(x, training=False)
            ce = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(y, z, from_logits=True))
            self.loss_tracker.update_state(ce)
            self.acc.update_state(y, z)
            return {"loss": self.loss_tracker.result(), "accuracy": self.acc.result()}

        def _update_kd_metrics(self, y, z, ce, kd, loss):
            self.loss_tracker.update_state(loss)
            self.kd_tracker.update_state(kd)
            self.ce_tracker.update_state(ce)
            mask = y >= 0
            self.acc.update_state(tf.boolean_mask(y, mask), tf.boolean_mask(z, mask))

    return Distiller()


def distill(student, teacher, data: TrainingData, size: tuple[int, int], spec, cfg: DistillConfig,
            work_dir: str | os.PathLike, *, batch_size: int = 32, seed: int = 0, strategy=None,
            callbacks=(), teacher_size: tuple[int, int] | None = None) -> tuple[object, dict]:
    """Train ``student`` (input ``size`` (h, w) px) from ``teacher`` (input ``teacher_size``, default ``size``) on
    ``data`` (labelled or not). Returns the student (best validation accuracy when there is a validation split) and
    a summary with ``teacher_images`` (images the teacher ran on)."""
    tf = import_tf()
    tf_keras = import_tf_keras()
    from ._data import ImageSet, tf_dataset

    ts = teacher_size or size
    teacher_size = (int(ts[0]), int(ts[1]))
    classes = int(student.outputs[0].shape[-1])
    t_classes = int(teacher.outputs[0].shape[-1])
    if t_classes != classes:
        raise ModelError(f"teacher has {t_classes} outputs, the student {classes}: they must predict the same classes")
    if data.labelled and len(data.classes) != classes:
        raise InputError(f"the data has {len(data.classes)} classes, the student predicts {classes}")
    if not data.labelled and cfg.alpha > 0:
        raise InputError(f"unlabelled images: set distill alpha = 0 (soft targets only), not {cfg.alpha}")
    wd = Path(work_dir)
    wd.mkdir(parents=True, exist_ok=True)
    n = len(data.train)
    labels = data.train.labels if data.labelled and data.train.labels is not None else np.full(n, -1, np.int64)
    # the pipeline's "label" is the image index, so cached teacher logits and true labels are looked up per image
    indexed = ImageSet(data.train.root, list(data.train.paths), np.arange(n, dtype=np.int64), data.classes, "classes")
    cached = (cfg.cache_teacher and not cfg.augment) or cfg.alpha == 1.0
    teacher_images = 0
    t_cache = None
    if cfg.alpha == 1.0:  # labels only: the teacher's term has weight 0, it never runs
        t_cache = np.zeros((n, classes), np.float32)
    elif cached:
        cache_file = wd / f"teacher_logits_{teacher_size[0]}x{teacher_size[1]}.npy"
        if cache_file.is_file() and np.load(cache_file, mmap_mode="r").shape == (n, classes):
            t_cache = np.load(cache_file)
            log.info("teacher logits loaded from %s", cache_file)
        else:
            plain = tf_dataset(indexed, teacher_size, spec, batch_size=batch_size, cache=False)
            t_cache = teacher_logits(teacher, plain)
            teacher_images = n
            np.save(cache_file, t_cache)
    ds = tf_dataset(indexed, size, spec, batch_size=batch_size, augment=cfg.augment, shuffle=True, seed=seed)
    lab_t = tf.constant(labels.astype(np.int32))
    if cached:
        cache_t = tf.constant(t_cache)
        ds = ds.map(lambda x, i: (x, (tf.gather(lab_t, i), tf.gather(cache_t, i))))
    else:
        ds = ds.map(lambda x, i: (x, tf.gather(lab_t, i)))
    val = None if data.val is None else tf_dataset(data.val, size, spec, batch_size=batch_size)
    steps = int(ds.cardinality().numpy())
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = make_distiller(student, None if cached else teacher, cfg, classes, teacher_size=teacher_size)
        model.compile(optimizer=tf_keras.optimizers.Adam(cosine_schedule(cfg.lr, steps * cfg.epochs)))
        model(tf.zeros((1, *size, 3)))  # build it, so its best weights can be saved and loaded as HDF5

    counter = _TeacherCounter(batch_size, n) if not cached else None
    res: FitResult = fit(model, ds, val, epochs=cfg.epochs, work_dir=wd / "train", name="distill",
                         patience=cfg.patience, steps_per_epoch=steps,
                         callbacks=list(callbacks) + ([counter.callback()] if counter else []))
    if counter:
        teacher_images += counter.images
    info = {"epochs_run": res.epochs_run, "resumed_from": res.resumed_from, "seconds_per_epoch": res.seconds_per_epoch,
            "best_val_accuracy": res.best, "teacher_cached": cached, "teacher_images": teacher_images,
            "train_images": n, "alpha": cfg.alpha, "temperature": cfg.temperature,
            "student_size": list(size), "teacher_size": list(teacher_size),
            "csv": str(res.csv), "png": str(res.png)}
    return student, info


class _TeacherCounter:
    """Counts the images the teacher sees when it runs inside the training step (one per image per epoch)."""

    def __init__(self, batch_size: int, n: int) -> None:
        self.images = 0
        self._n = n

    def callback(self):
        tf_keras = import_tf_keras()
        outer = self

        class CB(tf_keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                outer.images += outer._n

        return CB()
