"""Top-1 / top-5 accuracy of a TFLite classifier on a labelled image folder, on the runtime (no TensorFlow).

Two layouts:
- ImageNet style: ``DIR/<wnid>_*.JPEG`` with a wnid list (``imagenet_wnids.txt`` in DIR or next to the model,
  or ``wnids=``): class index = offset + line number of the wnid, offset = outputs - wnids (1 when the model
  has a background class, as the 1001-class Coral models). This goes through ``edgesdk eval``'s function
  (``edgesdk.converters.evaluate``, which runs TFLite on the runtime without TensorFlow), so both commands give
  the same number; the loop below is the fallback when that package cannot be imported.
- Class folders: ``DIR/<class name>/*.jpg``: each folder name is looked up in the model's labels (bundle or
  labels file next to the model) as a whole or as one of its comma-separated names, case-insensitively, ``_``
  and spaces alike.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

from edgesdk.errors import InputError, ModelError
from edgesdk.runtime import IMAGE_SUFFIXES, read_image

log = logging.getLogger(__name__)

WNIDS_NAME = "imagenet_wnids.txt"


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", " ")


def labelled_images(data: str | Path, n_classes: int, labels: Sequence[str], *, model_path: Path | None = None,
                    wnids: str | Path | None = None) -> list[tuple[Path, int]]:
    """(image, class index in the model's output) pairs; InputError with one line when DIR cannot be read."""
    root = Path(data)
    if not root.is_dir():
        raise InputError(f"--data {root}: not a folder")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs:
        if not labels:
            raise InputError(f"--data {root} has class folders but the model has no labels to match them to")
        index: dict[str, int] = {}
        for i, lab in enumerate(labels):  # "tench, Tinca tinca": the whole label or any of its names
            for key in [lab, *lab.split(",")]:
                index.setdefault(_norm(key), i)
        pairs, unknown = [], []
        for d in subdirs:
            cid = index.get(_norm(d.name))
            if cid is None:
                unknown.append(d.name)
                continue
            pairs += [(p, cid) for p in _images(d)]
        if unknown:
            raise InputError(f"--data {root}: folder(s) {', '.join(unknown[:3])} match no label of the model")
        return pairs
    candidates = [Path(wnids)] if wnids else [root / WNIDS_NAME] + ([model_path.with_name(WNIDS_NAME)] if model_path else [])
    wfile = next((c for c in candidates if c.is_file()), None)
    if wfile is None:
        raise InputError(f"--data {root}: no class folders and no {WNIDS_NAME} (pass --wnids FILE)")
    wn = [ln.strip() for ln in wfile.read_text().splitlines() if ln.strip()]
    offset = n_classes - len(wn)
    if offset < 0:
        raise InputError(f"{wfile.name} lists {len(wn)} classes but the model has {n_classes} outputs")
    pos = {w: i for i, w in enumerate(wn)}
    pairs = []
    for p in _images(root):
        w = p.name.split("_", 1)[0]
        if w in pos:
            pairs.append((p, pos[w] + offset))
    if not pairs:
        raise InputError(f"--data {root}: no <wnid>_*.JPEG images whose wnid is in {wfile}")
    return pairs


def evaluate(model, data: str | Path, *, limit: int | None = None, wnids: str | Path | None = None,
             on_image: Callable[[], None] | None = None, source: str | Path | None = None) -> dict:
    """``model``: a loaded :class:`edgesdk.runtime.Model` (or a path, loaded on the CPU); ``source``: what it was
    loaded from (a bundle keeps its input spec that way), default its model file.

    Returns ``{"top1", "top5", "n", "data"}``. ModelError when the model is not a classifier."""

    if isinstance(model, (str, Path)):
        from edgesdk.runtime import load

        model = load(model)
    outs = model.outputs
    if len(outs) != 1 or len(outs[0].shape) != 2:
        raise ModelError(f"{model.path.name} is not a classifier (accuracy needs one (1, classes) output)")
    n_classes = int(outs[0].shape[1])
    pairs = labelled_images(data, n_classes, model.labels, model_path=Path(model.path), wnids=wnids)
    root = Path(data)
    # ImageNet style, whole folder: `edgesdk eval`'s own function. (With a limit, the first N images here:
    # converters' seeded sample returns nothing when every class has a single image, as in imagenet-500.)
    if not limit and not any(p.is_dir() for p in root.iterdir()):
        wfile = _wnids_file(root, Path(model.path), wnids)
        from edgesdk.converters import evaluate as eval_model

        r = eval_model(source or model.path, data, wnids=wfile, limit=limit, on_image=on_image)
        return {"top1": r.top1, "top5": r.top5, "n": r.n, "data": str(data), "via": "edgesdk eval"}
    if limit:
        pairs = pairs[: int(limit)]
    top1 = top5 = n = 0
    offset = model.output_spec.label_offset
    for path, truth in pairs:
        try:
            img = read_image(path)
        except InputError:
            log.warning("skipping unreadable image %s", path)
            continue
        ids = [int(c) - offset for c in model.classify(img, top_k=5).class_id]
        n += 1
        top1 += bool(ids) and ids[0] == truth
        top5 += truth in ids
        if on_image is not None:
            on_image()
    if n == 0:
        raise InputError(f"--data {data}: no readable images")
    return {"top1": top1 / n, "top5": top5 / n, "n": n, "data": str(data), "via": "edgesdk bench"}


def _wnids_file(root: Path, model_path: Path, wnids) -> Path:
    cands = [Path(wnids)] if wnids else [root / WNIDS_NAME, model_path.with_name(WNIDS_NAME)]
    return next(c for c in cands if c.is_file())  # labelled_images() already checked one exists
