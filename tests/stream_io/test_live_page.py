"""The live page of MjpegServer: HTTP and server-sent events here, and the page itself in a real headless
Chromium (the page loads, the image updates, events and counts appear)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest

from _chrome import Chrome
from edgesdk.results import Detections
from edgesdk.runtime.sinks import FrameMeta, MjpegServer, Sink, SinkError


def get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers["Content-Type"], r.read()


def frame(value: int) -> np.ndarray:
    return np.full((96, 128, 3), value % 256, np.uint8)


def ev(i: int, kind: str = "new", track: int = 1, **extra) -> dict:
    return {"type": kind, "frame": i, "time": i / 10, "track_id": track, "label": "person", **extra}


@pytest.fixture
def server():
    srv = MjpegServer("127.0.0.1", 0, title="cam <1>", caption="test & check")
    yield srv
    srv.close()


def test_page_is_self_contained(server):
    ctype, body = get(server.url)
    page = body.decode()
    assert ctype.startswith("text/html")
    assert "<title>cam &lt;1&gt;</title>" in page and "test &amp; check" in page
    # no external assets: every src/href is a path on this server
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(r.startswith("/") for r in refs), refs
    assert "<link" not in page and "@import" not in page and "EventSource(\"/events\")" in page
    assert isinstance(server, Sink)


def test_state_and_server_sent_events(server):
    assert json.loads(get(server.url + "state.json")[1]) == {"frame": None, "time": None, "counts": {}, "events": []}
    resp = urllib.request.urlopen(server.url + "events", timeout=5)
    assert resp.headers["Content-Type"] == "text/event-stream"

    def next_data() -> dict:
        while True:
            line = resp.readline().decode()
            if line.startswith("data: "):
                return json.loads(line[6:])

    assert next_data()["events"] == []  # the current state at once
    server.write(frame(0), Detections.empty(), FrameMeta(0, 0.0))  # nothing changed: no message
    server.write(frame(1), Detections.empty(), FrameMeta(1, 0.1, events=(ev(1),), counts={"person": 1}))
    got = next_data()
    assert got["frame"] == 1 and got["counts"] == {"person": 1} and got["events"] == [ev(1)]
    for i in range(2, 30):  # the page keeps the last 20, newest first
        server.write(frame(i), Detections.empty(), FrameMeta(i, i / 10, events=(ev(i, track=i),), counts={"person": 1}))
    state = json.loads(get(server.url + "state.json")[1])
    assert [e["track_id"] for e in state["events"]] == list(range(29, 9, -1))
    assert server.state() == state
    # the stream ended: the records that come with no frame (the tracks still in view end) reach the page
    server.write_events(FrameMeta(29, 2.9, events=(ev(29, "end", track=29),), counts={"person": 1}))
    got = next_data()
    while got["frame"] != 29 or got["events"][0]["type"] != "end":
        got = next_data()
    assert got["events"][0] == ev(29, "end", track=29) and got["counts"] == {"person": 1}
    resp.close()


def test_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(SinkError, match=f"cannot serve on 127.0.0.1:{port}: Address already in use"):
            MjpegServer("127.0.0.1", port)


def test_warns_when_not_loopback(caplog):
    with caplog.at_level(logging.WARNING):
        srv = MjpegServer("0.0.0.0", 0)
        srv.close()
        srv.close()  # idempotent
    assert "reachable from the network" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        MjpegServer("127.0.0.1", 0).close()
    assert "reachable" not in caplog.text


def _feed(server: MjpegServer, stop: threading.Event, event_at: int) -> None:
    i = 0
    while not stop.is_set():
        events = (ev(i, track=7), ev(i, "enter", track=7, zone="door")) if i == event_at else ()
        counts = {"person": 1, "door/person": 1} if i >= event_at else {"person": 0}
        server.write(frame(i * 9), Detections.empty(), FrameMeta(i, i / 25, events=events, counts=counts))
        i += 1
        time.sleep(0.04)


PIXEL = """(() => { const i = document.getElementById("frame"); if (!i.naturalWidth) return null;
  const c = document.createElement("canvas"); c.width = i.naturalWidth; c.height = i.naturalHeight;
  const x = c.getContext("2d"); x.drawImage(i, 0, 0); return x.getImageData(0, 0, 1, 1).data[0]; })()"""


def test_page_in_a_real_browser(server, tmp_path):
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(server, stop, 40), daemon=True)
    chrome = Chrome(tmp_path / "profile")
    try:
        chrome.open(server.url)
        assert chrome.wait_for("document.readyState !== 'loading' && document.title") == "cam <1>"
        feeder.start()
        # the image shows the stream and changes
        assert chrome.wait_for("document.getElementById('frame').naturalWidth") == 128
        seen = {chrome.wait_for(PIXEL)}
        deadline = time.monotonic() + 15
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
            seen.add(chrome.evaluate(PIXEL))
        assert len(seen - {None}) >= 3, seen
        # the events arrive in the list (newest first) and the counts in the table, without a reload
        items = chrome.wait_for("""(() => { const l = [...document.querySelectorAll('#events li:not(.empty)')]
            .map((li) => li.textContent); return l.length >= 2 ? l : null; })()""")
        assert items and "enter person #7 in door" in items[0] and "new person #7" in items[1], items
        counts = chrome.evaluate("""Object.fromEntries([...document.querySelectorAll('#counts tr')]
            .map((tr) => [...tr.cells].map((td) => td.textContent)).filter((r) => r.length == 2))""")
        assert counts == {"door/person": "1", "person": "1"}
        assert chrome.evaluate("document.getElementById('status').textContent") == "live"
        assert server.frames_sent >= 3
    finally:
        stop.set()
        chrome.close()
