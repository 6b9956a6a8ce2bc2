"""``load_recipe``: parse a recipe file and validate it before anything runs.

Rejects unknown keys, wrong types, missing files, a step input or distillation teacher that is not an earlier
step's output, and impossible orders: training steps come before the int8 export; nothing trains after QAT;
fine-tuning after pruning would undo the sparsity. Every problem is one InputError line naming file and key."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from pathlib import Path

from ...errors import InputError
from ._kinds import STEP_KINDS
from ._schema import DataSection, DistributeSection, ModelSection, Recipe, ReportSection, Step

__all__ = ["build_section", "load_recipe"]

SECTIONS = ("model", "data", "distribute", "report", "steps")


def _type_ok(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
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


def build_section(cls, data, where: str, file: str):
    """``cls(**data)`` for a dataclass, with one-line InputErrors for a non-table, unknown or missing keys and
    wrong value types (ints are accepted where numbers are expected)."""
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


def _read(p: Path) -> dict:
    if not p.is_file():
        raise InputError(f"recipe not found: {p}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p.name} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{p.name} is not a text file") from None


def load_recipe(path: str | os.PathLike) -> Recipe:
    """Parse and validate a recipe file (see edgesdk.converters.recipes); InputError with one line naming the
    problem."""
    from .._arch import ARCHITECTURES
    from .._distribute import STRATEGIES

    p = Path(path)
    raw = _read(p)
    f = p.name
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise InputError(f"{f}: unknown section [{unknown[0]}] (known: {', '.join(SECTIONS)})")
    for sec in ("model", "data"):
        if sec not in raw:
            raise InputError(f"{f}: missing section [{sec}]")
    model = build_section(ModelSection, raw["model"], "[model]", f)
    data = build_section(DataSection, raw["data"], "[data]", f)
    dist = build_section(DistributeSection, raw.get("distribute", {}), "[distribute]", f)
    report = build_section(ReportSection, raw.get("report", {}), "[report]", f)
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
    recipe.steps = _steps(recipe, raw.get("steps", []), f)
    check_order(recipe)
    return recipe


def _steps(recipe: Recipe, steps_raw, f: str) -> list[Step]:
    if not isinstance(steps_raw, list) or not steps_raw:
        raise InputError(f"{f}: no [[steps]]: add at least one (kinds: {', '.join(STEP_KINDS)})")
    steps: list[Step] = []
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
        settings = build_section(STEP_KINDS[kind], {k: v for k, v in s.items() if k not in ("kind", "name", "input")},
                                 where, f)
        settings.validate(recipe, seen, where)
        steps.append(Step(kind, name, inp, settings))
        seen.append(name)
    return steps


def check_order(recipe: Recipe) -> None:
    """The order rules (module docstring); InputError naming the first step that breaks one."""
    f = recipe.path.name
    before: list[Step] = []
    for i, s in enumerate(recipe.steps):
        kinds = [b.kind for b in before]
        where = f"step {i + 1} ({s.name})"
        if s.settings.trains:
            exported = [b.kind for b in before if b.settings.exports]
            if exported:
                raise InputError(f"{f}: {where}: {s.kind} after {exported[0]} is impossible: training steps work on "
                                 f"the float Keras model and must come before the int8 export")
            if "qat" in kinds:
                raise InputError(f"{f}: {where}: {s.kind} after qat is impossible: the model is quantization-aware "
                                 f"from then on (put qat last before quantize/edgetpu)")
        if s.kind == "finetune" and "prune" in kinds:
            raise InputError(f"{f}: {where}: finetune after prune would undo the sparsity: fine-tune first "
                             f"(the prune step trains too)")
        if s.kind == "quantize" and kinds.count("quantize") + kinds.count("edgetpu"):
            raise InputError(f"{f}: {where}: the model is already exported to int8 by an earlier step")
        if s.kind == "edgetpu" and "edgetpu" in kinds:
            raise InputError(f"{f}: {where}: edgetpu twice")
        before.append(s)
