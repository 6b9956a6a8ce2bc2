"""Every track gets exactly one "end" record, also the tracks still in view when the stream ends (its end,
--max-frames, a stop / Ctrl-C): the real COCO SSD on the people clip."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from _paths import MODELS, TESTDATA

from edgesdk.cli import main
from edgesdk.runtime.stream import DetectConfig, detect_stream

SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"
LABELS = MODELS / "coco_labels.txt"
PEOPLE = TESTDATA / "videos" / "one-by-one-person-detection.mp4"  # 10 FPS; person 1 leaves ~frame 200, 2 enters ~230

pytestmark = pytest.mark.skipif(not SSD.exists(), reason="needs ../shared/testdata")


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_one_end_per_track(recs: list[dict]) -> tuple[dict, dict]:
    """{track id: its "new"}, {track id: its "end"}; asserts one end per new and the end after every record of
    the track."""
    news = {r["track_id"]: r for r in recs if r["type"] == "new"}
    ends = Counter(r["track_id"] for r in recs if r["type"] == "end")
    assert news and ends == Counter(list(news)), (list(news), ends)
    end = {r["track_id"]: r for r in recs if r["type"] == "end"}
    for tid, e in end.items():
        last_seen = max(r["frame"] for r in recs if r["type"] == "frame"
                        and any(d["track_id"] == tid for d in r["detections"]))
        assert e["frame"] >= last_seen and e["label"] == news[tid]["label"] == "person"
    return news, end


def test_tracks_in_view_at_max_frames_end_on_the_last_frame(tmp_path, capsys):
    ev = tmp_path / "e.jsonl"
    rc = main(["detect", str(SSD), str(PEOPLE), "--labels", str(LABELS), "--classes", "person", "--max-frames", "300",
               "--zone", "right:0.5,0;1,0;1,1;0.5,1", "--events", str(ev), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rep = json.loads(out)
    recs = _records(ev)
    news, end = _check_one_end_per_track(recs)
    assert rep["tracks"] == len(news) == 2 and rep["frames_written"] == 300
    # person 1 left mid-stream, person 2 is in view when --max-frames stops the run: ended on frame 299
    assert end[1]["frame"] < 299 and end[2]["frame"] == 299 and end[2]["time"] == pytest.approx(29.9)
    assert recs[-1] == end[2] and recs[-2]["type"] == "frame" and recs[-2]["frame"] == 299
    # no "leave" at the stream's end: the zone's count stays what was seen last
    assert not any(r["type"] == "leave" and r["frame"] == 299 for r in recs)
    assert rep["counts"] == {"right/person": 1}


def test_stop_mid_run_ends_the_tracks_in_view(tmp_path):
    ev, stop = tmp_path / "e.jsonl", threading.Event()

    def on_frame(n: int) -> None:
        if n == 90:  # person 1 is in view (confirmed at frame ~64)
            stop.set()

    rep = detect_stream(DetectConfig(str(SSD), str(PEOPLE), labels=str(LABELS), classes=("person",), events=str(ev)),
                        stop=stop, handle_signals=False, on_frame=on_frame)
    assert rep["interrupted"] and rep["frames_written"] < 300
    recs = _records(ev)
    news, end = _check_one_end_per_track(recs)
    last = max(r["frame"] for r in recs if r["type"] == "frame")
    assert list(news) == [1] and end[1]["frame"] == last and recs[-1] == end[1]
