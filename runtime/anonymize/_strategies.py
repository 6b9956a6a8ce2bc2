"""Anonymizers: small strategy classes that overwrite image regions in place (DESIGN style rule 5).

Each one turns a region of interest into an unrecognisable version of itself (``render``); ``apply`` does the
shared work: clipping boxes, the shape (rectangle or ellipse) and an optional feathered edge that never
uncovers the detected face (the ramp lies in the ``--mask-scale`` margin around it).
"""

from __future__ import annotations

from typing import ClassVar

from .._cv2 import cv2
import numpy as np

__all__ = ["Anonymizer", "Blur", "Pixelate", "Solid", "EllipseMask", "MODES", "make_anonymizer"]


def _odd(v: float) -> int:
    k = max(3, int(v))
    return k if k % 2 else k + 1


class Anonymizer:
    """Base class. Subclasses implement ``render(roi) -> array of the same shape``.

    feather: width in pixels of a soft edge (0 = hard edge). The edge ramps from half strength at the box
    border to full strength ``feather`` pixels inside; ``apply`` limits it to ``margin`` so the detection
    itself (before ``--mask-scale``) is always fully covered.
    """

    name: ClassVar[str] = "base"
    shape: ClassVar[str] = "rect"

    def __init__(self, feather: int = 0) -> None:
        if feather < 0:
            raise ValueError("feather must be >= 0")
        self.feather = int(feather)

    def render(self, roi: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, frame: np.ndarray, boxes: np.ndarray, margins: np.ndarray | None = None) -> np.ndarray:
        """Anonymize ``boxes`` ((n, 4) pixel x1, y1, x2, y2; clipped here) of ``frame`` in place; returns the
        (n, 4) int boxes actually covered. ``margins`` ((n,) pixels) bound the feather per box."""
        h, w = frame.shape[:2]
        b = np.asarray(boxes, np.float32).reshape(-1, 4)
        ib = np.empty((len(b), 4), np.int32)
        ib[:, 0] = np.clip(np.floor(b[:, 0]), 0, w)
        ib[:, 1] = np.clip(np.floor(b[:, 1]), 0, h)
        ib[:, 2] = np.clip(np.ceil(b[:, 2]), 0, w)
        ib[:, 3] = np.clip(np.ceil(b[:, 3]), 0, h)
        for i, (x1, y1, x2, y2) in enumerate(ib):
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            roi = frame[y1:y2, x1:x2]
            out = self.render(roi)
            feather = self.feather
            if margins is not None:
                feather = min(feather, int(margins[i]))
            if self.shape == "rect" and feather <= 0:
                roi[...] = out
                continue
            alpha = self._alpha(y2 - y1, x2 - x1, feather)
            a = alpha[:, :, None] if roi.ndim == 3 else alpha
            roi[...] = (out.astype(np.float32) * a + roi.astype(np.float32) * (1.0 - a) + 0.5).astype(np.uint8)
        return ib

    def _alpha(self, h: int, w: int, feather: int) -> np.ndarray:
        mask = np.zeros((h, w), np.float32)
        if self.shape == "ellipse":
            cv2.ellipse(mask, (((w - 1) / 2.0, (h - 1) / 2.0), (float(w), float(h)), 0.0), 1.0, -1)
        else:
            mask[:] = 1.0
        if feather > 0:
            # outside the ROI counts as 0, so the rectangle's edge ramps too
            k = 2 * feather + 1
            mask = cv2.blur(mask, (k, k), borderType=cv2.BORDER_CONSTANT)  # type: ignore[assignment]
            # full strength from `feather` pixels inside the edge
            mask = np.clip(mask * 2.0 - 1.0, 0.0, 1.0) if self.shape == "rect" else np.clip(mask * 2.0, 0.0, 1.0)
        return mask

    def describe(self) -> dict:
        return {"mode": self.name, "feather": self.feather}


class Blur(Anonymizer):
    """Gaussian blur with a kernel scaled to the box: ``strength`` x the box's short side (default 2.0, so a
    face is smeared across twice its size: what is left is a smooth blob no face detector scores as the same face;
    measured in benchmarks/anonymize_fps.py). Done on a downscaled copy, so big faces stay cheap."""

    name = "blur"

    def __init__(self, strength: float = 2.0, feather: int = 0) -> None:
        super().__init__(feather)
        if strength <= 0:
            raise ValueError("blur strength must be > 0")
        self.strength = float(strength)

    def render(self, roi: np.ndarray) -> np.ndarray:
        h, w = roi.shape[:2]
        k = _odd(min(h, w) * self.strength)
        f = max(1, k // 9)
        if f > 1:
            sw, sh = max(1, w // f), max(1, h // f)
            small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA)
            ks = _odd(k / f)
            small = cv2.GaussianBlur(small, (ks, ks), 0, borderType=cv2.BORDER_REPLICATE)
            small = cv2.GaussianBlur(small, (ks, ks), 0, borderType=cv2.BORDER_REPLICATE)
            return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(roi, (k, k), 0, borderType=cv2.BORDER_REPLICATE)

    def describe(self) -> dict:
        return {**super().describe(), "strength": self.strength}


class Pixelate(Anonymizer):
    """Mosaic: the box becomes ``blocks`` x ``blocks`` cells (fewer when the box is small), each its mean colour."""

    name = "pixelate"

    def __init__(self, blocks: int = 8, feather: int = 0) -> None:
        super().__init__(feather)
        if blocks < 1:
            raise ValueError("pixelate blocks must be >= 1")
        self.blocks = int(blocks)

    def render(self, roi: np.ndarray) -> np.ndarray:
        h, w = roi.shape[:2]
        small = cv2.resize(roi, (min(self.blocks, w), min(self.blocks, h)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)

    def describe(self) -> dict:
        return {**super().describe(), "blocks": self.blocks}


class Solid(Anonymizer):
    """Fill with one colour (BGR, default black)."""

    name = "solid"

    def __init__(self, color: tuple[int, int, int] = (0, 0, 0), feather: int = 0) -> None:
        super().__init__(feather)
        self.color = tuple(int(c) for c in color)

    def render(self, roi: np.ndarray) -> np.ndarray:
        out = np.empty_like(roi)
        out[...] = self.color if roi.ndim == 3 else self.color[0]
        return out

    def describe(self) -> dict:
        return {**super().describe(), "color": list(self.color)}


class EllipseMask(Anonymizer):
    """An ellipse inscribed in the (enlarged) box, filled by ``inner`` (default: solid black): follows the
    shape of a head, leaves the corners of the box untouched."""

    name = "mask"
    shape = "ellipse"

    def __init__(self, inner: Anonymizer | None = None, feather: int = 0) -> None:
        super().__init__(feather)
        self.inner = inner or Solid()

    def render(self, roi: np.ndarray) -> np.ndarray:
        return self.inner.render(roi)

    def describe(self) -> dict:
        return {**super().describe(), "inner": self.inner.describe()}


MODES = {"blur": Blur, "pixelate": Pixelate, "solid": Solid, "mask": EllipseMask}


def make_anonymizer(mode: str, feather: int = 0) -> Anonymizer:
    """``blur`` | ``pixelate`` | ``solid`` | ``mask`` -> an Anonymizer with default settings."""
    try:
        cls = MODES[mode]
    except KeyError:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}") from None
    return cls(feather=feather)
