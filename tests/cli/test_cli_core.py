"""doctor / classify / detect / bundle through main() and through the installed console script."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgesdk.cli import main

EDGESDK = Path(sys.executable).with_name("edgesdk")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        main(["classify", "--help"])
    assert e.value.code == 0
    assert "(default: 5)" in capsys.readouterr().out


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["classify"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code == 2


def test_doctor_json(capsys):
    code, out, _ = run(capsys, "doctor", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["backend"]["name"] == "ai_edge_litert"
    assert report["edgetpu"]["library_name"] == "libedgetpu.so.1"
    assert report["edgetpu_compiler"]["path"] is None or Path(report["edgetpu_compiler"]["path"]).exists()
    assert "opencv" in report["camera"]
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and "interpreter backend : ai_edge_litert" in out


def test_classify_military_uniform(capsys, mobilenet_v2_quant, grace_hopper):
    code, out, _ = run(capsys, "classify", mobilenet_v2_quant, grace_hopper, "--json", "-k", "3")
    assert code == 0
    res = json.loads(out)["results"][0]["classes"]
    assert res[0]["label"] == "military uniform" and len(res) == 3
    code, out, _ = run(capsys, "classify", mobilenet_v2_quant, grace_hopper)
    assert code == 0 and out.splitlines()[1].split("  ")[2] == "military uniform"


def test_classify_bad_inputs_one_line(capsys, tmp_path, mobilenet_v2_quant, grace_hopper):
    code, _, err = run(capsys, "classify", mobilenet_v2_quant, tmp_path / "missing.jpg")
    assert code == 1 and err.count("\n") == 1 and "image not found" in err
    (tmp_path / "x.jpg").write_bytes(b"not an image")
    code, _, err = run(capsys, "classify", mobilenet_v2_quant, tmp_path / "x.jpg")
    assert code == 1 and "cannot read" in err
    code, _, err = run(capsys, "classify", tmp_path / "none.tflite", grace_hopper)
    assert code == 1 and "not found" in err and "Traceback" not in err


def test_detect_json_and_annotate(capsys, tmp_path, ssd_model, images_dir):
    out_img = tmp_path / "boxes.jpg"
    code, out, _ = run(capsys, "detect", ssd_model, images_dir / "kite_and_cold.jpg", "--threshold", "0.2",
                       "--annotate", out_img, "--json")
    assert code == 0
    res = json.loads(out)["results"][0]
    assert len(res["detections"]) >= 1 and out_img.stat().st_size > 1000
    import cv2

    assert cv2.imread(str(out_img)).shape[:2] == tuple(res["size"][::-1])


@pytest.mark.parametrize(
    "annotate,match",
    [("out.gif2", "unsupported image extension"), ("nodir/out.jpg", "does not exist")],
)
def test_detect_annotate_bad_outputs(capsys, tmp_path, ssd_model, images_dir, annotate, match):
    code, _, err = run(capsys, "detect", ssd_model, images_dir / "face.jpg", "--annotate", tmp_path / annotate)
    assert code == 1 and match in err


def test_detect_on_a_classifier_fails_clearly(capsys, mobilenet_v2_quant, grace_hopper):
    code, _, err = run(capsys, "detect", mobilenet_v2_quant, grace_hopper)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "is a classification model" in err and "not a detector" in err and "use edgesdk classify" in err


def test_bundle_then_classify_from_bundle(capsys, tmp_path, models_dir, grace_hopper):
    out = tmp_path / "mnv2"
    code, _, err = run(capsys, "bundle", models_dir / "mobilenet_v2_1.0_224_quant.tflite", "-o", out,
                       "--labels", models_dir / "imagenet_labels.txt", "--json")
    assert code == 0, err
    code, text, _ = run(capsys, "classify", out, grace_hopper, "--json")
    assert json.loads(text)["results"][0]["classes"][0]["label"] == "military uniform"


def test_bundle_bad_inputs(capsys, tmp_path, models_dir):
    (tmp_path / "random.tflite").write_bytes(b"\x01" * 64)
    code, _, err = run(capsys, "bundle", tmp_path / "random.tflite", "-o", tmp_path / "b")
    assert code == 1 and "not a TFLite" in err and not (tmp_path / "b").exists()
    code, _, err = run(capsys, "bundle", models_dir / "mobilenet_v2_1.0_224_quant.tflite", "-o", tmp_path / "c",
                       "--labels", tmp_path / "missing.txt")
    assert code == 1 and "labels file not found" in err and not (tmp_path / "c").exists()
    with pytest.raises(SystemExit) as e:
        main(["bundle", str(models_dir / "mobilenet_v2_1.0_224_quant.tflite"), "-o", "x", "--input-range", "1,0"])
    assert e.value.code == 2


def test_console_script_error_is_one_line(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    r = subprocess.run([str(EDGESDK), "classify", str(tmp_path / "m.h5"), "img.jpg"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
