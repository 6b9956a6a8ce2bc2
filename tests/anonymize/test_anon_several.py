"""Issue 18: several inputs in one call (``edgesdk anonymize a.avi b.jpg pics/``): one output per input with the
default names, all checked before the first input is processed, one summary per input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from _paths import IMAGES
from edgesdk.cli import main


def _run(capsys, *argv):
    rc = main(["anonymize", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def inputs(tmp_path) -> list[Path]:
    clip = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(3):
        w.write(np.full((48, 64, 3), i * 40, np.uint8))
    w.release()
    img = tmp_path / "me.jpg"
    shutil.copy(IMAGES / "face.jpg", img)
    pics = tmp_path / "pics"
    pics.mkdir()
    shutil.copy(IMAGES / "grace_hopper.bmp", pics / "g.bmp")
    return [clip, img, pics]


def test_several_inputs_default_names_json_and_force(tmp_path, capsys, inputs):
    rc, out, err = _run(capsys, *inputs, "--tiles", "off", "--json")
    assert rc == 0, err
    reports = json.loads(out)
    assert [Path(r["source"]).name for r in reports] == ["clip.avi", "me.jpg", "pics"]
    assert all(r["ok"] for r in reports) and [r["frames_written"] for r in reports] == [3, 1, 1]
    made = [tmp_path / "clip_anonymized.avi", tmp_path / "me_anonymized.jpg", tmp_path / "pics_anonymized" / "g.jpg"]
    assert all(p.is_file() for p in made)
    assert cv2.VideoCapture(str(made[0])).get(cv2.CAP_PROP_FRAME_COUNT) == 3
    before = [p.stat().st_mtime_ns for p in made]
    # again: the second input's output exists -> refused before the first input is touched
    (tmp_path / "clip_anonymized.avi").unlink()
    rc, out, err = _run(capsys, *inputs, "--tiles", "off")
    assert rc == 1 and "me_anonymized.jpg exists" in err and "--force" in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "clip_anonymized.avi").exists()
    rc, out, err = _run(capsys, *inputs, "--tiles", "off", "--force")
    assert rc == 0, err
    assert out.count(" frames from ") == 3 and out.count("  -> ") == 3
    assert all(p.stat().st_mtime_ns != b for p, b in zip(made[1:], before[1:]))


def test_several_inputs_into_a_folder(tmp_path, capsys, inputs):
    out_dir = tmp_path / "out"
    rc, out, err = _run(capsys, *inputs, "-o", str(out_dir) + "/", "--tiles", "off")
    assert rc == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["clip_anonymized.avi", "me_anonymized.jpg", "pics_anonymized"]
    assert [p.name for p in (out_dir / "pics_anonymized").iterdir()] == ["g.jpg"]
    assert not (tmp_path / "me_anonymized.jpg").exists()


@pytest.mark.parametrize("second, options, needle", [
    ("{tmp}/nope.mp4", [], "video not found: "),
    ("demo", [], "demo: a camera, stream or the demo is anonymized on its own"),
    ("0", [], "0: a camera, stream or the demo is anonymized on its own"),
    ("{tmp}/other/me.jpg", ["-o", "{tmp}/o/"], "would both write"),
    (None, ["-o", "{tmp}/out.mp4"], "with several inputs, -o is a folder"),
    (None, ["--events", "{tmp}/e.jsonl"], "--events takes one input"),
])
def test_several_inputs_checked_before_any_work(tmp_path, capsys, inputs, second, options, needle):
    (tmp_path / "other").mkdir()
    shutil.copy(IMAGES / "face.jpg", tmp_path / "other" / "me.jpg")
    before = sorted(p.name for p in tmp_path.iterdir())
    sources = [inputs[0], second, inputs[1]] if second else inputs[:2]  # the bad input second
    argv = [str(a).replace("{tmp}", str(tmp_path)) for a in [*sources, *options]]
    rc, out, err = _run(capsys, *argv)
    assert rc == 1, err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, not even the first output
