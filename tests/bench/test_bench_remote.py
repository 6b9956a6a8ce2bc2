"""`edgesdk bench --remote` against a real OpenSSH server on 127.0.0.1 (tests/_sshd.py): the agent is copied
and run with a real python, models come back as one table; failures are one line per host or model."""

from __future__ import annotations

import glob
import json
import subprocess
import sys

import pytest
from _sshd import free_port, start_sshd
from _paths import MODELS

from edgesdk.cli import main

SMALL = MODELS / "mobilenet_v1_0.25_128_quant.tflite"
SMALL_TPU = MODELS / "mobilenet_v1_0.25_128_quant_edgetpu.tflite"
QUICK = ["--runs", "4", "--warmup", "1", "--threads", "1"]

pytestmark = pytest.mark.skipif(not SMALL.exists(), reason=f"test data not available: {SMALL}")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    info = start_sshd(tmp_path_factory)
    text = info.config.read_text()
    second = text.replace(f"Host {info.alias}", "Host second-device", 1)
    refused = text.replace(f"Host {info.alias}", "Host refused-device", 1).replace(
        f"Port {info.port}", f"Port {free_port()}")
    info.config.write_text(text + second + refused)
    yield info
    info.stop()


def _bench(capsys, sshd, *argv):
    before = set(glob.glob("/tmp/edgesdk-bench.*"))
    code = main(["bench", *map(str, argv), "-F", str(sshd.config)])
    out, err = capsys.readouterr()
    assert set(glob.glob("/tmp/edgesdk-bench.*")) == before, "the device's temporary folder was left behind"
    return code, out, "\n".join(ln for ln in err.splitlines() if not ln.startswith("INFO:"))


def test_several_hosts_one_table(capsys, sshd):
    code, out, err = _bench(capsys, sshd, SMALL, *QUICK, "--json", "--remote", sshd.alias, "--remote",
                            "second-device", "--remote", "refused-device", "--local",
                            "--remote-python", sys.executable)
    assert code == 1
    assert err.splitlines() == [
        "edgesdk bench: error: refused-device: connection refused by refused-device: is sshd running there, on that port?"]
    doc = json.loads(out)
    rows = {r["host"]: r for r in doc["results"]}
    assert set(rows) == {"local", sshd.alias, "second-device", "refused-device"}
    for host in ("local", sshd.alias, "second-device"):
        r = rows[host]
        assert r["status"] == "ok", r
        assert r["model"] == SMALL.name and r["latency_ms"]["n"] == 4
        assert r["backend"]["name"] == "ai_edge_litert"
        assert r["memory"]["peak_rss_mb"] > r["memory"]["baseline_rss_mb"] > 0
        assert r["size_bytes"] == SMALL.stat().st_size
    # the device reported its own machine facts, with the python that ran there
    assert doc["machines"][sshd.alias]["python_executable"] == sys.executable
    assert rows["refused-device"]["status"] == "failed"
    assert "connection refused" in rows["refused-device"]["error"]


def test_remote_bad_models_one_line_each(capsys, sshd, tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    code, out, err = _bench(capsys, sshd, SMALL, SMALL_TPU, junk, *QUICK, "--no-memory", "--remote", sshd.alias,
                            "--remote-python", sys.executable)
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"edgesdk bench: error: {sshd.alias}: ") and "compiled for the Edge TPU" in lines[0]
    assert "junk.tflite" in lines[1] and "not a TFLite model" in lines[1]
    table = out.splitlines()
    assert [ln.split()[0] for ln in table[2:]] == ["mobilenet_v1_0.25_128_quant.tflite",
                                                    "mobilenet_v1_0.25_128_quant_edgetpu.tflite", "junk.tflite"]
    assert "FAILED" not in table[2] and "FAILED" in table[3] and "FAILED" in table[4]


def _has_backend(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import ai_edge_litert"], capture_output=True).returncode == 0
    except OSError:
        return True


@pytest.mark.skipif(_has_backend("/usr/bin/python3"), reason="/usr/bin/python3 has an interpreter backend here")
def test_remote_without_interpreter_backend(capsys, sshd):
    code, out, err = _bench(capsys, sshd, SMALL, *QUICK, "--remote", sshd.alias, "--remote-python", "/usr/bin/python3")
    assert code == 1
    assert err.splitlines() == [f"edgesdk bench: error: {sshd.alias}: no TFLite interpreter for /usr/bin/python3"
                                + err.split("/usr/bin/python3", 1)[1]]
    assert "pip install ai-edge-litert" in err
    assert "FAILED:" in out


def test_remote_without_python(capsys, sshd):
    code, out, err = _bench(capsys, sshd, SMALL, *QUICK, "--remote", sshd.alias, "--remote-python", "/nonexistent")
    assert code == 1
    assert err.splitlines() == [
        f"edgesdk bench: error: {sshd.alias}: no Python at '/nonexistent' (install python3 there, or pass --remote-python)"]
    assert "FAILED:" in out


def test_bundle_here_and_on_the_device(capsys, sshd, tmp_path):
    from edgesdk.bundle import InputSpec, Manifest, write_bundle

    bundle = tmp_path / "mnv1"
    write_bundle(bundle, Manifest(task="classify", name="mnv1", input=InputSpec(raw=True)),
                 files={"model.tflite": SMALL})
    code, out, err = _bench(capsys, sshd, bundle, *QUICK, "--no-memory", "--json", "--local", "--remote", sshd.alias,
                            "--remote-python", sys.executable)
    assert code == 0, err
    rows = json.loads(out)["results"]
    assert [(r["host"], r["model"], r["status"]) for r in rows] == [("local", "mnv1", "ok"), (sshd.alias, "mnv1", "ok")]
    assert all(r["size_bytes"] == SMALL.stat().st_size for r in rows)


def test_remote_edgetpu_device_missing(capsys, sshd):
    code, out, err = _bench(capsys, sshd, SMALL_TPU, SMALL, *QUICK, "--device", "usb:0", "--remote", sshd.alias,
                            "--remote-python", sys.executable)
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 2 and all("Edge TPU usb:0 unavailable" in ln for ln in lines), err
    assert out.count("FAILED:") == 2
