"""The converters' result types (ConvertReport, StepTable, CompileReport) and the float .tflite conversion run as a
one-step recipe through the same runner as every recipe."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from _paths import MODELS

from edgesdk.converters import (
    CompileLog,
    CompileReport,
    ConvertOptions,
    ConvertReport,
    FloatTfliteStep,
    Recipe,
    Step,
    StepTable,
    convert,
    import_tf,
    parse_compiler_log,
    render_report_md,
    run_recipe,
)
from edgesdk.converters.recipes import DataSection, DistributeSection, ModelSection, ReportSection
from edgesdk.errors import MissingExtraError

REPORT = {  # report.json of a single Keras conversion, as ConvertStep writes it (abridged)
    "name": "tiny",
    "source": {"model": "tiny.h5", "flavor": "tf_keras", "input_shape": [None, 32, 32, 3]},
    "quantization": {"mode": "int8", "io": "uint8", "calibration": "minmax", "calib_images": 12},
    "conversion_seconds": 1.25,
    "size": {"model.tflite": 2824, "float32 reference": 9000, "ratio": 0.3138},
    "latency_ms": {"model.tflite": {"median": 0.5, "p90": 0.7, "runs": 5, "threads": 1},
                   "float32 reference": {"median": 0.9, "p90": 1.1, "runs": 5, "threads": 1}},
    "accuracy": {"data": "d", "n": 18, "skipped": ["d/x.png"], "agreement": 0.9,
                 "keras": {"top1": 0.5, "top5": 1.0}, "tflite": {"top1": 0.45, "top5": 1.0}},
    "edgetpu": {"predicted": {"compiled": False, "mapped_ops": {"CONV_2D": 2}, "cpu_ops": {"DEQUANTIZE": 1},
                              "first_unmapped": None}},
    "warnings": ["input range not known"],
}


def test_convert_report_typed_fields_and_summary():
    rep = ConvertReport.from_report(REPORT, "out/b")
    assert (rep.name, rep.quantize, rep.io, rep.model_bytes, rep.conversion_seconds) == ("tiny", "int8", "uint8",
                                                                                          2824, 1.25)
    assert [m.model for m in rep.latency] == ["model.tflite", "float32 reference"] and rep.latency[0].median_ms == 0.5
    assert rep.accuracy is not None and rep.accuracy.tflite_top1 == 0.45 and rep.accuracy.skipped == ("d/x.png",)
    assert rep.steps is None and rep.warnings == ("input range not known",)
    assert rep.to_dict() == REPORT and rep.to_dict() is not rep.report  # a copy: the report stays as written
    lines, warnings = rep.summary()
    assert lines == [
        "wrote out/b: int8 (uint8 I/O), 2824 bytes, converted in 1.2 s",
        "  CPU latency model.tflite: 0.50 ms (1 thread, median of 5)",
        "  CPU latency float32 reference: 0.90 ms (1 thread, median of 5)",
        "  agreement with Keras: 90.00% on 18 images (1 unreadable skipped); top-1 Keras 50.00%, TFLite 45.00%",
        "  Edge TPU (predicted): 2 op(s) on the Edge TPU, 1 on the CPU (DEQUANTIZE x1)",
    ]
    assert warnings == ["warning: input range not known"]
    with pytest.raises(AttributeError):
        rep.name = "x"  # type: ignore[misc]


def test_ties_of_an_integer_top_score_are_counted_and_said():
    from edgesdk.converters import tied_disagreements

    keras = np.array([[0.1, 0.6, 0.3], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.5, 0.4, 0.1]])
    tflite = np.array([[0.5, 0.5, 0.0],   # tie at the top with Keras's class 1: index order picks 0 -> counted
                       [0.7, 0.2, 0.1],   # agrees
                       [0.6, 0.0, 0.4],   # a plain disagreement
                       [0.5, 0.5, 0.0]])  # a tie, but the index order picks Keras's class: agrees
    assert tied_disagreements(keras, tflite) == 1
    report = {**REPORT, "accuracy": {**REPORT["accuracy"], "tied_disagreements": 1}}
    rep = ConvertReport.from_report(report, "out/b")
    assert rep.accuracy is not None and rep.accuracy.tied_disagreements == 1
    assert rep.summary()[0][3].endswith("; 1 of the 2 disagreements are ties of TFLite's top score that include "
                                        "Keras's class")
    assert ConvertReport.from_report(REPORT, "out/b").accuracy.tied_disagreements == 0  # type: ignore[union-attr]


def test_step_table_columns():
    rows = ({"step": "ft", "kind": "finetune", "top1": 0.8, "bytes": 100, "gzip_bytes": 90, "sparsity_conv": 0.0,
             "latency_ms": 1.5, "seconds": 12.0, "file": "model_float.tflite"},
            {"step": "q", "kind": "quantize", "top1": 0.79, "bytes": 30, "gzip_bytes": 25, "sparsity_conv": 0.5})
    t = StepTable(rows)
    assert len(t) == 2 and t.step.tolist() == ["ft", "q"] and t.kind.tolist() == ["finetune", "quantize"]
    assert t.top1.dtype == np.float64 and t.top1.tolist() == [0.8, 0.79]
    assert t.bytes.dtype == np.int64 and t.bytes.tolist() == [100, 30]
    assert np.isnan(t.latency_ms[1]) and np.isnan(t.seconds[1]) and t.sparsity_conv[1] == 0.5
    assert "| q | quantize | 79.00% |" in t.to_markdown()
    assert t.to_list() == [dict(r) for r in rows]
    rep = ConvertReport.from_report({"name": "r", "quantization": {"mode": "int8"}, "size": {"model.tflite": 30},
                                     "steps": list(rows)}, "out")
    assert rep.steps is not None and rep.steps.step.tolist() == ["ft", "q"] and rep.io is None


def test_compile_report_json_keys_and_summary():
    log = parse_compiler_log("Edge TPU Compiler version 16.0\nModel compiled successfully in 40 ms.\n"
                             "Number of Edge TPU subgraphs: 1\nTotal number of operations: 3\n\n"
                             "Operator                       Count      Status\n\n"
                             "CONV_2D                        2          Mapped to Edge TPU\n"
                             "SOFTMAX                        1          Mapped to Edge TPU\n")
    assert isinstance(log, CompileLog)
    rep = CompileReport("m.tflite", {"compiled": False, "mapped_ops": {"CONV_2D": 2, "SOFTMAX": 1}, "cpu_ops": {}},
                        compiled=True, compiler=log, bundle="b", outputs=("b/model_edgetpu.tflite",))
    d = rep.to_dict()
    assert list(d) == ["model", "predicted", "compiled", "compiler", "bundle", "outputs"]  # the order --json had
    assert d["compiler"]["edgetpu_ops"] == 3 and d["outputs"] == ["b/model_edgetpu.tflite"]
    lines, notes = rep.summary()
    assert lines[0] == "predicted: 3 op(s) on the Edge TPU, 0 on the CPU" and notes == []
    assert lines[1].startswith("edgetpu_compiler 16.0: 3 of 3 ops on the Edge TPU, 1 subgraph(s)")
    assert lines[-1] == "wrote b/model_edgetpu.tflite"
    absent = CompileReport("m.tflite", None, note="install it")
    assert absent.to_dict() == {"model": "m.tflite", "predicted": None, "compiled": False, "note": "install it"}
    assert absent.summary() == ([], ["install it"])


# ---------------------------------------------------------------------------------------------- a float .tflite
@pytest.fixture(scope="module")
def float_tflite(tmp_path_factory):
    """A tiny float .tflite and a folder of 6 calibration photos."""
    try:
        tf = import_tf()
    except MissingExtraError as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("ftfl")
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32))

    def fn(x):
        return tf.nn.softmax(tf.reshape(tf.reduce_mean(tf.nn.conv2d(x, w, 2, "SAME"), [1, 2]), (1, 4)))

    cf = tf.function(fn).get_concrete_function(tf.TensorSpec((1, 24, 24, 3), tf.float32))
    (root / "m.tflite").write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([cf]).convert())
    (root / "calib").mkdir()
    for i in range(6):
        cv2.imwrite(str(root / "calib" / f"{i}.png"), rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    return root


def _untimed(d):
    """``d`` without its "seconds" entries (at any depth): what two runs of one conversion share."""
    return {k: _untimed(v) if isinstance(v, dict) else v for k, v in d.items() if k != "seconds"}


def test_float_tflite_is_a_step_of_the_recipe_runner(float_tflite, tmp_path):
    """convert(MODEL.tflite) returns the ConvertReport of its bundle; the same step run by run_recipe (the runner
    of every recipe, keeping its work folder) writes the same model and report the same way."""
    opts = ConvertOptions(calib_data=str(float_tflite / "calib"), calib_images=8, input_range=(0.0, 1.0),
                          latency_runs=0, edgetpu=True)
    rep = convert(float_tflite / "m.tflite", tmp_path / "a", opts)
    assert isinstance(rep, ConvertReport) and rep.out == tmp_path / "a"
    assert (rep.quantize, rep.io, rep.steps) == ("int8", "uint8", None)
    on_disk = json.loads((tmp_path / "a" / "report.json").read_text())
    assert rep.model_bytes == (tmp_path / "a" / "model.tflite").stat().st_size == on_disk["size"]["model.tflite"]
    assert json.loads(json.dumps(rep.to_dict())) == on_disk  # --json prints what report.json holds
    assert (tmp_path / "a" / "report.md").read_text() == render_report_md(on_disk)

    work = tmp_path / "work"
    recipe = Recipe(work / "m.recipe", ModelSection(base="m"), DataSection(train=None), DistributeSection(),
                    ReportSection(latency_runs=0), [Step("float-tflite", "convert", None,
                                                         FloatTfliteStep(str(float_tflite / "m.tflite"), opts))])
    again = run_recipe(recipe, tmp_path / "b", work_dir=work)
    record = json.loads((work / "convert" / "step.json").read_text())  # the runner's record of the step
    assert record["report"]["source"]["flavor"] == "tflite" and Path(record["tflite"]).is_file()
    assert (tmp_path / "b" / "model.tflite").read_bytes() == (tmp_path / "a" / "model.tflite").read_bytes()
    assert _untimed(again.to_dict()["quantization"]) == _untimed(rep.to_dict()["quantization"])
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["source"]["from"] == "tflite" and manifest["output"]["decoder"] == "raw"


def test_float_tflite_step_checks_before_any_work(tmp_path):
    step = FloatTfliteStep(str(MODELS / "mobilenet_v1_0.25_128_quant.tflite"), ConvertOptions(calib_data=str(tmp_path)))
    from edgesdk.errors import EdgeSDKError

    with pytest.raises(EdgeSDKError, match="already quantized"):
        step.validate(None, [], "convert")


def test_float_tflite_is_checked_once_per_convert(float_tflite, tmp_path, capsys, monkeypatch):
    """`convert MODEL.tflite` reads the model and lists the calibration folder once: the step's validate checks
    (before any work) and hands what it found to the quantization."""
    from edgesdk.cli import main
    from edgesdk.converters import _from_tflite

    calls = {"check_float_tflite": 0, "scan_images": 0}

    def counted(name):
        real = getattr(_from_tflite, name)

        def spy(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(_from_tflite, name, spy)

    counted("check_float_tflite")
    counted("scan_images")
    rc = main(["convert", str(float_tflite / "m.tflite"), "--calib-data", str(float_tflite / "calib"),
               "--calib-images", "8", "--input-range", "0,1", "--latency-runs", "0", "-o", str(tmp_path / "o")])
    assert rc == 0, capsys.readouterr().err
    assert calls == {"check_float_tflite": 1, "scan_images": 1}
    assert json.loads((tmp_path / "o" / "report.json").read_text())["quantization"]["calibration"] == "minmax"
