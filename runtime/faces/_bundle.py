"""Face bundles: a quantized BlazeFace (``edgesdk convert face_detection_*.tflite``) read like the built-in models.

The manifest (task ``face``, decoder ``blazeface``) carries the anchor options, thresholds and, under
``params.model``, the built-in model it was made from, whose tile layout (smallest reliable face) it keeps.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...bundle import Bundle, is_bundle, load_bundle

__all__ = ["edgetpu_problem", "is_face_bundle"]


def is_face_bundle(model) -> bool:
    """True for a bundle folder / archive (or Bundle) whose manifest says task ``face``, decoder ``blazeface``."""
    if isinstance(model, Bundle):
        b = model
    else:
        if not isinstance(model, (str, os.PathLike)) or str(model).endswith(".tflite"):
            return False
        p = Path(model)
        if not p.exists() or not is_bundle(p):
            return False
        b = load_bundle(p)
    return b.manifest.task == "face" and b.manifest.output.decoder == "blazeface"


def edgetpu_problem(model) -> str | None:
    """Why a face model cannot run on the Edge TPU (None when it can: a face bundle with an Edge TPU twin)."""
    if isinstance(model, Bundle):
        if model.edgetpu_model_path is not None:
            return None
        return (f"bundle {model.root.name} has no "
                "Edge TPU twin (model_edgetpu.tflite): convert with --edgetpu where edgetpu_compiler is installed, "
                "or run `edgesdk compile` on it")
    name = Path(str(model)).name
    return (f"{name} is a float model, nothing of it maps to the Edge TPU: quantize it with `edgesdk convert "
            f"{name} --quantize int8 --edgetpu --calib-data DIR -o BUNDLE` and pass --detector BUNDLE")
