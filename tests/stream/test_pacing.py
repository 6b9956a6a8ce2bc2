"""--realtime pacing and --loop (file sources for demos and live pages)."""

from __future__ import annotations

import json
import time

from edgesdk.cli import main
from edgesdk.runtime.sources import DemoSource
from edgesdk.runtime.stream import Looped, Paced, pace


def test_paced_source_keeps_the_frame_rate():
    src = DemoSource(frames=10, size=(64, 48), fps=50.0).open()
    paced = Paced(src)
    assert paced.live and paced.total is None
    t0 = time.monotonic()
    n = sum(1 for _ in paced)
    assert n == 10 and time.monotonic() - t0 >= 9 / 50 - 0.01


def test_looped_source_restarts_with_growing_indices_and_times():
    src = DemoSource(frames=4, size=(64, 48), fps=10.0).open()
    frames = list(Looped(src, max_frames=10))
    assert [f.index for f in frames] == list(range(10))
    assert [round(f.timestamp, 2) for f in frames][:6] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]


def test_pace_only_wraps_files():
    src = DemoSource(frames=4, size=(64, 48)).open()
    assert pace(src, realtime=None, loop=False, serving=False) is src
    assert isinstance(pace(src, realtime=None, loop=False, serving=True), Paced)
    assert isinstance(pace(src, realtime=False, loop=True, serving=True), Looped)


def test_anonymize_demo_looped_with_max_frames(tmp_path, capsys):
    rc = main(["anonymize", "demo", "--loop", "--max-frames", "20", "--tiles", "off", "--events",
               str(tmp_path / "e.jsonl"), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(out)["frames_written"] == 20
