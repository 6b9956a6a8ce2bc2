"""Interpreter backends, tried in order: ai_edge_litert (current), tflite_runtime (legacy Pi/Coral images),
tensorflow.lite (workstations). ``EDGESDK_BACKEND`` forces one by name."""

from __future__ import annotations

import functools
import importlib
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import MissingExtraError, ModelError
from ..install import backend_missing

log = logging.getLogger(__name__)

#: (backend name, module holding Interpreter and load_delegate, distribution to pip install)
BACKENDS: tuple[tuple[str, str, str], ...] = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite", "tensorflow.lite", "tensorflow"),
)


@dataclass(frozen=True)
class Backend:
    """A TFLite interpreter implementation: its name, version, Interpreter class and load_delegate function."""

    name: str
    version: str
    Interpreter: Any
    load_delegate: Callable[..., Any]

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version}


def _import(name: str, module: str) -> Backend:
    mod = importlib.import_module(module)
    if name == "tensorflow.lite":
        import tensorflow as tf  # noqa: F401  (only reached when nothing lighter is installed)

        return Backend(name, tf.__version__, _quiet(mod.Interpreter), mod.experimental.load_delegate)
    from importlib import metadata

    dist = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}[name]
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        version = getattr(importlib.import_module(name.split(".")[0]), "__version__", "unknown")
    return Backend(name, version, _quiet(mod.Interpreter), mod.load_delegate)


def _quiet(cls: Any) -> Any:
    """The backend's Interpreter class, with the native "INFO: Created TensorFlow Lite XNNPACK delegate" line
    (written when tensors are allocated) sent to the debug log instead of stderr."""
    from .._native import native_stderr

    class Interpreter(cls):  # type: ignore[misc, valid-type]
        __doc__ = cls.__doc__

        def allocate_tensors(self, *args: Any, **kwargs: Any) -> Any:
            with native_stderr():
                return super().allocate_tensors(*args, **kwargs)

    Interpreter.__module__ = cls.__module__
    return Interpreter


@functools.cache
def get_backend(name: str | None = None) -> Backend:
    """The first importable backend, or the one named (argument or EDGESDK_BACKEND)."""
    wanted = name or os.environ.get("EDGESDK_BACKEND") or None
    candidates = [b for b in BACKENDS if wanted in (None, b[0])]
    if not candidates:
        raise ModelError(f"unknown interpreter backend {wanted!r}; choose one of {', '.join(b[0] for b in BACKENDS)}")
    errors = []
    for bname, module, _dist in candidates:
        try:
            backend = _import(bname, module)
            log.debug("interpreter backend: %s %s", backend.name, backend.version)
            return backend
        except ImportError as exc:
            errors.append(f"{bname}: {exc}")
    raise MissingExtraError(
        " or ".join(b[2] for b in candidates), "all" if wanted is None else wanted, "running TFLite models"
    ) if wanted else backend_missing()


def available_backends() -> list[dict]:
    """Every backend with whether it imports here and its version (for `edgesdk doctor`)."""
    out = []
    for bname, module, dist in BACKENDS:
        try:
            b = _import(bname, module) if bname != "tensorflow.lite" else None
            if b is None:
                spec = importlib.util.find_spec("tensorflow")  # type: ignore[attr-defined]
                from importlib import metadata

                version = metadata.version("tensorflow") if spec else None
                out.append({"name": bname, "installed": spec is not None, "version": version, "package": dist})
            else:
                out.append({"name": bname, "installed": True, "version": b.version, "package": dist})
        except ImportError:
            out.append({"name": bname, "installed": False, "version": None, "package": dist})
    return out
