"""Where the default segmentation model is found.

MediaPipe's ``selfie_segmentation.tflite`` (Apache 2.0) is not shipped inside edgesdk: ``--model`` names a model,
or the default is looked up by file name in, in order, the folders of ``$EDGESDK_MODEL_PATH`` (separated like
PATH), ``./models``, ``~/.local/share/edgesdk/models`` and, last, ``../shared/testdata/models`` (the test data of
a development checkout, run from its root; devices do not have it). Put it in one of the first three on a device
(``edgesdk deploy`` copies bundles, not this file).
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import ModelError

__all__ = ["DEFAULT_SEGMENTER", "MODEL_PATH_ENV", "model_search_path", "find_model"]

DEFAULT_SEGMENTER = "selfie_segmentation.tflite"
MODEL_PATH_ENV = "EDGESDK_MODEL_PATH"


def model_search_path() -> list[Path]:
    """The folders searched for a model given by name only, in order."""
    dirs = [Path(p) for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p]
    return dirs + [Path("models"), Path.home() / ".local" / "share" / "edgesdk" / "models",
                   Path("..") / "shared" / "testdata" / "models"]


def find_model(model: str | os.PathLike | None, default: str = DEFAULT_SEGMENTER) -> Path:
    """``model`` when given (a path, or a bare file name found on the search path); else ``default`` on the
    search path. ModelError naming the folders searched when it is nowhere."""
    name = str(model) if model is not None else default
    p = Path(name)
    if model is not None and (p.exists() or p.parent != Path(".")):
        return p
    for d in model_search_path():
        if (d / name).exists():
            return d / name
    if model is not None:
        return p  # let the loader say it is missing
    where = ", ".join(str(d) for d in model_search_path())
    raise ModelError(f"no --model given and the default {default} is not in {where}: pass --model PATH or put "
                     f"MediaPipe's {default} into one of them (or set ${MODEL_PATH_ENV})")
