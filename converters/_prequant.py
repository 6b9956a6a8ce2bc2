"""The weight preparation before full-integer conversion of a tf_keras model, in its one order:
cross-layer equalization (``_equalize.py``, optional) -> weight rounding on the int8 grid (``_gptq.py`` or
``_adaround.py``, optional) -> bias correction (``_biascorrect.py``; a no-op for kernels already on the grid).
benchmarks/results/convert/convert_methods.md has what each step measured on MobileNetV2."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["ROUNDINGS", "prepare_weights"]

ROUNDINGS = ("nearest", "gptq", "adaround")


def prepare_weights(model, calib: np.ndarray, *, equalize: bool = False, rounding: str = "nearest",
                    bias_correction: bool = True) -> tuple[object, dict]:
    """A copy of ``model`` (tf_keras functional) ready for ``convert_tflite(..., "int8")``, and what was done.
    ``calib``: (n, h, w, c) float32 calibration images."""
    from ..errors import InputError

    if rounding not in ROUNDINGS:
        raise InputError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    details: dict = {"equalize": None, "rounding": rounding, "bias_correction_layers": 0}
    if equalize:
        from ._equalize import equalize as cle

        model, details["equalize"] = cle(model, calib)
    if rounding == "gptq":
        from ._gptq import gptq_round

        model, details["rounding_details"] = gptq_round(model, calib)
    elif rounding == "adaround":
        from ._adaround import adaround

        model, details["rounding_details"] = adaround(model, calib)
    if bias_correction:
        from ._biascorrect import bias_correct

        model, details["bias_correction_layers"] = bias_correct(model, calib)
    return model, details
