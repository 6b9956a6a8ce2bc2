"""CPU latency of TFLite models (XNNPACK), measured interleaved so machine noise hits every model alike."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import numpy as np

__all__ = ["measure_latency"]


def measure_latency(models: Mapping[str, bytes | str | os.PathLike], *, threads: int = 1, runs: int = 30, warmup: int = 3,
                    seed: int = 0) -> dict[str, dict]:
    """Median/p90/mean milliseconds per invoke for each model, running them round-robin (one invoke of each
    per round) on random input of the right dtype."""
    from ..runtime import get_backend

    be = get_backend()
    rng = np.random.default_rng(seed)
    interps = {}
    for name, m in models.items():
        kw = {"model_content": m} if isinstance(m, (bytes, bytearray)) else {"model_path": str(m)}
        it = be.Interpreter(num_threads=threads, **kw)
        it.allocate_tensors()
        for d in it.get_input_details():
            dt = np.dtype(d["dtype"])
            if dt.kind == "f":
                x = rng.uniform(-1, 1, d["shape"]).astype(dt)
            else:
                info = np.iinfo(dt)
                x = rng.integers(info.min, info.max, d["shape"], endpoint=True).astype(dt)
            it.set_tensor(d["index"], x)
        interps[name] = it
    times: dict[str, list[float]] = {n: [] for n in interps}
    for r in range(warmup + runs):
        for name, it in interps.items():
            t = time.perf_counter()
            it.invoke()
            if r >= warmup:
                times[name].append((time.perf_counter() - t) * 1e3)
    out = {}
    for name, ts in times.items():
        a = np.asarray(ts)
        out[name] = {"median": float(np.median(a)), "p90": float(np.percentile(a, 90)), "mean": float(a.mean()),
                     "min": float(a.min()), "runs": len(a), "threads": threads}
    return out
