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
# Camera fakes (sources): FakeCamera, FakePicamera2 (anonymize issue)
# ------------------------------------------------------------------------------------------------------------

# (anonymize issue) Fake camera source and a fake picamera2 module. Imports of the runtime happen inside the
# methods, so importing edgesdk.testing stays light.


def _test_pattern(size: tuple[int, int], i: int, image: "np.ndarray | None" = None) -> "np.ndarray":
    """Frame i: ``image`` (resized) rolled sideways by i pixels, or a gradient with a moving bright square."""
    w, h = size
    if image is not None:
        import cv2

        base = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(np.roll(base, (i * 4) % w, axis=1))
    frame = np.empty((h, w, 3), np.uint8)
    frame[...] = (np.arange(w, dtype=np.uint16)[None, :, None] * 255 // max(1, w - 1)).astype(np.uint8)
    x = (i * 8) % max(1, w - 40)
    frame[h // 3:h // 3 + 40, x:x + 40] = 255
    return frame


class FakeCamera:
    """A live Source (same protocol as edgesdk.runtime.sources) that needs no camera.

    Frames come at ``fps`` (paced in real time) from ``image`` (BGR, rolled sideways each frame) or a test
    pattern; the consumer gets the latest frame (stale ones are dropped, as from a real camera).
    ``drop_at``: frame numbers after which the "device" fails once and has to be reopened (``reopens`` counts
    them). ``frames``: stop after that many frames delivered by the device (None = endless).
    """

    live = True
    independent = False

    def __init__(self, size: tuple[int, int] = (640, 480), fps: float = 30.0, *, image: "np.ndarray | None" = None,
                 frames: int | None = None, max_frames: int | None = None, drop_at: Sequence[int] = ()) -> None:
        self.name = "fake-camera"
        self.size, self.fps = (int(size[0]), int(size[1])), float(fps)
        self.image, self.frames, self.max_frames = image, frames, max_frames
        self.drop_at = set(drop_at)
        self.total = None
        self.skipped = 0
        self.dropped = 0
        self.produced = 0
        self._grabber = None
        self._reopens = 0
        self._t0 = 0.0

    def _reader(self):
        import time as _time

        cam = self

        class _Reader:
            def __init__(self) -> None:
                self.next_t = _time.monotonic()

            def read(self):
                if cam.frames is not None and cam.produced >= cam.frames:
                    _time.sleep(0.01)
                    return None
                if cam.produced in cam.drop_at:
                    cam.drop_at.discard(cam.produced)
                    return None  # the device drops: the grabber closes and reopens it
                delay = self.next_t - _time.monotonic()
                if delay > 0:
                    _time.sleep(delay)
                self.next_t = max(self.next_t + 1.0 / cam.fps, _time.monotonic() - 1.0 / cam.fps)
                frame = _test_pattern(cam.size, cam.produced, cam.image)
                cam.produced += 1
                return frame

            def close(self) -> None:
                pass

        return _Reader()

    def open(self) -> "FakeCamera":
        import time as _time

        from .runtime.sources import LatestFrameGrabber

        if self._grabber is None:
            self._t0 = _time.monotonic()
            reopen_timeout = 0.3 if self.frames is not None else None
            self._grabber = LatestFrameGrabber(self._reader(), self._reader, name=self.name, backoff=0.05,  # type: ignore[assignment]
                                               reopen_timeout=reopen_timeout)
        return self

    @property
    def reopens(self) -> int:
        return self._grabber.reopens if self._grabber else self._reopens

    def __iter__(self):
        import time as _time

        from .runtime.sources import Frame

        self.open()
        g, n = self._grabber, 0
        while g is not None:
            image = g.get(timeout=1.0)
            if image is None:
                if g._ended:
                    break
                continue
            self.dropped = g.dropped
            yield Frame(image, _time.monotonic() - self._t0, n + g.dropped)
            n += 1
            if self.max_frames is not None and n >= self.max_frames:
                break

    def frame_name(self, index: int) -> str | None:
        return None

    def close(self) -> None:
        if self._grabber is not None:
            self.dropped = self._grabber.dropped
            self._reopens = self._grabber.reopens
            self._grabber.stop()
            self._grabber = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


class FakePicamera2:
    """Stands in for ``picamera2.Picamera2`` (the calls the SDK makes): global_camera_info,
    create_video_configuration, configure, start, capture_array, stop, close. Frames are RGB888-style BGR
    arrays of the configured size. ``cameras``: how many cameras the fake machine has."""

    cameras = 1
    instances: list = []

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= self.cameras:
            raise IndexError("camera index out of range")
        self.camera_num = camera_num
        self.size = (640, 480)
        self.started = False
        self.closed = False
        self.count = 0
        type(self).instances.append(self)

    @classmethod
    def global_camera_info(cls) -> list[dict]:
        return [{"Model": "imx708", "Num": i} for i in range(cls.cameras)]

    def create_video_configuration(self, main=None, controls=None, **kw) -> dict:
        return {"main": dict(main or {}), "controls": dict(controls or {})}

    def configure(self, config: dict) -> None:
        self.size = tuple(config.get("main", {}).get("size", self.size))

    def start(self) -> None:
        self.started = True

    def capture_array(self, name: str = "main") -> "np.ndarray":
        if not self.started:
            raise RuntimeError("camera not started")
        frame = _test_pattern(self.size, self.count)
        self.count += 1
        return np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])  # XBGR8888-like: 4 channels

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


def install_fake_picamera2(monkeypatch, cameras: int = 1):
    """Make ``import picamera2`` return a module whose Picamera2 is FakePicamera2 (pytest ``monkeypatch``)."""
    import sys
    import types

    mod = types.ModuleType("picamera2")
    fake = type("Picamera2", (FakePicamera2,), {"cameras": cameras, "instances": []})
    mod.Picamera2 = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", mod)
    return fake


# ------------------------------------------------------------------------------------------------------------
# Edge TPU compiler fake (edgetpu_compiler exists only for x86-64 Debian; converters' tests put this on PATH)
# ------------------------------------------------------------------------------------------------------------

_FAKE_COMPILER = '''#!{python}
"""Fake edgetpu_compiler: prints a recorded log, writes <stem>_edgetpu.log and copies a compiled model."""
import shutil, sys
from pathlib import Path
args = sys.argv[1:]
out_dir, model = ".", None
i = 0
while i < len(args):
    a = args[i]
    if a in ("-o", "--out_dir"):
        out_dir = args[i + 1]; i += 2; continue
    if a in ("-n", "--num_segments", "-m", "--min_runtime_version", "-t", "--timeout_sec", "-k", "-i"):
        i += 2; continue
    if a.startswith("-"):
        i += 1; continue
    model = Path(a); i += 1
if {exit_code} != 0:
    sys.stdout.write({stdout!r})
    sys.exit({exit_code})
out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
stem = model.stem
text = {stdout!r}.replace("{{INPUT}}", str(model)).replace("{{OUTPUT}}", str(out / (stem + "_edgetpu.tflite"))).replace("{{LOG}}", str(out / (stem + "_edgetpu.log")))
sys.stdout.write(text)
(out / (stem + "_edgetpu.log")).write_text({logfile!r}.replace("{{INPUT}}", str(model)).replace("{{OUTPUT}}", str(out / (stem + "_edgetpu.tflite"))))
shutil.copyfile({compiled!r}, out / (stem + "_edgetpu.tflite"))
'''


def fake_edgetpu_compiler(dest_dir: str | Path, *, compiled_model: str | Path, stdout: str, logfile: str = "",
                          exit_code: int = 0) -> Path:
    """Write an executable ``edgetpu_compiler`` into ``dest_dir`` (put it first on PATH) that prints ``stdout``
    and writes ``<stem>_edgetpu.log`` (``logfile``) and ``<stem>_edgetpu.tflite`` (a copy of ``compiled_model``,
    e.g. a real compiled twin) into its ``-o`` folder. ``{INPUT}``, ``{OUTPUT}`` and ``{LOG}`` in the texts are
    replaced by the paths. With a non-zero ``exit_code`` it only prints ``stdout`` and fails."""
    import os
    import sys

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    exe = dest / "edgetpu_compiler"
    exe.write_text(_FAKE_COMPILER.format(python=sys.executable, exit_code=int(exit_code), stdout=stdout,
                                         logfile=logfile, compiled=str(compiled_model)))
    os.chmod(exe, 0o755)
    return exe
