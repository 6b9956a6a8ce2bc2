"""Classification outputs -> top-k Classifications."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...results import Classifications


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def decode_classification(
    scores: np.ndarray,
    top_k: int = 5,
    *,
    activation: str = "auto",
    label_offset: int = 0,
    labels: Sequence[str] = (),
    threshold: float = 0.0,
) -> Classifications:
    """scores: (C,) or (1, C) float (dequantized) -> the top_k classes, best first.

    activation: ``softmax`` applies a softmax (the output holds logits), ``none`` keeps the values,
    ``auto`` applies it only when the values are not already probabilities (outside [0, 1] or sum far from 1).
    label_offset is added to class indices before labels are looked up.
    """
    s = np.asarray(scores, np.float32).reshape(-1)
    if s.size == 0:
        return Classifications(np.zeros(0, np.int32), np.zeros(0, np.float32), tuple(labels))
    if activation == "softmax" or (
        activation == "auto" and (s.min() < 0 or s.max() > 1.0 + 1e-3 or abs(float(s.sum()) - 1.0) > 0.1)
    ):
        s = softmax(s)
    k = max(0, min(int(top_k), s.size))
    idx = np.argpartition(-s, k - 1)[:k] if k else np.zeros(0, np.int64)
    idx = idx[np.argsort(-s[idx], kind="stable")]
    idx = idx[s[idx] >= threshold]
    return Classifications(idx.astype(np.int32) + label_offset, s[idx], tuple(labels))
