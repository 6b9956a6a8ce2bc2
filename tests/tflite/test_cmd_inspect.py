"""`edgesdk inspect`: through edgesdk.cli.main and once through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _paths import MODELS

from edgesdk.bundle import Manifest, pack, write_bundle
from edgesdk.cli import main

DEEPLAB = "deeplabv3_mnv2_dm05_pascal_quant"


def model(name: str) -> Path:
    p = MODELS / name
    if not p.exists():
        pytest.skip(f"test data not available: {p}")
    return p


def run_json(capsys, *argv) -> dict:
    rc = main(["inspect", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_json_has_everything(capsys, mobilenet_v2_quant):
    d = run_json(capsys, mobilenet_v2_quant)
    for key in ("inputs", "outputs", "op_counts", "operators", "custom_ops", "subgraphs", "metadata", "size",
                "schema_version", "edgetpu_compiled", "edgetpu"):
        assert key in d
    assert d["size"] == mobilenet_v2_quant.stat().st_size
    assert d["inputs"][0]["shape"] == [1, 224, 224, 3] and d["inputs"][0]["dtype"] == "UINT8"
    assert d["inputs"][0]["quantization"] == {"per_channel": False, "scale": 0.0078125, "zero_point": 128}
    assert d["outputs"][0]["shape"] == [1, 1001]
    assert sum(d["op_counts"].values()) == len(d["operators"]) == 66
    assert d["edgetpu"]["compiled"] is False and d["edgetpu"]["cpu_ops"] == {}
    assert d["edgetpu"]["mapped_ops"] == d["op_counts"] and d["edgetpu"]["first_unmapped"] is None
    assert d["bundle"] is None


def test_json_deeplab_pair_matches_the_compiler(capsys):
    plain = run_json(capsys, model(f"{DEEPLAB}.tflite"))
    twin = run_json(capsys, model(f"{DEEPLAB}_edgetpu.tflite"))
    assert twin["edgetpu_compiled"] is True and twin["edgetpu"]["compiled"] is True
    truth = {k: v for k, v in twin["op_counts"].items() if k != "edgetpu-custom-op"}
    assert plain["edgetpu"]["cpu_ops"] == truth == twin["edgetpu"]["cpu_ops"]
    assert plain["edgetpu"]["first_unmapped"]["op"] == "RESIZE_BILINEAR"
    assert plain["min_runtime_version"] == "1.14.0"


def test_human_output(capsys):
    assert main(["inspect", str(model(f"{DEEPLAB}.tflite"))]) == 0
    out = capsys.readouterr().out
    assert "1x513x513x3" in out and "UINT8" in out and "scale 0.0078125, zero 128" in out
    assert "ArgMax" in out and "INT64" in out
    assert "first unmapped: #64 RESIZE_BILINEAR" in out
    assert "compiled  no" in out
    assert main(["inspect", str(model(f"{DEEPLAB}_edgetpu.tflite")), "--ops"]) == 0
    out = capsys.readouterr().out
    assert "compiled  yes" in out and "edgetpu-custom-op" in out
    assert "Operator placement" in out and "left on the CPU by edgetpu_compiler" in out


def test_rich_tables_on_a_terminal(capsys, monkeypatch, mobilenet_v2_quant):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["inspect", str(mobilenet_v2_quant)]) == 0
    out = capsys.readouterr().out
    assert "Inputs and outputs" in out and "DEPTHWISE_CONV_2D" in out and "\u2502" in out  # rich box drawing


def test_bundle_folder_and_tarball(capsys, tmp_path, mobilenet_v2_quant):
    labels = model("imagenet_labels.txt")
    b = write_bundle(
        tmp_path / "bundle", Manifest(task="classify", labels="labels.txt", name="mnv2"),
        files={"model.tflite": mobilenet_v2_quant, "labels.txt": labels},
    )
    d = run_json(capsys, b.root)
    assert d["bundle"]["task"] == "classify" and d["bundle"]["label_count"] == 1001
    assert d["bundle"]["name"] == "mnv2" and d["bundle"]["digest"] == b.digest
    assert d["inputs"][0]["shape"] == [1, 224, 224, 3]
    tgz = pack(b.root, tmp_path / "bundle.tar.gz")
    d2 = run_json(capsys, tgz)
    assert d2["bundle"]["digest"] == b.digest and d2["op_counts"] == d["op_counts"]
    assert main(["inspect", str(tgz)]) == 0
    assert "bundle" in capsys.readouterr().out


def test_bundle_with_edgetpu_model(capsys, tmp_path):
    stem = "mobilenet_v1_0.25_128_quant"
    b = write_bundle(
        tmp_path / "b", Manifest(task="classify", edgetpu_model="model_edgetpu.tflite"),
        files={"model.tflite": model(f"{stem}.tflite"), "model_edgetpu.tflite": model(f"{stem}_edgetpu.tflite")},
    )
    d = run_json(capsys, b.root)
    assert d["edgetpu_compiled"] is False
    assert d["bundle_edgetpu_model"]["edgetpu"]["compiled"] is True
    assert d["bundle_edgetpu_model"]["edgetpu"]["cpu_ops"] == {}


def _write(tmp_path, name, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


BAD = {
    "missing": (lambda tmp: tmp / "nope.tflite", "not found"),
    "empty": (lambda tmp: _write(tmp, "e.tflite", b""), "empty"),
    "random": (lambda tmp: _write(tmp, "r.tflite", np.random.default_rng(1).bytes(5000)), "not a TFLite model"),
    "h5": (lambda tmp: model("mobilenet_v2_1.0_224_float.h5"), "Keras HDF5 file, not TFLite"),
    "truncated": (
        lambda tmp: _write(tmp, "t.tflite", model(f"{DEEPLAB}.tflite").read_bytes()[:300_000]), "truncated or corrupt"
    ),
    "folder": (lambda tmp: tmp, "folder without manifest.json"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("as_json", [False, True])
def test_bad_input_is_one_line_exit_1(capsys, tmp_path, case, as_json):
    make, fragment = BAD[case]
    argv = ["inspect", str(make(tmp_path))] + (["--json"] if as_json else [])
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgesdk inspect: error:") and fragment in lines[0], err


def test_tampered_bundle_is_one_line_exit_1(capsys, tmp_path, mobilenet_v2_quant):
    b = write_bundle(tmp_path / "b", Manifest(task="classify"), files={"model.tflite": mobilenet_v2_quant})
    data = bytearray((b.root / "model.tflite").read_bytes())
    data[1000] ^= 0xFF
    (b.root / "model.tflite").write_bytes(bytes(data))
    assert main(["inspect", str(b.root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checksum mismatch" in err[0]


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["inspect"])
    assert e.value.code == 2


def test_console_script(tmp_path):
    exe = Path(sys.executable).parent / "edgesdk"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    plain, twin = model(f"{DEEPLAB}.tflite"), model(f"{DEEPLAB}_edgetpu.tflite")
    r = subprocess.run([str(exe), "inspect", str(plain), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    predicted = json.loads(r.stdout)["edgetpu"]
    r2 = subprocess.run([str(exe), "inspect", str(twin), "--json"], capture_output=True, text=True, timeout=120)
    ops = json.loads(r2.stdout)["operators"]
    assert predicted["cpu_ops"] == dict(Counter(o["op"] for o in ops if o["op"] != "edgetpu-custom-op"))
    bad = _write(tmp_path, "x.tflite", b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    r3 = subprocess.run([str(exe), "inspect", str(bad)], capture_output=True, text=True, timeout=120)
    assert r3.returncode == 1 and r3.stdout == ""
    assert r3.stderr.strip().splitlines() == [
        f"edgesdk inspect: error: {bad}: this is a Keras HDF5 file, not TFLite; convert it with `edgesdk convert`"
    ]
