"""Read .tflite files without TensorFlow and predict their Edge TPU mapping.

>>> info = read_model("model.tflite")
>>> info.inputs[0].shape, info.op_counts, info.is_edgetpu_compiled
>>> predict_edgetpu(info).to_dict()   # {compiled, mapped_ops, cpu_ops, first_unmapped, ...}

The flatbuffer schema comes from LiteRT (``ai_edge_litert.schema_py_generated``) or TensorFlow, imported only
when a model is read.
"""

from ._activation import classifier_decoder, final_activation
from ._compiled import compiled_report, is_edgetpu_compiled
from ._edgetpu import (
    SUPPORTED_OPS,
    EdgeTpuReport,
    OpPlacement,
    op_caveat,
    op_problem,
    tensor_problem,
)
from ._predict import predict_edgetpu
from ._reader import check_tflite_file, is_tflite, load_schema, read_model
from ._walk import predict_subgraph
from ._types import (
    EDGETPU_CUSTOM_OP,
    MetadataInfo,
    ModelInfo,
    OperatorInfo,
    Quantization,
    SubgraphInfo,
    TensorInfo,
    numpy_dtype,
)

__all__ = [
    "EDGETPU_CUSTOM_OP",
    "EdgeTpuReport",
    "MetadataInfo",
    "ModelInfo",
    "OpPlacement",
    "OperatorInfo",
    "Quantization",
    "SUPPORTED_OPS",
    "SubgraphInfo",
    "TensorInfo",
    "check_tflite_file",
    "classifier_decoder",
    "compiled_report",
    "final_activation",
    "is_edgetpu_compiled",
    "is_tflite",
    "load_schema",
    "numpy_dtype",
    "op_caveat",
    "op_problem",
    "predict_edgetpu",
    "predict_subgraph",
    "read_model",
    "tensor_problem",
]
