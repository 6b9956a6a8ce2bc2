"""The weight preparation before full-integer conversion of a tf_keras model, in its one order:
cross-layer equalization (``_equalize.py``, optional) -> weight rounding on the int8 grid (a Rounding strategy of
``_strategies.py``: ``Gptq``, ``AdaRound`` or ``Nearest``, which leaves the kernels alone) -> bias correction
(``_biascorrect.py``; a no-op for kernels already on the grid).
benchmarks/results/convert/convert_methods.md has what each step measured on MobileNetV2."""

from __future__ import annotations

import logging

import numpy as np

from ._strategies import Nearest, Rounding, parse_rounding

log = logging.getLogger(__name__)

__all__ = ["prepare_weights"]


def prepare_weights(model, calib: np.ndarray, *, equalize: bool = False, rounding: Rounding | str = Nearest(),
                    bias_correction: bool = True) -> tuple[object, dict]:
    """A copy of ``model`` (tf_keras functional) ready for ``convert_tflite(..., "int8")``, and what was done.
    ``calib``: (n, h, w, c) float32 calibration images; ``rounding``: a Rounding or its name (ROUNDINGS)."""
    rounding = parse_rounding(rounding)
    details: dict = {"equalize": None, "rounding": rounding.name, "bias_correction_layers": 0}
    if equalize:
        from ._equalize import equalize as cle

        model, details["equalize"] = cle(model, calib)
    model, rounded = rounding.apply(model, calib)
    if rounded is not None:
        details["rounding_details"] = rounded
    if bias_correction:
        from ._biascorrect import bias_correct

        model, details["bias_correction_layers"] = bias_correct(model, calib)
    return model, details
