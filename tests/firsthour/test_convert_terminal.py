"""Issue 18 on convert: a spinner per phase on a terminal, no native chatter on stderr, unreadable
calibration images skipped, counted and named in the report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _pty import run_on_pty

from _paths import TESTDATA

EDGESDK = Path(sys.executable).with_name("edgesdk")
CIFAR = TESTDATA / "cifar10" / "train"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not CIFAR.exists():
        pytest.skip(f"test data not available: {CIFAR}")
    from _tiny import cifar_subset, tiny_net

    root = tmp_path_factory.mktemp("tiny")
    model = root / "tiny.h5"
    tiny_net().save(model)
    calib = cifar_subset(root / "calib", 5)
    bad = sorted(calib.rglob("*.jpg"))[:2]
    for b in bad:  # two truncated files among 50
        data = b.read_bytes()
        b.unlink()
        b.write_bytes(data[: len(data) // 2])
    return model, calib, [b.name for b in bad]


@pytest.mark.slow
def test_convert_is_quiet_and_counts_skipped_images(tiny, tmp_path):
    model, calib, bad = tiny
    p = subprocess.run([str(EDGESDK), "convert", str(model), "-o", str(tmp_path / "b"), "--calib-data", str(calib),
                        "--input-range", "0,1", "--latency-runs", "3", "--json"], capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert sorted(Path(s).name for s in report["quantization"]["skipped_images"]) == sorted(bad)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert all(ln.startswith("WARNING ") for ln in lines), p.stderr  # no INFO:, fully_quantize, absl, cuInit
    assert any("skipped 2 unreadable calibration image(s)" in ln for ln in lines)


@pytest.mark.slow
def test_convert_shows_each_phase_on_a_terminal(tiny, tmp_path):
    model, calib, _ = tiny
    code, text = run_on_pty(["convert", str(model), "-o", str(tmp_path / "b"), "--calib-data", str(calib),
                             "--input-range", "0,1", "--latency-runs", "3"], 120, timeout=900)
    assert code == 0, text
    clean = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    for phase in ("loading the Keras model", "calibration images", "converting (int8)", "measuring CPU latency"):
        assert phase in clean, phase
    assert "fully_quantize" not in clean and "INFO: Created" not in clean
