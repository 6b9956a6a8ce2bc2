"""Background strategies (DESIGN style rule 5): what replaces the pixels outside the foreground.

``alpha`` is an (H, W) float32 foreground weight in [0, 1] (1 = keep the frame's pixel). ``compose(frame,
alpha)`` returns a new image: BGRA for :class:`Transparent`, BGR for the others.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from ...errors import InputError
from .._images import read_image

__all__ = ["Background", "Transparent", "SolidColor", "ReplaceImage", "BlurBackground", "parse_background",
           "feathered_alpha", "COLOR_NAMES"]

log = logging.getLogger(__name__)

COLOR_NAMES = {  # BGR
    "black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128), "red": (0, 0, 255),
    "green": (0, 255, 0), "blue": (255, 0, 0), "yellow": (0, 255, 255),
}


def feathered_alpha(foreground: np.ndarray, feather: float) -> np.ndarray:
    """(H, W) bool or [0, 1] float foreground -> (H, W) float32 alpha: thresholded at 0.5, then a soft edge of
    about ``feather`` pixels each side (Gaussian, sigma = feather / 2); 0 = hard edge."""
    hard = (np.asarray(foreground) >= 0.5).astype(np.float32)
    if feather <= 0:
        return hard
    return cv2.GaussianBlur(hard, (0, 0), sigmaX=feather / 2.0, borderType=cv2.BORDER_REPLICATE)


def _blend(frame: np.ndarray, back: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[:, :, None]
    out = frame.astype(np.float32) * a + back.astype(np.float32) * (1.0 - a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


class Background:
    """Base class: ``compose(frame (H, W, 3) BGR uint8, alpha (H, W) float32) -> image``."""

    name: ClassVar[str] = "base"
    channels: ClassVar[int] = 3

    def compose(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        return {"replace": self.name}


class Transparent(Background):
    """RGBA out: the frame's colours, alpha = the foreground weight (0 outside, 255 inside)."""

    name = "transparent"
    channels = 4

    def compose(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        out = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
        out[:, :, 3] = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return out


class SolidColor(Background):
    """One colour (BGR) behind the foreground."""

    name = "color"

    def __init__(self, color: tuple[int, int, int]) -> None:
        self.color = tuple(int(c) for c in color)

    def compose(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        back = np.empty_like(frame)
        back[...] = self.color
        return _blend(frame, back, alpha)

    def describe(self) -> dict:
        return {"replace": self.name, "color_bgr": list(self.color)}


class ReplaceImage(Background):
    """A picture behind the foreground; resized (stretched) to the frame when the sizes differ, said once."""

    name = "image"

    def __init__(self, image: np.ndarray, source: str = "") -> None:
        self.image, self.source = image, source
        self._resized: dict[tuple[int, int], np.ndarray] = {}
        self.resized_from: tuple[int, int] | None = None

    def _fit(self, w: int, h: int) -> np.ndarray:
        if self.image.shape[1] == w and self.image.shape[0] == h:
            return self.image
        if (w, h) not in self._resized:
            if not self._resized:
                log.warning("replacement image %s is %dx%d, the frames %dx%d: resized to fit",
                            self.source or "", self.image.shape[1], self.image.shape[0], w, h)
                self.resized_from = (self.image.shape[1], self.image.shape[0])
            self._resized[(w, h)] = cv2.resize(self.image, (w, h), interpolation=cv2.INTER_AREA)
        return self._resized[(w, h)]

    def compose(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return _blend(frame, self._fit(frame.shape[1], frame.shape[0]), alpha)

    def describe(self) -> dict:
        d: dict = {"replace": self.name, "image": self.source}
        if self.resized_from:
            d["resized_from"] = list(self.resized_from)
        return d


class BlurBackground(Background):
    """The frame itself, strongly blurred (``sigma`` as a fraction of the short side), behind the foreground."""

    name = "blur"

    def __init__(self, sigma: float = 0.02) -> None:
        self.sigma = float(sigma)

    def compose(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        f = 4 if min(h, w) >= 64 else 1  # blur a quarter-size copy: the same look, 16x fewer pixels
        small = cv2.resize(frame, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
        s = max(1.0, self.sigma * min(h, w) / f)
        back = cv2.resize(cv2.GaussianBlur(small, (0, 0), s), (w, h), interpolation=cv2.INTER_LINEAR)
        return _blend(frame, back, alpha)

    def describe(self) -> dict:
        return {"replace": self.name, "sigma": self.sigma}


def _parse_color(text: str) -> tuple[int, int, int] | None:
    t = text.strip().lower()
    if t in COLOR_NAMES:
        return COLOR_NAMES[t]
    if t.startswith("#") and len(t) == 7:
        try:
            r, g, b = (int(t[i:i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            return None
        return b, g, r
    parts = t.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
        r, g, b = (int(p) for p in parts)
        if max(r, g, b) <= 255:
            return b, g, r
    return None


def parse_background(text: str) -> Background:
    """``transparent`` | ``blur`` | a colour (name, ``#RRGGBB`` or ``R,G,B``) | an image file.
    InputError for an image that is missing or cannot be read."""
    t = text.strip()
    if t.lower() == "transparent":
        return Transparent()
    if t.lower() == "blur":
        return BlurBackground()
    color = _parse_color(t)
    if color is not None:
        return SolidColor(color)
    p = Path(os.path.expanduser(t))
    if not p.exists():
        raise InputError(f"--replace {text}: not transparent, blur, a colour (name, #RRGGBB, R,G,B) or an existing image file")
    try:
        image = read_image(p)
    except InputError:
        raise InputError(f"--replace {text}: cannot read the replacement image (unsupported or corrupt file)") from None
    return ReplaceImage(image, str(p))
