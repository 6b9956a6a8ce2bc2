"""Reports and --compare on documents (the measuring itself is tested in test_bench_cli.py)."""

from __future__ import annotations

import json

import pytest

import numpy as np

from edgesdk.benchmarks import (SCHEMA, BenchError, BenchReport, add_ratios, compare, plain_table, plot, read_document,
                                to_markdown, write_atomic)
from edgesdk.errors import InputError


def _row(model, p50, threads=1, host="local", status="ok", error=None, top1=None):
    r = {"model": model, "path": f"/m/{model}", "threads": threads, "host": host, "device": "cpu", "status": status,
         "error": error, "size_bytes": 1_000_000, "gzip_bytes": 800_000}
    if status == "ok":
        r.update(latency_ms={"n": 3, "p50": p50, "p90": p50 * 1.1, "p99": p50 * 1.2, "mean": p50, "std": 0.1,
                             "min": p50 * 0.9, "max": p50 * 1.3, "throughput_ips": 1000 / p50},
                 throughput_ips=1000 / p50, load_ms=5.0, first_invoke_ms=9.0,
                 samples_ms=[p50 * 0.9, p50, p50 * 1.3], memory={"peak_rss_mb": 50.0})
        if top1 is not None:
            r["accuracy"] = {"top1": top1, "top5": min(1.0, top1 + 0.2), "n": 10}
    return r


def _doc(rows, errors=()):
    add_ratios(rows)
    return BenchReport.from_dict({"schema": SCHEMA, "created": "2026-01-01T00:00:00Z", "command": "edgesdk bench a b",
                                  "settings": {"device": "cpu", "threads": [1], "runs": 3, "warmup": 1},
                                  "machines": {"local": {"cpu": "x", "cores": 2}}, "results": rows,
                                  "errors": list(errors)})


def test_ratios_against_first_model_per_threads():
    doc = _doc([_row("a", 2.0), _row("bad", 0, status="failed", error="not a model"), _row("b", 5.0),
                _row("a", 1.0, threads=2), _row("b", 4.0, threads=2)])
    ratios = [r["ratio_p50"] for r in doc.results]
    assert ratios == [1.0, None, 2.5, 1.0, 4.0]


def test_columns_of_the_rows():
    doc = _doc([_row("a", 2.0, top1=0.7), _row("bad", 0, status="failed", error="not a model"),
                _row("b", 5.0, threads=2, host="pi")], errors=[{"host": "local", "model": "bad", "error": "not a model"}])
    assert len(doc) == 3 and doc.model.tolist() == ["a", "bad", "b"] and doc.host.tolist() == ["local", "local", "pi"]
    assert doc.threads.tolist() == [1, 1, 2] and doc.ok.tolist() == [True, False, True]
    assert doc.p50_ms[0] == 2.0 and np.isnan(doc.p50_ms[1]) and doc.p90_ms[2] == pytest.approx(5.5)
    assert doc.top1[0] == 0.7 and np.isnan(doc.top1[2])
    assert doc.errors == (BenchError("local", "bad", "not a model"),)
    with pytest.raises(ValueError):
        doc.p50_ms[0] = 1.0  # read-only columns
    assert BenchReport.from_dict(doc.to_dict()).to_json() == doc.to_json()


def test_plain_table_marks_failures():
    doc = _doc([_row("a", 2.0), _row("bad.txt", 0, status="failed", error="bad.txt: not a TFLite model")])
    text = plain_table(doc)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["model", "thr", "p50"]
    assert "FAILED: bad.txt: not a TFLite model" in lines[3]
    assert "2.00" in lines[2]


def test_table_shows_host_column_only_for_several_hosts():
    assert "host" not in plain_table(_doc([_row("a", 1.0)])).splitlines()[0]
    two = plain_table(_doc([_row("a", 1.0), _row("a", 2.0, host="pi@kitchen")]))
    assert two.splitlines()[0].startswith("host")


def test_markdown_has_machine_settings_note_and_table():
    md = to_markdown(_doc([_row("a", 2.0, top1=0.7), _row("b", 1.0, status="failed", error="boom")]),
                     plot="bench.png")
    assert "interleaved" in md and "x first" in md
    assert "| model | thr | p50 ms" in md
    assert "| b | 1 | FAILED: boom |" in md
    assert "70.0%" in md
    assert "![latency distribution per model](bench.png)" in md


def test_json_roundtrip(tmp_path):
    doc = _doc([_row("a", 2.0)])
    path = tmp_path / "r.json"
    path.write_text(doc.to_json())
    back = read_document(path)
    assert back.schema == SCHEMA == "edgesdk.bench/1"
    assert back.p50_ms.tolist() == [2.0] and back.to_json() == doc.to_json()
    assert "samples_ms" not in json.loads(doc.to_json(samples=False))["results"][0]
    assert "samples_ms" in doc.results[0]  # leaving them out of the JSON keeps the report whole


@pytest.mark.parametrize("content, needle", [
    ("not json", "is not a benchmark JSON"),
    ('{"schema": "something/1"}', "is not an `edgesdk bench --json` file"),
    ('[1, 2]', "is not an `edgesdk bench --json` file"),
    ('{"schema": "edgesdk.bench/99"}', "this edgesdk reads edgesdk.bench/1"),
    ('{"schema": "edgesdk.bench/1", "errors": [{"host": "pi"}]}', "malformed"),
])
def test_read_document_rejects(tmp_path, content, needle):
    p = tmp_path / "old.json"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        read_document(p)
    assert needle in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError, match="no such file"):
        read_document(tmp_path / "missing.json")


def test_plot_writes_png_with_accuracy_panel(tmp_path):
    out = tmp_path / "b.png"
    plot(_doc([_row("a", 2.0, top1=0.7), _row("b", 9.0, top1=0.4), _row("c", 1.0, status="failed", error="x")]), out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    h, w = mpimg.imread(out).shape[:2]
    assert w > 1.5 * 700  # two panels side by side
    assert not list(tmp_path.glob(".*"))  # no temporary left behind


def test_write_atomic_needs_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_atomic(tmp_path / "nope" / "x.md", b"x")
    write_atomic(tmp_path / "x.md", b"hello")
    assert (tmp_path / "x.md").read_bytes() == b"hello"


def test_compare_flags_regressions_failures_new_and_missing():
    old = _doc([_row("a", 2.0), _row("b", 10.0), _row("gone", 1.0), _row("broke", 1.0)])
    new = _doc([_row("a", 2.1), _row("b", 12.0), _row("fresh", 3.0), _row("broke", 0, status="failed", error="x")])
    changes = {c.model: c for c in compare(old, new, threshold=0.10)}
    assert changes["a"].status == "ok" and changes["a"].change == pytest.approx(0.05)
    assert changes["b"].status == "regression" and changes["b"].regression
    assert changes["fresh"].status == "new" and not changes["fresh"].regression
    assert changes["gone"].status == "missing" and not changes["gone"].regression
    assert changes["broke"].status == "failed" and changes["broke"].regression
    assert "REGRESSION" in changes["b"].line("p50")
    # a looser threshold lets b pass; a faster run is "improved"
    assert compare(old, new, threshold=0.25)[1].status == "ok"
    assert compare(new, old, threshold=0.10)[1].status == "improved"


def test_compare_matches_threads_and_hosts_separately():
    old = _doc([_row("a", 1.0, threads=1), _row("a", 1.0, threads=2, host="pi")])
    new = _doc([_row("a", 1.0, threads=1), _row("a", 5.0, threads=2, host="pi")])
    bad = [c for c in compare(old, new) if c.regression]
    assert [(c.host, c.threads) for c in bad] == [("pi", 2)]
