"""`edgesdk detect MODEL FILE --serve HOST:PORT` in a real process: the page names the model, /state.json shows
the counts while the file plays (paced to its frame rate), the URL is printed, Ctrl-C finishes cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from _mosquitto import free_port
from _paths import MODELS, REPO, TESTDATA

SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"
LABELS = MODELS / "coco_labels.txt"
PEOPLE = TESTDATA / "videos" / "one-by-one-person-detection.mp4"  # 10 FPS; a person is tracked from frame ~64

pytestmark = pytest.mark.skipif(not SSD.exists(), reason="needs ../shared/testdata")


def _get(url: str) -> str:
    return urllib.request.urlopen(url, timeout=5).read().decode()


@pytest.mark.slow
def test_detect_serve_shows_counts_while_running():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgesdk", "detect", str(SSD), str(PEOPLE), "--labels", str(LABELS), "--classes",
         "person", "--line", "door:0.5,0,0.5,1", "--serve", f"127.0.0.1:{port}", "--max-frames", "400"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        page, state = None, None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = page or _get(url)
                s = json.loads(_get(url + "state.json"))
                if s["counts"].get("person"):
                    state = s
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert page is not None and "ssd_mobilenet_v1_coco_quant.tflite" in page
        assert state is not None, "no person count on the live page"
        assert state["counts"]["person"] == 1 and state["frame"] < 400  # seen while the file was still playing
        assert any(e["type"] == "new" and e["label"] == "person" for e in state["events"])
        assert proc.poll() is None  # paced to 10 FPS: still running
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"serving the detections at {url}" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
