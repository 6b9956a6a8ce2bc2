"""The model's input description (colour order, resize policy, value range) as an edgesdk.bundle.InputSpec."""

from __future__ import annotations

import logging

from ..bundle import InputSpec

log = logging.getLogger(__name__)

__all__ = ["infer_input_spec"]

# Model-name fragments of families trained on inputs in [-1, 1] (Keras applications' "tf" mode).
_MINUS1_1 = ("mobilenet", "inception", "xception", "nasnet", "efficientnet_lite", "efficientnet-lite")
_RAW_LAYERS = ("Rescaling", "Normalization")


def infer_input_spec(model, input_range: tuple[float, float] | None = None, resize: str = "crop",
                     color: str = "RGB") -> tuple[InputSpec, str]:
    """InputSpec for a Keras model and where its range came from (``"--input-range"``, ``"model"``, ``"assumed"``).

    The range is taken from ``input_range`` if given, else [0, 255] when the model normalises its own inputs
    (a Rescaling or Normalization layer near the input), else [-1, 1] for the MobileNet/Inception families,
    else [-1, 1] with a warning (pass --input-range)."""
    if input_range is not None:
        return InputSpec.from_range(*input_range, resize=resize, color=color), "--input-range"
    layers = [type(layer).__name__ for layer in getattr(model, "layers", [])[:4]]
    if any(name in _RAW_LAYERS for name in layers):
        return InputSpec.from_range(0.0, 255.0, resize=resize, color=color), "model"
    if any(frag in model.name.lower() for frag in _MINUS1_1):
        return InputSpec.from_range(-1.0, 1.0, resize=resize, color=color), "model"
    log.warning("input range of %s is not known: assuming [-1, 1] (set it with --input-range A,B)", model.name)
    return InputSpec.from_range(-1.0, 1.0, resize=resize, color=color), "assumed"
