"""What the steps of a run share: the prepared data, the input spec, the distribution strategy, the models the
earlier steps made, and the helpers every step uses (load its input, datasets, calibration images, measuring
after the step). ``RecipeRun`` holds it for the whole run; ``StepContext`` is one step's view of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from ...errors import InputError, ModelError
from ._schema import Recipe, Step

log = logging.getLogger(__name__)

__all__ = ["RecipeRun", "StepContext", "StepKind"]


def load_model_file(tf_keras, path: Path, custom: bool = False):
    """A Keras model a step saved (``custom``: quantization-aware, needs tfmot's scope)."""
    if custom:
        from .._env import import_tfmot

        with import_tfmot().quantization.keras.quantize_scope():
            return tf_keras.models.load_model(path, compile=False)
    return tf_keras.models.load_model(path, compile=False)


class RecipeRun:
    """The state of one run of a recipe (see the module docstring). ``progress(desc, total)``: an optional
    context-manager factory for progress bars, passed through to the steps."""

    def __init__(self, recipe: Recipe, work: Path, progress=None) -> None:
        self.recipe, self.work, self.progress = recipe, work, progress
        self.rows: list[dict] = []
        self.records: dict[str, dict] = {}  # step name -> its record (step.json)
        self.models: dict[str, Path] = {}  # step name -> Keras model file
        self.tflite: dict[str, Path] = {}
        self.sparse: dict[str, bool] = {}
        self.qat: dict[str, bool] = {}
        self.warnings: list[str] = []
        self.skipped: list[Path] = []  # unreadable images left out of calibration
        self.data: Any = None
        self.eval_set: Any = None
        self.spec: Any = None
        self.strategy: Any = None

    @property
    def tf_keras(self):
        """``tf_keras``, imported when a step first needs it (a float .tflite conversion never does)."""
        from .._env import import_tf_keras

        return import_tf_keras()

    # data, model -------------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Check and split the data before anything is written (a recipe without [data].train: nothing to do)."""
        from ...bundle import InputSpec
        from .._distribute import get_strategy
        from .._trainset import prepare_data

        r = self.recipe
        d, m = r.data, r.model
        self.strategy = get_strategy(r.distribute.strategy)
        self.spec = InputSpec.from_range(*m.input_range, resize=m.resize)
        if d.train is None:
            return
        self.data = prepare_data(r.resolve(d.train), val_split=d.val_split, test_split=d.test_split,
                                 val_dir=r.resolve(d.validation) if d.validation else None, seed=d.seed,
                                 limit=d.limit, eval_limit=d.eval_limit, labelled=d.labelled)
        if not self.data.labelled:
            raise InputError(f"{d.train} has no class folders: a recipe needs labelled data for its report")
        n = len(self.data.classes)
        if m.classes is not None and m.classes != n:
            raise InputError(f"[model].classes is {m.classes} but {d.train} has {n} class folders")
        self.eval_set = self.data.test if self.data.test is not None else self.data.val
        if self.eval_set is None:
            raise InputError("the recipe keeps no images for the report: set [data].test_split or val_split > 0")

    def base_model(self):
        from .._arch import ARCHITECTURES, build_architecture
        from .._load import load_keras

        r = self.recipe
        m = r.model
        n = len(self.data.classes)
        if m.base in ARCHITECTURES:
            weights = m.weights if m.weights in (None, "imagenet") else r.resolve(m.weights)
            loaded, _ = build_architecture(m.base, alpha=m.alpha, input_size=m.input_size or 224, classes=n,
                                           weights=weights)
            return loaded.model
        return load_keras(r.resolve(m.base), input_size=None).model

    @staticmethod
    def size(model) -> tuple[int, int]:
        """(h, w) of a Keras model's input."""
        shape = model.inputs[0].shape
        return int(shape[1]), int(shape[2])

    def datasets(self, size, augment=None):
        from .._trainset import make_datasets

        d = self.recipe.data
        return make_datasets(self.data, size, self.spec, batch_size=d.batch_size,
                             augment=d.augment if augment is None else augment, seed=d.seed)

    def check_classes(self, model, what: str) -> None:
        out = int(model.outputs[0].shape[-1])
        n = len(self.data.classes)
        if out != n:
            raise ModelError(f"{what} predicts {out} classes but the data has {n} class folders "
                             f"(start with a finetune step to give it a {n}-class head)")

    def load_model(self, name: str):
        """The Keras model step ``name`` saved."""
        return load_model_file(self.tf_keras, self.models[name], custom=self.qat.get(name, False))

    def load_images(self, images, n: int | None, size: tuple[int, int], channels: int = 3, desc: str = "",
                    what: str = "calibration") -> np.ndarray:
        """A seeded sample of ``n`` images of the ImageSet ``images`` as model inputs (n, h, w, c) float32: the one
        way steps load calibration images (edgesdk.runtime's preprocessing). Unreadable or truncated files are
        skipped, named in a warning and kept in ``self.skipped`` (too many: InputError)."""
        from .._data import check_skipped, load_images, sample

        imgs = sample(images, n, seed=self.recipe.data.seed)
        skipped: list[Path] = []
        if self.progress is None or not desc:
            x = load_images(imgs.paths, size, self.spec, channels=channels, skipped=skipped)
        else:
            with self.progress(f"{desc} ({len(imgs)})", len(imgs)) as bar:
                x = load_images(imgs.paths, size, self.spec, channels=channels, on_image=lambda: bar.advance(),
                                skipped=skipped)
        check_skipped(skipped, len(imgs), what)
        self.skipped.extend(skipped)
        return x

    def calib(self, size, n: int) -> np.ndarray:
        return self.load_images(self.data.train, n, size)

    # evaluation ----------------------------------------------------------------------------------------------------
    def measure(self, name: str, kind: str, work: Path, *, model=None, tflite: Path | None = None,
                info: dict | None = None) -> dict:
        """The report row after a step: held-out top-1, file size and gzip size, sparsity, CPU latency."""
        from .._evaluate import predict_keras, predict_tflite
        from .._latency import measure_latency
        from .._prune import gzip_size, sparsity_report, tflite_sparsity

        row: dict = {"step": name, "kind": kind}
        labels = self.eval_set.labels
        if model is not None:
            scores = predict_keras(model, self.eval_set, self.spec, batch=64)
            row["top1"] = float(np.mean(scores.argmax(1) == labels))
            if tflite is None:
                tflite = self.qat_tflite(work, model) if kind == "qat" else self.float_tflite(work, name, model)
            if kind == "qat":  # PQAT keeps the zeros in the quantized weights (a mask), not in the float variables
                sp = tflite_sparsity(tflite.read_bytes())
                row["sparsity_conv"], row["sparsity_all"] = sp["conv"], sp["overall"]
            else:
                rep = sparsity_report(model)
                row["sparsity_conv"], row["sparsity_all"] = rep["conv"], rep["overall"]
            row["accuracy_of"] = "keras"
        else:
            assert tflite is not None
            scores = predict_tflite(tflite, self.eval_set, spec=self.spec)
            row["top1"] = float(np.mean(scores.argmax(1) == labels))
            sp = tflite_sparsity(tflite.read_bytes())
            row["sparsity_conv"], row["sparsity_all"] = sp["conv"], sp["overall"]
            row["accuracy_of"] = "tflite"
        data = tflite.read_bytes()
        row.update(file=tflite.name, bytes=len(data), gzip_bytes=gzip_size(data), eval_images=len(self.eval_set))
        rep_cfg = self.recipe.report
        if rep_cfg.latency_runs > 0:
            lat = measure_latency({name: data}, threads=rep_cfg.threads, runs=rep_cfg.latency_runs)
            row["latency_ms"] = lat[name]["median"]
            row["latency_threads"] = rep_cfg.threads
        if info:
            row["seconds_per_epoch"] = [t for ph in info.get("phases", [info]) for t in ph.get("seconds_per_epoch", [])]
            row["details"] = info
        log.info("after %s: top-1 %.2f%%, %d bytes (gzip %d), conv sparsity %.1f%%", name, row["top1"] * 100,
                 row["bytes"], row["gzip_bytes"], row["sparsity_conv"] * 100)
        return row

    def float_tflite(self, work: Path, name: str, model) -> Path:
        from .._load import LoadedModel
        from .._quantize import convert_tflite

        path = work / "model_float.tflite"
        if not path.is_file():
            res = convert_tflite(LoadedModel(model, "tf_keras", name), "none")
            path.write_bytes(res.tflite)
        return path

    def qat_tflite(self, work: Path, model) -> Path:
        """A quantization-aware model's size and latency are its int8 file's (the float conversion of fake-quant
        ops means nothing)."""
        from .._load import LoadedModel
        from .._quantize import convert_tflite
        from .._strategies import MinMax

        path = work / "model_qat_int8.tflite"
        if not path.is_file():
            calib = self.calib(self.size(model), 32)
            res = convert_tflite(LoadedModel(model, "tf_keras", work.name), "int8", calib=calib, calibration=MinMax())
            path.write_bytes(res.tflite)
        return path

    def register(self, step: Step, rec: dict) -> None:
        """Record a finished (or reused) step's outputs for the steps after it."""
        self.records[step.name] = rec
        if rec.get("model"):
            self.models[step.name] = Path(rec["model"])
        if rec.get("tflite"):
            self.tflite[step.name] = Path(rec["tflite"])
        self.sparse[step.name] = bool(rec.get("sparse"))
        self.qat[step.name] = bool(rec.get("qat"))
        if rec.get("row"):
            self.rows.append(rec["row"])


@dataclass
class StepContext:
    """One step's view of the run: ``run`` (shared state), the ``step``, its ``index`` in the recipe and its work
    folder ``dir``."""

    run: RecipeRun
    step: Step
    index: int
    dir: Path

    @property
    def recipe(self) -> Recipe:
        return self.run.recipe

    def source(self) -> str | None:
        """The earlier step whose model this step starts from (None: the recipe's base model)."""
        if self.step.input is not None:
            return self.step.input
        return next((s.name for s in reversed(self.recipe.steps[:self.index]) if s.name in self.run.models), None)

    def load_input(self):
        """(Keras model, source step name or None) this step starts from, built in the strategy's scope."""
        src = self.source()
        with self.run.strategy.scope():
            if src is None:
                return self.run.base_model(), None
            return self.run.load_model(src), src

    def measure(self, *, model=None, tflite: Path | None = None, info: dict | None = None) -> dict:
        return self.run.measure(self.step.name, self.step.kind, self.dir, model=model, tflite=tflite, info=info)

    def save(self, model) -> str:
        path = self.dir / "model.h5"
        model.save(path, include_optimizer=False)
        return str(path)


class StepKind(Protocol):
    """What a step's settings class provides (a dataclass; its fields are the TOML keys of the step).

    ``kind`` is its name in ``[[steps]] kind = ...``; ``trains`` / ``exports`` place it in the order rules
    (training steps come before the int8 export); ``validate`` checks what needs the recipe (files, earlier
    steps) and raises InputError; ``run`` does the work and returns the step's record for step.json: paths
    (``model``, ``tflite``, ``edgetpu``), flags (``sparse``, ``qat``) and the report ``row``; a step that is a whole
    conversion (ConvertStep, FloatTfliteStep) returns its ``report`` and the ``bundle``'s manifest parts instead
    (``input``, ``output`` or ``decoder``, ``labels``, ``task``, ``source``, ``versions``, extra ``files``)."""

    kind: ClassVar[str]
    trains: ClassVar[bool]
    exports: ClassVar[bool]

    def validate(self, recipe: Recipe, earlier: list[str], where: str) -> None: ...

    def run(self, ctx: StepContext) -> dict[str, Any]: ...
