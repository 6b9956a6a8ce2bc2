"""The workstation side (extra ``convert``): Keras models -> quantized TFLite -> Edge TPU, as bundles.

TensorFlow is imported only inside the functions that need it (with ``TF_USE_LEGACY_KERAS=1`` set first), so
``import edgesdk.converters`` stays light.
"""

from ._arch import ARCHITECTURES, build_architecture
from ._compile import (
    INSTALL_HINT,
    CompileLog,
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
from ._env import import_tf, import_tf_keras, import_tfmot
from ._evaluate import EvalResult, evaluate, topk_accuracy
from ._export import export_bundle
from ._latency import measure_latency
from ._load import LoadedModel, fix_input_size, load_keras
from ._input_spec import infer_input_spec
from ._recipe import run_recipe_cli
from ._report import op_total, render_report_md, report_json
from ._quantize import CALIBRATIONS, IO_TYPES, QUANTIZE_MODES, ConvertResult, convert_tflite

__all__ = [
    "ARCHITECTURES",
    "CALIBRATIONS",
    "CompileLog",
    "CompileResult",
    "ConvertOptions",
    "ConvertResult",
    "EvalResult",
    "IMAGE_SUFFIXES",
    "INSTALL_HINT",
    "IO_TYPES",
    "ImageSet",
    "LoadedModel",
    "OperatorStatus",
    "QUANTIZE_MODES",
    "build_architecture",
    "compile_model",
    "convert",
    "convert_tflite",
    "evaluate",
    "export_bundle",
    "find_compiler",
    "fix_input_size",
    "import_tf",
    "import_tf_keras",
    "import_tfmot",
    "infer_input_spec",
    "load_images",
    "load_keras",
    "measure_latency",
    "op_total",
    "parse_compiler_log",
    "predict_mapping",
    "render_report_md",
    "report_json",
    "run_compiler",
    "run_recipe_cli",
    "sample",
    "scan_images",
    "stratified_split",
    "tf_dataset",
    "topk_accuracy",
]
