"""Test doubles for hardware that cannot exist on a workstation or CI machine, for your own app's tests too.

Sections: interpreter and Edge TPU fakes (this part); camera fakes (sources) below.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

# ------------------------------------------------------------------------------------------------------------
# Interpreter and Edge TPU fakes
# ------------------------------------------------------------------------------------------------------------


class FakeInterpreter:
    """Stands in for a TFLite Interpreter (same methods the SDK uses).

    inputs / outputs: (name, shape, dtype, (scale, zero_point)) per tensor. ``compute`` maps the list of input
    arrays to the list of output arrays; by default outputs are zeros. ``invocations`` counts invoke() calls.
    Wrap it in a Model with :func:`fake_model` to test application code without a real model or accelerator.
    """

    def __init__(
        self,
        inputs: Sequence[tuple[str, Sequence[int], type, tuple[float, int]]],
        outputs: Sequence[tuple[str, Sequence[int], type, tuple[float, int]]],
        compute: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
    ) -> None:
        self._in = [self._details(i, *t) for i, t in enumerate(inputs)]
        self._out = [self._details(len(inputs) + i, *t) for i, t in enumerate(outputs)]
        self._values: dict[int, np.ndarray] = {d["index"]: np.zeros(d["shape"], d["dtype"]) for d in self._in + self._out}
        self._compute = compute
        self.invocations = 0

    @staticmethod
    def _details(index, name, shape, dtype, quant=(0.0, 0)) -> dict:
        return {
            "name": name, "index": index, "shape": np.array(shape, np.int32), "dtype": dtype,
            "quantization": quant, "quantization_parameters": {"scales": np.array([quant[0]] if quant[0] else [])},
        }

    def allocate_tensors(self) -> None:
        pass

    def get_input_details(self) -> list[dict]:
        return [dict(d) for d in self._in]

    def get_output_details(self) -> list[dict]:
        return [dict(d) for d in self._out]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        spec = next(d for d in self._in if d["index"] == index)
        if tuple(value.shape) != tuple(spec["shape"]) or value.dtype != np.dtype(spec["dtype"]):
            raise ValueError(f"Cannot set tensor: got {value.dtype} {value.shape} for input {index}")
        self._values[index] = np.array(value, copy=True)

    def invoke(self) -> None:
        self.invocations += 1
        if self._compute is not None:
            outs = self._compute([self._values[d["index"]] for d in self._in])
            for d, v in zip(self._out, outs):
                self._values[d["index"]] = np.asarray(v, d["dtype"]).reshape(d["shape"])

    def get_tensor(self, index: int) -> np.ndarray:
        return self._values[index].copy()


def fake_model(interpreter: FakeInterpreter, **kw):
    """A runtime Model around a FakeInterpreter (labels, input_spec, output_spec, task may be given)."""
    from .bundle import InputSpec, OutputSpec
    from .runtime import Backend, Model

    backend = Backend("fake", "0", type(interpreter), lambda *a, **k: None)
    return Model(
        interpreter, path=Path(kw.pop("path", "fake.tflite")), backend=backend, device=kw.pop("device", "cpu"),
        delegate=None, threads=1, input_spec=kw.pop("input_spec", InputSpec(raw=True, range=None)),
        output_spec=kw.pop("output_spec", OutputSpec()), **kw,
    )


_FAKE_DELEGATE_C = r"""
#include <stddef.h>
/* The two entry points TFLite's load_delegate() looks up. Like the real libedgetpu when no Edge TPU is
   attached, creating the delegate fails (returns NULL). */
void* tflite_plugin_create_delegate(char** keys, char** values, size_t n, void (*report)(const char*)) {
  (void)keys; (void)values; (void)n;
  if (report) report("fake libedgetpu: no Edge TPU device found");
  return NULL;
}
void tflite_plugin_destroy_delegate(void* d) { (void)d; }
"""


def build_fake_edgetpu_library(dest_dir: str | Path | None = None) -> Path:
    """Compile a stand-in ``libedgetpu.so.1`` that loads but finds no device (needs a C compiler).

    Point ``EDGESDK_EDGETPU_LIB`` at it to exercise the "library installed, no Edge TPU attached" path.
    """
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise RuntimeError("no C compiler (cc/gcc/clang) to build the fake Edge TPU library")
    dest = Path(dest_dir or tempfile.mkdtemp(prefix="fake-edgetpu-"))
    dest.mkdir(parents=True, exist_ok=True)
    src = dest / "fake_edgetpu.c"
    src.write_text(_FAKE_DELEGATE_C)
    lib = dest / "libedgetpu.so.1"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, capture_output=True)
    return lib


# ------------------------------------------------------------------------------------------------------------
# Camera fakes (sources): see below
# ------------------------------------------------------------------------------------------------------------
