"""``benchmark()``: one call that measures models here and/or on devices and returns the report document."""

from __future__ import annotations

import logging
import os
from typing import Callable, Sequence

import numpy as np

from edgesdk.errors import EdgeSDKError

from ._latency import DEFAULT_RUNS, DEFAULT_WARMUP, one_line
from ._machine import machine_facts
from ._report import make_document
from ._results import BenchReport

log = logging.getLogger(__name__)


def _failed(name: str, path, host: str, device: str, threads: int, error: str) -> dict:
    return {"model": name, "path": str(path), "threads": threads, "status": "failed", "error": error,
            "host": host, "device": device}


def benchmark(
    models: Sequence[str | os.PathLike],
    *,
    device: str = "cpu",
    threads: Sequence[int] | None = None,
    runs: int | None = None,
    seconds: float | None = None,
    warmup: int = DEFAULT_WARMUP,
    pipeline: bool = False,
    image: np.ndarray | None = None,
    data: str | os.PathLike | None = None,
    limit: int | None = None,
    wnids: str | os.PathLike | None = None,
    remotes: Sequence[str] = (),
    local: bool | None = None,
    remote_python: str = "python3",
    ssh=None,
    memory: bool = True,
    names: Sequence[str] | None = None,
    command: str = "",
    on_round: Callable[[int], None] | None = None,
) -> BenchReport:
    """Benchmark ``models`` (``.tflite`` files or bundles) and return the BenchReport (its ``to_dict()``: the
    document of schema ``edgesdk.bench/1``).

    Here (default, or ``local=True`` together with ``remotes``) through :func:`edgesdk.runtime.load`; on each
    ``remotes`` host over SSH with the device's own python3 (raw invoke and memory; pipeline and accuracy are
    measured here only; ``ssh`` is an ``SSHOptions`` as for ``edgesdk deploy``). Every failure (a file that is
    not a model, an Edge TPU model on the CPU, no Edge TPU, an unreachable host, a host without Python or
    interpreter) becomes ``status: failed`` rows plus one entry in
    ``errors``; the rest still runs.
    """
    from ._local import bench_local, model_file, synthetic_frame, unique_names

    threads = list(threads or [os.cpu_count() or 1])
    if runs is None and seconds is None:
        runs = DEFAULT_RUNS  # recorded in the document, so reports say how many runs
    models = [str(m) for m in models]
    names = list(names) if names else unique_names(models)
    run_local = (not remotes) if local is None else local
    rows: list[dict] = []
    machines: dict = {}
    errors: list[dict] = []
    if pipeline and image is None:
        image = synthetic_frame()
    if run_local:
        machines["local"] = machine_facts()
        rows += bench_local(models, device=device, threads=threads, runs=runs, seconds=seconds, warmup=warmup,
                            pipeline_image=image if pipeline else None, memory=memory, names=names,
                            on_round=on_round)
    if remotes:
        from edgesdk.tflite import check_tflite_file

        from ._remote import RemoteError, bench_remote

        ship, bad = [], {}
        for name, m in zip(names, models):
            try:
                path = model_file(m, device)
                check_tflite_file(path)
                ship.append((name, path))
            except EdgeSDKError as exc:
                bad[name] = (m, one_line(exc))
        order = {n: i for i, n in enumerate(names)}
        for host in remotes:
            host_rows = [_failed(name, m, host, device, t, err) for t in threads for name, (m, err) in bad.items()]
            if ship:
                try:
                    answer = bench_remote(host, ship, python=remote_python, ssh=ssh, device=device, threads=threads,
                                          runs=runs, seconds=seconds, warmup=warmup, memory=memory)
                    machines[host] = answer["machine"]
                    host_rows += answer["results"]
                except RemoteError as exc:
                    errors.append({"host": host, "model": None, "error": str(exc)})
                    host_rows += [_failed(n, p, host, device, t, str(exc)) for t in threads for n, p in ship]
            host_rows.sort(key=lambda r: (threads.index(r["threads"]), order.get(r["model"], 0)))
            rows += host_rows
    host_failed = {e["host"] for e in errors}
    seen = set()
    for r in rows:
        if r["status"] != "ok" and r["host"] not in host_failed and (r["host"], r["model"]) not in seen:
            seen.add((r["host"], r["model"]))
            errors.append({"host": r["host"], "model": r["model"], "error": r["error"]})
    if data is not None:
        _add_accuracy(rows, data, device=device, threads=max(threads), limit=limit, wnids=wnids)
    settings = {"device": device, "threads": threads, "runs": runs, "seconds": seconds, "warmup": warmup,
                "pipeline": bool(pipeline), "data": str(data) if data else None, "limit": limit,
                "remotes": list(remotes), "memory": memory}
    return make_document(rows, machines, settings, errors, command)


def _add_accuracy(rows: list[dict], data, *, device: str, threads: int, limit, wnids) -> None:
    """Top-1/top-5 per model, measured once here on ``data`` and shown on every row of that model."""
    from edgesdk.runtime import load

    from ._accuracy import evaluate
    from ._local import model_file

    done: dict[str, dict] = {}
    for r in rows:
        if r["status"] != "ok":
            continue
        key = r["path"]
        if key not in done:
            try:
                model = load(model_file(key, device), device=device, threads=threads)
                done[key] = evaluate(model, data, limit=limit, wnids=wnids, source=key)
            except EdgeSDKError as exc:
                done[key] = {"top1": None, "top5": None, "error": one_line(exc)}
                log.warning("accuracy of %s: %s", r["model"], one_line(exc))
        r["accuracy"] = done[key]
