"""Image -> input tensor, done once and right: resize (stretch, letterbox or centre crop), colour order,
normalisation and quantization through one lookup table, into buffers allocated once per model."""

from __future__ import annotations

from dataclasses import dataclass

from ._cv2 import cv2
import numpy as np

from ..bundle import InputSpec
from ..errors import InputError
from ..results import Detections
from ._tensors import TensorSpec


@dataclass(frozen=True)
class Transform:
    """Where the source image sits in the model input: x_in = x_src * sx + pad_x (likewise y).

    in_w, in_h: model input size in pixels; src_w, src_h: source image size in pixels.
    """

    sx: float
    sy: float
    pad_x: float
    pad_y: float
    in_w: int
    in_h: int
    src_w: int
    src_h: int

    def to_source(self, det: Detections) -> Detections:
        """Detections in model-input coordinates (normalized [0, 1] or input pixels) -> source image pixels,
        clipped to the image."""
        if det.normalized:
            det = det.to_pixels(self.in_w, self.in_h)
        out = det.scale(1.0 / self.sx, 1.0 / self.sy, -self.pad_x / self.sx, -self.pad_y / self.sy)
        return out.clip(self.src_w, self.src_h)


def _lut(spec: InputSpec, tensor: TensorSpec, channels: int) -> np.ndarray:
    """(channels, 256) table: pixel value -> value stored in the input tensor."""
    p = np.arange(256, dtype=np.float64)
    if spec.raw:
        shift = 0 if tensor.dtype == np.uint8 else -128 if tensor.dtype == np.int8 else 0
        row = p + shift
        return np.tile(row, (channels, 1)).astype(tensor.dtype)
    mean = np.broadcast_to(np.asarray(spec.mean, np.float64), (channels,))
    std = np.broadcast_to(np.asarray(spec.std, np.float64), (channels,))
    real = (p[None, :] - mean[:, None]) / std[:, None]
    if tensor.quantized:
        info = np.iinfo(tensor.dtype)
        return np.clip(np.rint(real / tensor.scale + tensor.zero_point), info.min, info.max).astype(tensor.dtype)
    return real.astype(tensor.dtype)


class Preprocessor:
    """Turns a uint8 image (H, W, 3) in BGR order (OpenCV's; also (H, W) gray or (H, W, 4) BGRA) into the
    model's input (1, h, w, c) according to an InputSpec. The output buffer is reused across calls: copy it
    if you keep it."""

    def __init__(self, tensor: TensorSpec, spec: InputSpec) -> None:
        if len(tensor.shape) != 4 or tensor.shape[0] != 1:
            raise InputError(f"input {tensor.name!r} has shape {tensor.shape}; image models need (1, h, w, c)")
        _, self.h, self.w, self.c = tensor.shape
        if self.c not in (1, 3):
            raise InputError(f"input {tensor.name!r} has {self.c} channels; image models need 1 or 3")
        self.tensor, self.spec = tensor, spec
        self._resized = np.zeros((self.h, self.w, 3), np.uint8)
        self._gray = np.zeros((self.h, self.w), np.uint8)
        self._out = np.zeros(tensor.shape, tensor.dtype)
        self._lut = _lut(spec, tensor, self.c)
        self._single = bool(np.all(self._lut == self._lut[0]))
        self._identity = self._single and tensor.dtype == np.uint8 and np.array_equal(self._lut[0], np.arange(256))
        self._rgb = spec.color == "RGB"
        # float input with the same affine map on every channel (x * a + b): one fused OpenCV pass instead of a
        # table lookup (about 5x faster on a 128x128x3 input)
        self._affine: tuple[float, float] | None = None
        if self._single and tensor.dtype == np.float32 and not spec.raw:
            a = float(self._lut[0][1]) - float(self._lut[0][0])
            b = float(self._lut[0][0])
            if np.allclose(self._lut[0], np.arange(256) * a + b, rtol=0, atol=1e-6):
                self._affine = (a, b)

    def _resize(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        ih, iw = image.shape[:2]
        buf = self._resized
        if (iw, ih) == (self.w, self.h) and self.spec.resize in ("stretch", "letterbox"):
            buf[...] = image  # already the input size: nothing to resize or pad
            return buf, Transform(1.0, 1.0, 0.0, 0.0, self.w, self.h, iw, ih)
        if self.spec.resize == "stretch":
            cv2.resize(image, (self.w, self.h), dst=buf, interpolation=cv2.INTER_LINEAR)
            return buf, Transform(self.w / iw, self.h / ih, 0.0, 0.0, self.w, self.h, iw, ih)
        if self.spec.resize == "letterbox":
            s = min(self.w / iw, self.h / ih)
            nw, nh = max(1, round(iw * s)), max(1, round(ih * s))
            px, py = (self.w - nw) // 2, (self.h - nh) // 2
            buf[:] = 0
            cv2.resize(image, (nw, nh), dst=buf[py:py + nh, px:px + nw], interpolation=cv2.INTER_LINEAR)
            return buf, Transform(nw / iw, nh / ih, float(px), float(py), self.w, self.h, iw, ih)
        # centre crop to the model's aspect, then stretch
        s = max(self.w / iw, self.h / ih)
        cw, ch = self.w / s, self.h / s
        x0, y0 = int((iw - cw) / 2), int((ih - ch) / 2)
        crop = image[y0:y0 + int(round(ch)), x0:x0 + int(round(cw))]
        cv2.resize(crop, (self.w, self.h), dst=buf, interpolation=cv2.INTER_AREA)
        return buf, Transform(self.w / crop.shape[1], self.h / crop.shape[0], -x0 * self.w / crop.shape[1],
                              -y0 * self.h / crop.shape[0], self.w, self.h, iw, ih)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        """image: (H, W, 3) uint8 BGR -> ((1, h, w, c) tensor, Transform)."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise InputError(f"expected a uint8 image array, got {getattr(image, 'dtype', type(image).__name__)}")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        elif image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"expected an (H, W, 3) image, got shape {image.shape}")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise InputError("empty image")
        resized, tf = self._resize(image)
        if self.c == 1:
            cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY, dst=self._gray)
            np.take(self._lut[0], self._gray, out=self._out[0, :, :, 0])
            return self._out, tf
        if self._rgb:
            cv2.cvtColor(resized, cv2.COLOR_BGR2RGB, dst=resized)
        if self._identity:
            self._out[0] = resized
        elif self._affine is not None:
            a, b = self._affine
            cv2.addWeighted(resized, a, resized, 0.0, b, dst=self._out[0], dtype=cv2.CV_32F)
        elif self._single:
            np.take(self._lut[0], resized, out=self._out[0])
        else:
            for ch in range(3):
                np.take(self._lut[ch], resized[:, :, ch], out=self._out[0, :, :, ch])
        return self._out, tf
