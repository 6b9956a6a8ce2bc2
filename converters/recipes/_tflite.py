"""kind "float-tflite": the conversion of ``edgesdk convert MODEL.tflite`` as one step: a float TFLite model
without its Keras source, replayed in TensorFlow and quantized to full integer (``_from_tflite`` does the work).
``convert()`` runs it as a one-step recipe, as it does the Keras conversion, so its report and bundle are written
the way every recipe's are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._context import StepContext
from ._convert import ConvertOptions

__all__ = ["FloatTfliteStep"]


@dataclass
class FloatTfliteStep:
    """The full-integer quantization of the float ``.tflite`` at ``model`` with ``options`` (calib_data, io,
    edgetpu, input_range, calibration, latency_runs, seed are the ones it reads)."""

    kind = "float-tflite"
    trains = False
    exports = True

    model: str
    options: ConvertOptions

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        """The model and option checks, before any work (reads the flatbuffer and lists the calibration folder);
        what they found is kept for ``run``, which so does not check again."""
        from .._from_tflite import check_float_tflite

        self.checked = check_float_tflite(Path(self.model), self.options)

    def run(self, ctx: StepContext) -> dict:
        from .._from_tflite import quantize_float_tflite

        if getattr(self, "checked", None) is None:  # a step run without validate (e.g. built by hand)
            self.validate(ctx.recipe, [], ctx.step.name)
        return quantize_float_tflite(self.checked, ctx.dir, self.options, progress=ctx.run.progress)
