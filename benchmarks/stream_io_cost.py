"""Per-frame cost of the stream outputs and of the YOLO decoder, single-threaded, on this machine.

    .venv/bin/python -m edgesdk.benchmarks.stream_io_cost [--frames 3000] [--out benchmarks/results/stream_io]

- ``MqttSink.write``: 5 counts per frame (unchanged, so nothing is published for them) and one track event
  every 30 frames, to a real mosquitto started on 127.0.0.1 (skipped when mosquitto is not installed);
- ``MjpegServer.write`` with nobody watching (a copy of the frame for ``/snapshot.jpg``; JPEG encoding only
  happens while a client watches) and a state update for the live page on each event;
- ``decode_yolo`` on full-size heads (v8 1x84x8400, v5 1x25200x85; float32 and int8) with 20 candidates over
  the threshold.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from edgesdk.results import Detections
from edgesdk.runtime.decoders import YoloHead, decode_yolo
from edgesdk.runtime.sinks import FrameMeta, MjpegServer, MqttSink

COUNTS = {"person": 2, "car": 1, "door/person": 1, "gate/person/in": 3, "gate/person/out": 1}


def _metas(n: int) -> list[FrameMeta]:
    ev = {"type": "new", "track_id": 1, "label": "person"}
    return [FrameMeta(i, i / 30, events=(dict(ev, frame=i, time=i / 30),) if i % 30 == 0 else (), counts=COUNTS)
            for i in range(n)]


def _per_frame_us(sink, frames: int) -> float:
    frame = np.zeros((480, 640, 3), np.uint8)
    det = Detections.empty()
    metas = _metas(frames)
    t = time.perf_counter()
    for m in metas:
        sink.write(frame, det, m)
    return (time.perf_counter() - t) / frames * 1e6


def mqtt_cost(frames: int) -> float | None:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).is_file():
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "m.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        broker = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            sink = MqttSink(f"mqtt://127.0.0.1:{port}/bench")
            us = _per_frame_us(sink, frames)
            sink.close()
            return us
        finally:
            broker.terminate()
            broker.wait(10)


def page_cost(frames: int) -> float:
    srv = MjpegServer("127.0.0.1", 0)
    try:
        return _per_frame_us(srv, frames)
    finally:
        srv.close()


def yolo_costs(repeat: int = 50) -> dict[str, float]:
    rng = np.random.default_rng(0)
    v8 = rng.uniform(0, 0.2, (1, 84, 8400)).astype(np.float32)
    v8[0, :4] = rng.uniform(0, 1, (4, 8400))
    v8[0, 4:, :20] = rng.uniform(0.3, 1, (80, 20))
    v5 = rng.uniform(0, 0.2, (1, 25200, 85)).astype(np.float32)
    v5[0, :, :4] = rng.uniform(0, 1, (25200, 4))
    v5[0, :20, 4:] = rng.uniform(0.3, 1, (20, 81))
    out = {}
    for name, arr, head in (("v8 1x84x8400", v8, YoloHead.V8), ("v5 1x25200x85", v5, YoloHead.V5)):
        q = np.clip(np.rint(arr * 255 - 128), -128, 127).astype(np.int8)
        for kind, a, kw in (("float32", arr, {}), ("int8", q, {"scale": 1 / 255, "zero_point": -128})):
            decode_yolo(a, head, **kw)
            t = time.perf_counter()
            for _ in range(repeat):
                decode_yolo(a, head, **kw)
            out[f"{name} {kind}"] = (time.perf_counter() - t) / repeat * 1e3
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=None, help="folder for results.json")
    a = ap.parse_args(argv)
    res = {"mqtt_write_us_per_frame": mqtt_cost(a.frames), "page_write_us_per_frame_640x480": page_cost(a.frames),
           "decode_yolo_ms": yolo_costs()}
    print(json.dumps(res, indent=2))
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
