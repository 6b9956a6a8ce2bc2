"""``--compare OLD.json``: the change of each model's latency against an earlier run, and whether it regressed."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ._results import BenchReport

DEFAULT_THRESHOLD = 0.10  # +10 % on p50
METRICS = ("p50", "p90", "p99", "mean")


@dataclass(frozen=True)
class Change:
    host: str
    model: str
    threads: int
    device: str
    old: float | None
    new: float | None
    change: float | None  # new / old - 1
    status: str  # ok | regression | improved | failed | new | missing

    @property
    def regression(self) -> bool:
        return self.status in ("regression", "failed")

    def to_dict(self) -> dict:
        return {**asdict(self), "regression": self.regression}

    def line(self, metric: str) -> str:
        who = f"{self.model} ({self.threads}t" + (f", {self.host}" if self.host not in (None, "local") else "") + ")"
        if self.status == "new":
            return f"{who}: new, {metric} {self.new:.2f} ms"
        if self.status == "missing":
            return f"{who}: not in this run"
        if self.status == "failed":
            return f"{who}: ran before ({metric} {self.old:.2f} ms), FAILED now"
        return f"{who}: {metric} {self.old:.2f} -> {self.new:.2f} ms ({self.change:+.1%}){'  REGRESSION' if self.regression else ''}"


def _key(r: dict) -> tuple:
    return (r.get("host") or "local", r.get("model"), int(r.get("threads") or 0), r.get("device") or "cpu")


def compare(old: BenchReport, new: BenchReport, threshold: float = DEFAULT_THRESHOLD, metric: str = "p50") -> list[Change]:
    """Match rows by (host, model, threads, device). A row regresses when its ``metric`` grew by more than
    ``threshold`` (0.10 = 10 %), or when it ran before and fails now; ``improved`` when it shrank by more."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}")
    before = {_key(r): r for r in old.results}
    out: list[Change] = []
    seen = set()
    for r in new.results:
        k = _key(r)
        seen.add(k)
        o = before.get(k)
        nv = (r.get("latency_ms") or {}).get(metric) if r.get("status") == "ok" else None
        ov = (o.get("latency_ms") or {}).get(metric) if o and o.get("status") == "ok" else None
        if ov is None and nv is None:
            continue
        if ov is None:
            out.append(Change(*k, None, nv, None, "new"))  # type: ignore[call-arg]
        elif nv is None:
            out.append(Change(*k, ov, None, None, "failed"))  # type: ignore[call-arg]
        else:
            ch = nv / ov - 1.0
            status = "regression" if ch > threshold else "improved" if ch < -threshold else "ok"
            out.append(Change(*k, ov, nv, ch, status))  # type: ignore[call-arg]
    for k, o in before.items():
        if k not in seen and o.get("status") == "ok":
            out.append(Change(*k, (o.get("latency_ms") or {}).get(metric), None, None, "missing"))  # type: ignore[call-arg]
    return out
