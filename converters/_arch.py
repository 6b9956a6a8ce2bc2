"""Built-in architectures by name, for training from scratch or from a weights file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..bundle import InputSpec
from ..errors import InputError, ModelError
from ._env import import_tf_keras
from ._load import LoadedModel

log = logging.getLogger(__name__)

__all__ = ["ARCHITECTURES", "build_architecture"]

# name -> (tf_keras.applications constructor name or None for hand-built, input range of the built model)
ARCHITECTURES: dict[str, tuple[str | None, tuple[float, float]]] = {
    "mobilenet_v1": ("MobileNet", (-1.0, 1.0)),
    "mobilenet_v2": ("MobileNetV2", (-1.0, 1.0)),
    "mobilenet_v3_small": ("MobileNetV3Small", (-1.0, 1.0)),
    "mobilenet_v3_large": ("MobileNetV3Large", (-1.0, 1.0)),
    "efficientnet_b0": ("EfficientNetB0", (0.0, 255.0)),  # normalisation is inside the Keras model
    "efficientnet_lite0": (None, (-1.0, 1.0)),
}

# EfficientNet-B0's blocks: (expand ratio, kernel, stride, output filters, repeats). Lite drops squeeze-excite,
# uses ReLU6 and keeps the stem and head fixed (Edge TPU-friendly).
_LITE0_BLOCKS = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
                 (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def _efficientnet_lite0(tf_keras, input_size: int, classes: int, dropout: float = 0.2):
    L = tf_keras.layers
    inp = tf_keras.Input((input_size, input_size, 3), name="input")

    def conv_bn(x, filters, kernel, stride, act=True, name=""):
        x = L.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}conv")(x)
        x = L.BatchNormalization(name=f"{name}bn")(x)
        return L.ReLU(6.0, name=f"{name}relu6")(x) if act else x

    x = conv_bn(inp, 32, 3, 2, name="stem_")
    in_f = 32
    for b, (expand, k, stride, out_f, repeats) in enumerate(_LITE0_BLOCKS):
        for r in range(repeats):
            s = stride if r == 0 else 1
            name = f"block{b + 1}{chr(97 + r)}_"
            y = x
            if expand != 1:
                y = conv_bn(y, in_f * expand, 1, 1, name=name + "expand_")
            y = L.DepthwiseConv2D(k, s, padding="same", use_bias=False, name=name + "dwconv")(y)
            y = L.BatchNormalization(name=name + "dwbn")(y)
            y = L.ReLU(6.0, name=name + "dwrelu6")(y)
            y = conv_bn(y, out_f, 1, 1, act=False, name=name + "project_")
            x = L.Add(name=name + "add")([x, y]) if s == 1 and in_f == out_f else y
            in_f = out_f
    x = conv_bn(x, 1280, 1, 1, name="head_")
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    out = L.Dense(classes, activation="softmax", name="predictions")(x)
    return tf_keras.Model(inp, out, name="efficientnet_lite0")


def build_architecture(
    name: str,
    *,
    alpha: float = 1.0,
    input_size: int = 224,
    classes: int = 1000,
    weights: str | os.PathLike | None = None,
) -> tuple[LoadedModel, InputSpec]:
    """Build a built-in architecture. ``weights``: None (random initialisation), ``"imagenet"`` (Keras'
    pretrained weights; they must be in the Keras cache since nothing is downloaded here) or a weights file.
    Returns the model and the InputSpec it expects."""
    if name not in ARCHITECTURES:
        raise InputError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    if classes < 2:
        raise InputError(f"--classes must be at least 2, got {classes}")
    tf_keras = import_tf_keras()
    ctor_name, rng = ARCHITECTURES[name]
    shape = (input_size, input_size, 3)
    imagenet = isinstance(weights, str) and weights == "imagenet"
    if ctor_name is None:
        if alpha != 1.0:
            raise InputError("efficientnet_lite0 has a fixed width: --alpha is not supported for it")
        if imagenet:
            raise ModelError(
                "no ImageNet weights for efficientnet_lite0 are available offline: pass --weights FILE (a Keras weights file)"
            )
        model = _efficientnet_lite0(tf_keras, input_size, classes)
    else:
        ctor = getattr(tf_keras.applications, ctor_name)
        kw: dict[str, object] = {"input_shape": shape, "weights": None}
        if name.startswith("mobilenet"):
            kw["alpha"] = alpha
        elif alpha != 1.0:
            raise InputError(f"{name} has no width multiplier: --alpha is not supported for it")
        if name.startswith("mobilenet_v3"):
            kw["include_preprocessing"] = False
        if imagenet:
            model = _with_imagenet(tf_keras, ctor, name, kw, classes)
        else:
            model = ctor(classes=classes, **kw)
    if weights is not None and not imagenet:
        wpath = Path(weights)
        if not wpath.is_file():
            raise ModelError(f"weights file not found: {wpath}")
        try:
            model.load_weights(str(wpath))
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "no reason given"
            raise ModelError(f"{wpath.name} does not fit {name} (alpha {alpha}, {input_size}px, {classes} classes): {msg}") from None
    return LoadedModel(model=model, flavor="tf_keras", source=name), InputSpec.from_range(*rng, resize="crop")


def _with_imagenet(tf_keras, ctor, name: str, kw: dict, classes: int):
    kw = dict(kw, weights="imagenet")
    try:
        if classes == 1000:
            return ctor(classes=1000, **kw)
        base = ctor(include_top=False, pooling="avg", **kw)
    except Exception as exc:  # noqa: BLE001 - offline download failure, missing cache...
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else "no reason given"
        raise ModelError(
            f"ImageNet weights for {name} are not available offline ({why}): download them on a connected machine "
            f"and pass --weights FILE"
        ) from None
    L = tf_keras.layers
    x = L.Dropout(0.2, name="dropout")(base.output)
    out = L.Dense(classes, activation="softmax", name="predictions")(x)
    return tf_keras.Model(base.input, out, name=f"{name}_{classes}")
