"""Recipes: a model, a data folder and an ordered list of steps in a TOML file, validated before anything runs,
run step by step in a resumable work folder, and written as one bundle with a per-step report.

    recipe = load_recipe("recipes/cifar10_mobilenet_v2_edgetpu.toml")   # InputError naming any problem
    report = run_recipe(recipe, "out/bundle")                           # report.json's content

Modules: ``_schema`` (the sections, steps and recipe), ``_validate`` (load_recipe and the order rules),
``_context`` (what the steps share, and the StepKind contract), ``_runner`` (run_recipe: reuse, fingerprints, the bundle), and one module per
step kind (``_finetune``, ``_prune``, ``_distill``, ``_qat``, ``_quantize``, ``_edgetpu``; ``_convert`` and ``_tflite``
are the single conversion of ``edgesdk convert MODEL`` of a Keras and of a float .tflite model, run as a one-step
recipe by ``edgesdk.converters.convert``).
"""

from ._context import RecipeRun, StepContext, StepKind
from ._convert import ConvertOptions, ConvertStep
from ._distill import DistillStep
from ._edgetpu import EdgetpuStep
from ._finetune import FinetuneStep
from ._kinds import STEP_KINDS
from ._prune import PruneStep
from ._qat import QatStep
from ._quantize import QuantizeStep
from ._runner import check_out_dir, render_steps_md, run_recipe
from ._tflite import FloatTfliteStep
from ._schema import DataSection, DistributeSection, ModelSection, Recipe, ReportSection, Step
from ._validate import load_recipe

__all__ = [
    "STEP_KINDS",
    "ConvertOptions",
    "ConvertStep",
    "DataSection",
    "DistillStep",
    "DistributeSection",
    "EdgetpuStep",
    "FloatTfliteStep",
    "FinetuneStep",
    "ModelSection",
    "PruneStep",
    "QatStep",
    "QuantizeStep",
    "Recipe",
    "RecipeRun",
    "ReportSection",
    "Step",
    "StepContext",
    "StepKind",
    "check_out_dir",
    "load_recipe",
    "render_steps_md",
    "run_recipe",
]
