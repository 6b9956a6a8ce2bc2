"""Image folders: class folders, flat calibration folders, ImageNet-style ``<wnid>_*.JPEG`` files; seeded
stratified splits; numpy loading for calibration/evaluation and tf.data pipelines for training."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..bundle import InputSpec
from ..errors import InputError
from ..runtime import IMAGE_SUFFIXES, image_preprocessor, model_pixels, normalize, read_image

log = logging.getLogger(__name__)

__all__ = ["IMAGE_SUFFIXES", "ImageSet", "check_skipped", "scan_images", "stratified_split", "sample", "load_images",
           "tf_dataset"]

_WNID = re.compile(r"^(n\d{8})[_.]")


@dataclass
class ImageSet:
    """Image paths with optional integer labels. ``layout``: ``classes`` (one folder per class), ``wnid``
    (ImageNet file names + a wnid list: label = line of the wnid in the list) or ``flat`` (no labels)."""

    root: Path
    paths: list[Path]
    labels: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    layout: str = "flat"

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, idx) -> "ImageSet":
        idx = np.asarray(idx, dtype=np.int64)
        return ImageSet(self.root, [self.paths[i] for i in idx], None if self.labels is None else self.labels[idx],
                        self.classes, self.layout)


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def _listdir(d: Path) -> list[Path]:
    try:
        return sorted(d.iterdir())
    except PermissionError:
        raise InputError(f"image folder {d} is not readable (permission denied)") from None
    except OSError as exc:
        raise InputError(f"image folder {d} cannot be read: {exc.strerror or exc}") from None


def read_wnids(path: str | os.PathLike) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"wnid list not found: {p}")
    wnids = [ln.strip().split()[0] for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not wnids or not all(_WNID.match(w + "_") for w in wnids):
        raise InputError(f"{p} is not a wnid list (one ImageNet id like n01440764 per line)")
    return wnids


def scan_images(root: str | os.PathLike, *, wnids: str | os.PathLike | list[str] | None = None,
                what: str = "image folder") -> ImageSet:
    """Find the images under ``root`` and their labels (see ImageSet). Raises InputError for a missing,
    unreadable or empty folder."""
    d = Path(root)
    if not d.exists():
        raise InputError(f"{what} not found: {d}")
    if not d.is_dir():
        raise InputError(f"{what} {d} is not a folder")
    entries = _listdir(d)
    subdirs = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    class_dirs = [(s, [f for f in _listdir(s) if _is_image(f)]) for s in subdirs]
    class_dirs = [(s, fs) for s, fs in class_dirs if fs]
    if class_dirs:
        classes = [s.name for s, _ in class_dirs]
        paths = [f for _, fs in class_dirs for f in fs]
        labels = np.concatenate([np.full(len(fs), i, np.int64) for i, (_, fs) in enumerate(class_dirs)])
        return ImageSet(d, paths, labels, classes, "classes")
    files = [e for e in entries if _is_image(e)]
    if not files:
        raise InputError(f"{what} {d} has no images ({', '.join(IMAGE_SUFFIXES)}), neither directly nor in class folders")
    if wnids is not None:
        table = read_wnids(wnids) if not isinstance(wnids, list) else wnids
        index = {w: i for i, w in enumerate(table)}
        ids = []
        for f in files:
            m = _WNID.match(f.name)
            if not m or m.group(1) not in index:
                raise InputError(f"{f.name}: no ImageNet id from the wnid list at the start of its name (<wnid>_*.JPEG)")
            ids.append(index[m.group(1)])
        return ImageSet(d, files, np.asarray(ids, np.int64), table, "wnid")
    return ImageSet(d, files, None, [], "flat")


def stratified_split(labels: np.ndarray | None, n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> list[np.ndarray]:
    """Seeded split of ``n`` items into len(fractions) index arrays; with labels, every class is split in the
    same proportions (stratified)."""
    fr = np.asarray(fractions, np.float64)
    if np.any(fr < 0) or fr.sum() <= 0:
        raise InputError(f"bad split fractions {fractions}")
    fr = fr / fr.sum()
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    parts: list[list[int]] = [[] for _ in fr]
    for g in groups:
        g = rng.permutation(g)
        cuts = np.round(np.cumsum(fr)[:-1] * len(g)).astype(int)
        for i, chunk in enumerate(np.split(g, cuts)):
            parts[i].extend(chunk.tolist())
    return [rng.permutation(np.asarray(p, np.int64)) for p in parts]


def sample(images: ImageSet, count: int | None, seed: int = 0) -> ImageSet:
    """A seeded subset of ``count`` images (all when count is None or larger), spread over the classes."""
    if count is None or count >= len(images):
        return images
    if count <= 0:
        raise InputError(f"image count must be positive, got {count}")
    order = stratified_split(images.labels, len(images), (count, len(images) - count), seed)[0]
    if len(order) < count:  # classes too small to split (e.g. one image per class): top up at random
        rest = np.setdiff1d(np.arange(len(images)), order)
        order = np.concatenate([order, np.random.default_rng(seed).permutation(rest)[: count - len(order)]])
    return images.subset(np.sort(order[:count]))


def load_images(paths: list[Path], size: tuple[int, int], spec: InputSpec, *, channels: int = 3,
                on_image=None, wrong_fraction: float = 0.05, skipped: list[Path] | None = None) -> np.ndarray:
    """Decode, check, resize and normalise images into a float32 (n, h, w, c) array per ``spec``, with the
    runtime's preprocessing (edgesdk.runtime.image_preprocessor): the tensors the device would be fed.

    Images with another channel count (grayscale, RGBA) are converted when they are a few strays (at most 2 or
    ``wrong_fraction`` of the set, as in ImageNet); more than that raises InputError naming the first one.
    With a ``skipped`` list, unreadable or truncated files are appended to it and left out of the array
    (n = len(paths) - len(skipped)); without one, the first raises InputError."""
    h, w = size
    pre = image_preprocessor((w, h), spec, np.float32, channels)
    out = np.empty((len(paths), h, w, channels), np.float32)
    wrong: list[Path] = []
    bad: list[int] = []
    for i, p in enumerate(paths):
        try:
            raw = read_image(p, channels, convert=False)
        except InputError:
            try:
                raw = read_image(p, channels)  # a file OpenCV cannot decode, or one cut short, raises here
            except InputError:
                if skipped is None:
                    raise
                skipped.append(Path(p))
                bad.append(i)
                continue
            # a few grayscale/RGBA files in a real set (ImageNet has some) are converted; a set that is
            # mostly of the wrong kind is an error
            wrong.append(Path(p))
            if len(wrong) > max(2, int(wrong_fraction * len(paths))):
                read_image(wrong[0], channels, convert=False)  # raises the one-line error naming the file
        out[i] = pre(raw if channels == 3 else raw[:, :, 0])[0][0]
        if on_image is not None:
            on_image()
    if wrong:
        log.warning("%d image(s) with another channel count were converted (first: %s)", len(wrong), wrong[0].name)
    return np.delete(out, bad, axis=0) if bad else out


def check_skipped(skipped: list[Path], total: int, what: str, max_fraction: float = 0.05) -> None:
    """Warn naming the skipped files; InputError when more than max(2, max_fraction * total) were skipped,
    or all of them."""
    if not skipped:
        return
    names = ", ".join(p.name for p in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    if len(skipped) > max(2, int(max_fraction * total)) or len(skipped) >= total:
        raise InputError(f"{len(skipped)} of {total} {what} images could not be read (not a readable image, or "
                         f"truncated: {names})")
    log.warning("skipped %d unreadable %s image(s): %s", len(skipped), what, names)


def tf_dataset(images: ImageSet, size: tuple[int, int], spec: InputSpec, *, batch_size: int = 32,
               augment: bool = False, shuffle: bool = False, seed: int = 0, cache: bool = True,
               num_classes: int | None = None):
    """A tf.data pipeline: read and resize (spec.resize) with the runtime's functions, cache, [augment],
    normalise, batch, prefetch.
    Augmentation (training only): horizontal flip, small rotation and zoom, brightness and contrast."""
    from ._env import import_tf, import_tf_keras

    tf = import_tf()
    h, w = size
    if images.labels is None:
        raise InputError(f"{images.root} has no labels: training needs one folder per class")
    ds = tf.data.Dataset.from_tensor_slices(([str(p) for p in images.paths], images.labels.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=False)

    def pixels(path: bytes) -> np.ndarray:  # the runtime's reader and resize: no train/serve skew
        return model_pixels(read_image(path.decode()), (w, h), spec)

    def load(path, label):
        img = tf.numpy_function(pixels, [path], tf.uint8, stateful=False)
        img.set_shape([h, w, 3])
        return img, label

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(len(images), 2048), seed=seed)
    ds = ds.batch(batch_size)
    if augment:
        L = import_tf_keras().layers
        aug = import_tf_keras().Sequential([
            L.RandomFlip("horizontal", seed=seed), L.RandomRotation(0.05, seed=seed), L.RandomZoom(0.1, seed=seed),
            L.RandomBrightness(0.1, value_range=(0, 255), seed=seed), L.RandomContrast(0.1, seed=seed),
        ])

        def augment_fn(x, y):
            return tf.clip_by_value(aug(tf.cast(x, tf.float32), training=True), 0.0, 255.0), y
        ds = ds.map(augment_fn, num_parallel_calls=tf.data.AUTOTUNE)

    def finish(x, y):
        x = normalize(tf.cast(x, tf.float32), spec)
        return x, (tf.one_hot(y, num_classes) if num_classes else y)

    return ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
