"""``convert()``, behind ``edgesdk convert MODEL``: load -> [QAT] -> calibrate -> quantize -> check -> bundle, run as
a one-step recipe (edgesdk.converters.recipes: ConvertStep for Keras models, FloatTfliteStep for a float .tflite)
so images, reports and bundles are handled one way."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._results import ConvertReport
from .recipes import ConvertOptions, ConvertStep, FloatTfliteStep, check_out_dir, run_recipe
from .recipes import DataSection, DistributeSection, ModelSection, Recipe, ReportSection, Step

__all__ = ["ConvertOptions", "convert"]


def convert(model: str | os.PathLike, out_dir: str | os.PathLike, opts: ConvertOptions | None = None,
            *, progress=None) -> ConvertReport:
    """Convert ``model`` (a Keras file/folder, a built-in architecture name or a float ``.tflite``) and write the bundle ``out_dir``
    with report.json and report.md, as a one-step recipe. Returns its ConvertReport. ``progress(desc, total)`` is
    an optional context-manager factory for progress bars (the CLI's)."""
    from ._arch import ARCHITECTURES
    from ._load import check_keras_path

    opts = opts or ConvertOptions()
    name = str(model)
    settings: ConvertStep | FloatTfliteStep
    if name.lower().endswith(".tflite"):  # a float TFLite model without its source: replayed, then quantized
        settings = FloatTfliteStep(name, opts)
    else:
        if name not in ARCHITECTURES:
            check_keras_path(model)  # before anything else, and before TensorFlow is imported
        settings = ConvertStep(name, opts)
    settings.validate(None, [], "convert")  # the model and option checks (neither needs a recipe file)
    check_out_dir(Path(out_dir), opts.overwrite)
    work = Path(tempfile.mkdtemp(prefix="edgesdk-convert-"))
    recipe = Recipe(work / "convert.recipe", ModelSection(base=name), DataSection(train=None, seed=opts.seed),
                    DistributeSection(), ReportSection(latency_runs=opts.latency_runs, threads=1),
                    [Step(settings.kind, "convert", None, settings)])
    return run_recipe(recipe, out_dir, work_dir=work, overwrite=opts.overwrite, keep_work=False, progress=progress)
