"""What ``benchmark()`` returns: a ``BenchReport``, one row per (host, model, thread count), with the rows' main
numbers as numpy columns. ``to_dict()`` / ``to_json()`` give the versioned document (schema ``edgesdk.bench/1``)
that ``edgesdk bench --json`` prints and ``--compare`` reads back (``from_dict``)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

__all__ = ["BenchError", "BenchReport"]


@dataclass(frozen=True)
class BenchError:
    """One failure: a model on a host (``model`` None: the whole host, e.g. unreachable)."""

    host: str | None
    model: str | None
    error: str

    def to_dict(self) -> dict:
        return {"host": self.host, "model": self.model, "error": self.error}


def _column(values, dtype) -> np.ndarray:
    arr = np.asarray(list(values), dtype=dtype)
    arr.setflags(write=False)
    return arr


def _num(v) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True, eq=False)
class BenchReport:
    """A benchmark run: ``settings`` (device, threads, runs, ...), ``machines`` (host -> facts), ``results`` (one
    row per host, model and thread count, as the JSON document has them: latency percentiles, samples, memory,
    pipeline phases, accuracy) and ``errors``.

    Columns over the n rows: model, host, device: (n,) str; threads: (n,) int64; ok: (n,) bool (the row ran);
    p50_ms, p90_ms, p99_ms, mean_ms: (n,) float64 raw invoke latency in ms; throughput_ips: (n,) float64
    inferences per second; size_bytes: (n,) float64 model file size in bytes; top1: (n,) float64 accuracy in
    [0, 1]. NaN where a row failed or did not measure it.
    """

    schema: str
    created: str
    command: str
    settings: Mapping[str, Any]
    machines: Mapping[str, Mapping[str, Any]]
    results: tuple[dict, ...]
    errors: tuple[BenchError, ...]

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> BenchReport:
        """The report of a document (``to_dict()``'s form, e.g. read back from ``--json``)."""
        return cls(schema=doc["schema"], created=doc.get("created", ""), command=doc.get("command", ""),
                   settings=doc.get("settings") or {}, machines=doc.get("machines") or {},
                   results=tuple(doc.get("results") or ()),
                   errors=tuple(BenchError(e.get("host"), e.get("model"), e["error"]) for e in doc.get("errors") or ()))

    def to_dict(self, samples: bool = True) -> dict:
        """The JSON document (a copy); ``samples=False`` leaves out every row's ``samples_ms``."""
        rows = [dict(r) if samples else {k: v for k, v in r.items() if k != "samples_ms"} for r in self.results]
        return {"schema": self.schema, "created": self.created, "command": self.command,
                "settings": copy.deepcopy(dict(self.settings)), "machines": copy.deepcopy(dict(self.machines)),
                "results": copy.deepcopy(rows), "errors": [e.to_dict() for e in self.errors]}

    def to_json(self, samples: bool = True) -> str:
        """The document as ``edgesdk bench --json`` prints it."""
        return json.dumps(self.to_dict(samples), indent=1, default=str) + "\n"

    def __len__(self) -> int:
        return len(self.results)

    def _latency(self, key: str) -> np.ndarray:
        return _column((_num((r.get("latency_ms") or {}).get(key)) if r.get("status") == "ok" else np.nan
                        for r in self.results), np.float64)

    @property
    def model(self) -> np.ndarray:
        return _column((str(r.get("model")) for r in self.results), object)

    @property
    def host(self) -> np.ndarray:
        return _column((str(r.get("host")) for r in self.results), object)

    @property
    def device(self) -> np.ndarray:
        return _column((str(r.get("device")) for r in self.results), object)

    @property
    def threads(self) -> np.ndarray:
        return _column((int(r.get("threads") or 0) for r in self.results), np.int64)

    @property
    def ok(self) -> np.ndarray:
        return _column((r.get("status") == "ok" for r in self.results), bool)

    @property
    def p50_ms(self) -> np.ndarray:
        return self._latency("p50")

    @property
    def p90_ms(self) -> np.ndarray:
        return self._latency("p90")

    @property
    def p99_ms(self) -> np.ndarray:
        return self._latency("p99")

    @property
    def mean_ms(self) -> np.ndarray:
        return self._latency("mean")

    @property
    def throughput_ips(self) -> np.ndarray:
        return _column((_num(r.get("throughput_ips")) for r in self.results), np.float64)

    @property
    def size_bytes(self) -> np.ndarray:
        return _column((_num(r.get("size_bytes")) for r in self.results), np.float64)

    @property
    def top1(self) -> np.ndarray:
        return _column((_num((r.get("accuracy") or {}).get("top1")) for r in self.results), np.float64)
