"""The workstation side (extra ``convert``): Keras models -> quantized TFLite -> Edge TPU, as bundles.

TensorFlow is imported only inside the functions that need it (with ``TF_USE_LEGACY_KERAS=1`` set first), so
``import edgesdk.converters`` stays light.

The public API, by job: ``convert`` + ``ConvertOptions`` (one model, one call); the training steps with their
config dataclasses (``finetune`` + ``FinetuneConfig``, ``apply_pruning`` + ``PruneConfig``, ``distill`` +
``DistillConfig``, ``quantization_aware`` / ``qat_train``, ``fit``); ``convert_tflite`` (quantize) and the int8 weight preparation before it (``prepare_weights``: ``equalize``,
``gptq_round``, ``adaround``, ``bias_correct``); the int8 methods as strategy classes (activation ranges: a
``Calibration``, ``MinMax``, ``Percentile`` or ``Mse``; weight rounding: a ``Rounding``, ``Nearest``, ``Gptq`` or
``AdaRound``; ``parse_calibration`` / ``parse_rounding`` turn their names into them); recipes
(``load_recipe``, ``run_recipe``, ``STEP_KINDS``, more in ``edgesdk.converters.recipes``); data (``scan_images``,
``load_images``, ``tf_dataset``, ``prepare_data``); ``evaluate``; ``compile_model``; reports. ``convert`` and
``run_recipe`` return a ``ConvertReport`` (a recipe's rows as a ``StepTable`` of numpy columns), ``compile_model``
a ``CompileReport``; ``to_dict()`` of each is its JSON document.
"""

from ._adaround import adaround
from ._arch import ARCHITECTURES, build_architecture
from ._biascorrect import bias_correct
from ._compile import (
    INSTALL_HINT,
    CompileLog,
    CompileReport,
    CompileResult,
    OperatorStatus,
    compile_model,
    find_compiler,
    parse_compiler_log,
    predict_mapping,
    run_compiler,
)
from ._convert import ConvertOptions, convert
from ._data import IMAGE_SUFFIXES, ImageSet, load_images, sample, scan_images, stratified_split, tf_dataset
from ._distill import DistillConfig, distill
from ._distribute import STRATEGIES, get_strategy
from ._equalize import equalize
from ._env import import_tf, import_tf_keras, import_tfmot
from ._face_threshold import raw_outputs
from ._from_tflite import calibration_inputs
from ._evaluate import EvalResult, evaluate, predict_keras, predict_tflite, tied_disagreements, topk_accuracy
from ._export import export_bundle
from ._gptq import gptq_round
from ._finetune import FinetuneConfig, compile_classifier, finetune, logits_model, replace_head
from ._input_spec import infer_input_spec
from ._latency import measure_latency
from ._load import LoadedModel, fix_input_size, load_keras
from ._prequant import prepare_weights
from ._prune import (
    PruneConfig,
    apply_pruning,
    gzip_size,
    keep_sparsity,
    pqat_model,
    pruning_callbacks,
    sparsity_report,
    strip,
    tflite_sparsity,
)
from ._qat import init_ranges, prepare_for_qat, qat_train, quantization_aware
from ._quantize import IO_TYPES, QUANTIZE_MODES, ConvertResult, convert_tflite
from ._report import mapping_summary, op_total, render_report_md, report_json
from ._results import ConvertAccuracy, ConvertReport, ModelLatency, StepTable
from ._strategies import (
    CALIBRATIONS,
    ROUNDINGS,
    AdaRound,
    Calibration,
    Gptq,
    MinMax,
    Mse,
    Nearest,
    Percentile,
    Rounding,
    parse_calibration,
    parse_rounding,
)
from ._tflite_error import ReplayedTflite
from ._training import FitResult, fit, read_curves
from ._trainset import TrainingData, make_datasets, prepare_data
from .recipes import STEP_KINDS, FloatTfliteStep, QatStep, Recipe, Step, load_recipe, render_steps_md, run_recipe

__all__ = [
    "ROUNDINGS",
    "adaround",
    "equalize",
    "gptq_round",
    "prepare_weights",
    "AdaRound",
    "Calibration",
    "Gptq",
    "MinMax",
    "Mse",
    "Nearest",
    "Percentile",
    "Rounding",
    "parse_calibration",
    "parse_rounding",
    "ARCHITECTURES",
    "CALIBRATIONS",
    "IMAGE_SUFFIXES",
    "INSTALL_HINT",
    "IO_TYPES",
    "QUANTIZE_MODES",
    "STEP_KINDS",
    "STRATEGIES",
    "CompileLog",
    "CompileReport",
    "CompileResult",
    "ConvertAccuracy",
    "ConvertOptions",
    "ConvertReport",
    "ConvertResult",
    "DistillConfig",
    "EvalResult",
    "FinetuneConfig",
    "FitResult",
    "FloatTfliteStep",
    "ImageSet",
    "LoadedModel",
    "ModelLatency",
    "OperatorStatus",
    "PruneConfig",
    "QatStep",
    "Recipe",
    "Step",
    "StepTable",
    "TrainingData",
    "apply_pruning",
    "bias_correct",
    "build_architecture",
    "compile_classifier",
    "compile_model",
    "convert",
    "convert_tflite",
    "distill",
    "evaluate",
    "calibration_inputs",
    "raw_outputs",
    "ReplayedTflite",
    "tied_disagreements",
    "export_bundle",
    "find_compiler",
    "finetune",
    "fit",
    "fix_input_size",
    "get_strategy",
    "gzip_size",
    "import_tf",
    "import_tf_keras",
    "import_tfmot",
    "infer_input_spec",
    "init_ranges",
    "keep_sparsity",
    "load_images",
    "load_keras",
    "mapping_summary",
    "load_recipe",
    "logits_model",
    "make_datasets",
    "measure_latency",
    "op_total",
    "parse_compiler_log",
    "pqat_model",
    "predict_keras",
    "predict_mapping",
    "predict_tflite",
    "prepare_data",
    "prepare_for_qat",
    "pruning_callbacks",
    "qat_train",
    "quantization_aware",
    "read_curves",
    "render_report_md",
    "render_steps_md",
    "replace_head",
    "report_json",
    "run_compiler",
    "run_recipe",
    "sample",
    "scan_images",
    "sparsity_report",
    "stratified_split",
    "strip",
    "tf_dataset",
    "tflite_sparsity",
    "topk_accuracy",
]
