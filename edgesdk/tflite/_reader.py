"""Read a .tflite flatbuffer without TensorFlow, through LiteRT's generated schema module.

The schema module is imported lazily (inside the functions) so ``import edgesdk`` stays fast.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..install import backend_missing
from ._types import MetadataInfo, ModelInfo, OperatorInfo, Quantization, SubgraphInfo, TensorInfo, numpy_dtype

__all__ = ["check_tflite_file", "is_tflite", "load_schema", "read_model"]

log = logging.getLogger(__name__)

TFLITE_IDENTIFIER = b"TFL3"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_INT_TYPES = ("INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64", "BOOL")
_MAX_CONST_VALUES = 64  # small integer constants (axes, shapes, paddings) are kept as values
# Exceptions the flatbuffers runtime raises when an offset points outside the bytes.
_CORRUPT = (struct.error, IndexError, ValueError, TypeError, OverflowError, UnicodeDecodeError, AttributeError)

_SCHEMA_MODULES = ("ai_edge_litert.schema_py_generated", "tensorflow.lite.python.schema_py_generated")
_schema_module = None


def load_schema():
    """The generated TFLite schema module: LiteRT's, else TensorFlow's; ModelError (naming ai-edge-litert) when neither is there."""
    global _schema_module
    if _schema_module is not None:
        return _schema_module
    import importlib

    errors = []
    for name in _SCHEMA_MODULES:
        try:
            _schema_module = importlib.import_module(name)
            return _schema_module
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
    log.debug("no TFLite schema module: %s", "; ".join(errors))
    raise backend_missing()  # the device's fix (ai-edge-litert), or "64-bit only" on 32-bit ARM


# ---------------------------------------------------------------------------------------------- sniffing
def _what_is(head: bytes) -> str | None:
    """A one-line description of what the bytes are when they are clearly not TFLite, else None."""
    if head[:8] == HDF5_SIGNATURE:
        return "this is a Keras HDF5 file, not TFLite; convert it with `edgesdk convert`"
    if head[:4] == b"PK\x03\x04":
        return "this is a zip archive (a Keras .keras file?), not TFLite; convert it with `edgesdk convert`"
    if head[:2] == b"\x1f\x8b":
        return "this is a gzip file (a bundle .tar.gz?), not a .tflite model"
    if len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER:
        return "not a TFLite model (no 'TFL3' file identifier at bytes 4-8)"
    return None


def _open_error(p: Path) -> ModelError | None:
    if not p.exists():
        return ModelError(f"model file not found: {p}")
    if p.is_dir():
        return ModelError(f"{p} is a directory, not a .tflite file")
    return None


def check_tflite_file(path: str | os.PathLike) -> Path:
    """Cheap check that ``path`` is a TFLite flatbuffer (reads 8 bytes); returns the Path or raises ModelError.

    Catches a missing file, an empty file, a Keras .h5 / .keras passed by mistake and random bytes. A truncated
    file is only caught by :func:`read_model`, which walks the whole structure.
    """
    p = Path(path)
    err = _open_error(p)
    if err:
        raise err
    size = p.stat().st_size
    if size == 0:
        raise ModelError(f"{p} is empty (0 bytes), not a TFLite model")
    with open(p, "rb") as f:
        head = f.read(8)
    what = _what_is(head)
    if what:
        raise ModelError(f"{p}: {what}")
    (root,) = struct.unpack_from("<I", head, 0)
    if root + 4 > size:
        raise ModelError(f"{p} is truncated or corrupt: its root table lies past the end of the file")
    return p


def is_tflite(path: str | os.PathLike) -> bool:
    """True when ``path`` is a file with the TFLite file identifier."""
    try:
        check_tflite_file(path)
    except ModelError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- reading
def read_model(source: str | os.PathLike | bytes | bytearray | memoryview) -> ModelInfo:
    """Read a .tflite model (a path or its bytes) into a :class:`ModelInfo`.

    Raises ModelError with one line for a missing, empty, truncated or corrupt file, or one that is not TFLite
    (random bytes, a Keras .h5); ModelError when no TFLite schema module is installed.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "the model bytes", None)
    p = Path(source)
    err = _open_error(p)
    if err:
        raise err
    try:
        st = p.stat()
        key = (str(p.absolute()), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _PARSED:  # one parse per file version: loads repeat (tile workers, inspect)
        hit = _PARSED[key]
        return hit if hit.path == str(p) else replace(hit, path=str(p))
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {p}: {exc.strerror or exc}") from None
    info = _parse(data, str(p), str(p))
    if key is not None:
        if len(_PARSED) >= 16:
            _PARSED.clear()
        _PARSED[key] = info
    return info


_PARSED: dict[tuple[str, int, int], ModelInfo] = {}


def _parse(data: bytes, where: str, path: str | None) -> ModelInfo:
    """ModelInfo of the flatbuffer ``data`` (``where`` names it in errors), or ModelError."""
    if not data:
        raise ModelError(f"{where} is empty (0 bytes), not a TFLite model")
    what = _what_is(data[:8])
    if what:
        raise ModelError(f"{where}: {what}")
    schema = load_schema()
    try:
        return _Parser(schema, data, where, path).model()
    except ModelError:
        raise
    except _CORRUPT:
        log.debug("parse failure in %s", where, exc_info=True)
        raise ModelError(f"{where} is truncated or corrupt: its flatbuffer could not be read") from None


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _snake(name: str) -> str:
    """dilationWFactor -> dilation_w_factor (the schema's field names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _text(b) -> str:
    if b is None:
        return ""
    if isinstance(b, (bytes, bytearray)):
        return b.decode("utf-8", "replace")
    return str(b)


class _Parser:
    """One pass over the flatbuffer; every index is range-checked so a corrupt file gives a ModelError."""

    def __init__(self, schema, data: bytes, where: str, path: str | None) -> None:
        self.s = schema
        self.data = data
        self.where = where
        self.path = path
        self.builtin_names = _enum_names(schema.BuiltinOperator)
        self.type_names = _enum_names(schema.TensorType)
        self.option_types = _enum_names(schema.BuiltinOptions)
        self.enum_fields = {
            "fusedActivationFunction": _enum_names(schema.ActivationFunctionType),
            "padding": _enum_names(schema.Padding),
            "weightsFormat": _enum_names(schema.FullyConnectedOptionsWeightsFormat),
        }
        self.custom = getattr(schema.BuiltinOperator, "CUSTOM", 32)

    def corrupt(self, what: str) -> ModelError:
        return ModelError(f"{self.where} is truncated or corrupt: {what}")

    # -- buffers ---------------------------------------------------------------------------------------
    def _buffers(self, model) -> list[np.ndarray | None]:
        n = model.BuffersLength()
        out: list[np.ndarray | None] = []
        total = len(self.data)
        for i in range(n):
            b = model.Buffers(i)
            if b is None:
                out.append(None)
                continue
            length = b.DataLength()
            if length:
                arr = b.DataAsNumpy()  # np.frombuffer: raises ValueError when it runs past the end
                if arr.size != length:
                    raise self.corrupt(f"buffer {i} runs past the end of the file")
                out.append(arr)
                continue
            offset = b.Offset() if hasattr(b, "Offset") else 0
            size = b.Size() if hasattr(b, "Size") else 0
            if offset > 1 and size > 0:  # data stored after the flatbuffer (models > 2 GB)
                if offset + size > total:
                    raise self.corrupt(f"buffer {i} ({size} bytes at offset {offset}) runs past the end of the file")
                out.append(np.frombuffer(self.data, np.uint8, count=size, offset=offset))
            else:
                out.append(None)
        return out

    # -- pieces ----------------------------------------------------------------------------------------
    def _opcodes(self, model) -> list[tuple[str, int, str | None, int]]:
        codes: list[tuple[str, int, str | None, int]] = []
        for i in range(model.OperatorCodesLength()):
            c = model.OperatorCodes(i)
            dep = c.DeprecatedBuiltinCode()
            new = c.BuiltinCode() if hasattr(c, "BuiltinCode") else 0
            code = max(int(dep), int(new))  # as TFLite's GetBuiltinCode does
            if code == self.custom:
                custom = _text(c.CustomCode())
                name = custom or "CUSTOM"
                codes.append((name, code, custom, int(c.Version())))
            else:
                codes.append((self.builtin_names.get(code, f"BUILTIN_{code}"), code, None, int(c.Version())))
        return codes

    def _options(self, op) -> tuple[dict[str, Any], str | None]:
        t = op.BuiltinOptionsType()
        if not t:
            return {}, None
        table = op.BuiltinOptions()
        obj = self.s.BuiltinOptionsCreator(t, table) if table is not None else None
        opts: dict[str, Any] = {}
        if obj is not None:
            for key, value in vars(obj).items():
                if key in self.enum_fields and isinstance(value, int):
                    value = self.enum_fields[key].get(value, value)
                elif isinstance(value, np.ndarray):
                    value = tuple(value.tolist())
                elif isinstance(value, list):
                    value = tuple(value)
                elif isinstance(value, bytes):
                    value = _text(value)
                opts[_snake(key)] = value
        return opts, self.option_types.get(t, str(t))

    def _tensor(self, g, i: int, buffers) -> TensorInfo:
        t = g.Tensors(i)
        type_name = self.type_names.get(t.Type(), f"TYPE_{t.Type()}")
        shape = tuple(t.ShapeAsNumpy().tolist()) if t.ShapeLength() else ()
        sig = tuple(t.ShapeSignatureAsNumpy().tolist()) if t.ShapeSignatureLength() else ()
        if t.ShapeLength() and len(shape) != t.ShapeLength():
            raise self.corrupt(f"tensor {i} shape runs past the end of the file")
        quant = None
        q = t.Quantization()
        if q is not None and q.ScaleLength():
            scale = q.ScaleAsNumpy()
            zp = q.ZeroPointAsNumpy() if q.ZeroPointLength() else np.zeros(0, np.int64)
            quant = Quantization(scale=scale, zero_point=zp, quantized_dimension=int(q.QuantizedDimension()))
        b = int(t.Buffer())
        if not 0 <= b < max(len(buffers), 1):
            raise self.corrupt(f"tensor {i} refers to buffer {b} of {len(buffers)}")
        raw = buffers[b] if b < len(buffers) else None
        const_values = None
        all_zero = None
        nbytes = 0
        if raw is not None:
            nbytes = int(raw.size)
            all_zero = not bool(raw.any())
            dt = numpy_dtype(type_name)
            if type_name in _INT_TYPES and dt is not None and nbytes % dt.itemsize == 0:
                if nbytes // dt.itemsize <= _MAX_CONST_VALUES:
                    const_values = tuple(np.frombuffer(raw.tobytes(), dtype=dt.newbyteorder("<")).tolist())
        return TensorInfo(
            index=i,
            name=_text(t.Name()),
            shape=shape,
            shape_signature=sig,
            dtype=type_name,
            quantization=quant,
            buffer=b,
            is_constant=raw is not None,
            is_variable=bool(t.IsVariable()),
            nbytes=nbytes,
            const_values=const_values,
            const_all_zero=all_zero,
        )

    def _indices(self, arr, n: int, what: str, allow_omitted: bool = False) -> tuple[int, ...]:
        vals = tuple(int(x) for x in (arr.tolist() if isinstance(arr, np.ndarray) else ()))
        lo = -1 if allow_omitted else 0
        for v in vals:
            if not lo <= v < n:
                raise self.corrupt(f"{what} refers to tensor {v} of {n}")
        return vals

    def _subgraph(self, model, gi: int, codes, buffers) -> SubgraphInfo:
        g = model.Subgraphs(gi)
        nt = g.TensorsLength()
        tensors = tuple(self._tensor(g, i, buffers) for i in range(nt))
        ops = []
        for oi in range(g.OperatorsLength()):
            op = g.Operators(oi)
            ci = int(op.OpcodeIndex())
            if not 0 <= ci < len(codes):
                raise self.corrupt(f"operator {oi} uses opcode {ci} of {len(codes)}")
            name, code, custom, version = codes[ci]
            options, options_type = self._options(op)
            ops.append(
                OperatorInfo(
                    index=oi,
                    opcode=name,
                    inputs=self._indices(op.InputsAsNumpy(), nt, f"operator {oi}", True),
                    outputs=self._indices(op.OutputsAsNumpy(), nt, f"operator {oi}", True),
                    builtin_code=code,
                    custom_code=custom,
                    version=version,
                    options=options,
                    options_type=options_type,
                    custom_options_size=int(op.CustomOptionsLength()),
                )
            )
        return SubgraphInfo(
            index=gi,
            name=_text(g.Name()),
            tensors=tensors,
            inputs=self._indices(g.InputsAsNumpy(), nt, f"subgraph {gi} inputs"),
            outputs=self._indices(g.OutputsAsNumpy(), nt, f"subgraph {gi} outputs"),
            operators=tuple(ops),
        )

    def _metadata(self, model, buffers) -> tuple[MetadataInfo, ...]:
        out = []
        for i in range(model.MetadataLength()):
            m = model.Metadata(i)
            name = _text(m.Name())
            b = int(m.Buffer())
            if not 0 <= b < len(buffers):
                raise self.corrupt(f"metadata {name!r} refers to buffer {b} of {len(buffers)}")
            raw = buffers[b]
            size = int(raw.size) if raw is not None else 0
            value = None
            if raw is not None and name == "min_runtime_version":
                value = raw.tobytes().split(b"\0", 1)[0].decode("ascii", "replace")
            out.append(MetadataInfo(name=name, buffer=b, size=size, value=value))
        return tuple(out)

    def model(self) -> ModelInfo:
        s = self.s
        get_root = getattr(s.Model, "GetRootAs", None) or s.Model.GetRootAsModel
        (root,) = struct.unpack_from("<I", self.data, 0)
        if root + 4 > len(self.data):
            raise self.corrupt("its root table lies past the end of the file")
        model = get_root(self.data, 0)
        buffers = self._buffers(model)
        codes = self._opcodes(model)
        n_sub = model.SubgraphsLength()
        if n_sub == 0:
            raise self.corrupt("it has no subgraph")
        subgraphs = tuple(self._subgraph(model, gi, codes, buffers) for gi in range(n_sub))
        sigs = []
        if hasattr(model, "SignatureDefsLength"):
            for i in range(model.SignatureDefsLength()):
                sigs.append(_text(model.SignatureDefs(i).SignatureKey()))
        used = {t.buffer for g in subgraphs for t in g.tensors if t.is_constant}
        param_bytes = sum(int(buffers[b].size) for b in used if buffers[b] is not None)  # type: ignore[misc, union-attr]
        return ModelInfo(
            subgraphs=subgraphs,
            version=int(model.Version()),
            description=_text(model.Description()),
            metadata=self._metadata(model, buffers),
            signatures=tuple(sigs),
            size=len(self.data),
            path=self.path,
            parameter_bytes=param_bytes,
        )
