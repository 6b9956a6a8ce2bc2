"""Issue 18, wrong results: softmax decided from the graph, task checks, messages that said None."""

from __future__ import annotations

import json

import pytest

from _paths import IMAGES, MODELS
from edgesdk.cli import main

MOBILENET = MODELS / "mobilenet_v2_1.0_224_quant.tflite"
DEEPLAB = MODELS / "deeplabv3_mnv2_dm05_pascal_quant.tflite"
SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_final_activation_read_from_graph():
    from edgesdk.tflite import classifier_decoder, final_activation, read_model

    assert final_activation(read_model(MOBILENET)) == "SOFTMAX"
    assert classifier_decoder(read_model(MOBILENET)) == "softmax"
    assert final_activation(read_model(DEEPLAB)) is None
    assert final_activation(read_model(MODELS / "selfie_segmentation.tflite")) == "LOGISTIC"


def test_classify_reports_the_models_own_probability(capsys):
    """The uint8 softmax sums to 0.76; a second softmax flattened the top score to 0.0011."""
    from edgesdk.runtime import load, read_image

    m = load(MOBILENET)
    raw = m.run(read_image(IMAGES / "face.jpg"))[0].reshape(-1)
    code, out, _ = run(capsys, "classify", MOBILENET, IMAGES / "face.jpg", "--json", "-k", "1")
    assert code == 0
    top = json.loads(out)["results"][0]["classes"][0]
    assert top["score"] == pytest.approx(float(raw.max()), abs=1e-4) and top["score"] > 0.05
    code, out, _ = run(capsys, "classify", MOBILENET, IMAGES / "face.jpg", "--json", "--threshold", "0.05")
    assert code == 0 and json.loads(out)["results"][0]["classes"]


def test_bundle_records_the_softmax(capsys, tmp_path):
    code, out, _ = run(capsys, "bundle", MOBILENET, "-o", tmp_path / "b", "--json")
    assert code == 0
    assert json.loads(out)["manifest"]["output"]["decoder"] == "softmax"


def test_old_bundle_saying_logits_is_read_from_the_graph(tmp_path):
    from edgesdk.bundle import make_bundle
    from edgesdk.runtime import load

    b = make_bundle(MOBILENET, tmp_path / "b")
    path = b.root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["output"]["decoder"] = "logits"  # what bundles made before this fix say
    path.write_text(json.dumps(manifest))
    assert load(b.root).output_spec.decoder == "softmax"


@pytest.mark.parametrize("model,kind", [(DEEPLAB, "segmentation"), (SSD, "detection")])
def test_classify_refuses_other_tasks(capsys, model, kind):
    code, out, err = run(capsys, "classify", model, IMAGES / "cat.bmp")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"is a {kind} model" in err and model.name in err


@pytest.mark.parametrize("model,kind", [(DEEPLAB, "segmentation"), (SSD, "detection")])
def test_eval_refuses_other_tasks(capsys, model, kind):
    code, out, err = run(capsys, "eval", model, "--data", MODELS.parent / "imagenet-500",
                         "--wnids", MODELS / "imagenet_wnids.txt", "--limit", "2")
    assert code == 1 and f"is a {kind} model" in err and err.strip().count("\n") == 0


def _install(capsys, tmp_path, *extra):
    (tmp_path / "current").mkdir(exist_ok=True)
    return run(capsys, "service", "install", "--bundle", tmp_path / "current", "--source", "0",
               "--unit-file", tmp_path / "u.service", "--systemctl", "true", *extra)


def test_service_install_refuses_a_command_that_would_crash_loop(capsys, tmp_path):
    # the README's example before the fix: anonymize -o events.jsonl fails at every start
    code, _, err = _install(capsys, tmp_path, "--out", tmp_path / "events.jsonl")
    assert code == 1 and "unsupported output extension .jsonl" in err and "--events" in err
    assert err.startswith("edgesdk service: error:") and not (tmp_path / "u.service").exists()
    code, _, err = _install(capsys, tmp_path, "--", "--mode", "smudge")
    assert code == 1 and "invalid choice: 'smudge'" in err and not (tmp_path / "u.service").exists()
    code, out, err = _install(capsys, tmp_path, "--", "--events", tmp_path / "events.jsonl")
    assert code == 0 and (tmp_path / "u.service").exists(), err


def test_readme_service_example_is_valid(capsys, tmp_path):
    import shlex

    from _paths import REPO

    lines = [ln for ln in (REPO / "README.md").read_text().splitlines() if "edgesdk service install" in ln
             and "--bundle /opt" in ln]
    assert lines
    for line in lines:
        argv = shlex.split(line.split("#")[0])
        argv = argv[argv.index("install") + 1:]
        argv[argv.index("--bundle") + 1] = str(tmp_path / "current")
        argv = [a.replace("/var/lib/edgesdk", str(tmp_path)) for a in argv]
        (tmp_path / "current").mkdir(exist_ok=True)
        code, _, err = run(capsys, "service", "install", "--unit-file", tmp_path / "u.service",
                           "--systemctl", "true", *argv)
        assert code == 0, err


def test_mapping_summary_never_says_none():
    from edgesdk.converters import mapping_summary

    pred = {"compiled": False, "mapped_ops": {"CONV_2D": 5}, "cpu_ops": {"QUANTIZE": 2}, "first_unmapped": None}
    text = mapping_summary(pred)
    assert "None" not in text and "2 on the CPU" in text and "QUANTIZE x2" in text
