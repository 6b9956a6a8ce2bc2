"""Issue 18 on the stream commands: anonymize --json lists the labels that exist, skipped images are named,
detect --annotate creates its folder, --threads is capped, anonymize's default output names."""

from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from _paths import IMAGES, MODELS

from edgesdk.cli import main

SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"
FACE = IMAGES / "face.jpg"

pytestmark = pytest.mark.skipif(not SSD.exists() or not FACE.exists(), reason="needs ../shared/testdata")


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def folder(tmp_path):
    """Two good images and two that cannot be read (a truncated JPEG, a text file named .png)."""
    d = tmp_path / "pics"
    d.mkdir()
    shutil.copy(FACE, d / "a.jpg")
    shutil.copy(FACE, d / "d.jpg")
    (d / "b.jpg").write_bytes(FACE.read_bytes()[:400])
    (d / "c.png").write_text("not a picture")
    return d


def _clip(path, n=3):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), i * 40, np.uint8))
    w.release()
    return path


def test_anonymize_json_lists_only_existing_labels_and_names_skipped_images(folder, tmp_path, capsys, caplog):
    rc, out, err = _run(capsys, "anonymize", folder, "-o", f"{tmp_path}/out/", "--json")
    assert rc == 0, err
    rep = json.loads(out)
    assert rep["labels"] == ["face"]
    assert rep["skipped"] == 2 and rep["skipped_files"] == ["b.jpg", "c.png"]
    assert "skipped" in caplog.text and "b.jpg" in caplog.text and "c.png" in caplog.text  # a warning naming each
    rc, out, err = _run(capsys, "anonymize", folder, "-o", f"{tmp_path}/out2/", "--detector", "face",
                        "--detector", SSD, "--classes", "0", "--json")
    assert rc == 0, err
    labels = json.loads(out)["labels"]
    assert labels[0] == "face" and len(labels) == 2, labels  # a bare .tflite has no labels: named once, not 2000 ids
    rc, out, err = _run(capsys, "anonymize", folder, "-o", f"{tmp_path}/out3/")
    assert rc == 0 and "skipped 2 (b.jpg, c.png)" in out


def test_detect_names_skipped_images(folder, capsys, caplog):
    rc, out, err = _run(capsys, "detect", SSD, folder, "--json")
    assert rc == 0, err
    assert json.loads(out)["skipped_files"] == ["b.jpg", "c.png"]
    assert "skipped" in caplog.text and "b.jpg" in caplog.text and "c.png" in caplog.text


def test_detect_annotate_creates_its_folder(tmp_path, capsys):
    out = tmp_path / "new" / "deeper"
    rc, _, err = _run(capsys, "detect", SSD, FACE, IMAGES / "cat.bmp", "--annotate", out)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["cat_detect.jpg", "face_detect.jpg"]
    (tmp_path / "file").write_text("x")
    rc, _, err = _run(capsys, "detect", SSD, FACE, "--annotate", f"{tmp_path / 'file'}/")
    assert rc == 1 and "is a file, not a folder" in err


@pytest.mark.parametrize("cmd", [["anonymize", "--tiles", "off"], ["detect", SSD]], ids=["anonymize", "detect"])
def test_threads_capped_at_the_cores(tmp_path, capsys, caplog, cmd):
    clip = _clip(tmp_path / "clip.avi")
    cores = os.cpu_count() or 1
    rc, out, err = _run(capsys, cmd[0], *cmd[1:], clip, "-o", tmp_path / "o.mp4", "--threads", cores + 8)
    assert rc == 0, err
    assert f"--threads {cores + 8} capped at the {cores} core(s)" in caplog.text


def test_default_output_names(tmp_path, capsys, folder):
    clip = _clip(tmp_path / "clip.avi")
    rc, out, err = _run(capsys, "anonymize", clip, "--tiles", "off")
    assert rc == 0, err
    made = tmp_path / "clip_anonymized.avi"
    assert made.is_file() and cv2.VideoCapture(str(made)).get(cv2.CAP_PROP_FRAME_COUNT) == 3
    before = made.stat().st_mtime_ns
    rc, out, err = _run(capsys, "anonymize", clip, "--tiles", "off")
    assert rc == 1 and "clip_anonymized.avi exists" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert made.stat().st_mtime_ns == before  # not touched
    rc, out, err = _run(capsys, "anonymize", clip, "--tiles", "off", "--force")
    assert rc == 0 and made.stat().st_mtime_ns != before
    # one image -> <name>_anonymized.jpg beside it; a folder -> <folder>_anonymized/
    img = tmp_path / "me.jpg"
    shutil.copy(FACE, img)
    assert _run(capsys, "anonymize", img)[0] == 0 and (tmp_path / "me_anonymized.jpg").is_file()
    assert _run(capsys, "anonymize", folder)[0] == 0
    assert sorted(p.name for p in (tmp_path / "pics_anonymized").iterdir()) == ["a.jpg", "d.jpg"]
    # other outputs given: no default video
    rc, _, err = _run(capsys, "anonymize", img, "--events", tmp_path / "e.jsonl", "--force")
    assert rc == 0, err
    # a camera or the demo has no name to derive from: still an error
    rc, _, err = _run(capsys, "anonymize", "demo")
    assert rc == 1 and "nothing to write" in err
