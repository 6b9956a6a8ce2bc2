"""Image-file jobs behind ``edgesdk segment`` and ``edgesdk remove-background``: every input and output is
checked before the first file is written, and every file is written atomically (``write_image``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import InputError
from .._images import IMAGE_SUFFIXES, read_image, write_image
from ._background import Background, Transparent, feathered_alpha
from ._render import colorize, index_mask, overlay
from ._segmenter import Segmenter

__all__ = ["plan_outputs", "segment_images", "remove_background_images", "foreground_ids", "is_stream"]


def is_stream(inputs: Sequence[str]) -> bool:
    """True when ``inputs`` is one SOURCE for the stream pipeline (a video, camera, URL, folder, ``demo``), False
    for image files. InputError for several inputs that are not all image files."""
    def image(s: str) -> bool:
        return Path(s).suffix.lower() in IMAGE_SUFFIXES and not Path(s).is_dir()

    if len(inputs) == 1:
        return not image(inputs[0])
    others = [s for s in inputs if not image(s)]
    if others:
        raise InputError(f"{others[0]}: several inputs must all be image files (a video, camera or folder goes alone)")
    return False


def plan_outputs(out: str | None, images: Sequence[str], *, what: str, tag: str, suffixes: Sequence[str],
                 default_suffix: str) -> list[Path] | None:
    """Target paths, one per image: ``out`` is a file (one image) or a folder (existing, or ending in /) that
    gets ``<stem>_<tag><default_suffix>``. InputError for a wrong extension, a missing folder, or an output
    that is one of the inputs."""
    if out is None:
        return None
    o = Path(out)
    if o.is_dir() or out.endswith(("/", os.sep)):
        if not o.is_dir():
            raise InputError(f"{what} {out}: folder does not exist")
        targets = [o / f"{Path(i).stem}_{tag}{default_suffix}" for i in images]
    elif len(images) == 1:
        if o.suffix.lower() not in suffixes:
            raise InputError(f"{what} {out}: unsupported extension {o.suffix or '(none)'}; use {' or '.join(suffixes)}")
        if not o.parent.is_dir():
            raise InputError(f"{what} {out}: folder {o.parent} does not exist")
        targets = [o]
    else:
        raise InputError(f"{what} {out}: with several images, give an existing folder")
    inputs = {Path(i).resolve() for i in images}
    for t in targets:
        if t.resolve() in inputs:
            raise InputError(f"{what} would overwrite the input {t}")
    if len({t.resolve() for t in targets}) != len(targets):
        raise InputError(f"{what} {out}: two inputs share a file name; write them to separate folders")
    return targets


def foreground_ids(segmenter: Segmenter, classes: Sequence[str] | None, default: Sequence[str] = ()) -> list[int] | None:
    """Class names or ids -> ids (InputError listing the known names for an unknown one); None for 'all'."""
    from ...results import Segmentation

    names = list(classes) if classes else list(default)
    if not names:
        return None
    probe = Segmentation(np.zeros((1, 1), np.int32), segmenter.class_names)
    try:
        return probe.class_ids(names)
    except ValueError as exc:
        raise InputError(f"--classes: {exc}") from None


def _read_all(images: Sequence[str]) -> list[np.ndarray]:
    if not images:
        raise InputError("no images given")
    return [read_image(p) for p in images]


def segment_images(segmenter: Segmenter, images: Sequence[str], *, output: str | None = None,
                   mask: str | None = None, show_overlay: bool = False, classes: Sequence[str] | None = None) -> list[dict]:
    """Segment image files. ``output``: a coloured label map (or, with ``show_overlay``, the image tinted by
    it); ``mask``: an 8-bit PNG of class indices at the image's size. Returns one JSON-ready row per image:
    {"image", "size", "shares", "output"?, "mask"?}. ``classes`` limits shares, pictures and masks to those."""
    if show_overlay and output is None:
        raise InputError("--overlay draws into -o OUT: give -o")
    if mask is not None and not (Path(mask).is_dir() or mask.endswith(("/", os.sep))) and Path(mask).suffix.lower() != ".png":
        raise InputError(f"--mask {mask}: the mask is an 8-bit PNG of class indices: give a .png path (or a folder)")
    ids = foreground_ids(segmenter, classes)
    outs = plan_outputs(output, images, what="-o", tag="overlay" if show_overlay else "segment",
                        suffixes=IMAGE_SUFFIXES, default_suffix=".png")
    masks = plan_outputs(mask, images, what="--mask", tag="mask", suffixes=(".png",), default_suffix=".png")
    clash = {p.resolve() for p in outs or []} & {p.resolve() for p in masks or []}
    if clash:
        raise InputError(f"-o and --mask both write {sorted(clash)[0]}")
    pictures = _read_all(images)
    rows = []
    for i, (path, image) in enumerate(zip(images, pictures)):
        seg = segmenter.segment(image)
        shares = seg.shares()
        if ids is not None:
            keep = {seg.name(c) for c in ids}
            shares = {k: v for k, v in shares.items() if k in keep}
        row: dict = {"image": path, "size": list(seg.size), "shares": shares}
        if outs is not None:
            pic = overlay(image, seg, ids) if show_overlay else colorize(seg, ids)
            row["output"] = str(write_image(outs[i], pic))
        if masks is not None:
            row["mask"] = str(write_image(masks[i], index_mask(seg, ids)))
        rows.append(row)
    return rows


def remove_background_images(segmenter: Segmenter, images: Sequence[str], output: str, background: Background,
                             *, feather: float = 3.0, classes: Sequence[str] | None = None) -> list[dict]:
    """Keep the foreground (``classes``, default person) of each image and replace the rest with
    ``background``; transparent output is an RGBA PNG. Rows: {"image", "output", "size", "foreground_share"}."""
    if output is None:
        raise InputError("give -o OUT (a file for one image, a folder for several)")
    transparent = isinstance(background, Transparent)
    suffixes = (".png",) if transparent else IMAGE_SUFFIXES
    if transparent and not (Path(output).is_dir() or output.endswith(("/", os.sep))) and Path(output).suffix.lower() != ".png":
        raise InputError(f"-o {output}: a transparent background needs a .png output (or --replace COLOR|IMAGE|blur)")
    ids = foreground_ids(segmenter, classes, default=("person",))
    targets = plan_outputs(output, images, what="-o", tag="nobg", suffixes=suffixes,
                           default_suffix=".png" if transparent else ".jpg")
    assert targets is not None
    pictures = _read_all(images)
    rows = []
    for path, image, target in zip(images, pictures, targets):
        seg = segmenter.segment(image)
        fg = seg.probability if seg.probability is not None and ids == [1] else seg.mask(ids or [])
        alpha = feathered_alpha(fg, feather)
        out = background.compose(image, alpha)
        rows.append({"image": path, "output": str(write_image(target, out)), "size": list(seg.size),
                     "foreground_share": round(float((alpha >= 0.5).mean()), 6)})
    return rows
