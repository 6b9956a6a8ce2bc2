"""Reading and drawing images (OpenCV, BGR uint8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ._cv2 import cv2
import numpy as np

from ..errors import InputError
from ..results import Detections

# The one list of image file types the SDK reads (OpenCV decodes them all); folders are scanned for these.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm")
_KINDS = {1: "grayscale", 2: "grayscale+alpha", 4: "RGBA"}


def is_truncated(data: bytes) -> bool:
    """True for a JPEG without its end marker or a PNG without its IEND chunk: a file cut short, which OpenCV
    would decode anyway (grey below the cut) with only libjpeg's warning on stderr."""
    if data[:2] == b"\xff\xd8":
        return data.rfind(b"\xff\xd9", max(0, len(data) - 65536)) < 0
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return data.rfind(b"IEND", max(0, len(data) - 64)) < 0
    return False


def read_image(path: str | os.PathLike, channels: int = 3, *, convert: bool = True) -> np.ndarray:
    """The one image reader: (H, W, 3) uint8 BGR, or (H, W, 1) gray for ``channels=1``.

    Raises InputError naming the file when it is missing or cannot be decoded, and, with ``convert=False``, when
    it has another channel count (a grayscale or RGBA file where RGB is needed). With ``convert`` (the default)
    OpenCV converts: gray becomes 3 equal channels, alpha is dropped, 16-bit becomes 8-bit. A JPEG or PNG
    cut short (which OpenCV would decode, grey below the cut) is an InputError too."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"image not found: {p}")
    try:
        data = np.fromfile(p, np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read {p}: {(exc.strerror or 'error').lower()}") from None
    if is_truncated(data.tobytes()):
        raise InputError(f"{p} is truncated, not a readable image (the file ends before the image does)")
    if not convert:
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        got = None if raw is None else 1 if raw.ndim == 2 else raw.shape[2]
        if got is not None and got != channels:
            raise InputError(f"{p.name} is a {_KINDS.get(got, f'{got}-channel')} image ({got} channel(s)); the model "
                             f"needs {channels} ({'RGB' if channels == 3 else 'grayscale'}): convert the image set first")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise InputError(f"cannot read {p}: not a readable image (OpenCV cannot decode it: unsupported or corrupt file)")
    return image if image.ndim == 3 else image[:, :, None]


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write atomically (temporary file + rename); InputError for an unsupported extension."""
    p = Path(path)
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"cannot write {p}: unsupported image extension {p.suffix or '(none)'}; use .jpg or .png")
    if not p.parent.is_dir():
        raise InputError(f"output folder does not exist: {p.parent}")
    ok, data = cv2.imencode(p.suffix.lower(), image)
    if not ok:
        raise InputError(f"OpenCV could not encode {p.name}")
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        tmp.write_bytes(data.tobytes())
        tmp.replace(p)
    except OSError as exc:  # name the user's file, not our temporary one
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {p}: {(exc.strerror or 'error').lower()}") from None
    return p


def draw_detections(image: np.ndarray, det: Detections, labels: Sequence[str] = ()) -> np.ndarray:
    """A copy of ``image`` with boxes and 'label score' captions (pixel-coordinate Detections)."""
    out = image.copy()
    thick = max(1, round(min(image.shape[:2]) / 300))
    for (x1, y1, x2, y2), score, cid in det:
        color = _color(cid)
        p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
        cv2.rectangle(out, p1, p2, color, thick, cv2.LINE_AA)
        name = labels[cid] if 0 <= cid < len(labels) else str(cid)
        text = f"{name} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        y = max(th + base, p1[1])
        cv2.rectangle(out, (p1[0], y - th - base), (p1[0] + tw, y), color, -1)
        cv2.putText(out, text, (p1[0], y - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _color(i: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(i * 7919 + 17)
    b, g, r = (int(v) for v in rng.integers(64, 256, 3))
    return b, g, r
