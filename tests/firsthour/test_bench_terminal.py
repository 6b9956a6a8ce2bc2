"""Issue 18: bench fits the terminal, -o is the output, numbers are bounded, reports say how many runs."""

from __future__ import annotations

import json
import os
import re

import pytest
from _pty import run_on_pty

from _paths import MODELS
from edgesdk.cli import main

V1 = MODELS / "mobilenet_v1_0.25_128_quant.tflite"
V2 = MODELS / "mobilenet_v2_1.0_224_quant.tflite"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.mark.parametrize("columns", [80, 120])
def test_bench_table_fits_the_terminal(columns):
    code, text = run_on_pty(["bench", str(V1), str(V2), "--runs", "3", "--warmup", "1", "--no-memory"], columns)
    assert code == 0, text
    lines = [ANSI.sub("", ln) for ln in re.split(r"[\r\n]", text)]
    table = [ln for ln in lines if ln.strip()]
    assert all(len(ln) <= columns for ln in table), "\n".join(ln for ln in table if len(ln) > columns)
    joined = "\n".join(table)
    for name in (V1.name, V2.name):
        assert name in joined  # model names are not cut
    assert "…" not in joined and "p50 ms" in joined


def test_bench_dash_o_writes_the_report(capsys, tmp_path):
    md, js = tmp_path / "report.md", tmp_path / "doc.json"
    code = main(["bench", str(V1), "--runs", "2", "--warmup", "0", "--no-memory", "-o", str(md), "-o", str(js)])
    assert code == 0, capsys.readouterr().err
    text = md.read_text()
    assert "None" not in text and "100 runs" not in text and "2 runs" in text
    assert json.loads(js.read_text())["settings"]["runs"] == 2
    assert main(["bench", str(V1), "-o", str(tmp_path / "r.txt")]) == 1
    assert "unknown report type .txt" in capsys.readouterr().err


def test_bench_default_runs_are_named_in_the_report(capsys, tmp_path):
    md = tmp_path / "r.md"
    code = main(["bench", str(V1), "--warmup", "0", "--no-memory", "-o", str(md)])
    assert code == 0
    assert "None" not in md.read_text() and "100 runs" in md.read_text()


def test_bench_numbers_are_bounded(capsys, caplog):
    with pytest.raises(SystemExit) as e:
        main(["bench", str(V1), "--runs", "1000000000000"])
    assert e.value.code == 2 and "--runs" in capsys.readouterr().err
    code = main(["bench", str(V1), "--threads", "10000", "--runs", "2", "--warmup", "0", "--no-memory", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and "capped at the" in caplog.text
    assert json.loads(out)["settings"]["threads"] == [os.cpu_count()]


def test_bench_seconds_has_a_time_based_bar():
    code, text = run_on_pty(["bench", str(V1), "--seconds", "1", "--warmup", "0", "--no-memory"], 100)
    assert code == 0, text
    clean = ANSI.sub("", text)
    assert "of ~1 s" in clean and "/?" not in clean
