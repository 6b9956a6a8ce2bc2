"""TensorSpec: what the interpreter says about one input or output tensor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output.

    shape: static shape (NHWC for images); dtype: numpy dtype; scale / zero_point: per-tensor quantization
    (scale 0.0 when the tensor is not quantized); per_channel: quantized with one scale per channel.
    """

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0
    per_channel: bool = False

    @classmethod
    def from_details(cls, d: dict) -> "TensorSpec":
        qp = d.get("quantization_parameters") or {}
        scales = np.asarray(qp.get("scales", []))
        scale, zp = d.get("quantization", (0.0, 0))
        return cls(
            name=d["name"], index=int(d["index"]), shape=tuple(int(v) for v in d["shape"]),
            dtype=np.dtype(d["dtype"]), scale=float(scale), zero_point=int(zp), per_channel=scales.size > 1,
        )

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Integer tensor values -> float32 real values (unchanged copy-free for float tensors)."""
        if not self.quantized:
            return q if q.dtype == np.float32 else q.astype(np.float32)
        return (q.astype(np.float32) - self.zero_point) * np.float32(self.scale)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float real values -> this tensor's integer dtype (rounded, saturated)."""
        if not self.quantized:
            return np.asarray(x, self.dtype)
        info = np.iinfo(self.dtype)
        q = np.rint(np.asarray(x, np.float32) / self.scale + self.zero_point)
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "index": self.index, "shape": list(self.shape), "dtype": self.dtype.name,
            "scale": self.scale, "zero_point": self.zero_point, "per_channel": self.per_channel,
        }
