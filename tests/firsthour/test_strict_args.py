"""Issue 18, consistent strict arguments: validation before work, bounded numbers, corrupt inputs named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from _paths import IMAGES, MODELS, TESTDATA
from edgesdk.cli import main

MOBILENET = MODELS / "mobilenet_v2_1.0_224_quant.tflite"
SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"
IMAGENET = TESTDATA / "imagenet-500"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _no_tf(*argv) -> tuple[int, str, bool]:
    """Run the CLI in a fresh interpreter: (exit code, stderr, whether TensorFlow got imported)."""
    code = ("import sys\nfrom edgesdk.cli import main\nrc = main(sys.argv[1:])\n"
            "print('TF' if 'tensorflow' in sys.modules else 'noTF')\nsys.exit(rc)\n")
    p = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stderr, p.stdout.strip().endswith("noTF")


@pytest.mark.parametrize("argv,message", [
    (["convert", "/nope.h5", "-o", "{tmp}/d"], "model not found: /nope.h5"),
    (["convert", IMAGES / "face.jpg", "-o", "{tmp}/d"], "face.jpg is not a Keras model"),
    (["convert", MOBILENET, "-o", "{tmp}/d"], "is already quantized"),  # a float .tflite would be quantized
    (["eval", IMAGES / "face.jpg", "--data", IMAGENET], "face.jpg is not a Keras model"),
])
def test_model_checked_before_tensorflow(tmp_path, argv, message):
    code, err, no_tf = _no_tf(*[str(a).replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 1 and message in err and err.count("\n") == 1, err
    assert no_tf, "TensorFlow was imported before the model was rejected"
    assert not (tmp_path / "d").exists()


def test_convert_unwritable_output_fails_before_converting(tmp_path):
    if not shutil.which("chattr"):
        pytest.skip("chattr (e2fsprogs) not installed")
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not supported here")
    try:
        code, err, no_tf = _no_tf("convert", MODELS / "mobilenet_v2_1.0_224_float.h5", "-o", ro / "out",
                                  "--calib-data", IMAGENET)
    finally:
        subprocess.run(["chattr", "-i", str(ro)], check=False)
    assert code == 1 and "cannot write" in err and str(ro / "out") in err, err
    assert no_tf and ".tmp" not in err


def test_classify_truncated_jpeg_names_the_file(capsys, tmp_path):
    cut = tmp_path / "cut.jpg"
    data = (IMAGES / "face.jpg").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    code, out, err = run(capsys, "classify", MOBILENET, cut)
    assert code == 1 and "cut.jpg is truncated" in err and out == ""


def _imagenet_with_bad(tmp_path: Path, n_bad: int) -> Path:
    d = tmp_path / f"data{n_bad}"
    d.mkdir()
    for f in sorted(IMAGENET.iterdir())[:40]:
        (d / f.name).symlink_to(f)
    for f in sorted(IMAGENET.iterdir())[40:40 + n_bad]:
        (d / f.name).write_bytes(f.read_bytes()[:2000])  # truncated
    shutil.copy(MODELS / "imagenet_wnids.txt", d / "imagenet_wnids.txt")
    return d


def test_eval_skips_and_counts_unreadable_images(capsys, tmp_path):
    d = _imagenet_with_bad(tmp_path, 2)
    code, out, err = run(capsys, "eval", MOBILENET, "--data", d, "--json")  # wnids found in the folder
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 40 and len(res["skipped"]) == 2
    d = _imagenet_with_bad(tmp_path, 10)
    code, out, err = run(capsys, "eval", MOBILENET, "--data", d)
    assert code == 1 and "10 of 50 evaluation images could not be read" in err


def test_eval_finds_wnids_beside_the_model(capsys, tmp_path):
    d = tmp_path / "flat"
    d.mkdir()
    for f in sorted(IMAGENET.iterdir())[:5]:
        (d / f.name).symlink_to(f)
    code, out, err = run(capsys, "eval", MOBILENET, "--data", d, "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 5


@pytest.mark.parametrize("argv", [
    ["classify", MOBILENET, IMAGES / "face.jpg", "--threshold", "5"],
    ["classify", MOBILENET, IMAGES / "face.jpg", "-k", "0"],
    ["classify", MOBILENET, IMAGES / "face.jpg", "--threads", "0"],
    ["eval", MOBILENET, "--data", IMAGENET, "--limit", "0"],
    ["eval", MOBILENET, "--data", IMAGENET, "--limit", "-3"],
    ["compile", MOBILENET, "--num-segments", "1000"],
    ["bench", MOBILENET, "--seconds", "100000"],
])
def test_numbers_out_of_range_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    assert e.value.code == 2 and "expected" in capsys.readouterr().err


def test_bundle_refuses_what_cannot_be_right(capsys, tmp_path, caplog):
    code, _, err = run(capsys, "bundle", MOBILENET, "-o", tmp_path / "b.zip")
    assert code == 1 and "folder or a .tar.gz" in err and not (tmp_path / "b.zip").exists()
    code, _, err = run(capsys, "bundle", MOBILENET, "-o", tmp_path / "b", "--task", "detect")
    assert code == 1 and "--task detect does not fit" in err and not (tmp_path / "b").exists()
    code, _, err = run(capsys, "bundle", MOBILENET, "-o", tmp_path / "b", "--label-offset", "-5000")
    assert code == 1 and "--label-offset -5000" in err
    labels = tmp_path / "l80.txt"
    labels.write_text("\n".join(f"c{i}" for i in range(80)) + "\n")
    code, _, err = run(capsys, "bundle", MOBILENET, "-o", tmp_path / "b", "--labels", labels)
    assert code == 0 and "has 80 lines" in caplog.text and "1001 classes" in caplog.text
    code, _, err = run(capsys, "bundle", SSD, "-o", tmp_path / "d.tar.gz", "--label-offset", "-1")
    assert code == 0, err


def test_inspect_tar_gz_and_post_process_shapes(capsys, tmp_path):
    assert run(capsys, "bundle", SSD, "-o", tmp_path / "b.tar.gz")[0] == 0
    code, out, _ = run(capsys, "inspect", tmp_path / "b.tar.gz")
    assert code == 0 and "edgesdk-bundle-" not in out and "/tmp/" not in out.replace(str(tmp_path), "")
    assert "scalar" not in out and "1x10x4" in out
    code, out, _ = run(capsys, "inspect", tmp_path / "b.tar.gz", "--json")
    d = json.loads(out)
    assert [t["shape"] for t in d["outputs"]] == [[1, 10, 4], [1, 10], [1, 10], [1]]
    assert d["bundle"]["root"] == str(tmp_path / "b.tar.gz")
    with tarfile.open(tmp_path / "b.tar.gz") as t:
        assert "model.tflite" in [Path(n).name for n in t.getnames()]


def test_messages_name_the_users_file_not_ours(capsys, tmp_path):
    binary = tmp_path / "labels.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    code, _, err = run(capsys, "classify", MOBILENET, IMAGES / "face.jpg", "--labels", binary)
    assert code == 1 and f"labels file {binary} is not UTF-8 text" in err
    code, _, err = run(capsys, "bundle", MOBILENET, "-o", tmp_path / "b", "--labels", binary)
    assert code == 1 and "not UTF-8 text" in err and "Error" not in err
    code, _, err = run(capsys, "bundle", MOBILENET, "-o", "/proc/edgesdk-test")
    assert code == 1 and "cannot write /proc/edgesdk-test" in err and ".tmp" not in err
