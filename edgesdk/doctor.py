"""What this machine has for edgesdk (used by `edgesdk doctor`). Finds packages without importing heavy ones."""

from __future__ import annotations

import glob
import importlib.util
import platform
import re
import shutil
import subprocess
from importlib import metadata

from ._version import __version__


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


def collect() -> dict:
    """Every fact `edgesdk doctor` prints, as a JSON-ready dict."""
    from .errors import EdgeSDKError
    from .runtime import available_backends, find_edgetpu_library, get_backend
    from .runtime import edgetpu_library_name, list_edgetpu_devices

    try:
        backend = get_backend().to_dict()
    except EdgeSDKError:
        backend = None
    import cv2

    try:
        names = [cv2.videoio_registry.getBackendName(b) for b in cv2.videoio_registry.getBackends()]
    except (AttributeError, cv2.error):
        names = []
    video_backends = list(dict.fromkeys(names))  # OpenCV lists FFMPEG once per capability: show each once
    return {
        "edgesdk": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "backend": backend,
        "backends": available_backends(),
        "edgetpu": {
            "library_name": edgetpu_library_name(),
            "library": find_edgetpu_library(),
            "devices": list_edgetpu_devices(),
        },
        "edgetpu_compiler": _compiler(),
        "camera": {
            "picamera2": importlib.util.find_spec("picamera2") is not None,
            "opencv": cv2.__version__,
            "opencv_video_backends": video_backends,
            "video_devices": sorted(glob.glob("/dev/video*")),
        },
        "faces": _faces(),
        "ffmpeg": shutil.which("ffmpeg"),
        "convert": {
            "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
            "tf_keras": _version("tf-keras"),
            "tfmot": _version("tensorflow-model-optimization"),
        },
    }
