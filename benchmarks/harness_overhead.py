"""How much does the harness add to what it measures?

On mobilenet_v2_1.0_224_quant.tflite, in one process and on one interpreter with the same preset inputs, compare
the p50 that the harness's timing loop (``edgesdk.benchmarks.measure``, what ``edgesdk bench`` runs) reports with
a bare loop::

    t0 = time.perf_counter_ns(); interpreter.invoke(); samples.append(time.perf_counter_ns() - t0)

The two alternate in blocks (harness, bare, bare, harness, ...) so machine noise falls on both alike. The
harness passes when its p50 is within 3 % of the bare loop's.

    .venv/bin/python benchmarks/harness_overhead.py [--blocks 400] [--block-runs 2] [--threads 1] [--out DIR]

Writes DIR/harness_overhead.json and .md (default benchmarks/results/bench/); exit 1 when over the limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODEL = REPO.parent / "shared" / "testdata" / "models" / "mobilenet_v2_1.0_224_quant.tflite"
LIMIT = 0.03


def bare_loop(invoke, n: int, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        invoke()
        out.append(clock() - t0)


def run(model: Path = MODEL, blocks: int = 400, block_runs: int = 2, threads: int = 1, warmup: int = 20) -> dict:
    from edgesdk.benchmarks import machine_facts, measure, summarize
    from edgesdk.benchmarks._agent import preset_inputs
    from edgesdk.runtime import load

    m = load(model, threads=threads)
    it = m.interpreter
    preset_inputs(it)
    invoke = it.invoke
    for _ in range(warmup):
        invoke()
    harness: list[int] = []
    bare: list[int] = []
    for b in range(blocks):
        first_harness = b % 4 in (0, 3)  # H B B H H B B H ...: each order equally often
        for which in ((True, False) if first_harness else (False, True)):
            if which:
                harness += measure([invoke], runs=block_runs, warmup=0)[0]
            else:
                bare_loop(invoke, block_runs, bare)
    h, r = summarize(harness), summarize(bare)
    diff = h["p50"] / r["p50"] - 1.0
    return {
        "schema": "edgesdk.bench.harness/1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python benchmarks/harness_overhead.py", *sys.argv[1:]]),
        "model": model.name,
        "threads": threads,
        "blocks": blocks,
        "block_runs": block_runs,
        "backend": m.backend.to_dict(),
        "machine": machine_facts(),
        "harness_ms": h,
        "bare_ms": r,
        "p50_difference": diff,
        "limit": LIMIT,
        "passed": abs(diff) <= LIMIT,
    }


def markdown(res: dict) -> str:
    h, r = res["harness_ms"], res["bare_ms"]
    mc = res["machine"]
    rows = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("mean", "mean"), ("std", "std"), ("min", "min")]
    out = [
        "# Harness overhead",
        "",
        f"Measured {res['created']} with `{res['command'].strip()}` on {mc['cpu']}, {mc['cores']} cores, "
        f"{mc['python']}, {res['backend']['name']} {res['backend']['version']}, {res['threads']} interpreter thread(s).",
        "",
        f"{res['model']}: the harness's timing loop (`edgesdk.benchmarks.measure`, used by `edgesdk bench`) against a "
        f"bare `interpreter.invoke()` loop timed with `time.perf_counter_ns`, same process, same interpreter, "
        f"alternating in {res['blocks']} blocks of {res['block_runs']} runs each ({h['n']} samples per side). "
        "Other processes share the 2 cores; the alternation spreads their noise over both sides.",
        "",
        "| ms | harness | bare loop |",
        "|---|---:|---:|",
    ]
    out += [f"| {label} | {h[k]:.3f} | {r[k]:.3f} |" for label, k in rows]
    verdict = "PASS" if res["passed"] else "FAIL"
    out += ["", f"p50 difference: **{100 * res['p50_difference']:+.2f} %** (limit ±{100 * res['limit']:.0f} %): "
                f"**{verdict}**", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=MODEL)
    p.add_argument("--blocks", type=int, default=400)
    p.add_argument("--block-runs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=HERE / "results" / "bench")
    args = p.parse_args(argv)
    if not args.model.exists():
        print(f"harness_overhead: {args.model} not found (needs ../shared/testdata)", file=sys.stderr)
        return 1
    res = run(args.model, args.blocks, args.block_runs, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "harness_overhead.json").write_text(json.dumps(res, indent=1) + "\n")
    (args.out / "harness_overhead.md").write_text(markdown(res))
    print(markdown(res))
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
