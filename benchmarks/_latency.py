"""The measuring loop. Standard library only (this module is also copied to devices and run there).

What is timed is exactly one call of the subject (for a raw measurement: the interpreter's bound ``invoke``
with inputs set once beforehand) between two ``time.perf_counter_ns()`` reads; bookkeeping happens outside
that window. Several subjects run interleaved, round by round (A B C, B C A, C A B, ...), so machine noise
(other processes, frequency changes, thermal throttling) falls on all of them alike and their ratios stay fair.
"""

from __future__ import annotations

import gzip
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

try:
    from ._stats import summarize
except ImportError:  # run as a plain script on a device
    from _stats import summarize  # type: ignore[no-redef]

log = logging.getLogger(__name__)

clock = time.perf_counter_ns

DEFAULT_RUNS = 100
DEFAULT_WARMUP = 10
MIN_RUNS = 5


@dataclass
class Opened:
    """A model ready to be timed.

    invoke: runs the model once on inputs that are already set (no argument, result ignored).
    info: what to report about it (backend, delegate, inputs, ...).
    pipeline: optional :class:`PhaseTimer`-like callable doing pre-processing, invoke and decoding, recording
        its phases; it is timed as a subject of its own.
    """

    invoke: Callable[[], object]
    info: dict = field(default_factory=dict)
    pipeline: Callable[[], object] | None = None
    close: Callable[[], None] | None = None


class PhaseTimer:
    """Base for a pipeline subject: ``__call__`` runs one frame and appends each phase's duration (ns) to
    ``self.phases[name]``; ``reset()`` drops what warm-up recorded."""

    phase_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.phases: dict[str, list[int]] = {n: [] for n in self.phase_names}

    def reset(self) -> None:
        for v in self.phases.values():
            v.clear()

    def __call__(self) -> object:  # pragma: no cover - abstract
        raise NotImplementedError


def measure(
    calls: Sequence[Callable[[], object]],
    *,
    runs: int | None = None,
    seconds: float | None = None,
    warmup: int = DEFAULT_WARMUP,
    min_runs: int = MIN_RUNS,
    on_round: Callable[[int], None] | None = None,
) -> list[list[int]]:
    """Time every call in ``calls``, interleaved, and return their durations in nanoseconds.

    warmup: rounds run first and discarded. Then rounds run until ``runs`` rounds are done, or, with
    ``seconds``, until about ``seconds`` per call have passed (at least ``min_runs`` rounds). Each round starts
    one place further in the list, so no subject always runs right after the same other one.
    """
    if not calls:
        return []
    if runs is None and seconds is None:
        runs = DEFAULT_RUNS
    for _ in range(max(0, warmup)):
        for c in calls:
            c()
    for c in calls:
        reset = getattr(c, "reset", None)
        if reset is not None:
            reset()
    out: list[list[int]] = [[] for _ in calls]
    order = [(c, o.append) for c, o in zip(calls, out)]
    k = len(order)
    deadline = clock() + int(seconds * 1e9 * k) if seconds is not None else None
    done = 0
    while True:
        start = done % k
        for c, append in order[start:] + order[:start]:
            t0 = clock()
            c()
            t1 = clock()
            append(t1 - t0)
        done += 1
        if on_round is not None:
            on_round(done)
        if runs is not None and done >= runs:
            break
        if deadline is not None and done >= min_runs and clock() >= deadline:
            break
    return out


def one_line(exc: BaseException) -> str:
    """An exception as one line for a table cell or stderr."""
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else ""
    return first or "failed without a message"


def file_facts(path: str | Path) -> dict:
    """File size and its gzip size (level 6, what `gzip FILE` gives): what goes over the wire to a device."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError:
        return {"size_bytes": None, "gzip_bytes": None}
    return {"size_bytes": len(data), "gzip_bytes": len(gzip.compress(data, 6))}


def _ms(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e6


def run_suite(
    models: Sequence[tuple[str, str]],
    open_model: Callable[[str, int], Opened],
    *,
    threads: Sequence[int] = (1,),
    runs: int | None = None,
    seconds: float | None = None,
    warmup: int = DEFAULT_WARMUP,
    keep_samples: bool = True,
    on_round: Callable[[int], None] | None = None,
) -> list[dict]:
    """Benchmark ``models`` ((name, path) pairs) at every thread count, all interleaved in one loop.

    ``open_model(path, threads)`` loads one model and returns :class:`Opened`; whatever it raises makes that
    row ``status: failed`` with the message as ``error`` (one line) while the others still run.
    Returns one row per (model, threads), in the order given (threads outer).
    """
    rows: list[dict] = []
    subjects: list[tuple[dict, Opened]] = []
    facts = {path: file_facts(path) for _, path in models}
    for t in threads:
        for name, path in models:
            row = {"model": name, "path": str(path), "threads": int(t), "status": "ok", "error": None,
                   **facts[path]}
            rows.append(row)
            try:
                t0 = clock()
                opened = open_model(path, int(t))
                t1 = clock()
                opened.invoke()
                t2 = clock()
            except Exception as exc:  # one failing model must not stop the others
                row.update(status="failed", error=one_line(exc))
                log.debug("%s: %s", name, exc, exc_info=True)
                continue
            row.update(opened.info)
            row["load_ms"] = _ms(t1 - t0)
            row["first_invoke_ms"] = _ms(t2 - t1)
            subjects.append((row, opened))
    calls: list[Callable[[], object]] = []
    slots: list[tuple[dict, str]] = []
    for row, opened in subjects:
        calls.append(opened.invoke)
        slots.append((row, "invoke"))
        if opened.pipeline is not None:
            calls.append(opened.pipeline)
            slots.append((row, "pipeline"))
    try:
        samples = measure(calls, runs=runs, seconds=seconds, warmup=warmup, on_round=on_round)
    finally:
        for _, opened in subjects:
            if opened.close is not None:
                try:
                    opened.close()
                except Exception:  # pragma: no cover
                    pass
    for (row, kind), ns in zip(slots, samples):
        if kind == "invoke":
            row["latency_ms"] = summarize(ns)
            row["throughput_ips"] = row["latency_ms"]["throughput_ips"]
            if keep_samples:
                row["samples_ms"] = [round(v / 1e6, 4) for v in ns]
        else:
            pipe = next(o.pipeline for r, o in subjects if r is row)
            row["pipeline_ms"] = {"total": summarize(ns)}
            for phase, values in getattr(pipe, "phases", {}).items():
                row["pipeline_ms"][phase] = summarize(values)
    return rows
