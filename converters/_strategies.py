"""The int8 methods as small strategy classes (DESIGN style rule 5): how activation ranges are calibrated
(``MinMax``, ``Percentile``, ``Mse``) and how kernels are rounded onto the int8 grid (``Nearest``, ``Gptq``,
``AdaRound``). Names are parsed into them once, at the edge (CLI flags, recipe keys, ``ConvertOptions``), by
``parse_calibration`` / ``parse_rounding``; the library passes the objects. ``str(strategy)`` and ``.name`` are
the names report.json and recipe fingerprints hold.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

import numpy as np

from ..errors import InputError

__all__ = ["CALIBRATIONS", "ROUNDINGS", "AdaRound", "Calibration", "Gptq", "MinMax", "Mse", "Nearest", "Percentile",
           "Rounding", "parse_calibration", "parse_rounding"]

_LEVELS = 255  # int8 steps across a range
_TAIL = 5e-5  # Percentile: the share of values left out at each end (the central 99.99% kept)


class _Strategy:
    """A named method without settings: equal to every instance of its class; ``str()`` is its name."""

    name: ClassVar[str] = ""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------------------------------------- activation ranges
class Calibration(_Strategy):
    """How the activation ranges of a full-integer model are chosen from the calibration images."""

    def choose_range(self, lo: float, hi: float, hist: np.ndarray) -> tuple[float, float]:
        """The clipping range [lo', hi'] within the observed [lo, hi] for ``hist``, (bins,) counts of equal bins
        over [lo, hi]; 0 stays inside (TFLite needs zero exactly representable)."""
        if not hi > lo or hist.sum() == 0:
            return lo, hi
        return self._clip(lo, hi, hist)

    def _clip(self, lo: float, hi: float, hist: np.ndarray) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def quantize(self, tf, converter, calib: np.ndarray, io: str) -> tuple[bytes, dict]:
        """(flatbuffer, details) of ``converter`` (set up for int8 on ``calib``, (n, h, w, c) float32) with the
        ranges refined from per-tensor histograms (``_calibrate.py``)."""
        from ._calibrate import calibrate_and_quantize

        return calibrate_and_quantize(tf, converter, calib, io, self)


class MinMax(Calibration):
    """The TFLite converter's own ranges: min/max of every tensor over the images."""

    name = "minmax"

    def _clip(self, lo: float, hi: float, hist: np.ndarray) -> tuple[float, float]:
        return lo, hi

    def quantize(self, tf, converter, calib: np.ndarray, io: str) -> tuple[bytes, dict]:
        return converter.convert(), {}


class Percentile(Calibration):
    """The central 99.99% of the values (rare outliers no longer stretch a range)."""

    name = "percentile"

    def _clip(self, lo: float, hi: float, hist: np.ndarray) -> tuple[float, float]:
        cdf = np.cumsum(hist) / hist.sum()
        width = (hi - lo) / len(hist)
        plo = lo + width * int(np.searchsorted(cdf, _TAIL))
        phi = lo + width * (int(np.searchsorted(cdf, 1 - _TAIL)) + 1)
        return min(plo, 0.0), max(phi, 0.0)


class Mse(Calibration):
    """The range minimising sum(hist * (x - q(x))^2) (clipping + rounding error) among the observed range shrunk
    by a common factor 0.25..1 (the lower end stays at 0 for non-negative tensors)."""

    name = "mse"

    def _clip(self, lo: float, hi: float, hist: np.ndarray) -> tuple[float, float]:
        nb = len(hist)
        centers = lo + (np.arange(nb) + 0.5) * (hi - lo) / nb
        best = (np.inf, lo, hi)
        for a in np.linspace(0.25, 1.0, 76):
            nlo, nhi = min(lo * a, 0.0), max(hi * a, 0.0)
            if nhi - nlo <= 0:
                continue
            step = (nhi - nlo) / _LEVELS
            q = np.round((np.clip(centers, nlo, nhi) - nlo) / step) * step + nlo
            err = float(np.sum(hist * (centers - q) ** 2))
            if err < best[0]:
                best = (err, nlo, nhi)
        return best[1], best[2]


# ---------------------------------------------------------------------------------------------- weight rounding
class Rounding(_Strategy):
    """How the Conv2D / DepthwiseConv2D kernels of a tf_keras model (``apply``) or of a replayed float ``.tflite``
    (``apply_replayed``, where ``replays``) are put on the converter's int8 grid."""

    replays: ClassVar[bool] = True  # also rounds the kernels of a replayed .tflite

    def apply(self, model, calib: np.ndarray) -> tuple[object, dict | None]:  # pragma: no cover - abstract
        """(the model with rounded kernels, details; None when nothing was done). ``calib``: (n, h, w, c)
        float32 calibration images."""
        raise NotImplementedError

    def apply_replayed(self, path, info, weights: dict, calib: np.ndarray,
                       clip_outputs: dict[int, float] | None) -> tuple[dict, dict | None]:
        """(the replay's weights (tensor index -> float array) with rounded kernels, details; None when nothing
        was done), for the float ``.tflite`` at ``path`` (``info`` its ModelInfo)."""
        raise InputError(self.not_replayed())

    def not_replayed(self) -> str:
        """The one line for this rounding asked of a .tflite that it cannot round."""
        return f"--rounding {self.name} is for Keras models; a .tflite takes {' or '.join(REPLAY_ROUNDINGS)}"


class Nearest(Rounding):
    """The converter's own rounding to nearest: the model is left as it is."""

    name = "nearest"

    def apply(self, model, calib: np.ndarray) -> tuple[object, dict | None]:
        return model, None

    def apply_replayed(self, path, info, weights: dict, calib: np.ndarray,
                       clip_outputs: dict[int, float] | None) -> tuple[dict, dict | None]:
        return weights, None


class Gptq(Rounding):
    """Sequential rounding with error feedback (``_gptq.py``)."""

    name = "gptq"

    def apply(self, model, calib: np.ndarray) -> tuple[object, dict | None]:
        from ._gptq import gptq_round

        return gptq_round(model, calib)

    def apply_replayed(self, path, info, weights: dict, calib: np.ndarray,
                       clip_outputs: dict[int, float] | None) -> tuple[dict, dict | None]:
        from ._tflite_gptq import gptq_replayed

        return gptq_replayed(path, info, weights, calib, clip_outputs)


class AdaRound(Rounding):
    """Learned up/down rounding (``_adaround.py``; slow)."""

    name = "adaround"
    replays = False  # needs the tf_keras layers it trains on

    def apply(self, model, calib: np.ndarray) -> tuple[object, dict | None]:
        from ._adaround import adaround

        return adaround(model, calib)


# ---------------------------------------------------------------------------------------------- names
_CALIBRATION_CLASSES: dict[str, type[Calibration]] = {c.name: c for c in (MinMax, Mse, Percentile)}
_ROUNDING_CLASSES: dict[str, type[Rounding]] = {c.name: c for c in (Nearest, Gptq, AdaRound)}
CALIBRATIONS = tuple(_CALIBRATION_CLASSES)  # ("minmax", "mse", "percentile")
ROUNDINGS = tuple(_ROUNDING_CLASSES)  # ("nearest", "gptq", "adaround")
REPLAY_ROUNDINGS = tuple(n for n, c in _ROUNDING_CLASSES.items() if c.replays)  # ("nearest", "gptq")

_S = TypeVar("_S", bound=_Strategy)


def _parse(value: _S | str, base: type[_S], classes: dict[str, type[_S]], what: str) -> _S:
    if isinstance(value, base):  # a strategy object (a subclass of one's own included)
        return value
    cls = classes.get(value) if isinstance(value, str) else None
    if cls is None:
        raise InputError(f"{what} must be one of {', '.join(classes)}, got {value!r}")
    return cls()


def parse_calibration(value: Calibration | str, what: str = "calibration") -> Calibration:
    """The Calibration named ``value`` (one of CALIBRATIONS), or ``value`` itself if it is a Calibration;
    otherwise InputError "``what`` must be one of minmax, mse, percentile, got ..."."""
    return _parse(value, Calibration, _CALIBRATION_CLASSES, what)


def parse_rounding(value: Rounding | str, what: str = "rounding") -> Rounding:
    """The Rounding named ``value`` (one of ROUNDINGS), or ``value`` itself if it is a Rounding; otherwise
    InputError "``what`` must be one of nearest, gptq, adaround, got ..."."""
    return _parse(value, Rounding, _ROUNDING_CLASSES, what)
