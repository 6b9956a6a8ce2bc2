"""`edgesdk classify MODEL SOURCE`: top-k per frame, an event when the top label changes (real MobileNet v2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _paths import MODELS

from edgesdk.cli import main
from edgesdk.results import Detections
from edgesdk.runtime.stream import ClassifyStage, StreamFrame

MNV2 = MODELS / "mobilenet_v2_1.0_224_quant.tflite"
pytestmark = pytest.mark.skipif(not MNV2.exists(), reason="needs ../shared/testdata")


def test_demo_stream_top_k_per_frame_and_changes(tmp_path, capsys):
    ev = tmp_path / "c.jsonl"
    rc = main(["classify", str(MNV2), "demo", "--events", str(ev), "--max-frames", "30", "-k", "3", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rep = json.loads(out)
    recs = [json.loads(line) for line in ev.read_text().splitlines()]
    per_frame = [r for r in recs if r["type"] == "classes"]
    changes = [r for r in recs if r["type"] == "change"]
    assert [r["frame"] for r in per_frame] == list(range(30)) and all(len(r["classes"]) == 3 for r in per_frame)
    assert all(r["classes"][0]["score"] > 0.05 for r in per_frame)  # probabilities, not a softmax of them
    assert changes[0]["frame"] == 0 and changes[0]["previous"] is None
    assert rep["changes"] == len(changes) and rep["frames_written"] == 30


def test_one_odd_frame_is_no_change():
    stage = ClassifyStage(["cat", "dog"], settle=3, draw=False)
    tops = [0, 0, 1, 0, 0, 1, 1, 1, 1]
    events = []
    for i, c in enumerate(tops):
        f = StreamFrame(np.zeros((8, 8, 3), np.uint8), i, i / 10)
        f.detections = Detections(np.zeros((1, 4), np.float32), [0.9], [c])
        stage.apply(f)
        events += [e for e in f.events if e["type"] == "change"]
    assert [(e["frame"], e["label"], e["previous"]) for e in events] == [(0, "cat", None), (7, "dog", "cat")]


def test_detector_given_to_classify_stream_names_its_task(capsys, tmp_path):
    rc = main(["classify", str(MODELS / "ssd_mobilenet_v1_coco_quant.tflite"), "demo", "--events", str(tmp_path / "c.jsonl")])
    err = capsys.readouterr().err
    assert rc == 1 and "is a detect model, not a classifier" in err and not (tmp_path / "c.jsonl").exists()
