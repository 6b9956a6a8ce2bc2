"""Activation ranges chosen from histograms instead of raw min/max (the pass behind ``Percentile`` and ``Mse``).

The TFLite converter calibrates every activation tensor to the min/max seen on the calibration images; a few
outlier pixels then stretch a range and waste int8 levels on values that almost never occur. Here the
converter only calibrates (``_experimental_calibrate_only``, the hook TFLite's QuantizationDebugger uses), the
calibrated float model is run once more over the same images with every tensor kept, each activation gets a
histogram, and its range is replaced by the one the Calibration strategy chooses from that histogram
(``_strategies.py``: the central 99.99% of the values, or the clip minimising the expected squared quantization
error). The model is then quantized by the same MLIR quantizer the converter uses (``mlir_quantize``), so the
result is an ordinary full-integer TFLite model.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._strategies import Calibration

log = logging.getLogger(__name__)

__all__ = ["calibrate_and_quantize"]

_BINS = 2048


def _activation_tensors(model) -> list[int]:
    sg = model.subgraphs[0]
    skip = set(sg.inputs) | set(sg.outputs)
    out = []
    for ti, t in enumerate(sg.tensors):
        q = t.quantization
        if ti in skip or q is None or q.min is None or len(q.min) != 1:
            continue
        buf = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
        if buf is not None and len(buf) > 0:  # constants (weights) are quantized per channel by the converter
            continue
        out.append(ti)
    return out


def calibrate_and_quantize(tf, converter, calib: np.ndarray, io: str, method: Calibration) -> tuple[bytes, dict]:
    """Calibrate with ``converter`` (set up for int8 on ``calib``, (n, h, w, c) float32), let ``method`` choose
    every activation range from its histogram (``_BINS`` bins over the calibrated range), quantize with ``io``
    inputs/outputs. Returns (flatbuffer, details: activation_tensors, median_range_kept)."""
    from tensorflow.lite.python import convert as tfl_convert  # private but stable: QuantizationDebugger's path
    from tensorflow.lite.tools import flatbuffer_utils

    from ..runtime import get_backend

    converter._experimental_calibrate_only = True  # noqa: SLF001
    calibrated = converter.convert()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    tensors = _activation_tensors(model)
    sg = model.subgraphs[0]
    ranges = {ti: (float(sg.tensors[ti].quantization.min[0]), float(sg.tensors[ti].quantization.max[0])) for ti in tensors}
    hists = {ti: np.zeros(_BINS) for ti in tensors}
    with warnings.catch_warnings():  # LiteRT's "intended for debugging" note: keeping every tensor is the point here
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors", category=UserWarning)
        interp = get_backend().Interpreter(model_content=bytes(calibrated), experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    for x in calib:
        interp.set_tensor(inp, x[None].astype(np.float32))
        interp.invoke()
        for ti in tensors:
            lo, hi = ranges[ti]
            if hi <= lo:
                continue
            v = interp.get_tensor(ti).ravel()
            idx = np.clip(((v - lo) * (_BINS / (hi - lo))).astype(np.int64), 0, _BINS - 1)
            hists[ti] += np.bincount(idx, minlength=_BINS)
    refined = copy.deepcopy(model)
    shrunk = []
    for ti in tensors:
        lo, hi = ranges[ti]
        nlo, nhi = method.choose_range(lo, hi, hists[ti])
        q = refined.subgraphs[0].tensors[ti].quantization
        q.min, q.max = [float(nlo)], [float(nhi)]
        shrunk.append((nhi - nlo) / (hi - lo) if hi > lo else 1.0)
    data = bytes(flatbuffer_utils.convert_object_to_bytearray(refined))
    dtype = {"float": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[io]
    quantized = tfl_convert.mlir_quantize(data, False, input_data_type=dtype, output_data_type=dtype)
    details = {"activation_tensors": len(tensors), "median_range_kept": float(np.median(shrunk)) if shrunk else 1.0}
    return bytes(quantized), details
