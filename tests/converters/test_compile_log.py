"""edgetpu_compiler log parsing (real output formats) and the compile runner with a fake compiler on PATH."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edgesdk.cli import main
from edgesdk.converters import INSTALL_HINT, compile_model, parse_compiler_log
from edgesdk.testing import fake_edgetpu_compiler

# Formats as printed by edgetpu_compiler 15/16 (stdout with -s, and the <name>_edgetpu.log file).
ALL_MAPPED = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 1042 ms.

Input model: {INPUT}
Input size: 3.44MiB
Output model: {OUTPUT}
Output size: 3.70MiB
On-chip memory used for caching model parameters: 3.42MiB
On-chip memory remaining for caching model parameters: 4.31MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 72
Operation log: {LOG}

Operator                       Count      Status

ADD                            10         Mapped to Edge TPU
CONV_2D                        36         Mapped to Edge TPU
DEPTHWISE_CONV_2D              17         Mapped to Edge TPU
FULLY_CONNECTED                1          Mapped to Edge TPU
MEAN                           1          Mapped to Edge TPU
QUANTIZE                       2          Mapped to Edge TPU
SOFTMAX                        1          Mapped to Edge TPU
PAD                            4          Mapped to Edge TPU
Compilation child process completed within timeout period.
Compilation succeeded!
"""

PARTIAL = """Edge TPU Compiler version 2.1.302470888

Model compiled successfully in 347 ms.

Input model: models/deeplab_take2.tflite
Input size: 2.55MiB
Output model: deeplab_take2_edgetpu.tflite
Output size: 2.53MiB
On-chip memory used for caching model parameters: 187.00KiB
On-chip memory remaining for caching model parameters: 6.83MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 113
Operation log: deeplab_take2_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of the model will instead run on the CPU, which is slower. If possible, consider updating your model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 26
Number of operations that will run on CPU: 87

Operator                       Count      Status

CONCATENATION                  1          More than one subgraph is not supported
MUL                            10         More than one subgraph is not supported
QUANTIZE                       1          Mapped to Edge TPU
QUANTIZE                       1          More than one subgraph is not supported
DEPTHWISE_CONV_2D              13         More than one subgraph is not supported
DEPTHWISE_CONV_2D              4          Tensor has unsupported rank (up to 3 innermost dimensions mapped)
CONV_2D                        25         Mapped to Edge TPU
CONV_2D                        30         More than one subgraph is not supported
RESIZE_BILINEAR                2          Operation is otherwise supported, but not mapped due to some unspecified limitation
ADD                            26         More than one subgraph is not supported
"""

STREAMING = """Edge TPU Compiler version 15.0.340273435

Model compiled successfully in 1379 ms.

Input model: model.tflite
Input size: 4.41MiB
Output model: model_edgetpu.tflite
Output size: 5.49MiB
On-chip memory used for caching model parameters: 1.92MiB
On-chip memory remaining for caching model parameters: 1.75KiB
Off-chip memory used for streaming uncached model parameters: 3.23MiB
Number of Edge TPU subgraphs: 1
Total number of operations: 136
Operation log: model_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of the model will instead run on the CPU, which is slower. If possible, consider updating your model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 135
Number of operations that will run on CPU: 1

Operator                       Count      Status

RESHAPE                        15         Mapped to Edge TPU
CONCATENATION                  3          Mapped to Edge TPU
MAX_POOL_2D                    3          Mapped to Edge TPU
ADD                            10         Mapped to Edge TPU
CUSTOM                         1          Operation is working on an unsupported data type
CONV_2D                        104        Mapped to Edge TPU
"""

# The .log file: no summary, just header and table (as in google-coral/edgetpu#393).
LOG_FILE = """Edge TPU Compiler version 15.0.340273435
Input: {INPUT}
Output: {OUTPUT}

Operator                       Count      Status

TRANSPOSE_CONV                 2          Operation version not supported
CONV_2D                        20         Mapped to Edge TPU
LOGISTIC                       1          More than one subgraph is not supported
"""

FAILED = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.
ERROR: Restored original execution plan after delegate application failure.
Compilation failed: Compilation failed due to large activation tensors in model.
Compilation child process completed within timeout period.
Compilation failed!
"""


def test_parse_all_mapped():
    log = parse_compiler_log(ALL_MAPPED)
    assert log.version == "16.0.384591198"
    assert log.compile_ms == 1042 and log.success
    assert log.on_chip_used_bytes == round(3.42 * 2**20)
    assert log.on_chip_remaining_bytes == round(4.31 * 2**20)
    assert log.off_chip_used_bytes == 0
    assert log.subgraphs == 1 and log.total_ops == 72
    assert log.edgetpu_ops == 72 and log.cpu_ops == 0  # no "will run on" lines when everything maps
    assert [r.op for r in log.operators][:3] == ["ADD", "CONV_2D", "DEPTHWISE_CONV_2D"]
    assert sum(r.count for r in log.operators) == 72
    assert log.first_unmapped is None


def test_parse_partial_mapping_statuses():
    log = parse_compiler_log(PARTIAL)
    assert (log.edgetpu_ops, log.cpu_ops, log.total_ops) == (26, 87, 113)
    assert log.on_chip_used_bytes == 187 * 1024
    statuses = {r.status for r in log.operators}
    assert "More than one subgraph is not supported" in statuses
    assert "Tensor has unsupported rank (up to 3 innermost dimensions mapped)" in statuses
    assert "Operation is otherwise supported, but not mapped due to some unspecified limitation" in statuses
    assert sum(r.count for r in log.operators if r.mapped) == 26
    assert sum(r.count for r in log.operators if not r.mapped) == 87
    assert log.first_unmapped == {"op": "CONCATENATION", "status": "More than one subgraph is not supported"}
    d = log.to_dict()
    assert d["operators"][2] == {"op": "QUANTIZE", "count": 1, "status": "Mapped to Edge TPU", "mapped": True}
    json.dumps(d)


def test_parse_off_chip_streaming():
    log = parse_compiler_log(STREAMING)
    assert log.off_chip_used_bytes == round(3.23 * 2**20)
    assert log.on_chip_remaining_bytes == round(1.75 * 1024)
    assert (log.edgetpu_ops, log.cpu_ops) == (135, 1)
    assert log.first_unmapped["status"] == "Operation is working on an unsupported data type"


def test_parse_log_file_table_only():
    log = parse_compiler_log(LOG_FILE.format(INPUT="m.tflite", OUTPUT="m_edgetpu.tflite"))
    assert log.input_model == "m.tflite" and log.output_model == "m_edgetpu.tflite"
    assert (log.total_ops, log.edgetpu_ops, log.cpu_ops) == (23, 20, 3)
    assert log.first_unmapped == {"op": "TRANSPOSE_CONV", "status": "Operation version not supported"}


def test_parse_failure():
    log = parse_compiler_log(FAILED)
    assert not log.success
    assert any("large activation tensors" in e for e in log.errors)


# ---------------------------------------------------------------------------------------------- runner
@pytest.fixture()
def twin(models_dir):
    return models_dir / "mobilenet_v1_0.25_128_quant.tflite", models_dir / "mobilenet_v1_0.25_128_quant_edgetpu.tflite"


@pytest.fixture()
def fake_path(tmp_path, monkeypatch):
    def install(compiled, stdout=ALL_MAPPED, logfile=LOG_FILE, exit_code=0):
        bindir = tmp_path / "bin"
        fake_edgetpu_compiler(bindir, compiled_model=compiled, stdout=stdout, logfile=logfile, exit_code=exit_code)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
        return bindir
    return install


def _bundle(tmp_path, model: Path) -> Path:
    from edgesdk.bundle import InputSpec, Manifest, write_bundle

    out = tmp_path / "bundle"
    write_bundle(out, Manifest(task="classify", input=InputSpec(raw=True)),
                 {"model.tflite": model, "report.json": b'{"name": "m"}\n'})
    return out


def test_compile_bundle_with_fake_compiler(tmp_path, twin, fake_path, capsys):
    cpu, compiled = twin
    fake_path(compiled)
    b = _bundle(tmp_path, cpu)
    assert main(["compile", str(b), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["compiled"] is True
    assert rep["compiler"]["version"] == "16.0.384591198" and rep["compiler"]["edgetpu_ops"] == 72
    assert rep["predicted"]["cpu_ops"] == {} and sum(rep["predicted"]["mapped_ops"].values()) == 31
    from edgesdk.bundle import load_bundle

    bundle = load_bundle(b)  # checksums verified
    assert bundle.manifest.edgetpu_model == "model_edgetpu.tflite"
    assert bundle.edgetpu_model_path.read_bytes() == compiled.read_bytes()
    report = json.loads((b / "report.json").read_text())
    assert report["edgetpu"]["compiler"]["on_chip_used_bytes"] == round(3.42 * 2**20)


def test_compile_tflite_file_into_dir(tmp_path, twin, fake_path, capsys):
    cpu, compiled = twin
    fake_path(compiled)
    out = tmp_path / "out"
    assert main(["compile", str(cpu), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "72 ops on the Edge TPU" in text and "Mapped to Edge TPU" in text
    assert (out / "mobilenet_v1_0.25_128_quant_edgetpu.tflite").read_bytes() == compiled.read_bytes()
    assert (out / "mobilenet_v1_0.25_128_quant_edgetpu.log").is_file()


def test_compiler_failure_is_one_line(tmp_path, twin, fake_path, capsys):
    cpu, compiled = twin
    fake_path(compiled, stdout=FAILED, exit_code=1)
    b = _bundle(tmp_path, cpu)
    before = sorted(p.name for p in b.iterdir())
    assert main(["compile", str(b)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "large activation tensors" in err[0]
    assert sorted(p.name for p in b.iterdir()) == before  # bundle untouched


def test_compiler_absent_keeps_model_and_says_how_to_install(tmp_path, twin, monkeypatch, capsys):
    cpu, _ = twin
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    b = _bundle(tmp_path, cpu)
    before = {p.name: p.read_bytes() for p in b.iterdir()}
    rep = compile_model(b)
    assert rep.compiled is False and rep.note == INSTALL_HINT and rep.compiler is None and rep.outputs == ()
    assert "apt-get install edgetpu-compiler" in rep.note
    assert rep.predicted is not None and sum(rep.predicted["mapped_ops"].values()) == 31
    assert rep.to_dict() == {"model": str(b), "predicted": rep.predicted, "compiled": False, "note": INSTALL_HINT}
    assert {p.name: p.read_bytes() for p in b.iterdir()} == before


def test_compile_rejects_non_tflite(tmp_path, capsys):
    bad = tmp_path / "m.tflite"
    bad.write_bytes(b"not a model at all")
    assert main(["compile", str(bad)]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
