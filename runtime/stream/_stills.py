"""``detect_images``: detection on a list of image files with today's per-image output (boxes, classes, scores;
optionally annotated copies). Streams, folders and cameras go through ``detect_stream``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ...errors import InputError

__all__ = ["annotate_targets", "detect_images"]


def annotate_targets(out: str, images: Sequence[str]) -> list[Path]:
    """Where ``--annotate OUT`` writes each image: OUT itself (one image) or OUT/<stem>_detect.jpg (a folder)."""
    from .. import IMAGE_SUFFIXES

    o = Path(out)
    if o.is_dir():
        targets = [o / (Path(i).stem + "_detect.jpg") for i in images]
    elif len(images) == 1:
        if o.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"--annotate {out}: unsupported image extension {o.suffix or '(none)'}; use .jpg or .png")
        if not o.parent.is_dir():
            raise InputError(f"--annotate {out}: folder {o.parent} does not exist")
        targets = [o]
    else:
        raise InputError(f"--annotate {out}: with several images, give an existing folder")
    for src, dst in zip(images, targets):
        if Path(src).resolve() == dst.resolve():
            raise InputError(f"--annotate would overwrite the input {src}")
    return targets


def detect_images(model, images: Sequence[str], threshold: float = 0.5, annotate: str | None = None) -> list[dict]:
    """One row per image: ``{"image", "size", "detections", ["annotated"]}``. Every image is read (and every
    target checked) before the first detection. ``model``: a runtime Model."""
    from .. import draw_detections, read_image, write_image
    from ._model_detector import check_detector

    if not 0.0 <= threshold <= 1.0:
        raise InputError("--threshold must be between 0 and 1")
    targets = annotate_targets(annotate, images) if annotate else []
    frames = [read_image(p) for p in images]
    check_detector(model, model.path.name)
    rows = []
    for i, (path, image) in enumerate(zip(images, frames)):
        det = model.detect(image, threshold)
        row = {"image": str(path), "size": [image.shape[1], image.shape[0]],
               "detections": det.to_dicts(model.labels or None)}
        if targets:
            write_image(targets[i], draw_detections(image, det, model.labels))
            row["annotated"] = str(targets[i])
        rows.append(row)
    return rows
