"""Where a full-integer model's error comes from, measured on the float ``.tflite`` it was made from.

:class:`ReplayedTflite` is the float graph as ``edgesdk convert MODEL.tflite`` replays it (the known model's
clipped score heads, depthwise -> conv pairs equalized on the calibration inputs), run in TensorFlow on batches
with either part of int8 alone: the kernels on their int8 grid (rounded as a :class:`Rounding` does), or the
activations fake-quantized (8 bits, the central 99.99% of the calibration values) at the tensors the int8 model
quantizes. The two parts, all at once and one tensor at a time, make the error budget that
``benchmarks/face_int8_error.py`` reports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._strategies import Rounding

__all__ = ["ReplayedTflite"]

_SAME_SCALE = ("PAD", "MAX_POOL_2D", "RESHAPE")  # int8 keeps the input's scale: no new rounding
_FUSED_INTO = ("RELU", "RELU6")  # a conv / add feeding only one of these is fused with it


class ReplayedTflite:
    """The replayed float model at ``path``, prepared on ``calib`` ((n, h, w, c) float32, preprocessed).

    ``quantized``: the activation tensors int8 quantizes; ``ranges``: their fake-quant ranges; ``score_clip``:
    the clip of the score output (None for models without one); ``weights``: tensor index -> float array."""

    def __init__(self, path: str | Path, calib: np.ndarray, tail: float = 5e-5):
        from ..tflite import read_model
        from ._env import import_tf
        from ._known_tflite import identify
        from ._tflite_equalize import equalize_depthwise
        from ._tflite_graph import clip_heads, custom_options, read_weights

        self.path = Path(path)
        self.tf = import_tf()
        self.info = read_model(self.path)
        self.g = self.info.main
        known = identify(tuple(self.info.inputs[0].shape), [tuple(t.shape) for t in self.info.outputs])
        self.clip_outputs = known.output_clips([tuple(t.shape) for t in self.info.outputs]) if known else {}
        self._clip, self._custom = clip_heads(self.g, self.clip_outputs), custom_options(self.path, self.g)
        self.score_clip = next((c for i, c in self.clip_outputs.items() if self.info.outputs[i].shape[-1] == 1), None)
        self.weights, _ = equalize_depthwise(self.path, self.info, read_weights(self.path, self.info), calib)
        self.calib = calib
        self.quantized = self._quantized_tensors()
        self.ranges = self._ranges(calib, tail)

    def _quantized_tensors(self) -> list[int]:
        ops = [op for op in self.g.operators if op.opcode not in ("DEQUANTIZE", "DENSIFY")]
        users: dict[int, list] = {}
        for op in ops:
            for i in op.inputs:
                users.setdefault(i, []).append(op)
        out = []
        for op in ops:
            u = users.get(op.outputs[0], [])
            fused = op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD") and len(u) == 1 and u[0].opcode in _FUSED_INTO
            if op.opcode not in _SAME_SCALE and not fused:
                out.append(op.outputs[0])
        return out

    def on_grid(self, rounding: Rounding) -> dict[int, np.ndarray]:
        """The weights with every CONV_2D / DEPTHWISE_CONV_2D kernel on its int8 grid, rounded by ``rounding``
        (Nearest: to the nearest level, as the converter does)."""
        from ._biascorrect import _quant_error

        w, done = rounding.apply_replayed(self.path, self.info, self.weights, self.calib, self.clip_outputs)
        if done is not None:
            return w
        out = dict(self.weights)
        for op in self.g.operators:
            if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                k = out[op.inputs[1]]
                out[op.inputs[1]] = (k + _quant_error(k, 0 if op.opcode == "CONV_2D" else 3)).astype(np.float32)
        return out

    def _run(self, x: np.ndarray, weights, fake_quant, keep, batch: int):
        from ._tflite_graph import run_ops

        tf, g = self.tf, self.g
        consts = {i: tf.constant(v) for i, v in (weights if weights is not None else self.weights).items()}

        def after(op, y):
            t = op.outputs[0]
            if t not in fake_quant:
                return y
            return tf.quantization.fake_quant_with_min_max_args(y, self.ranges[t][0], self.ranges[t][1], num_bits=8)

        for i in range(0, len(x), batch):
            vals = run_ops(tf, g, {**consts, self.info.inputs[0].index: tf.constant(x[i:i + batch])}, self._clip,
                           self._custom, self.path.name, after if fake_quant else None)
            yield {t: vals[t].numpy() for t in keep}

    def scores(self, x: np.ndarray, *, weights: dict[int, np.ndarray] | None = None,
               fake_quant: set[int] | frozenset[int] = frozenset(), batch: int = 50) -> np.ndarray:
        """Score logits (n, anchors) on inputs ``x`` with ``weights`` (default: the float ones) and the
        activations in ``fake_quant`` (tensor indices among ``quantized``) fake-quantized."""
        pos = next(k for k, t in enumerate(self.info.outputs) if t.shape[-1] == 1)
        out = self.g.outputs[pos]
        return np.concatenate([v[out].reshape(len(v[out]), -1) for v in self._run(x, weights, fake_quant, (out,), batch)])

    def activations(self, x: np.ndarray, tensors: list[int], batch: int = 50) -> dict[int, list[np.ndarray]]:
        """The float values of ``tensors`` on ``x``, per batch."""
        got: dict[int, list[np.ndarray]] = {t: [] for t in tensors}
        for v in self._run(x, None, frozenset(), tuple(tensors), batch):
            for t in tensors:
                got[t].append(v[t])
        return got

    def _ranges(self, calib: np.ndarray, tail: float) -> dict[int, tuple[float, float]]:
        out = {}
        for t, parts in self.activations(calib, self.quantized).items():
            lo, hi = np.quantile(np.concatenate([p.ravel() for p in parts]), [tail, 1 - tail])
            out[t] = (float(min(lo, 0.0)), float(max(hi, 0.0)))
        return out

    def channel_spread(self) -> dict[int, float]:
        """Largest / median per-channel max |x| of each quantized tensor on the calibration inputs."""
        out = {}
        for t, parts in self.activations(self.calib, self.quantized).items():
            r = np.max([np.abs(p).reshape(-1, p.shape[-1]).max(0) for p in parts], axis=0)
            med = float(np.median(r))
            out[t] = float(r.max() / med) if med > 0 else float("inf")
        return out
