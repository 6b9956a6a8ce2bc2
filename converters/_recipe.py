"""TOML recipes: a model, a data folder and an ordered list of steps, validated before anything runs.

    [model]   base (a Keras model file or a built-in architecture name), alpha, weights, input_size, classes,
              input_range, resize
    [data]    train (one folder per class), validation (folder) or val_split, test_split (held out, never trained
              on: the report's accuracy), seed, limit / eval_limit (images per class), batch_size, augment
    [distribute] strategy = "default" | "mirrored" | "multi_worker"
    [report]  latency_runs, threads
    [[steps]] kind = "finetune" | "prune" | "distill" | "qat" | "quantize" | "edgetpu", name, input, and the
              kind's own settings (the dataclasses below)

Validation (``load_recipe``) rejects unknown keys, wrong types, missing files, a step input or distillation teacher
that is not an earlier step's output, and impossible orders: training steps (finetune, prune, distill, qat) come
before the int8 export (quantize, edgetpu); nothing trains after QAT; fine-tuning after pruning would undo the
sparsity. ``run_recipe`` runs the steps in a work folder (each step resumable; finished steps are skipped on a
rerun while the recipe still matches them) and writes the bundle with ``report.json``/``report.md``: accuracy on
the held-out split, size, gzip size, sparsity and CPU latency after every step, in one table.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError
from ._distill import DistillConfig
from ._finetune import FinetuneConfig
from ._prune import PruneConfig

log = logging.getLogger(__name__)

__all__ = ["Recipe", "ModelSection", "DataSection", "Step", "load_recipe", "run_recipe", "STEP_KINDS",
           "render_steps_md"]

TRAINING_KINDS = ("finetune", "prune", "distill", "qat")
EXPORT_KINDS = ("quantize", "edgetpu")


# --- schema -----------------------------------------------------------------------------------------------------

@dataclass
class ModelSection:
    base: str
    alpha: float = 1.0
    weights: str | None = None
    input_size: int | None = None
    classes: int | None = None
    input_range: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    resize: str = "stretch"


@dataclass
class DataSection:
    train: str
    validation: str | None = None
    val_split: float = 0.1
    test_split: float = 0.1
    seed: int = 0
    limit: int | None = None
    eval_limit: int | None = None
    batch_size: int = 32
    augment: bool = False
    labelled: bool = True


@dataclass
class DistributeSection:
    strategy: str = "default"


@dataclass
class ReportSection:
    latency_runs: int = 30
    threads: int = 1


@dataclass
class FinetuneStep(FinetuneConfig):
    """[[steps]] kind = "finetune": FinetuneConfig plus the new head's dropout."""

    dropout: float = 0.2


PruneStep = PruneConfig


@dataclass(kw_only=True)
class DistillStep(DistillConfig):
    """[[steps]] kind = "distill": DistillConfig plus who teaches whom."""

    teacher: str
    student: str = "mobilenet_v2"
    student_alpha: float = 0.35
    student_weights: str | None = None
    student_size: int | None = None  # a built-in student's input side in px (default: the teacher's)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.student_size is not None and self.student_size < 32:
            raise InputError(f"distill student_size must be at least 32 (px), got {self.student_size}")


@dataclass
class QatStep:
    epochs: int = 1
    lr: float = 1e-5


@dataclass
class QuantizeStep:
    calib_images: int = 200
    calibration: str = "mse"
    io: str = "float"


@dataclass
class EdgetpuStep:
    calib_images: int = 200
    calibration: str = "mse"


STEP_KINDS = {"finetune": FinetuneStep, "prune": PruneStep, "distill": DistillStep, "qat": QatStep,
              "quantize": QuantizeStep, "edgetpu": EdgetpuStep}


@dataclass
class Step:
    kind: str
    name: str
    input: str | None  # the earlier step whose model this one starts from (None: the previous one / the base)
    settings: object


@dataclass
class Recipe:
    path: Path
    model: ModelSection
    data: DataSection
    distribute: DistributeSection
    report: ReportSection
    steps: list[Step]

    def resolve(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.path.parent / q)


# --- validation ---------------------------------------------------------------------------------------------------

def _type_ok(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return isinstance(value, list) and all(_type_ok(v, inner) for v in value)
    return isinstance(value, tp)


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args and origin is not list:
        return " or ".join(_type_name(a) for a in args)
    return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false"}.get(tp.__name__, tp.__name__)


def _build(cls, data, where: str, file: str):
    if not isinstance(data, dict):
        raise InputError(f"{file}: {where} must be a table")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise InputError(f"{file}: {where}: unknown key {unknown[0]!r} (known: {', '.join(names)})")
    for f in dataclasses.fields(cls):
        if f.name in data:
            v = data[f.name]
            if not _type_ok(v, hints[f.name]):
                raise InputError(f"{file}: {where}.{f.name} must be {_type_name(hints[f.name])}, got {v!r}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InputError(f"{file}: {where}: missing key {f.name!r}")
    kw = {k: (float(v) if hints[k] in (float, float | None) and isinstance(v, int) else v) for k, v in data.items()}
    try:
        return cls(**kw)
    except InputError as exc:  # a settings class's own validation (e.g. sparsity out of range)
        raise InputError(f"{file}: {where}: {exc}") from None


def _is_keras_path(s: str) -> bool:
    return s.endswith((".h5", ".keras", ".hdf5")) or "/" in s or os.sep in s


def load_recipe(path: str | os.PathLike) -> Recipe:
    """Parse and validate a recipe file (see the module docstring); InputError with one line naming the problem."""
    from ._arch import ARCHITECTURES
    from ._distribute import STRATEGIES

    p = Path(path)
    if not p.is_file():
        raise InputError(f"recipe not found: {p}")
    f = p.name
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{f} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{f} is not a text file") from None
    unknown = [k for k in raw if k not in ("model", "data", "distribute", "report", "steps")]
    if unknown:
        raise InputError(f"{f}: unknown section [{unknown[0]}] (known: model, data, distribute, report, steps)")
    for sec in ("model", "data"):
        if sec not in raw:
            raise InputError(f"{f}: missing section [{sec}]")
    model = _build(ModelSection, raw["model"], "[model]", f)
    data = _build(DataSection, raw["data"], "[data]", f)
    dist = _build(DistributeSection, raw.get("distribute", {}), "[distribute]", f)
    report = _build(ReportSection, raw.get("report", {}), "[report]", f)
    recipe = Recipe(p.resolve(), model, data, dist, report, [])
    if dist.strategy not in STRATEGIES:
        raise InputError(f"{f}: [distribute].strategy must be one of {', '.join(STRATEGIES)}, got {dist.strategy!r}")
    if model.base not in ARCHITECTURES and not recipe.resolve(model.base).exists():
        raise InputError(f"{f}: [model].base {model.base!r} is neither a built-in architecture "
                         f"({', '.join(ARCHITECTURES)}) nor an existing model file ({recipe.resolve(model.base)})")
    if model.weights and model.weights != "imagenet" and not recipe.resolve(model.weights).is_file():
        raise InputError(f"{f}: [model].weights file not found: {recipe.resolve(model.weights)}")
    if len(model.input_range) != 2 or not model.input_range[0] < model.input_range[1]:
        raise InputError(f"{f}: [model].input_range must be [low, high] with low < high, got {model.input_range}")
    if model.resize not in ("stretch", "crop", "letterbox"):
        raise InputError(f"{f}: [model].resize must be stretch, crop or letterbox, got {model.resize!r}")
    if model.classes is not None and model.classes < 2:
        raise InputError(f"{f}: [model].classes must be at least 2, got {model.classes}")
    for key in ("train", "validation"):
        v = getattr(data, key)
        if v is not None and not recipe.resolve(v).is_dir():
            raise InputError(f"{f}: [data].{key} folder not found: {recipe.resolve(v)}")
    for key in ("val_split", "test_split"):
        if not 0.0 <= getattr(data, key) < 1.0:
            raise InputError(f"{f}: [data].{key} must be in [0, 1), got {getattr(data, key)}")
    if data.batch_size < 1:
        raise InputError(f"{f}: [data].batch_size must be at least 1")
    steps_raw = raw.get("steps", [])
    if not isinstance(steps_raw, list) or not steps_raw:
        raise InputError(f"{f}: no [[steps]]: add at least one (kinds: {', '.join(STEP_KINDS)})")
    seen: list[str] = []
    for i, s in enumerate(steps_raw, 1):
        if not isinstance(s, dict):
            raise InputError(f"{f}: step {i} must be a table ([[steps]])")
        kind = s.get("kind")
        if kind not in STEP_KINDS:
            raise InputError(f"{f}: step {i}: kind must be one of {', '.join(STEP_KINDS)}, got {kind!r}")
        name = s.get("name", kind)
        inp = s.get("input")
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise InputError(f"{f}: step {i}: name must be letters, digits, - or _, got {name!r}")
        if name in seen:
            raise InputError(f"{f}: step {i}: name {name!r} is used twice (give the steps distinct names)")
        where = f"[[steps]] {i} ({name})"
        if inp is not None and (not isinstance(inp, str) or inp not in seen):
            raise InputError(f"{f}: {where}: input {inp!r} is not the output of an earlier step"
                             f" (earlier steps: {', '.join(seen) or 'none'})")
        settings = _build(STEP_KINDS[kind], {k: v for k, v in s.items() if k not in ("kind", "name", "input")}, where, f)
        if kind == "distill":
            t = settings.teacher
            if t not in seen:
                if not _is_keras_path(t):
                    raise InputError(f"{f}: {where}: teacher {t!r} is not the output of an earlier step "
                                     f"(earlier steps: {', '.join(seen) or 'none'}) nor a Keras model file")
                if not recipe.resolve(t).exists():
                    raise InputError(f"{f}: {where}: teacher model not found: {recipe.resolve(t)}")
            if settings.student not in ARCHITECTURES and not recipe.resolve(settings.student).exists():
                raise InputError(f"{f}: {where}: student {settings.student!r} is neither a built-in architecture nor "
                                 f"an existing model file")
        if kind in ("quantize", "edgetpu") and settings.calibration not in ("mse", "minmax"):
            raise InputError(f"{f}: {where}: calibration must be mse or minmax, got {settings.calibration!r}")
        if kind == "quantize" and settings.io not in ("float", "int8", "uint8"):
            raise InputError(f"{f}: {where}: io must be float, int8 or uint8, got {settings.io!r}")
        recipe.steps.append(Step(kind, name, inp, settings))
        seen.append(name)
    _check_order(recipe, f)
    return recipe


def _check_order(recipe: Recipe, f: str) -> None:
    kinds = [s.kind for s in recipe.steps]
    for i, s in enumerate(recipe.steps):
        before = kinds[:i]
        where = f"step {i + 1} ({s.name})"
        if s.kind in TRAINING_KINDS:
            exported = [k for k in before if k in EXPORT_KINDS]
            if exported:
                raise InputError(f"{f}: {where}: {s.kind} after {exported[0]} is impossible: training steps work on "
                                 f"the float Keras model and must come before the int8 export")
            if "qat" in before:
                raise InputError(f"{f}: {where}: {s.kind} after qat is impossible: the model is quantization-aware "
                                 f"from then on (put qat last before quantize/edgetpu)")
        if s.kind == "finetune" and "prune" in before:
            raise InputError(f"{f}: {where}: finetune after prune would undo the sparsity: fine-tune first "
                             f"(the prune step trains too)")
        if s.kind == "quantize" and before.count("quantize") + before.count("edgetpu"):
            raise InputError(f"{f}: {where}: the model is already exported to int8 by an earlier step")
        if s.kind == "edgetpu" and "edgetpu" in before:
            raise InputError(f"{f}: {where}: edgetpu twice")


# --- running ------------------------------------------------------------------------------------------------------

def _model_io(tf_keras, path: Path, custom: bool = False):
    if custom:
        from ._env import import_tfmot

        with import_tfmot().quantization.keras.quantize_scope():
            return tf_keras.models.load_model(path, compile=False)
    return tf_keras.models.load_model(path, compile=False)


def render_steps_md(rows: list[dict]) -> str:
    head = ("| step | kind | top-1 (held-out) | file | bytes | gzip bytes | sparsity (conv) | latency ms (median) | "
            "s/epoch |\n|---|---|---:|---|---:|---:|---:|---:|---:|")
    out = [head]
    for r in rows:
        acc = "-" if r.get("top1") is None else f"{r['top1'] * 100:.2f}%"
        sp = "-" if r.get("sparsity_conv") is None else f"{r['sparsity_conv'] * 100:.1f}%"
        lat = "-" if r.get("latency_ms") is None else f"{r['latency_ms']:.2f}"
        spe = "-" if not r.get("seconds_per_epoch") else f"{np.mean(r['seconds_per_epoch']):.0f}"
        out.append(f"| {r['step']} | {r['kind']} | {acc} | {r.get('file', '-')} | {r.get('bytes', '-')} | "
                   f"{r.get('gzip_bytes', '-')} | {sp} | {lat} | {spe} |")
    return "\n".join(out) + "\n"


class _Runner:
    def __init__(self, recipe: Recipe, out: Path, work: Path, progress=None) -> None:
        from ._env import import_tf_keras

        self.r, self.out, self.work = recipe, out, work
        self.tf_keras = import_tf_keras()
        self.rows: list[dict] = []
        self.models: dict[str, Path] = {}  # step name -> Keras model file
        self.tflite: dict[str, Path] = {}
        self.kinds: dict[str, str] = {}
        self.sparse: dict[str, bool] = {}
        self.qat: dict[str, bool] = {}
        self.warnings: list[str] = []
        self._chain = ""  # fingerprint of the last step run or reused (see run_step)

    # data, model -------------------------------------------------------------------------------------------------
    def prepare(self):
        from ..bundle import InputSpec
        from ._distribute import get_strategy
        from ._training import prepare_data

        d, m = self.r.data, self.r.model
        self.strategy = get_strategy(self.r.distribute.strategy)
        self.data = prepare_data(self.r.resolve(d.train), val_split=d.val_split, test_split=d.test_split,
                                 val_dir=self.r.resolve(d.validation) if d.validation else None, seed=d.seed,
                                 limit=d.limit, eval_limit=d.eval_limit, labelled=d.labelled)
        if not self.data.labelled:
            raise InputError(f"{d.train} has no class folders: a recipe needs labelled data for its report")
        n = len(self.data.classes)
        if m.classes is not None and m.classes != n:
            raise InputError(f"[model].classes is {m.classes} but {d.train} has {n} class folders")
        self.spec = InputSpec.from_range(*m.input_range, resize=m.resize)
        self.eval_set = self.data.test if self.data.test is not None else self.data.val
        if self.eval_set is None:
            raise InputError("the recipe keeps no images for the report: set [data].test_split or val_split > 0")

    def base_model(self):
        from ._arch import ARCHITECTURES, build_architecture
        from ._load import load_keras

        m = self.r.model
        n = len(self.data.classes)
        if m.base in ARCHITECTURES:
            weights = m.weights if m.weights in (None, "imagenet") else self.r.resolve(m.weights)
            loaded, _ = build_architecture(m.base, alpha=m.alpha, input_size=m.input_size or 224, classes=n,
                                           weights=weights)
            return loaded.model
        return load_keras(self.r.resolve(m.base), input_size=None).model

    def size(self, model) -> tuple[int, int]:
        shape = model.inputs[0].shape
        return int(shape[1]), int(shape[2])

    def datasets(self, size, augment=None):
        from ._training import make_datasets

        d = self.r.data
        return make_datasets(self.data, size, self.spec, batch_size=d.batch_size,
                             augment=d.augment if augment is None else augment, seed=d.seed)

    def check_classes(self, model, what: str):
        out = int(model.outputs[0].shape[-1])
        n = len(self.data.classes)
        if out != n:
            raise ModelError(f"{what} predicts {out} classes but the data has {n} class folders "
                             f"(start with a finetune step to give it a {n}-class head)")

    def load_input(self, step: Step, index: int):
        """The Keras model a training step starts from (in the strategy's scope)."""
        if step.input is not None:
            src = step.input
        else:
            src = next((s.name for s in reversed(self.r.steps[:index]) if s.name in self.models), None)
        with self.strategy.scope():
            if src is None:
                return self.base_model(), None
            return _model_io(self.tf_keras, self.models[src], custom=self.qat.get(src, False)), src

    # evaluation ----------------------------------------------------------------------------------------------------
    def measure(self, name: str, kind: str, *, model=None, tflite: Path | None = None, info: dict | None = None):
        from ._evaluate import predict_keras, predict_tflite
        from ._latency import measure_latency
        from ._prune import gzip_size, sparsity_report, tflite_sparsity

        row: dict = {"step": name, "kind": kind}
        labels = self.eval_set.labels
        if model is not None:
            scores = predict_keras(model, self.eval_set, self.spec, batch=64)
            row["top1"] = float(np.mean(scores.argmax(1) == labels))
            if tflite is None:
                tflite = self.qat_tflite(name, model) if kind == "qat" else self.float_tflite(name, model)
            if kind == "qat":  # PQAT keeps the zeros in the quantized weights (a mask), not in the float variables
                sp = tflite_sparsity(tflite.read_bytes())
                row["sparsity_conv"], row["sparsity_all"] = sp["conv"], sp["overall"]
            else:
                rep = sparsity_report(model)
                row["sparsity_conv"], row["sparsity_all"] = rep["conv"], rep["overall"]
            row["accuracy_of"] = "keras"
        else:
            scores = predict_tflite(tflite, self.eval_set, spec=self.spec)
            row["top1"] = float(np.mean(scores.argmax(1) == labels))
            sp = tflite_sparsity(tflite.read_bytes())
            row["sparsity_conv"], row["sparsity_all"] = sp["conv"], sp["overall"]
            row["accuracy_of"] = "tflite"
        data = tflite.read_bytes()
        row.update(file=tflite.name, bytes=len(data), gzip_bytes=gzip_size(data), eval_images=len(self.eval_set))
        if self.r.report.latency_runs > 0:
            lat = measure_latency({name: data}, threads=self.r.report.threads, runs=self.r.report.latency_runs)
            row["latency_ms"] = lat[name]["median"]
            row["latency_threads"] = self.r.report.threads
        if info:
            row["seconds_per_epoch"] = [t for ph in info.get("phases", [info]) for t in ph.get("seconds_per_epoch", [])]
            row["details"] = info
        self.rows.append(row)
        log.info("after %s: top-1 %.2f%%, %d bytes (gzip %d), conv sparsity %.1f%%", name, row["top1"] * 100,
                 row["bytes"], row["gzip_bytes"], row["sparsity_conv"] * 100)
        return row

    def float_tflite(self, name: str, model) -> Path:
        from ._load import LoadedModel
        from ._quantize import convert_tflite

        path = self.work / name / "model_float.tflite"
        if not path.is_file():
            res = convert_tflite(LoadedModel(model, "tf_keras", name), "none")
            path.write_bytes(res.tflite)
        return path

    def qat_tflite(self, name: str, model) -> Path:
        """A quantization-aware model's size and latency are its int8 file's (the float conversion of fake-quant
        ops means nothing)."""
        from ._load import LoadedModel
        from ._quantize import convert_tflite

        path = self.work / name / "model_qat_int8.tflite"
        if not path.is_file():
            calib = self.calib(self.size(model), 32)
            res = convert_tflite(LoadedModel(model, "tf_keras", name), "int8", calib=calib, calibration="minmax")
            path.write_bytes(res.tflite)
        return path

    def calib(self, size, n: int) -> np.ndarray:
        from ._data import load_images, sample

        imgs = sample(self.data.train, n, seed=self.r.data.seed)
        return load_images(imgs.paths, size, self.spec)

    # steps ---------------------------------------------------------------------------------------------------------
    def fingerprint(self, step: Step, before: str) -> str:
        """A hash of what the step's output depends on: the model and data sections, this step's kind, name, input
        and settings, and ``before`` (the previous step's fingerprint, so a change anywhere earlier shows too)."""
        import hashlib

        what = {"model": dataclasses.asdict(self.r.model), "data": dataclasses.asdict(self.r.data),
                "kind": step.kind, "name": step.name, "input": step.input,
                "settings": dataclasses.asdict(step.settings), "before": before}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()

    def run_step(self, i: int, step: Step):
        """Run step ``i``, or reuse its finished output in the work folder while the recipe still matches it."""
        sdir = self.work / step.name
        done = sdir / "step.json"
        fp = self._chain = self.fingerprint(step, self._chain)
        fp_file = sdir / "fingerprint"
        if fp_file.is_file() and fp_file.read_text().strip() != fp:
            # the recipe changed since this step (or an earlier one) ran here: its output and checkpoints are stale
            log.info("step %s: the recipe changed since it ran in %s; running it again", step.name, sdir)
            shutil.rmtree(sdir)
        if done.is_file():  # finished with these settings (or recorded before fingerprints existed)
            rec = json.loads(done.read_text())
            log.info("step %s already done (%s): reusing its output", step.name, done)
            self._register(step, rec)
            self.rows.append(rec["row"])
            return
        sdir.mkdir(parents=True, exist_ok=True)
        fp_file.write_text(fp + "\n")
        t0 = time.perf_counter()
        rec = getattr(self, f"_run_{step.kind}")(i, step, sdir)
        rec["row"]["seconds"] = time.perf_counter() - t0
        done.write_text(json.dumps(rec, indent=2, default=str))
        self._register(step, rec)

    def _register(self, step: Step, rec: dict) -> None:
        self.kinds[step.name] = step.kind
        if rec.get("model"):
            self.models[step.name] = Path(rec["model"])
        if rec.get("tflite"):
            self.tflite[step.name] = Path(rec["tflite"])
        self.sparse[step.name] = bool(rec.get("sparse"))
        self.qat[step.name] = bool(rec.get("qat"))

    def _save(self, model, sdir: Path) -> str:
        path = sdir / "model.h5"
        model.save(path, include_optimizer=False)
        return str(path)

    def _run_finetune(self, i, step, sdir):
        from ._finetune import finetune, replace_head

        s = step.settings
        model, src = self.load_input(step, i)
        size = self.r.model.input_size or self.size(model)[0]
        with self.strategy.scope():
            model = replace_head(model, len(self.data.classes), input_size=size, dropout=s.dropout)
        tr, va = self.datasets((size, size))
        model, info = finetune(model, tr, va, s, sdir / "train", strategy=self.strategy)
        row = self.measure(step.name, "finetune", model=model, info=info)
        return {"model": self._save(model, sdir), "row": row, "sparse": self.sparse.get(src, False)}

    def _run_prune(self, i, step, sdir):
        from ._finetune import compile_classifier
        from ._prune import apply_pruning, pruning_callbacks, strip
        from ._training import fit

        s = step.settings
        model, _ = self.load_input(step, i)
        self.check_classes(model, f"the model pruned by {step.name}")
        size = self.size(model)
        tr, va = self.datasets(size)
        steps = int(tr.cardinality().numpy())
        cfg = s
        with self.strategy.scope():
            pruned, plan = apply_pruning(model, cfg, steps * s.epochs)
            compile_classifier(pruned, s.lr)
        res = fit(pruned, tr, va, epochs=s.epochs, work_dir=sdir / "train", name=f"prune/{step.name}",
                  steps_per_epoch=steps, callbacks=pruning_callbacks(), save_best=False)
        stripped = strip(pruned)
        info = {"epochs_run": res.epochs_run, "seconds_per_epoch": res.seconds_per_epoch, "plan": plan,
                "csv": str(res.csv), "png": str(res.png)}
        row = self.measure(step.name, "prune", model=stripped, info=info)
        return {"model": self._save(stripped, sdir), "row": row, "sparse": True}

    def _run_distill(self, i, step, sdir):
        from ._arch import ARCHITECTURES, build_architecture
        from ._distill import distill
        from ._finetune import replace_head
        from ._load import load_keras

        s = step.settings
        n = len(self.data.classes)
        with self.strategy.scope():
            if s.teacher in self.models:
                teacher = _model_io(self.tf_keras, self.models[s.teacher], custom=self.qat.get(s.teacher, False))
            else:
                teacher = load_keras(self.r.resolve(s.teacher)).model
            teacher.trainable = False
            self.check_classes(teacher, f"teacher {s.teacher}")
            t_size = self.size(teacher)
            if s.student in ARCHITECTURES:
                size = s.student_size or t_size[0]
                w = s.student_weights if s.student_weights in (None, "imagenet") else self.r.resolve(s.student_weights)
                built, _ = build_architecture(s.student, alpha=s.student_alpha, input_size=size, classes=n, weights=w)
                student = replace_head(built.model, n, input_size=size)
            else:
                student = load_keras(self.r.resolve(s.student)).model
                self.check_classes(student, f"student {s.student}")
                size = self.size(student)[0]
            # a student trained from scratch learns its batch norms too; Keras' MobileNet momentum 0.999 leaves the
            # moving statistics near their initial values for the first thousand steps (validation at chance level)
            for layer in student.layers:
                layer.trainable = True
                if type(layer).__name__ == "BatchNormalization" and s.student in ARCHITECTURES:
                    layer.momentum = min(layer.momentum, 0.9)
        student, info = distill(student, teacher, self.data, (size, size), self.spec, s, sdir / "train",
                                batch_size=self.r.data.batch_size, seed=self.r.data.seed, strategy=self.strategy,
                                teacher_size=t_size)
        row = self.measure(step.name, "distill", model=student, info=info)
        return {"model": self._save(student, sdir), "row": row, "sparse": False}

    def _run_qat(self, i, step, sdir):
        from ._finetune import compile_classifier
        from ._qat import init_ranges, quantization_aware
        from ._training import fit

        s = step.settings
        model, src = self.load_input(step, i)
        self.check_classes(model, f"the model of {step.name}")
        sparse = self.sparse.get(src, False) if src else False
        with self.strategy.scope():
            # on a pruned model tfmot's pruning-preserving scheme (PQAT): the zeros stay zero
            qmodel = quantization_aware(model, preserve_sparsity=sparse)
            compile_classifier(qmodel, s.lr)
        size = self.size(model)
        calib = self.calib(size, 256)
        init_ranges(qmodel, (calib[j:j + 32] for j in range(0, len(calib), 32)))
        tr, va = self.datasets(size)
        from ._prune import keep_sparsity

        res = fit(qmodel, tr, va, epochs=s.epochs, work_dir=sdir / "train", name=f"qat/{step.name}", save_best=False,
                  callbacks=[keep_sparsity(qmodel)] if sparse else [])
        info = {"epochs_run": res.epochs_run, "seconds_per_epoch": res.seconds_per_epoch, "pqat": sparse,
                "csv": str(res.csv), "png": str(res.png)}
        row = self.measure(step.name, "qat", model=qmodel, info=info)
        return {"model": self._save(qmodel, sdir), "row": row, "sparse": sparse, "qat": True}

    def _export(self, i, step, sdir, io: str):
        from ._load import LoadedModel
        from ._quantize import convert_tflite

        s = step.settings
        model, src = self.load_input(step, i)
        self.check_classes(model, f"the model exported by {step.name}")
        size = self.size(model)
        is_qat = self.qat.get(src, False) if src else False
        calib = self.calib(size, s.calib_images)
        res = convert_tflite(LoadedModel(model, "tf_keras", src or "base"), "int8", calib=calib, io=io,
                             calibration="minmax" if is_qat else s.calibration)
        path = sdir / "model_int8.tflite"
        path.write_bytes(res.tflite)
        return path, res, src

    def _run_quantize(self, i, step, sdir):
        path, res, src = self._export(i, step, sdir, step.settings.io)
        row = self.measure(step.name, "quantize", tflite=path)
        row["details"] = {"calibration": res.calibration, "calib_images": res.calib_images, "from": src}
        return {"tflite": str(path), "row": row, "sparse": self.sparse.get(src, False)}

    def _run_edgetpu(self, i, step, sdir):
        from ._compile import compile_model

        prev = next((s for s in reversed(self.r.steps[:i]) if s.kind == "quantize"), None)
        if prev is not None and step.input is None and self.rows and prev.settings.io == "uint8":
            path = self.tflite[prev.name]
        else:
            path, _, _ = self._export(i, step, sdir, "uint8")
        rep = compile_model(path, sdir)
        row = self.measure(step.name, "edgetpu", tflite=path)
        pred = rep.get("predicted") or {}
        from ._report import op_total

        row["details"] = {"compiled": rep.get("compiled", False), "note": rep.get("note"),
                          "predicted_mapped_ops": op_total(pred.get("mapped_ops")),
                          "predicted_cpu_ops": op_total(pred.get("cpu_ops")),
                          "first_unmapped": pred.get("first_unmapped")}
        compiled = sorted(sdir.glob("*_edgetpu.tflite"))
        return {"tflite": str(path), "edgetpu": str(compiled[0]) if compiled else None, "row": row,
                "predicted": pred}

    # bundle ----------------------------------------------------------------------------------------------------------
    def write(self, overwrite: bool) -> dict:
        from ..bundle import OutputSpec
        from ._export import export_bundle

        last = self.r.steps[-1]
        if last.name in self.tflite:
            model_file = self.tflite[last.name]
        else:
            model_file = self.work / last.name / "model_float.tflite"
        etpu = None
        done = json.loads((self.work / last.name / "step.json").read_text())
        if done.get("edgetpu"):
            etpu = Path(done["edgetpu"])
        extra = {}
        for st in self.r.steps:
            for png in sorted((self.work / st.name).rglob("curves.*")):
                rel = png.relative_to(self.work / st.name / "train") if "train" in png.parts else png.name
                extra[f"curves/{st.name}/{str(rel).replace(os.sep, '_')}"] = png
        report = {"name": self.r.path.stem, "recipe": str(self.r.path), "data": self.data.summary(),
                  "evaluated_on": "test" if self.data.test is not None else "val",
                  "steps": self.rows, "distribute": self.r.distribute.strategy, "warnings": self.warnings,
                  "quantization": {"mode": "int8" if last.name in self.tflite else "none"},
                  "size": {"model.tflite": model_file.stat().st_size}}
        from ._report import render_report_md

        extra["report.md"] = (render_report_md(report) + "\n## After every step\n\n"
                              + f"Accuracy on {len(self.eval_set)} held-out images (never trained on).\n\n"
                              + render_steps_md(self.rows)).encode()
        export_bundle(self.out, model_file, input_spec=self.spec, output=OutputSpec(decoder="softmax"), report=report,
                      labels=list(self.data.classes), edgetpu_model=etpu, name=self.r.path.stem,
                      source={"recipe": self.r.path.name}, overwrite=overwrite, extra_files=extra)
        # report.md of _export knows single conversions: append the per-step table
        return report


def run_recipe(recipe: Recipe | str | os.PathLike, out: str | os.PathLike, *, work_dir: str | os.PathLike | None = None,
               overwrite: bool = False, keep_work: bool = True) -> dict:
    """Run a recipe and write the bundle ``out`` (with report.json, report.md and the learning curves).

    The steps work in ``work_dir`` (default: ``<out>.work`` next to ``out``); a rerun after an interruption skips the
    finished steps and resumes the interrupted one from its last epoch. ``out`` is written only at the end, all at
    once; on any error nothing is left in it. Returns the report."""
    r = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    out = Path(out)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not empty (use an empty or new folder, or --overwrite)")
    work = Path(work_dir) if work_dir else out.with_name(out.name + ".work")
    runner = _Runner(r, out, work)
    runner.prepare()  # data checks before anything is written
    work.mkdir(parents=True, exist_ok=True)
    (work / "recipe.toml").write_bytes(r.path.read_bytes())
    for i, step in enumerate(r.steps):
        log.info("step %d/%d: %s (%s)", i + 1, len(r.steps), step.name, step.kind)
        runner.run_step(i, step)
    report = runner.write(overwrite)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return report


def run_recipe_cli(args) -> int:
    """``edgesdk convert --recipe FILE -o DIR``: run the recipe, print the per-step table (or the report as JSON)."""
    import sys

    if not args.recipe:
        raise InputError("give a MODEL or --recipe FILE")
    if args.model:
        raise InputError("give either a MODEL or --recipe FILE, not both (the recipe names its model)")
    recipe = load_recipe(args.recipe)
    report = run_recipe(recipe, args.out, overwrite=getattr(args, "overwrite", False))
    if getattr(args, "json", False):
        json.dump(report, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(f"wrote {args.out} ({len(recipe.steps)} steps of {recipe.path.name})\n")
    sys.stdout.write(render_steps_md(report["steps"]))
    return 0
