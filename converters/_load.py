"""Loading a Keras model: tf_keras ``.h5`` / ``.keras`` / SavedModel folder, or a Keras 3 ``.keras`` file."""

from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelError
from ._env import import_keras3, import_tf_keras

log = logging.getLogger(__name__)

__all__ = ["LoadedModel", "check_keras_path", "load_keras", "fix_input_size"]


@dataclass
class LoadedModel:
    """A Keras model ready to convert. ``flavor`` is ``"tf_keras"`` (Keras 2: every step works) or ``"keras3"``
    (post-training quantization only: tfmot needs tf_keras)."""

    model: Any
    flavor: str
    source: str

    @property
    def input_shape(self) -> tuple:
        shape = self.model.inputs[0].shape
        return tuple(None if d is None else int(d) for d in shape)

    @property
    def num_outputs(self) -> int:
        return int(self.model.outputs[0].shape[-1])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "the loader gave no reason"


def _looks_like_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def check_keras_path(path: str | os.PathLike) -> Path:
    """Fail fast, before TensorFlow is imported: ``path`` must exist and look like a Keras model (an HDF5 or
    zip file, or a folder with saved_model.pb). Raises ModelError naming the file and the problem."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"model not found: {p}")
    if p.is_dir():
        if not (p / "saved_model.pb").is_file():
            raise ModelError(f"{p} is a folder without saved_model.pb: not a SavedModel")
        return p
    from ..tflite import is_tflite

    if is_tflite(p):  # checked first: a .tflite with metadata is also a zip file
        raise ModelError(f"{p.name} is already a TFLite model: this needs a Keras model (.h5, .keras or a SavedModel "
                         "folder); `edgesdk bundle` or `edgesdk compile` take .tflite files")
    try:
        ok = zipfile.is_zipfile(p) or _looks_like_hdf5(p)
    except OSError as exc:
        raise ModelError(f"cannot read {p}: {(exc.strerror or 'error').lower()}") from None
    if not ok:
        raise ModelError(f"{p.name} is not a Keras model (expected an .h5 or .keras file or a SavedModel folder)")
    return p


def load_keras(path: str | os.PathLike, *, input_size: int | None = None) -> LoadedModel:
    """Load ``path`` (``.h5``, ``.keras`` or a SavedModel folder).

    Raises ModelError for a missing file or anything that is not a Keras model, and for a dynamic input shape
    when ``input_size`` is not given (with it, the model is rebuilt with a fixed ``input_size`` square input).
    """
    p = check_keras_path(path)
    tf_keras = import_tf_keras()
    kind = "SavedModel folder" if p.is_dir() else p.suffix or "file"
    flavor = "tf_keras"
    try:
        model = tf_keras.models.load_model(p, compile=False)
    except Exception as exc2:  # noqa: BLE001 - any loader failure becomes one line
        model = None
        if p.is_file() and zipfile.is_zipfile(p):
            keras3 = import_keras3()
            if keras3 is not None:
                try:
                    model = keras3.saving.load_model(p, compile=False)
                    flavor = "keras3"
                except Exception as exc3:  # noqa: BLE001
                    raise ModelError(f"{p.name} could not be loaded as a Keras model: {_first_line(exc3)}") from None
        if model is None:
            raise ModelError(f"{p.name} could not be loaded as a Keras model ({kind}): {_first_line(exc2)}") from None
    if not hasattr(model, "inputs") or not model.inputs:
        raise ModelError(f"{p.name}: a Keras model with inputs is needed (SavedModels of bare tf.functions are not supported)")
    if len(model.inputs) != 1:
        raise ModelError(f"{p.name} has {len(model.inputs)} inputs; image models with one input are supported")
    loaded = LoadedModel(model=model, flavor=flavor, source=str(p))
    return fix_input_size(loaded, input_size)


def fix_input_size(loaded: LoadedModel, input_size: int | None) -> LoadedModel:
    """Give a model with a dynamic input (None height/width) a fixed ``input_size`` square input, or raise."""
    shape = loaded.input_shape
    if len(shape) != 4:
        raise ModelError(f"{Path(loaded.source).name} has input shape {shape}; image models need (batch, height, width, channels)")
    h, w, c = shape[1:]
    if c is None:
        raise ModelError(f"{Path(loaded.source).name} has an unknown channel count in its input {shape}")
    if h is not None and w is not None:
        if input_size is not None and (h, w) != (input_size, input_size):
            raise InputError(f"--input-size {input_size} does not match the model's fixed input {h}x{w}")
        return loaded
    if input_size is None:
        raise ModelError(
            f"{Path(loaded.source).name} has a dynamic input shape {shape}: pass --input-size N (e.g. --input-size 224) to fix it"
        )
    if loaded.flavor != "tf_keras":
        raise ModelError("fixing the input size of a Keras 3 model is not supported: re-save it with a fixed input shape")
    tf_keras = import_tf_keras()
    model = loaded.model
    new_input = tf_keras.Input(shape=(input_size, input_size, c), batch_size=None, name=model.inputs[0].name.split(":")[0])
    try:
        fixed = tf_keras.models.clone_model(model, input_tensors=new_input)
        fixed.set_weights(model.get_weights())
    except Exception:  # noqa: BLE001 - subclassed models cannot be cloned: wrap instead
        fixed = tf_keras.Model(new_input, model(new_input), name=model.name)
    log.info("input fixed to %dx%d", input_size, input_size)
    return LoadedModel(model=fixed, flavor=loaded.flavor, source=loaded.source)
