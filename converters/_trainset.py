"""Training data: checked class folders and seeded held-out splits (train / validation / test), on top of _data's
scanner and the tf.data pipeline."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ._data import ImageSet



log = logging.getLogger(__name__)

__all__ = ["TrainingData", "make_datasets", "prepare_data"]


@dataclass
class TrainingData:
    """Train / validation / held-out test image sets (``_data.ImageSet``) of one labelled folder (or unlabelled,
    then ``classes`` is empty and only ``train`` is set). ``skipped`` counts files left out, by reason."""

    train: ImageSet
    val: ImageSet | None
    test: ImageSet | None
    classes: list[str]
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        return bool(self.classes)

    def summary(self) -> dict:
        return {"classes": len(self.classes), "train": len(self.train), "val": len(self.val or []),
                "test": len(self.test or []), "skipped": dict(self.skipped)}


def _readable(path: Path) -> bool:
    from ..errors import InputError
    from ..runtime import read_image

    try:
        read_image(path)
    except (InputError, OSError):
        return False
    return True


def _check_files(paths: list[Path], skipped: dict[str, int]) -> list[Path]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        ok = list(pool.map(_readable, paths, chunksize=256))
    bad = [p for p, good in zip(paths, ok) if not good]
    if bad:
        skipped["unreadable"] = skipped.get("unreadable", 0) + len(bad)
        log.warning("skipped %d unreadable image file(s), e.g. %s", len(bad), bad[0])
    return [p for p, good in zip(paths, ok) if good]


def prepare_data(
    train_dir: str | os.PathLike,
    *,
    val_split: float = 0.1,
    test_split: float = 0.0,
    val_dir: str | os.PathLike | None = None,
    seed: int = 0,
    limit: int | None = None,
    eval_limit: int | None = None,
    labelled: bool = True,
) -> TrainingData:
    """Scan ``train_dir`` (one folder per class), skip and count non-image and unreadable files, and split it.

    The held-out ``test_split`` is drawn first from all images of each class (the same images for every
    ``limit``), then ``val_split`` of the rest (unless ``val_dir`` is given); ``limit`` caps the training images per
    class and ``eval_limit`` the validation and test images per class. ``labelled=False`` accepts a flat folder of
    unlabelled images (for distillation on soft targets). Raises InputError for a class left without readable
    images, a single class, or a folder without images."""
    import numpy as np

    from ..errors import InputError
    from ._data import IMAGE_SUFFIXES, ImageSet, scan_images, stratified_split

    root = Path(train_dir)
    images = scan_images(root, what="training folder")
    skipped: dict[str, int] = {}
    if images.layout != "classes":
        if labelled:
            raise InputError(f"{root} has no class folders: training needs one folder of images per class "
                             f"(unlabelled images only work for distillation with alpha = 0)")
        files = _check_files(sorted(images.paths), skipped)
        if not files:
            raise InputError(f"{root} has no readable images")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(files))[: limit or None]
        flat = ImageSet(root, [files[i] for i in sorted(order)], None, [], "flat")
        return TrainingData(flat, None, None, [], skipped)
    # every class folder, including those scan_images dropped for having no images
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths: list[Path] = []
    labels: list[int] = []
    classes: list[str] = []
    for d in class_dirs:
        entries = sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith("."))
        imgs = [f for f in entries if f.suffix.lower() in IMAGE_SUFFIXES]
        other = len(entries) - len(imgs)
        if other:
            skipped["non-image"] = skipped.get("non-image", 0) + other
        if not imgs:
            raise InputError(f"class folder {d.name!r} in {root} has no images"
                             + (f" ({other} non-image file(s) skipped)" if other else "")
                             + ": add images or remove the folder")
        classes.append(d.name)
        paths += imgs
        labels += [len(classes) - 1] * len(imgs)
    if len(classes) < 2:
        raise InputError(f"{root} has only one class ({classes[0]!r}): a classifier needs at least two class folders")
    lab = np.asarray(labels, np.int64)
    test_idx = np.array([], np.int64)
    rest = np.arange(len(paths))
    if test_split > 0:
        rest, test_idx = stratified_split(lab, len(paths), (1 - test_split, test_split), seed)
    val_idx = np.array([], np.int64)
    if val_dir is None and val_split > 0:
        a, b = stratified_split(lab[rest], len(rest), (1 - val_split, val_split), seed + 1)
        rest, val_idx = rest[a], rest[b]

    def cap(idx, n):
        if n is None or len(idx) == 0:
            return np.sort(idx)
        keep = np.concatenate([idx[lab[idx] == c][:n] for c in range(len(classes))])
        return np.sort(keep)

    def make(idx, what):
        if len(idx) == 0:
            return None
        ps = _check_files([paths[i] for i in idx], skipped)
        good = set(ps)
        idx = np.asarray([i for i in idx if paths[i] in good], np.int64)
        counts = np.bincount(lab[idx], minlength=len(classes))
        if what == "train" and counts.min() == 0:
            empty = classes[int(np.argmin(counts))]
            raise InputError(f"class {empty!r} in {root} has no readable images left "
                             f"({skipped.get('unreadable', 0)} unreadable file(s) skipped)")
        return ImageSet(root, [paths[i] for i in idx], lab[idx], classes, "classes")

    train = make(cap(rest, limit), "train")
    val = make(cap(val_idx, eval_limit), "val")
    test = make(cap(test_idx, eval_limit), "test")
    if val_dir is not None:
        vd = prepare_data(val_dir, val_split=0, seed=seed, limit=eval_limit)
        if vd.classes != classes:
            raise InputError(f"validation folder {val_dir} has classes {vd.classes}, the training folder {classes}")
        val = vd.train
        for k, v in vd.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    return TrainingData(train, val, test, classes, skipped)


def make_datasets(data: TrainingData, size: tuple[int, int], spec, *, batch_size: int = 32, augment: bool = False,
                  seed: int = 0):
    """(train, val) tf.data pipelines from ``_data.tf_dataset``: integer labels, train shuffled (and augmented)."""
    from ._data import tf_dataset

    train = tf_dataset(data.train, size, spec, batch_size=batch_size, augment=augment, shuffle=True, seed=seed)
    val = None if data.val is None else tf_dataset(data.val, size, spec, batch_size=batch_size)
    return train, val
