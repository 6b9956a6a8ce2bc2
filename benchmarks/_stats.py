"""Summary statistics of latency samples. Standard library only: this module is also copied to devices."""

from __future__ import annotations

import math
from typing import Sequence

NS_PER_MS = 1e6


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linear interpolation (numpy's default)."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    pos = (n - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def summarize(samples_ns: Sequence[int]) -> dict:
    """Latency samples in nanoseconds -> ``{n, p50, p90, p99, mean, std, min, max}`` in milliseconds.

    std is the sample standard deviation (n - 1). ``throughput_ips`` (inferences per second of one stream)
    is 1000 / mean.
    """
    ms = sorted(v / NS_PER_MS for v in samples_ns)
    n = len(ms)
    if n == 0:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "mean": None, "std": None, "min": None,
                "max": None, "throughput_ips": None}
    mean = sum(ms) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in ms) / (n - 1)) if n > 1 else 0.0
    return {
        "n": n,
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "mean": mean,
        "std": std,
        "min": ms[0],
        "max": ms[-1],
        "throughput_ips": 1000.0 / mean if mean > 0 else None,
    }
