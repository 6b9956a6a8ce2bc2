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
from ._preprocess import normalize

log = logging.getLogger(__name__)

__all__ = ["IMAGE_SUFFIXES", "ImageSet", "check_skipped", "is_cut", "scan_images", "stratified_split", "sample",
           "load_images", "read_image",
           "tf_dataset"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
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
        labels = []
        for f in files:
            m = _WNID.match(f.name)
            if not m or m.group(1) not in index:
                raise InputError(f"{f.name}: no ImageNet id from the wnid list at the start of its name (<wnid>_*.JPEG)")
            labels.append(index[m.group(1)])
        return ImageSet(d, files, np.asarray(labels, np.int64), table, "wnid")
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


def read_image(path: Path, channels: int = 3, *, convert: bool = False) -> np.ndarray:
    """Read an image as uint8 (H, W, channels) in OpenCV's BGR order. InputError if unreadable, or if it has
    another channel count (a grayscale or RGBA file where RGB is needed) unless ``convert`` is set, which turns
    grayscale into 3 equal channels and drops alpha."""
    import cv2

    data = np.fromfile(path, np.uint8) if path.is_file() else None
    if data is not None and is_cut(path):
        raise InputError(f"{path} is not a readable image: truncated (the file ends before the image does)")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
    if img is None:
        raise InputError(f"{path} is not a readable image")
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(1, int(np.iinfo(img.dtype).max)))
    got = 1 if img.ndim == 2 else img.shape[2]
    if got != channels:
        if not convert:
            kind = {1: "grayscale", 2: "grayscale+alpha", 4: "RGBA"}.get(got, f"{got}-channel")
            raise InputError(f"{path.name} is a {kind} image ({got} channel(s)); the model needs {channels} "
                             f"({'RGB' if channels == 3 else 'grayscale'}): convert the image set first")
        if img.ndim == 2:
            img = img[:, :, None]
        if got == 2:
            img = img[:, :, :1]
        if got == 4:
            img = img[:, :, :3]
        if channels == 3 and img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        elif channels == 1 and img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return img if img.ndim == 3 else img[:, :, None]


def _channels(path: Path) -> int | None:
    import cv2

    data = np.fromfile(path, np.uint8) if path.is_file() else None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
    return None if img is None else (1 if img.ndim == 2 else img.shape[2])


def resize(img: np.ndarray, w: int, h: int, policy: str) -> np.ndarray:
    """Resize like the runtime does (edgesdk.runtime Preprocessor): stretch, letterbox or centre crop."""
    import cv2

    ih, iw = img.shape[:2]
    if policy == "stretch":
        out = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    elif policy == "letterbox":
        s = min(w / iw, h / ih)
        nw, nh = max(1, round(iw * s)), max(1, round(ih * s))
        out = np.zeros((h, w, img.shape[2]), img.dtype)
        px, py = (w - nw) // 2, (h - nh) // 2
        r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
        out[py:py + nh, px:px + nw] = r.reshape(nh, nw, -1)
    else:
        s = max(w / iw, h / ih)
        cw, ch = w / s, h / s
        x0, y0 = int((iw - cw) / 2), int((ih - ch) / 2)
        crop = img[y0:y0 + int(round(ch)), x0:x0 + int(round(cw))]
        out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    return out.reshape(h, w, -1)


def load_images(paths: list[Path], size: tuple[int, int], spec: InputSpec, *, channels: int = 3,
                on_image=None, wrong_fraction: float = 0.05, skipped: list[Path] | None = None) -> np.ndarray:
    """Decode, check, resize and normalise images into a float32 (n, h, w, c) array per ``spec``.

    Images with another channel count (grayscale, RGBA) are converted when they are a few strays (at most 2 or
    ``wrong_fraction`` of the set, as in ImageNet); more than that raises InputError naming the first one.
    With a ``skipped`` list, unreadable or truncated files are appended to it and left out of the array
    (n = len(paths) - len(skipped)); without one, the first raises InputError."""
    import cv2

    h, w = size
    out = np.empty((len(paths), h, w, channels), np.float32)
    wrong: list[Path] = []
    bad: list[int] = []
    for i, p in enumerate(paths):
        try:
            raw = read_image(Path(p), channels)
        except InputError:
            if _channels(Path(p)) is None or is_cut(Path(p)):
                if skipped is None:
                    raise
                skipped.append(Path(p))
                bad.append(i)
                continue
            # a few grayscale/RGBA files in a real set (ImageNet has some) are converted; a set that is
            # mostly of the wrong kind is an error
            wrong.append(Path(p))
            if len(wrong) > max(2, int(wrong_fraction * len(paths))):
                read_image(wrong[0], channels)  # raises the one-line error naming the file
            raw = read_image(Path(p), channels, convert=True)
        img = resize(raw, w, h, spec.resize)
        if channels == 3 and spec.color == "RGB":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        out[i] = normalize(img, spec)
        if on_image is not None:
            on_image()
    if wrong:
        log.warning("%d image(s) with another channel count were converted (first: %s)", len(wrong), wrong[0].name)
    return np.delete(out, bad, axis=0) if bad else out


def is_cut(path: Path) -> bool:
    """True for a truncated JPEG/PNG file (see runtime.is_truncated)."""
    from ..runtime import is_truncated

    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(0, path.stat().st_size - 65536))
            return is_truncated(head + f.read())
    except OSError:
        return True


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
    """A tf.data pipeline: read, decode, resize (spec.resize), cache, [augment], normalise, batch, prefetch.
    Augmentation (training only): horizontal flip, small rotation and zoom, brightness and contrast."""
    from ._env import import_tf, import_tf_keras

    tf = import_tf()
    h, w = size
    if images.labels is None:
        raise InputError(f"{images.root} has no labels: training needs one folder per class")
    ds = tf.data.Dataset.from_tensor_slices(([str(p) for p in images.paths], images.labels.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=False)

    def load(path, label):
        img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        img.set_shape([None, None, 3])
        if spec.resize == "crop":
            shape = tf.cast(tf.shape(img)[:2], tf.float32)
            s = tf.maximum(w / shape[1], h / shape[0])
            ch, cw = tf.cast(tf.round(h / s), tf.int32), tf.cast(tf.round(w / s), tf.int32)
            img = tf.image.resize_with_crop_or_pad(img, ch, cw)
            img = tf.image.resize(img, (h, w), method="area")
        elif spec.resize == "letterbox":
            img = tf.image.resize_with_pad(img, h, w)
        else:
            img = tf.image.resize(img, (h, w))
        if spec.color == "BGR":
            img = img[..., ::-1]
        return tf.cast(tf.clip_by_value(tf.round(img), 0, 255), tf.uint8), label

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(len(images), 2048), seed=seed)
    ds = ds.batch(batch_size)
    mean = tf.constant(np.asarray(spec.mean, np.float32))
    std = tf.constant(np.asarray(spec.std, np.float32))
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
        x = (tf.cast(x, tf.float32) - mean) / std
        return x, (tf.one_hot(y, num_classes) if num_classes else y)

    return ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
