"""Shared helpers for the training and recipe tests: a small CIFAR subset (symlinks into ../shared) and a tiny
conv net saved as .h5."""

from __future__ import annotations

import os
from pathlib import Path

from _paths import TESTDATA

CIFAR = TESTDATA / "cifar10" / "train"


def need_cifar() -> Path:
    """The CIFAR-10 training folder, or a reported skip naming it when the shared test data lacks it."""
    import pytest

    if not CIFAR.is_dir():
        pytest.skip(f"test data not available: {CIFAR} (CIFAR-10 images, see ../shared/README.md)")
    return CIFAR


def cifar_subset(root: Path, per_class: int, classes: list[str] | None = None) -> Path:
    """root/<class>/<file>.jpg symlinks to the first ``per_class`` images of each (or the given) CIFAR class."""
    need_cifar()
    root.mkdir(parents=True, exist_ok=True)
    for c in classes or sorted(p.name for p in CIFAR.iterdir()):
        d = root / c
        d.mkdir(exist_ok=True)
        for f in sorted((CIFAR / c).iterdir())[:per_class]:
            os.symlink(f, d / f.name)
    return root


def tiny_net(classes: int = 10, size: int = 32, name: str = "tinynet"):
    from edgesdk.converters import import_tf_keras

    k = import_tf_keras()
    L = k.layers
    inp = k.Input((size, size, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(6.0)(x)
    x = L.Conv2D(64, 3, strides=2, padding="same", use_bias=False, name="conv2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.ReLU(6.0)(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw3")(x)
    x = L.BatchNormalization(name="bn3")(x)
    x = L.ReLU(6.0)(x)
    x = L.Conv2D(384, 1, use_bias=False, name="conv4")(x)
    x = L.BatchNormalization(name="bn4")(x)
    x = L.ReLU(6.0)(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(classes, activation="softmax", name="predictions")(x)
    return k.Model(inp, out, name=name)
