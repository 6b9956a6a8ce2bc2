"""Importing TensorFlow the way the converters need it.

tensorflow-model-optimization works only with Keras 2 (``tf_keras``); TensorFlow >= 2.16 picks Keras 2 only when
``TF_USE_LEGACY_KERAS=1`` is set *before* TensorFlow is first imported. Every converter module reaches TensorFlow
through the functions here, so the variable is always set first and a missing install is one clear error.
"""

from __future__ import annotations

import logging
import os
import sys

from ..errors import MissingExtraError

log = logging.getLogger(__name__)

__all__ = ["import_tf", "import_tf_keras", "import_tfmot", "import_keras3"]


def _prepare_env() -> None:
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        log.warning("tensorflow was imported before edgesdk.converters set TF_USE_LEGACY_KERAS=1; tfmot steps may fail")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ info chatter


def import_tf():
    """``tensorflow``, with ``TF_USE_LEGACY_KERAS=1`` set; MissingExtraError naming the ``convert`` extra."""
    _prepare_env()
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    from .._native import native_stderr, quiet_env

    quiet_env(verbose=logging.getLogger("edgesdk").isEnabledFor(logging.DEBUG))
    with native_stderr():  # absl's pre-init lines, oneDNN and CUDA notices: debug log only
        try:
            import tensorflow as tf
        except ImportError:
            raise MissingExtraError("tensorflow", "convert", "model conversion") from None
        tf.get_logger().setLevel(logging.ERROR)
        try:
            tf.config.list_physical_devices("GPU")  # cuInit's "failed call" happens here, inside the redirect
        except Exception:  # noqa: BLE001 - no GPU stack at all is fine
            pass
    return tf


def import_tf_keras():
    """``tf_keras`` (Keras 2, the Keras tfmot understands)."""
    import_tf()
    try:
        import tf_keras
    except ImportError:
        raise MissingExtraError("tf_keras", "convert", "loading Keras models") from None
    return tf_keras


def import_tfmot():
    """``tensorflow_model_optimization`` (quantization-aware training, pruning)."""
    import_tf_keras()
    try:
        import tensorflow_model_optimization as tfmot
    except ImportError:
        raise MissingExtraError("tensorflow_model_optimization", "convert", "quantization-aware training") from None
    return tfmot


def import_keras3():
    """The ``keras`` package (Keras 3), for ``.keras`` files saved by Keras 3; None when absent."""
    import_tf()
    try:
        import keras
    except ImportError:
        return None
    return keras if getattr(keras, "__version__", "0").split(".")[0] == "3" else None


def tool_versions() -> dict:
    """Versions of the converter toolchain (TensorFlow, tf-keras, tfmot) that are installed, for reports."""
    import importlib.metadata as md

    out = {}
    for mod, dist in (("tensorflow", "tensorflow"), ("tf_keras", "tf-keras"),
                      ("tensorflow_model_optimization", "tensorflow-model-optimization")):
        try:
            out[mod] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


class NullBar:
    """What a converter step uses for progress when no ``progress`` factory was given: does nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def advance(self, n: int = 1) -> None:
        pass


def phase(progress, description: str, total: int | None = None):
    """A bar (a spinner when ``total`` is None) from the optional ``progress(desc, total)`` factory."""
    return progress(description, total) if progress else NullBar()
