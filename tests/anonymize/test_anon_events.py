"""Anonymize's JSONL events: boxes clipped to the frame, and every record of an image folder names its image."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from _paths import IMAGES
from edgesdk.cli import main
from edgesdk.results import Detections
from edgesdk.runtime.sinks import EventsSink, FrameMeta


def test_boxes_are_clipped_to_the_frame(tmp_path):
    sink = EventsSink(tmp_path / "e.jsonl")
    det = Detections(np.array([[600, -5, 670, 40]], np.float32), np.array([0.9], np.float32), np.array([0], np.int32))
    sink.write(np.zeros((480, 640, 3), np.uint8), det, FrameMeta(0, 0.0, labels=("face",)))
    sink.close()
    rec = json.loads((tmp_path / "e.jsonl").read_text())
    assert rec["boxes"][0]["box"] == [600.0, 0.0, 640.0, 40.0]
    assert "source_name" not in rec


def test_events_of_an_image_folder_name_their_images(tmp_path, capsys):
    src = tmp_path / "photos"
    src.mkdir()
    for name in ("face.jpg", "grace_hopper.bmp"):
        if not (IMAGES / name).exists():
            pytest.skip(f"test image {name} missing from ../shared/testdata")
        shutil.copy(IMAGES / name, src / name)
    ev = tmp_path / "faces.jsonl"
    assert main(["anonymize", str(src), "-o", str(tmp_path / "out") + "/", "--events", str(ev)]) == 0
    recs = [json.loads(line) for line in ev.read_text().splitlines()]
    assert sorted(r["source_name"] for r in recs) == ["face.jpg", "grace_hopper.bmp"]
    for r in recs:
        for b in r["boxes"]:
            x1, y1, x2, y2 = b["box"]
            assert 0 <= x1 <= x2 and 0 <= y1 <= y2
