"""Immutable descriptions of a .tflite model: what :func:`read_model` returns.

Plain data only (numpy arrays for quantization parameters), so the Edge TPU rules can be tested on hand-built
objects without a model file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

__all__ = [
    "EDGETPU_CUSTOM_OP",
    "MetadataInfo",
    "ModelInfo",
    "OperatorInfo",
    "Quantization",
    "SubgraphInfo",
    "TensorInfo",
    "numpy_dtype",
]

EDGETPU_CUSTOM_OP = "edgetpu-custom-op"

# TFLite TensorType name -> numpy dtype (None where numpy has no equivalent).
_NUMPY = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT32": np.int32,
    "UINT8": np.uint8,
    "INT64": np.int64,
    "STRING": np.object_,
    "BOOL": np.bool_,
    "INT16": np.int16,
    "COMPLEX64": np.complex64,
    "INT8": np.int8,
    "COMPLEX128": np.complex128,
    "UINT64": np.uint64,
    "UINT32": np.uint32,
    "UINT16": np.uint16,
}


def numpy_dtype(type_name: str) -> np.dtype | None:
    """numpy dtype of a TFLite tensor type name ('UINT8' -> uint8); None for types numpy lacks (INT4...)."""
    t = _NUMPY.get(type_name)
    return np.dtype(t) if t is not None else None


def _frozen_array(values, dtype) -> np.ndarray:
    arr = np.array(values, dtype=dtype).reshape(-1)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Quantization:
    """Affine quantization of a tensor: ``real = scale * (q - zero_point)``.

    ``scale`` and ``zero_point`` hold one value per tensor, or one per channel along ``quantized_dimension``.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    quantized_dimension: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _frozen_array(self.scale, np.float32))
        object.__setattr__(self, "zero_point", _frozen_array(self.zero_point, np.int64))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantization):
            return NotImplemented
        return (
            self.quantized_dimension == other.quantized_dimension
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.zero_point, other.zero_point)
        )

    def __hash__(self) -> int:
        return hash((self.quantized_dimension, self.scale.tobytes(), self.zero_point.tobytes()))

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def is_quantized(self) -> bool:
        return self.scale.size > 0

    def to_dict(self) -> dict | None:
        """Small JSON-able summary: the values for per-tensor, count and min/max for per-channel."""
        if not self.is_quantized:
            return None
        if not self.per_channel:
            zp = int(self.zero_point[0]) if self.zero_point.size else 0
            return {"per_channel": False, "scale": float(self.scale[0]), "zero_point": zp}
        zps = self.zero_point if self.zero_point.size else np.zeros(1, np.int64)
        return {
            "per_channel": True,
            "quantized_dimension": int(self.quantized_dimension),
            "channels": int(self.scale.size),
            "scale_min": float(self.scale.min()),
            "scale_max": float(self.scale.max()),
            "zero_point_min": int(zps.min()),
            "zero_point_max": int(zps.max()),
        }


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a subgraph.

    ``dtype`` is the TFLite type name ('UINT8', 'FLOAT32', ...); :attr:`np_dtype` the numpy dtype.
    ``shape_signature`` has -1 where a dimension is dynamic (equal to ``shape`` when the model has none).
    A tensor is *constant* when its buffer holds data (weights, biases, shape/axis parameters); for small
    integer constants ``const_values`` holds the values (flattened), for all constants ``const_all_zero``
    says whether every byte is zero.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    shape_signature: tuple[int, ...] = ()
    quantization: Quantization | None = None
    buffer: int = 0
    is_constant: bool = False
    is_variable: bool = False
    nbytes: int = 0
    const_values: tuple | None = None
    const_all_zero: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        sig = tuple(int(d) for d in self.shape_signature) if self.shape_signature else self.shape
        object.__setattr__(self, "shape_signature", sig)

    @property
    def np_dtype(self) -> np.dtype | None:
        return numpy_dtype(self.dtype)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature) or any(d < 0 for d in self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "shape": list(self.shape),
            "shape_signature": list(self.shape_signature),
            "dtype": self.dtype,
            "numpy_dtype": str(self.np_dtype) if self.np_dtype is not None else None,
            "quantization": self.quantization.to_dict() if self.quantization is not None else None,
        }


@dataclass(frozen=True)
class OperatorInfo:
    """One operator, in the subgraph's execution order.

    ``opcode`` is the builtin operator name from the schema ('CONV_2D') or, for a custom operator, its custom
    code ('edgetpu-custom-op', 'TFLite_Detection_PostProcess'). ``inputs``/``outputs`` are tensor indices
    (-1 marks an omitted optional input). ``options`` holds the builtin options with snake_case keys and enum
    values as names, e.g. ``{"fused_activation_function": "RELU6", "dilation_w_factor": 1, ...}``.
    """

    index: int
    opcode: str
    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    builtin_code: int = -1
    custom_code: str | None = None
    version: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)
    options_type: str | None = None
    custom_options_size: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        object.__setattr__(self, "outputs", tuple(int(i) for i in self.outputs))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def is_custom(self) -> bool:
        return self.custom_code is not None

    def to_dict(self) -> dict:
        d = {
            "index": self.index,
            "op": self.opcode,
            "version": self.version,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }
        if self.options:
            d["options"] = {k: _jsonable(v) for k, v in self.options.items()}
        if self.is_custom:
            d["custom"] = True
            d["custom_options_size"] = self.custom_options_size
        return d


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


@dataclass(frozen=True)
class SubgraphInfo:
    index: int
    name: str
    tensors: tuple[TensorInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    operators: tuple[OperatorInfo, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tensors", tuple(self.tensors))
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        object.__setattr__(self, "outputs", tuple(int(i) for i in self.outputs))
        object.__setattr__(self, "operators", tuple(self.operators))

    def tensor(self, index: int) -> TensorInfo | None:
        return self.tensors[index] if 0 <= index < len(self.tensors) else None

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(Counter(op.opcode for op in self.operators))

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "tensors": len(self.tensors),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "operators": len(self.operators),
            "op_counts": self.op_counts,
        }


@dataclass(frozen=True)
class MetadataInfo:
    """A named metadata entry of the model (``min_runtime_version``, ``TFLITE_METADATA``, ...).

    ``value`` is the decoded text for small text entries (e.g. the minimum runtime version), else None.
    """

    name: str
    buffer: int
    size: int
    value: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "buffer": self.buffer, "size": self.size, "value": self.value}


@dataclass(frozen=True)
class ModelInfo:
    """Everything :func:`read_model` learns from a .tflite file. Subgraph 0 is the main graph."""

    subgraphs: tuple[SubgraphInfo, ...]
    version: int = 3
    description: str = ""
    metadata: tuple[MetadataInfo, ...] = ()
    signatures: tuple[str, ...] = ()
    size: int = 0
    path: str | None = None
    parameter_bytes: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "subgraphs", tuple(self.subgraphs))
        object.__setattr__(self, "metadata", tuple(self.metadata))
        object.__setattr__(self, "signatures", tuple(self.signatures))

    @property
    def main(self) -> SubgraphInfo:
        return self.subgraphs[0]

    @property
    def inputs(self) -> tuple[TensorInfo, ...]:
        g = self.main
        return tuple(g.tensors[i] for i in g.inputs)

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        g = self.main
        return tuple(g.tensors[i] for i in g.outputs)

    @property
    def operators(self) -> tuple[OperatorInfo, ...]:
        return self.main.operators

    @property
    def op_counts(self) -> dict[str, int]:
        """Operator counts over all subgraphs."""
        c: Counter = Counter()
        for g in self.subgraphs:
            c.update(op.opcode for op in g.operators)
        return dict(c)

    @property
    def custom_ops(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for g in self.subgraphs:
            for op in g.operators:
                if op.is_custom:
                    seen.setdefault(op.opcode, None)
        return tuple(seen)

    @property
    def metadata_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metadata)

    @property
    def min_runtime_version(self) -> str | None:
        for m in self.metadata:
            if m.name == "min_runtime_version":
                return m.value
        return None

    @property
    def is_edgetpu_compiled(self) -> bool:
        return EDGETPU_CUSTOM_OP in self.custom_ops

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "size": self.size,
            "schema_version": self.version,
            "description": self.description,
            "edgetpu_compiled": self.is_edgetpu_compiled,
            "min_runtime_version": self.min_runtime_version,
            "parameter_bytes": self.parameter_bytes,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "op_counts": self.op_counts,
            "custom_ops": list(self.custom_ops),
            "operators": [op.to_dict() for op in self.operators],
            "subgraphs": [g.to_dict() for g in self.subgraphs],
            "metadata": [m.to_dict() for m in self.metadata],
            "signatures": list(self.signatures),
        }
