"""Class names for segmentation models: a labels file (Pascal VOC's carries a note after a blank line), or the
21 Pascal VOC classes that DeepLabV3's published models use."""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import InputError

__all__ = ["PASCAL_VOC_CLASSES", "segment_labels"]

PASCAL_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def _read(path: Path) -> tuple[str, ...]:
    """One name per line up to the first blank line after a name (what follows is a note)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read labels file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    names: list[str] = []
    for ln in lines:
        if not ln.strip():
            if names:
                break
            continue
        parts = ln.strip().split(maxsplit=1)
        names.append(parts[1].strip() if len(parts) == 2 and parts[0].rstrip(":").isdigit() else ln.strip())
    if not names:
        raise InputError(f"labels file {path} is empty")
    return tuple(names)


def segment_labels(path: str | os.PathLike | None, near: str | os.PathLike | None = None) -> tuple[str, ...]:
    """Names from ``path``; else from ``<model>_labels.txt``, ``labels.txt`` or a ``*segmentation*labels*.txt``
    next to the model ``near``; else PASCAL_VOC_CLASSES."""
    if path is not None:
        return _read(Path(path))
    if near is not None:
        m = Path(near)
        stem = m.name.replace("_edgetpu.tflite", ".tflite").removesuffix(".tflite")
        cands = [m.with_name(stem + "_labels.txt"), m.with_name("labels.txt"),
                 *sorted(m.parent.glob("*segmentation*labels*.txt"))]
        for c in cands:
            if c.is_file():
                return _read(c)
    return PASCAL_VOC_CLASSES
