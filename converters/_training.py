"""What every training step shares: a per-epoch progress bar with loss and metrics, learning curves (CSV and PNG),
the best checkpoint, early stopping, and resuming from the last epoch after an interruption.

A step trains through :func:`fit` with a ``work_dir`` of its own. Keras' ``BackupAndRestore`` keeps the model,
optimizer and epoch there at every epoch end; running the same step again with the same ``work_dir`` continues
from the last finished epoch (the curves CSV keeps the earlier epochs).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._env import import_tf_keras

log = logging.getLogger(__name__)

__all__ = ["FitResult", "fit", "read_curves", "plot_curves", "cosine_schedule"]


@dataclass
class FitResult:
    history: dict[str, list[float]]
    epochs_run: int  # epochs trained by this call (not counting those restored)
    resumed_from: int  # epoch the call started at (0 = fresh)
    seconds_per_epoch: list[float] = field(default_factory=list)
    best: float | None = None
    stopped_early: bool = False
    csv: Path | None = None
    png: Path | None = None


def read_curves(path: str | os.PathLike) -> dict[str, list[float]]:
    """The CSV written by :func:`fit` as columns of floats (empty dict when absent)."""
    p = Path(path)
    if not p.is_file():
        return {}
    with open(p, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, list[float]] = {}
    for row in rows:
        for k, v in row.items():
            try:
                cols.setdefault(k, []).append(float(v))
            except (TypeError, ValueError):
                cols.setdefault(k, []).append(math.nan)
    return cols


def plot_curves(csv_path: str | os.PathLike, png_path: str | os.PathLike, title: str = "") -> Path:
    """Learning curves: loss (train, val) and every other metric (train, val), one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = read_curves(csv_path)
    epochs = [int(e) + 1 for e in cols.get("epoch", [])]
    names = [k for k in cols if k not in ("epoch", "seconds", "lr") and not k.startswith("val_")]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, cols[name], "o-", label=f"train {name}")
        if f"val_{name}" in cols:
            ax.plot(epochs, cols[f"val_{name}"], "s--", label=f"val {name}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(png_path)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def cosine_schedule(lr: float, total_steps: int, warmup_steps: int = 0):
    """Cosine decay from ``lr`` to 0 over ``total_steps`` after a linear warm-up of ``warmup_steps``."""
    tf_keras = import_tf_keras()
    if warmup_steps > 0:
        return tf_keras.optimizers.schedules.CosineDecay(
            0.0, max(1, total_steps - warmup_steps), warmup_target=lr, warmup_steps=warmup_steps)
    return tf_keras.optimizers.schedules.CosineDecay(lr, max(1, total_steps))


def _callbacks_module():
    tf_keras = import_tf_keras()
    return tf_keras.callbacks


def _make_timer():
    cb_mod = _callbacks_module()

    class EpochTimer(cb_mod.Callback):
        """Adds ``seconds`` (wall time of the epoch) to the logs, before the CSV logger writes them."""

        def __init__(self):
            super().__init__()
            self.times: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            dt = time.perf_counter() - self._t0
            self.times.append(dt)
            if logs is not None:
                logs["seconds"] = dt

    return EpochTimer()


def _make_progress(name: str, epochs: int, steps: int | None):
    """A rich bar per epoch with the running loss/metrics when stderr is a terminal; one log line per epoch always."""
    cb_mod = _callbacks_module()
    tty = sys.stderr.isatty()

    class EpochProgress(cb_mod.Callback):  # type: ignore[name-defined]
        def __init__(self):
            super().__init__()
            self._bar = None

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch
            if tty:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

                self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("{task.fields[metrics]}"),
                                     console=Console(stderr=True), transient=False)
                self._bar.start()
                self._task = self._bar.add_task(f"{name} epoch {epoch + 1}/{epochs}", total=steps, metrics="")

        def on_train_batch_end(self, batch, logs=None):
            if self._bar is not None:
                self._bar.update(self._task, advance=1, metrics=_fmt(logs))

        def on_epoch_end(self, epoch, logs=None):
            if self._bar is not None:
                self._bar.update(self._task, metrics=_fmt(logs))
                self._bar.stop()
                self._bar = None
            log.info("%s epoch %d/%d: %s", name, epoch + 1, epochs, _fmt(logs))

        def on_train_end(self, logs=None):
            if self._bar is not None:
                self._bar.stop()
                self._bar = None

    return EpochProgress()


def _fmt(logs) -> str:
    if not logs:
        return ""
    return " ".join(f"{k}={float(v):.4f}" for k, v in logs.items() if k != "seconds" and _is_number(v))


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def fit(
    model,
    train_ds,
    val_ds=None,
    *,
    epochs: int,
    work_dir: str | os.PathLike,
    name: str = "train",
    monitor: str = "val_accuracy",
    patience: int | None = None,
    steps_per_epoch: int | None = None,
    callbacks: list | tuple = (),
    save_best: bool = True,
) -> FitResult:
    """Train a compiled ``model`` for ``epochs`` epochs, resumably, in ``work_dir``.

    Writes ``work_dir/curves.csv`` and ``curves.png`` after every epoch, the best weights (by ``monitor``) to
    ``work_dir/best_weights.h5`` and restores them at the end when ``save_best``; stops early after ``patience``
    epochs without improvement (None: never). ``callbacks`` run after the built-in ones (so a callback that raises
    at an epoch end finds the epoch already saved)."""
    tf_keras = import_tf_keras()
    cb = tf_keras.callbacks
    wd = Path(work_dir)
    wd.mkdir(parents=True, exist_ok=True)
    csv_path, png_path, best_path = wd / "curves.csv", wd / "curves.png", wd / "best_weights.h5"
    have_val = val_ds is not None
    monitor = monitor if have_val else monitor.removeprefix("val_")
    mode = "min" if "loss" in monitor else "max"
    previous = read_curves(csv_path)
    resumed_from = len(previous.get("epoch", []))
    backup = wd / "backup"
    if resumed_from and not (backup.is_dir() and any(backup.iterdir())):
        # finished before (the backup is deleted at the end of a complete run): start the curves afresh
        csv_path.unlink()
        previous, resumed_from = {}, 0

    timer = _make_timer()
    own = [timer]
    checkpoint = None
    if save_best:
        checkpoint = cb.ModelCheckpoint(str(best_path), monitor=monitor, mode=mode, save_best_only=True,
                                        save_weights_only=True, verbose=0)
        if previous.get(monitor):
            vals = [v for v in previous[monitor] if not math.isnan(v)]
            if vals and best_path.is_file():
                checkpoint.best = max(vals) if mode == "max" else min(vals)
        own.append(checkpoint)
    stopper = None
    if patience is not None and have_val:
        stopper = cb.EarlyStopping(monitor=monitor, mode=mode, patience=patience, restore_best_weights=False)
        own.append(stopper)
    own += [cb.CSVLogger(str(csv_path), append=True), _make_progress(name, epochs, steps_per_epoch),
            cb.BackupAndRestore(str(wd / "backup"), delete_checkpoint=True)]

    class _Plot(cb.Callback):  # type: ignore[name-defined]
        def on_epoch_end(self, epoch, logs=None):
            try:
                plot_curves(csv_path, png_path, title=name)
            except Exception as exc:  # noqa: BLE001 - a plot must never stop training
                log.warning("could not plot learning curves: %s", exc)

    own.append(_Plot())
    hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                     callbacks=own + list(callbacks), verbose=0)
    if save_best and best_path.is_file():
        model.load_weights(str(best_path))
    curves = read_curves(csv_path)
    best = None
    if curves.get(monitor):
        vals = [v for v in curves[monitor] if not math.isnan(v)]
        best = (max(vals) if mode == "max" else min(vals)) if vals else None
    return FitResult(
        history=curves,
        epochs_run=len(hist.epoch),
        resumed_from=resumed_from,
        seconds_per_epoch=timer.times,
        best=best,
        stopped_early=bool(stopper is not None and stopper.stopped_epoch > 0),
        csv=csv_path,
        png=png_path if png_path.is_file() else None,
    )
