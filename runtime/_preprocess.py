"""Image -> input tensor, done once and right, for the whole SDK: resize (stretch, letterbox or centre crop),
colour order, normalisation and quantization through one lookup table, into buffers allocated once per model.

The runtime feeds models through ``Preprocessor``; the converters load calibration, evaluation and training
images through ``image_preprocessor``, ``model_pixels`` and ``normalize`` from here, so training, conversion and
the device see the same tensor for the same image."""

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


def pixel_table(spec: InputSpec, dtype, channels: int, scale: float = 0.0, zero_point: int = 0) -> np.ndarray:
    """(channels, 256) table: pixel value 0..255 -> value stored in an input tensor of ``dtype``: (p - mean) / std,
    quantized with ``scale`` / ``zero_point`` when the tensor is integer (scale > 0), or the pixel itself for
    ``spec.raw`` (shifted by -128 for int8)."""
    dtype = np.dtype(dtype)
    p = np.arange(256, dtype=np.float64)
    if spec.raw:
        shift = -128 if dtype == np.int8 else 0
        return np.tile(p + shift, (channels, 1)).astype(dtype)
    mean = np.broadcast_to(np.asarray(spec.mean, np.float64), (channels,))
    std = np.broadcast_to(np.asarray(spec.std, np.float64), (channels,))
    real = (p[None, :] - mean[:, None]) / std[:, None]
    if scale and np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(real / scale + zero_point), info.min, info.max).astype(dtype)
    return real.astype(dtype)


def normalize(pixels, spec: InputSpec):
    """Float pixels (..., c) in the model's colour order -> (pixels - mean) / std, the float form of
    ``pixel_table`` for values that are no longer integers (after augmentation). Plain arithmetic, so it takes
    numpy arrays and TensorFlow tensors alike."""
    return (pixels - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)


def fit_image(image: np.ndarray, size: tuple[int, int], policy: str,
              out: np.ndarray | None = None) -> tuple[np.ndarray, Transform]:
    """The one resize of the SDK: ``image`` (H, W, c) -> (h, w, c) for ``size`` = (w, h) by ``policy``:

    ``stretch`` (bilinear, aspect not kept), ``letterbox`` (aspect kept, centred, zero padding) or ``crop``
    (centre crop to the target aspect, then area resize). ``out``: an (h, w, c) buffer to write into.
    Returns the resized image and the Transform from source to input pixels."""
    w, h = size
    ih, iw = image.shape[:2]
    if out is None:
        out = np.zeros((h, w) + image.shape[2:], image.dtype)
    if (iw, ih) == (w, h) and policy in ("stretch", "letterbox"):
        out[...] = image  # already the input size: nothing to resize or pad
        return out, Transform(1.0, 1.0, 0.0, 0.0, w, h, iw, ih)
    if policy == "stretch":
        cv2.resize(image, (w, h), dst=out, interpolation=cv2.INTER_LINEAR)
        return out, Transform(w / iw, h / ih, 0.0, 0.0, w, h, iw, ih)
    if policy == "letterbox":
        s = min(w / iw, h / ih)
        nw, nh = max(1, round(iw * s)), max(1, round(ih * s))
        px, py = (w - nw) // 2, (h - nh) // 2
        out[:] = 0
        cv2.resize(image, (nw, nh), dst=out[py:py + nh, px:px + nw], interpolation=cv2.INTER_LINEAR)
        return out, Transform(nw / iw, nh / ih, float(px), float(py), w, h, iw, ih)
    if policy != "crop":
        raise ValueError(f"unknown resize policy {policy!r}: stretch, letterbox or crop")
    s = max(w / iw, h / ih)
    cw, ch = w / s, h / s
    x0, y0 = int((iw - cw) / 2), int((ih - ch) / 2)
    crop = image[y0:y0 + int(round(ch)), x0:x0 + int(round(cw))]
    cv2.resize(crop, (w, h), dst=out, interpolation=cv2.INTER_AREA)
    return out, Transform(w / crop.shape[1], h / crop.shape[0], -x0 * w / crop.shape[1],
                          -y0 * h / crop.shape[0], w, h, iw, ih)


def padded_input(image: np.ndarray, rect, size: tuple[int, int], border: int | None = None,
                 interpolation: int | None = None) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The part ``rect`` (x1, y1, x2, y2, may reach beyond the image) of ``image`` scaled to ``size`` (w, h); what
    lies outside the image is filled by ``border`` (reflection by default). Returns (input, (sx, sy, ox, oy))
    with input pixel = (frame pixel - (ox, oy)) * (sx, sy)... i.e. frame x = x_in / sx + ox. ``border`` and
    ``interpolation`` default to cv2.BORDER_REFLECT_101 and cv2.INTER_LINEAR (resolved here: cv2 loads on first use)."""
    border = cv2.BORDER_REFLECT_101 if border is None else border
    interpolation = cv2.INTER_LINEAR if interpolation is None else interpolation
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in rect)
    mw, mh = size
    cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    kx, ky = mw / (x2 - x1), mh / (y2 - y1)
    left, top = int(round((cx1 - x1) * kx)), int(round((cy1 - y1) * ky))
    iw = min(mw - left, max(1, int(round((cx2 - cx1) * kx))))
    ih = min(mh - top, max(1, int(round((cy2 - cy1) * ky))))
    crop = image[cy1:cy2, cx1:cx2]
    if (iw, ih) != (crop.shape[1], crop.shape[0]):
        crop = cv2.resize(crop, (iw, ih), interpolation=interpolation)
    r, b = mw - left - iw, mh - top - ih
    if left or top or r or b:
        crop = cv2.copyMakeBorder(crop, top, b, left, r, border, value=0)
    sx, sy = iw / (cx2 - cx1), ih / (cy2 - cy1)
    return crop, (sx, sy, cx1 - left / sx, cy1 - top / sy)


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
        self._lut = pixel_table(spec, tensor.dtype, self.c, tensor.scale if tensor.quantized else 0.0, tensor.zero_point)
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
        if self._rgb and self.c == 3 and image.shape[:2] == (self.h, self.w) and self.spec.resize in ("stretch", "letterbox"):
            # already the input size (tiles): the colour swap is the copy into the buffer
            cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=self._resized)
            resized, tf = self._resized, Transform(1.0, 1.0, 0.0, 0.0, self.w, self.h, self.w, self.h)
        else:
            resized, tf = fit_image(image, (self.w, self.h), self.spec.resize, out=self._resized)
            if self._rgb and self.c == 3:
                cv2.cvtColor(resized, cv2.COLOR_BGR2RGB, dst=resized)
        if self.c == 1:
            cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY, dst=self._gray)
            np.take(self._lut[0], self._gray, out=self._out[0, :, :, 0])
            return self._out, tf
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


def image_preprocessor(size: tuple[int, int], spec: InputSpec, dtype=np.float32, channels: int = 3) -> Preprocessor:
    """A Preprocessor for an (1, h, w, channels) input of ``dtype`` (not quantized) with ``size`` = (w, h):
    how the converters turn images into float model inputs exactly as the runtime feeds them."""
    w, h = size
    return Preprocessor(TensorSpec("image", 0, (1, h, w, channels), np.dtype(dtype)), spec)


def model_pixels(image: np.ndarray, size: tuple[int, int], spec: InputSpec) -> np.ndarray:
    """(H, W, 3) uint8 BGR -> (h, w, 3) uint8 resized by ``spec.resize`` and in ``spec.color`` order: the pixel
    stage before normalisation (kept separate where training augments pixels first)."""
    out, _ = fit_image(image, size, spec.resize)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB) if spec.color == "RGB" else out


def resize_like_pil(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize to (w, h) close to PIL's antialiased Lanczos (what Coral's examples use), one axis at a time:
    area averaging where an axis shrinks 1.5x or more, bicubic otherwise (measured in
    benchmarks/segment_upscale.py: label maps agree with PIL-fed ones on 98.9-99.8 % of pixels)."""
    ih, iw = image.shape[:2]
    if (iw, ih) == (w, h):
        return image
    if iw >= 1.5 * w and ih >= 1.5 * h:
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)  # both shrink: one pass
    out = image
    if iw != w:
        out = cv2.resize(out, (w, out.shape[0]), interpolation=cv2.INTER_AREA if iw >= 1.5 * w else cv2.INTER_CUBIC)
    if ih != h:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA if ih >= 1.5 * h else cv2.INTER_CUBIC)
    return out
