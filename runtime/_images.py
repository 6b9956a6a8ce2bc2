"""Reading and drawing images (OpenCV, BGR uint8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ._cv2 import cv2
import numpy as np

from ..errors import InputError
from ..results import Detections

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 BGR image; InputError naming the file when it is missing or not an image."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"image not found: {p}")
    image = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read {p} as an image (unsupported or corrupt file)")
    return image


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
    tmp.write_bytes(data.tobytes())
    tmp.replace(p)
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
    return tuple(int(v) for v in rng.integers(64, 256, 3))
