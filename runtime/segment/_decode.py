"""Pure segmentation decoders: model output arrays -> per-pixel scores or labels at the model's output size.

Three decoders, named in a bundle's manifest (``output.decoder``) or inferred from the output tensor:

- ``deeplab-argmax``: the graph ends in ARG_MAX; output (1, h, w) or (1, h, w, 1) integer class indices.
- ``deeplab-logits``: per-class scores (1, h, w, C), C >= 2 (logits or probabilities); argmax after upscaling.
- ``mediapipe-selfie``: one channel (1, h, w, 1) or (1, h, w), the person probability in [0, 1].
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["DECODERS", "SegmentDecodeError", "infer_decoder", "decode_segmentation", "SELFIE_CLASSES"]

DECODERS = ("deeplab-argmax", "deeplab-logits", "mediapipe-selfie")
SELFIE_CLASSES = ("background", "person")


class SegmentDecodeError(ValueError):
    """An output no segmentation decoder knows."""


def _shape_text(shape: Sequence[int], dtype) -> str:
    return f"{'x'.join(str(int(v)) for v in shape)} {np.dtype(dtype).name}"


def infer_decoder(shape: Sequence[int], dtype, quantized: bool = False) -> str:
    """Decoder name for one output tensor of ``shape`` and ``dtype``; SegmentDecodeError with the shape otherwise.

    Integer outputs that are not quantized hold class indices (ARG_MAX); a quantized or float output with one
    channel is a probability; several channels are per-class scores.
    """
    shape = tuple(int(v) for v in shape)
    dt = np.dtype(dtype)
    # a map: batch 1, at least 8 pixels a side, no more than 4:1 (rules out detector heads such as 1x896x16)
    spatial = (len(shape) in (3, 4) and shape[0] == 1 and min(shape[1:3]) >= 8
               and max(shape[1:3]) <= 4 * min(shape[1:3]))
    if spatial:
        channels = shape[3] if len(shape) == 4 else 1
        is_index = np.issubdtype(dt, np.integer) and not quantized
        if is_index and channels == 1:
            return "deeplab-argmax"
        if not is_index and channels == 1:
            return "mediapipe-selfie"
        if not is_index and channels >= 2:
            return "deeplab-logits"
    raise SegmentDecodeError(
        f"output shape {_shape_text(shape, dt)} is not one a segmentation decoder knows "
        f"(expected 1xHxW class indices, 1xHxWxC class scores or 1xHxWx1 probability)"
    )


def decode_segmentation(decoder: str, output: np.ndarray) -> np.ndarray:
    """One output (batch of 1, dequantized for scores) -> what the upscaler takes:

    ``deeplab-argmax``: (h, w) int32 labels; ``deeplab-logits``: (h, w, C) float32 scores;
    ``mediapipe-selfie``: (h, w) float32 probability clipped to [0, 1].
    """
    a = np.asarray(output)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    elif a.ndim == 3 and a.shape[0] == 1 and decoder != "deeplab-logits":
        a = a[0]
    if decoder == "deeplab-argmax":
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim != 2:
            raise SegmentDecodeError(f"deeplab-argmax expects 1xHxW labels, got {a.shape}")
        return a.astype(np.int32, copy=False)
    if decoder == "deeplab-logits":
        if a.ndim != 3 or a.shape[2] < 2:
            raise SegmentDecodeError(f"deeplab-logits expects 1xHxWxC scores, got {a.shape}")
        return a.astype(np.float32, copy=False)
    if decoder == "mediapipe-selfie":
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim != 2:
            raise SegmentDecodeError(f"mediapipe-selfie expects a 1xHxWx1 probability, got {a.shape}")
        return np.clip(a.astype(np.float32, copy=False), 0.0, 1.0)
    raise SegmentDecodeError(f"unknown segmentation decoder {decoder!r}; known: {', '.join(DECODERS)}")
