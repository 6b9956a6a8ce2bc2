"""Keras -> TFLite: float, dynamic range, float16 and full-integer int8 (int8, uint8 or float I/O).

Full-integer conversion calibrates activation ranges on representative images, as a Calibration strategy
(``_strategies.py``) has it: ``MinMax`` (the default) is the TFLite converter's own (min/max of every tensor over
the images); ``Percentile`` and ``Mse`` (see ``_calibrate.py``) re-choose every activation range from a histogram
of the calibration activations before the model is quantized. What made the difference on MobileNetV2 is bias
correction (``_biascorrect.py``, applied by the pipeline before conversion); benchmarks/results/convert/ has
the measured comparison.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

import numpy as np

from .._native import native_stderr
from ..errors import InputError, ModelError
from ._env import import_tf
from ._load import LoadedModel
from ._qat import floor_weight_ranges
from ._strategies import Calibration, MinMax, parse_calibration

log = logging.getLogger(__name__)

__all__ = ["QUANTIZE_MODES", "IO_TYPES", "ConvertResult", "convert_tflite"]

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8")
IO_TYPES = ("float", "int8", "uint8")


@dataclass
class ConvertResult:
    tflite: bytes
    mode: str
    io: str
    calibration: str | None = None  # the Calibration's name (int8 only)
    calib_images: int = 0
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


def _concrete_function(tf, model, input_shape):
    """A batch-1, static-shape function of the model (the Edge TPU needs batch 1 and constant shapes)."""
    spec = tf.TensorSpec([1, *input_shape[1:]], tf.float32, name="input")
    fn = tf.function(lambda x: model(x, training=False))
    return fn.get_concrete_function(spec)


def _converter(tf, loaded: LoadedModel):
    cf = _concrete_function(tf, loaded.model, loaded.input_shape)
    return tf.lite.TFLiteConverter.from_concrete_functions([cf], loaded.model)


_OP_RE = re.compile(r"'(?:tf|tfl|mhlo|stablehlo)\.([A-Za-z0-9_]+)' op")


def _conversion_error(exc: BaseException, name: str) -> ModelError:
    text = str(exc)
    ops = sorted(set(_OP_RE.findall(text)))
    if ops:
        return ModelError(f"TFLite cannot convert {name}: op(s) {', '.join(ops)} are not TFLite builtin ops "
                          f"(replace them in the model, e.g. no tf.py_function/numpy_function layers)")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and "error" in ln.lower()), text.strip()[:200])
    return ModelError(f"TFLite cannot convert {name}: {first[:300]}")


def _io_dtype(tf, io: str):
    return {"float": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[io]


def convert_tflite(
    loaded: LoadedModel,
    mode: str = "int8",
    *,
    calib: np.ndarray | None = None,
    io: str = "float",
    calibration: Calibration | str = MinMax(),
) -> ConvertResult:
    """Convert ``loaded`` to a TFLite flatbuffer.

    mode: ``none`` (float32), ``dynamic`` (int8 weights, float activations), ``float16`` (float16 weights) or
        ``int8`` (full integer; needs ``calib``, float32 preprocessed images (n, h, w, c)).
    io: input/output type of an int8 model: ``float`` (QUANTIZE/DEQUANTIZE at the ends), ``int8`` or ``uint8``.
    calibration: how int8 activation ranges are chosen, a Calibration or its name (CALIBRATIONS): ``MinMax()``
        (default, the converter's own ranges), ``Percentile()`` or ``Mse()`` (error-minimising ranges).
    Raises ModelError when TFLite cannot convert the model, InputError for bad arguments.
    """
    if mode not in QUANTIZE_MODES:
        raise InputError(f"--quantize must be one of {', '.join(QUANTIZE_MODES)}, got {mode!r}")
    if io not in IO_TYPES:
        raise InputError(f"I/O type must be one of {', '.join(IO_TYPES)}, got {io!r}")
    if io != "float" and mode != "int8":
        raise InputError(f"{io} input/output needs full-integer quantization (--quantize int8)")
    calibration = parse_calibration(calibration)
    tf = import_tf()
    name = getattr(loaded.model, "name", "model")
    floor_weight_ranges(loaded.model)  # a quantization-aware model: no zero weight ranges (see there)
    t0 = time.perf_counter()
    conv = _converter(tf, loaded)
    result = ConvertResult(b"", mode, io)
    if mode == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        if calib is None or len(calib) == 0:
            raise InputError("full-integer quantization needs calibration images (--calib-data DIR)")
        expected = tuple(loaded.input_shape[1:])
        if tuple(calib.shape[1:]) != expected:
            raise InputError(f"calibration images have shape {calib.shape[1:]}, the model needs {expected}")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([calib[i:i + 1].astype(np.float32)] for i in range(len(calib)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = _io_dtype(tf, io)
        conv.inference_output_type = _io_dtype(tf, io)
        result.calibration, result.calib_images = calibration.name, len(calib)
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        with native_stderr():  # the converter's "fully_quantize: 0, ..." lines go to the debug log
            if mode == "int8":
                result.tflite, result.details = calibration.quantize(tf, conv, calib, io)  # type: ignore[arg-type]
            else:
                result.tflite = conv.convert()
    except (ModelError, InputError):
        raise
    except Exception as exc:  # noqa: BLE001 - ConverterError and friends: one line naming the ops
        raise _conversion_error(exc, name) from None
    result.seconds = time.perf_counter() - t0
    log.info("converted %s (%s, %s I/O) in %.1f s: %d bytes", name, mode, io, result.seconds, len(result.tflite))
    return result
