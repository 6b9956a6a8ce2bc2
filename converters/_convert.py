"""``convert()``, behind ``edgesdk convert MODEL``: load -> [QAT] -> calibrate -> quantize -> check -> bundle, run as
a one-step recipe (edgesdk.converters.recipes) so images, reports and bundles are handled one way."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .recipes import ConvertOptions, ConvertStep, check_out_dir, run_recipe
from .recipes import DataSection, DistributeSection, ModelSection, Recipe, ReportSection, Step

__all__ = ["ConvertOptions", "convert"]


def convert(model: str | os.PathLike, out_dir: str | os.PathLike, opts: ConvertOptions | None = None,
            *, progress=None) -> dict:
    """Convert ``model`` (a Keras file/folder, a built-in architecture name or a float ``.tflite``) and write the bundle ``out_dir``
    with report.json and report.md. Returns the report. ``progress(desc, total)`` is an optional context-manager
    factory for progress bars (the CLI's)."""
    from ._arch import ARCHITECTURES
    from ._load import check_keras_path

    opts = opts or ConvertOptions()
    name = str(model)
    if name.lower().endswith(".tflite"):  # a float TFLite model without its source: replayed, then quantized
        from dataclasses import replace

        from ._from_tflite import convert_float_tflite

        if opts.calibration is None:  # min/max is what the float .tflite models were measured with
            opts = replace(opts, calibration="minmax")
        return convert_float_tflite(Path(model), Path(out_dir), opts, progress=progress)
    if name not in ARCHITECTURES:
        check_keras_path(model)  # before anything else, and before TensorFlow is imported
    opts.check()
    check_out_dir(Path(out_dir), opts.overwrite)
    step = Step("convert", "convert", None, ConvertStep(name, opts))
    work = Path(tempfile.mkdtemp(prefix="edgesdk-convert-"))
    recipe = Recipe(work / "convert.recipe", ModelSection(base=name), DataSection(train=None, seed=opts.seed),
                    DistributeSection(), ReportSection(latency_runs=opts.latency_runs, threads=1), [step])
    return run_recipe(recipe, out_dir, work_dir=work, overwrite=opts.overwrite, keep_work=False, progress=progress)
