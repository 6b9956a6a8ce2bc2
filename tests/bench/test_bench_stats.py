"""The pure parts of the benchmark: statistics, the interleaved loop, file facts."""

from __future__ import annotations

import gzip
import time

import numpy as np
import pytest

from edgesdk.benchmarks import measure, percentile, summarize
from edgesdk.benchmarks._latency import file_facts, one_line


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
@pytest.mark.parametrize("q", [0, 50, 90, 99, 100])
def test_percentile_matches_numpy(n, q):
    values = sorted(np.random.default_rng(n).exponential(5.0, n).tolist())
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_summarize_in_ms():
    ns = [1_000_000, 2_000_000, 3_000_000, 4_000_000]
    s = summarize(ns)
    assert s["n"] == 4
    assert s["p50"] == pytest.approx(2.5)
    assert s["mean"] == pytest.approx(2.5)
    assert s["std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert (s["min"], s["max"]) == (1.0, 4.0)
    assert s["throughput_ips"] == pytest.approx(400.0)


def test_summarize_empty():
    assert summarize([])["p50"] is None


def test_measure_interleaves_and_discards_warmup():
    log = []
    calls = [lambda: log.append("A"), lambda: log.append("B"), lambda: log.append("C")]
    out = measure(calls, runs=4, warmup=2)
    assert [len(o) for o in out] == [4, 4, 4]
    warm, timed = log[:6], log[6:]
    assert warm == ["A", "B", "C"] * 2
    # each timed round holds every subject once, and the start rotates so no one always follows the same one
    rounds = [timed[i:i + 3] for i in range(0, 12, 3)]
    assert all(sorted(r) == ["A", "B", "C"] for r in rounds)
    assert [r[0] for r in rounds] == ["A", "B", "C", "A"]


def test_measure_times_the_call():
    out = measure([lambda: time.sleep(0.002), lambda: None], runs=5, warmup=0)
    assert min(out[0]) >= 2_000_000
    assert max(out[1]) < 1_000_000


def test_measure_seconds_bounds_the_loop():
    t0 = time.perf_counter()
    out = measure([lambda: time.sleep(0.001)], seconds=0.05, warmup=0)
    elapsed = time.perf_counter() - t0
    assert 5 <= len(out[0]) <= 60
    assert elapsed < 1.0


def test_measure_resets_phase_timers_after_warmup():
    class Pipe:
        def __init__(self):
            self.calls = 0
            self.resets = 0

        def __call__(self):
            self.calls += 1

        def reset(self):
            self.resets += 1

    p = Pipe()
    measure([p], runs=3, warmup=4)
    assert (p.calls, p.resets) == (7, 1)


def test_one_line():
    assert one_line(ValueError("first\nsecond")) == "first"
    assert one_line(KeyError()) == "failed without a message"  # no exception class names in messages


def test_file_facts(tmp_path):
    f = tmp_path / "m.bin"
    data = b"abc" * 1000
    f.write_bytes(data)
    facts = file_facts(f)
    assert facts["size_bytes"] == 3000
    assert facts["gzip_bytes"] == len(gzip.compress(data, 6))
    assert file_facts(tmp_path / "missing") == {"size_bytes": None, "gzip_bytes": None}
