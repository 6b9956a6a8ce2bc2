"""Which video writer: the system's ffmpeg binary (through runtime.sinks), PyAV, or OpenCV's VideoWriter.

Encodes the same N decoded frames of the shared test video with each, side by side in one run, and prints
frames per second (wall clock), the encoder's CPU seconds, output size and codec. PyAV is measured only when
installed (it is not an edgesdk dependency).

    nice python benchmarks/video_writers.py [--frames 300] [--video PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_VIDEO = HERE.parent.parent / "shared" / "testdata" / "videos" / "one-by-one-person-detection.mp4"


def frames_of(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    return out


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def with_sink(frames, out: Path, encoder: str) -> None:
    from edgesdk.runtime.sinks import VideoSink

    sink = VideoSink(out, 10.0, encoder=encoder)
    for f in frames:
        sink.write(f)
    sink.close()


def with_pyav(frames, out: Path) -> None:
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(out), "w") as box:
        st = box.add_stream("libx264", rate=10)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "23", "preset": "veryfast"}
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                box.mux(pkt)
        for pkt in st.encode():
            box.mux(pkt)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    a = ap.parse_args()
    frames = frames_of(a.video, a.frames)
    writers = {"ffmpeg binary (h264)": lambda fr, o: with_sink(fr, o, "ffmpeg"),
               "opencv (mp4v)": lambda fr, o: with_sink(fr, o, "opencv")}
    try:
        import av  # noqa: F401

        writers["pyav (h264)"] = with_pyav
    except ImportError:
        print("PyAV not installed: not measured", file=sys.stderr)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in writers.items():
            out = Path(tmp) / f"{len(rows)}.mp4"
            c0, t0 = _cpu(), time.perf_counter()
            fn(frames, out)
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            codec = subprocess.run([shutil.which("ffprobe") or "ffprobe", "-v", "error", "-select_streams", "v:0",
                                    "-show_entries", "stream=codec_name", "-of", "csv=p=0", str(out)],
                                   capture_output=True, text=True).stdout.strip()
            rows.append({"writer": name, "frames": len(frames), "fps": round(len(frames) / wall, 1),
                         "cpu_s": round(cpu, 2), "bytes": out.stat().st_size, "codec": codec})
    h, w = frames[0].shape[:2]
    print(f"{len(frames)} frames {w}x{h}, {os.cpu_count()} cores")
    for r in rows:
        print(f"  {r['writer']:<22} {r['fps']:>7} fps  cpu {r['cpu_s']:>5} s  {int(r['bytes']) / 1e6:6.2f} MB  {r['codec']}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
