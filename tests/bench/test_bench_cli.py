"""`edgesdk bench` on this machine with real models from ../shared/testdata (small runs: these check behaviour,
the numbers themselves live in benchmarks/results/)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from _paths import MODELS

from edgesdk.benchmarks import benchmark, read_document
from edgesdk.cli import main

SMALL = MODELS / "mobilenet_v1_0.25_128_quant.tflite"
SMALL_TPU = MODELS / "mobilenet_v1_0.25_128_quant_edgetpu.tflite"
QUICK = ["--runs", "5", "--warmup", "1", "--threads", "1"]

pytestmark = pytest.mark.skipif(not SMALL.exists(), reason=f"test data not available: {SMALL}")


def _bench(capsys, *argv):
    code = main(["bench", *map(str, argv)])
    out, err = capsys.readouterr()
    err = "\n".join(ln for ln in err.splitlines() if not ln.startswith("INFO:"))  # TFLite's own XNNPACK note
    return code, out, err


def test_json_document(capsys, ssd_model):
    code, out, err = _bench(capsys, SMALL, ssd_model, "--json", "--runs", "6", "--warmup", "2", "--threads", "1,2")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "edgesdk.bench/1"
    m = doc["machines"]["local"]
    assert m["cores"] == os.cpu_count() and m["cpu"] and m["python"].startswith("CPython")
    assert "ai-edge-litert" in m["packages"]
    rows = doc["results"]
    assert [(r["model"], r["threads"]) for r in rows] == [
        (SMALL.name, 1), (ssd_model.name, 1), (SMALL.name, 2), (ssd_model.name, 2)]
    for r in rows:
        assert r["status"] == "ok"
        lat = r["latency_ms"]
        assert lat["n"] == 6 and len(r["samples_ms"]) == 6
        assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert r["backend"]["name"] == "ai_edge_litert" and r["delegate"] == "cpu"
        assert r["size_bytes"] == os.path.getsize(r["path"]) and 0 < r["gzip_bytes"] < r["size_bytes"]
        assert r["load_ms"] > 0 and r["first_invoke_ms"] > 0
        mem = r["memory"]
        assert 10 < mem["baseline_rss_mb"] < mem["peak_rss_mb"] < 2000 and mem["threads"] == 2
    assert rows[0]["ratio_p50"] == 1.0
    # the SSD (256x256, with LSTM states) is far slower than a 0.25-width 128x128 MobileNet
    assert rows[1]["ratio_p50"] > 3
    assert rows[1]["memory"]["peak_rss_mb"] > rows[0]["memory"]["peak_rss_mb"]


def test_table_and_reports(capsys, tmp_path):
    md, png, js = tmp_path / "b.md", tmp_path / "b.png", tmp_path / "b.json"
    code, out, err = _bench(capsys, SMALL, *QUICK, "--no-memory", "--markdown", md, "--plot", png, "--save", js)
    assert code == 0, err
    assert out.splitlines()[0].split()[:3] == ["model", "thr", "p50"]
    assert SMALL.name in out
    assert "| model | thr | p50 ms" in md.read_text() and "(b.png)" in md.read_text()
    assert png.read_bytes()[:4] == b"\x89PNG"
    saved = read_document(js)
    assert saved.ok.tolist() == [True] and saved.model.tolist() == [SMALL.name]


def test_pipeline_times_pre_invoke_post(capsys, grace_hopper, ssd_model):
    code, out, err = _bench(capsys, SMALL, ssd_model, *QUICK, "--no-memory", "--pipeline", "--image", grace_hopper,
                            "--json")
    assert code == 0, err
    rows = json.loads(out)["results"]
    assert [r["decoder"] for r in rows] == ["classification", "ssd"]
    for r in rows:
        p = r["pipeline_ms"]
        assert set(p) == {"total", "pre", "invoke", "post"}
        assert all(p[k]["n"] == 5 for k in p)
        assert p["pre"]["p50"] > 0 and p["post"]["p50"] > 0
        assert p["total"]["p50"] >= p["invoke"]["p50"]


def test_bad_inputs_one_line_each_others_still_run(capsys, tmp_path):
    junk = tmp_path / "notes.tflite"
    junk.write_text("this is not a model\n" * 10)
    missing = tmp_path / "missing.tflite"
    code, out, err = _bench(capsys, SMALL, junk, SMALL_TPU, missing, *QUICK, "--no-memory")
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert all(ln.startswith("edgesdk bench: error: ") for ln in lines)
    assert "notes.tflite" in lines[0] and "not a TFLite model" in lines[0]
    assert "compiled for the Edge TPU" in lines[1] and "--device edgetpu" in lines[1]
    assert "missing.tflite" in lines[2]
    assert "Traceback" not in err
    table = out.splitlines()
    ok = [ln for ln in table if ln.startswith(SMALL.name)]
    assert ok and "FAILED" not in ok[0]
    assert sum("FAILED:" in ln for ln in table) == 3


def test_edgetpu_device_without_edgetpu(capsys, tmp_path):
    code, out, err = _bench(capsys, SMALL_TPU, SMALL, *QUICK, "--device", "edgetpu", "--no-memory")
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 2 and all("Edge TPU" in ln for ln in lines), err
    assert out.count("FAILED:") == 2


def test_bad_outputs_fail_before_measuring(capsys, tmp_path):
    code, out, err = _bench(capsys, SMALL, *QUICK, "--markdown", tmp_path / "no" / "b.md")
    assert code == 1 and "does not exist" in err and out == ""
    old = tmp_path / "old.json"
    old.write_text("{}")
    code, out, err = _bench(capsys, SMALL, *QUICK, "--compare", old)
    assert code == 1 and "is not an `edgesdk bench --json` file" in err and out == ""
    assert list(tmp_path.iterdir()) == [old]


@pytest.mark.parametrize("argv", [
    ["--threads", "0"], ["--threads", "a"], ["--runs", "0"], ["--runs", "3", "--seconds", "1"], ["--warmup", "-1"],
    ["--seconds", "0"],
])
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(["bench", str(SMALL), *argv])
    assert e.value.code == 2


def test_compare_exits_nonzero_on_regression(capsys, tmp_path):
    base = tmp_path / "base.json"
    code, _, err = _bench(capsys, SMALL, *QUICK, "--no-memory", "--save", base)
    assert code == 0, err
    # the same model as an earlier, 3x faster run: the new run must be flagged as a regression
    doc = json.loads(base.read_text())
    for r in doc["results"]:
        r["latency_ms"] = {k: (v / 3 if isinstance(v, float) and k != "n" else v) for k, v in r["latency_ms"].items()}
    faster = tmp_path / "faster.json"
    faster.write_text(json.dumps(doc))
    code, out, err = _bench(capsys, SMALL, *QUICK, "--no-memory", "--compare", faster, "--threshold", "50")
    assert code == 1
    assert "REGRESSION" in out and "regression(s) beyond 50 %" in err
    # against a 3x slower earlier run it is an improvement: exit 0
    for r in doc["results"]:
        r["latency_ms"] = {k: (v * 9 if isinstance(v, float) and k != "n" else v) for k, v in r["latency_ms"].items()}
    faster.write_text(json.dumps(doc))
    code, out, err = _bench(capsys, SMALL, *QUICK, "--no-memory", "--compare", faster, "--threshold", "50")
    assert code == 0, err


def test_accuracy_imagenet_style(testdata):
    doc = benchmark([SMALL], threads=[1], runs=3, warmup=1, memory=False, data=testdata / "imagenet-500", limit=40)
    acc = doc.results[0]["accuracy"]
    assert acc["n"] == 40 and acc["via"] == "edgesdk bench" and doc.top1[0] == acc["top1"]
    # MobileNet v1 0.25/128 quant: about 40 % top-1, 65 % top-5 on ImageNet; far from chance (0.1 %)
    assert 0.2 < acc["top1"] <= acc["top5"] < 0.95


def test_accuracy_whole_folder_is_edgesdk_evals_number(testdata, tmp_path):
    """Without --limit the column comes from `edgesdk eval`'s function; the bench's own loop agrees with it."""
    from edgesdk.benchmarks._accuracy import evaluate
    from edgesdk.runtime import load

    data = tmp_path / "few"
    data.mkdir()
    for p in sorted((testdata / "imagenet-500").iterdir())[:60]:
        (data / p.name).symlink_to(p)
    wnids = MODELS / "imagenet_wnids.txt"
    model = load(SMALL, threads=1)
    via_eval = evaluate(model, data, wnids=wnids)
    own = evaluate(model, data, wnids=wnids, limit=60)
    assert via_eval["via"] == "edgesdk eval" and own["via"] == "edgesdk bench"
    assert via_eval["n"] == own["n"] == 60
    assert (via_eval["top1"], via_eval["top5"]) == (own["top1"], own["top5"])


def test_accuracy_class_folders_and_non_classifier(testdata, tmp_path, ssd_model):
    src = testdata / "imagenet-500"
    picks = {"tench": "n01440764_tench.JPEG", "hammerhead": "n01494475_hammerhead.JPEG"}
    for cls, name in picks.items():
        (tmp_path / cls).mkdir()
        (tmp_path / cls / name).symlink_to(src / name)
    doc = benchmark([SMALL, ssd_model], threads=[1], runs=3, warmup=1, memory=False, data=tmp_path)
    small, ssd = doc.results
    assert doc.ok.all() and doc.top1[0] == small["accuracy"]["top1"] and np.isnan(doc.top1[1])
    assert small["accuracy"]["n"] == 2 and 0 <= small["accuracy"]["top1"] <= small["accuracy"]["top5"] <= 1
    assert small["accuracy"]["via"] == "edgesdk bench"  # folder names matched to the model's own labels
    assert ssd["accuracy"]["top1"] is None and "not a classifier" in ssd["accuracy"]["error"]


def test_accuracy_folder_matching_no_label(testdata, tmp_path):
    (tmp_path / "not_a_class").mkdir()
    (tmp_path / "not_a_class" / "x.JPEG").symlink_to(testdata / "imagenet-500" / "n01440764_tench.JPEG")
    doc = benchmark([SMALL], threads=[1], runs=3, warmup=1, memory=False, data=tmp_path)
    acc = doc.results[0]["accuracy"]
    assert acc["top1"] is None and "not_a_class match no label" in acc["error"]
    assert doc.ok[0] and doc.p50_ms[0] > 0  # the latency still stands


def test_seconds_instead_of_runs(capsys):
    code, out, err = _bench(capsys, SMALL, "--seconds", "0.2", "--warmup", "0", "--threads", "1", "--no-memory", "--json")
    assert code == 0, err
    lat = json.loads(out)["results"][0]["latency_ms"]
    # a 0.25/128 MobileNet takes well under 10 ms here: 0.2 s gives many more than the minimum of 5 runs
    assert lat["n"] > 20
    assert json.loads(out)["settings"]["seconds"] == 0.2
