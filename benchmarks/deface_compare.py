"""`edgesdk anonymize` side by side with `deface` (MIT, CenterFace on onnxruntime) on the same clips, in the same
run: FPS of each command line (wall time of the whole command, startup included, file to .mp4), and the leak check
of edgesdk.runtime.anonymize (a face the thorough reference detector finds in the input and finds again in the
output, IoU >= 0.5; also: confirmed in an adjacent frame, and faces the reference scores >= 0.9).

    python3 -m venv /tmp/deface-venv && /tmp/deface-venv/bin/pip install deface onnxruntime
    nice .venv/bin/python -m edgesdk.benchmarks.deface_compare [--deface /tmp/deface-venv/bin/deface] [--repeat 2]

Runs alternate (edgesdk, deface, edgesdk, deface...) so that both see the same machine load; best of --repeat.
Startup (import, model loading) is measured on the clip's first 2 frames and also subtracted.
Both with their defaults (edgesdk: BlazeFace + tiles, blur, mask scale 1.3; deface: threshold 0.2, blur, mask
scale 1.3, full-resolution inference).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
VIDEOS = SHARED / "testdata" / "videos"
CLIPS = ["again.mkv", "face-demographics-walking.gif", "one-by-one-person-detection.mp4"]


def _frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def _head(clip: Path, tmp: Path, frames: int = 2) -> Path:
    """The first ``frames`` frames of ``clip`` as an .mp4: timing a run on it measures a tool's startup."""
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out, writer = tmp / f"head_{clip.stem}.mp4", None
    for _ in range(frames):
        ok, frame = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    cap.release()
    if writer is not None:
        writer.release()
    return out


def _as_mp4(clip: Path, tmp: Path) -> Path:
    """deface (imageio) reads a .gif as one image: such clips are copied frame by frame into an .mp4 (mp4v, same
    size and frame rate) that both tools then read."""
    if clip.suffix.lower() in (".mp4", ".mkv", ".avi", ".mov"):
        return clip
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out, writer = tmp / f"{clip.stem}.mp4", None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    cap.release()
    if writer is not None:
        writer.release()
    return out


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.strip()[-300:]}")
    return dt


def main(argv=None) -> int:
    from edgesdk.benchmarks.anonymize_fps import leaks

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deface", default="/tmp/deface-venv/bin/deface")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "stream"))
    ap.add_argument("--render", metavar="JSON", help="only write the Markdown table of an earlier run's JSON")
    args = ap.parse_args(argv)
    if args.render:
        r0 = json.loads(Path(args.render).read_text())
        r0["clips"] = {k: _fix(v) for k, v in r0["clips"].items()}
        Path(args.render).write_text(json.dumps(r0, indent=1) + "\n")
        Path(args.render).with_suffix(".md").write_text(to_markdown(r0))
        return 0
    edgesdk = str(Path(sys.executable).with_name("edgesdk"))
    r: dict = {"command": "python -m edgesdk.benchmarks.deface_compare " + " ".join(argv or sys.argv[1:]),
               "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.machine(), "cpus": os.cpu_count(),
               "load_average_start": [round(v, 2) for v in os.getloadavg()], "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CLIPS:
            clip = VIDEOS / name
            if not clip.exists():
                continue
            clip = _as_mp4(clip, Path(tmp))
            n = _frames(clip)
            ours, theirs = Path(tmp) / f"e_{clip.stem}.mp4", Path(tmp) / f"d_{clip.stem}.mp4"
            head = _head(clip, Path(tmp))
            t_e, t_d, s_e, s_d = [], [], [], []
            for _ in range(args.repeat):
                s_e.append(_timed([edgesdk, "anonymize", str(head), "-o", str(Path(tmp) / "eh.mp4")]))
                s_d.append(_timed([args.deface, str(head), "-o", str(Path(tmp) / "dh.mp4")]))
                t_e.append(_timed([edgesdk, "anonymize", str(clip), "-o", str(ours)]))
                t_d.append(_timed([args.deface, str(clip), "-o", str(theirs)]))
            fe, fd = n / min(t_e), n / min(t_d)
            de, dd = min(t_e) - min(s_e), min(t_d) - min(s_d)
            # under heavy load the startup run can take longer than the whole short clip: then no estimate
            ne = (n - 2) / de if de > 0.5 else None
            nd = (n - 2) / dd if dd > 0.5 else None
            r["clips"][name] = {
                "frames": n, "edgesdk_fps": round(fe, 2), "deface_fps": round(fd, 2), "speedup": round(fe / fd, 2),
                "edgesdk_fps_no_startup": None if ne is None else round(ne, 2),
                "deface_fps_no_startup": None if nd is None else round(nd, 2),
                "speedup_no_startup": None if ne is None or nd is None else round(ne / nd, 2),
                "edgesdk_seconds": [round(t, 2) for t in t_e], "deface_seconds": [round(t, 2) for t in t_d],
                "edgesdk_startup_seconds": [round(t, 2) for t in s_e], "deface_startup_seconds": [round(t, 2) for t in s_d],
                "edgesdk_leaks": {k: {kk: v[kk] for kk in ("input_faces", "leaked_faces", "leak_rate")}
                                  for k, v in leaks(clip, ours).items()},
                "deface_leaks": {k: {kk: v[kk] for kk in ("input_faces", "leaked_faces", "leak_rate")}
                                 for k, v in leaks(clip, theirs).items()},
            }
            print(json.dumps({name: r["clips"][name]}), flush=True)
    r["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "deface_compare.json").write_text(json.dumps(r, indent=1) + "\n")
    md = to_markdown(r)
    (out / "deface_compare.md").write_text(md)
    print(md)
    return 0


def _fix(v: dict) -> dict:
    """Startup-subtracted FPS only where the clip took clearly longer than its first 2 frames (heavy load can
    make a short clip's difference meaningless)."""
    for k in ("edgesdk", "deface"):
        d = min(v[f"{k}_seconds"]) - min(v[f"{k}_startup_seconds"])
        if d <= 0.5:
            v[f"{k}_fps_no_startup"] = None
    if v["edgesdk_fps_no_startup"] is None or v["deface_fps_no_startup"] is None:
        v["speedup_no_startup"] = None
    return v


def to_markdown(r: dict) -> str:
    lines = ["# edgesdk anonymize vs deface, same clips, same run", "",
             f"Measured {r['when']} on {r['machine']} with {r['cpus']} CPUs shared with other work (load average "
             f"{r['load_average_start']} at the start, {r['load_average_end']} at the end). Command: `{r['command']}`. "
             "FPS = frames / wall time of the whole command (startup included: it weighs most on the short clips), best "
             "of the repeats. The .gif is first copied into an .mp4 that both read (deface reads a .gif as one image).", "",
             "Without startup: (frames - 2) / (time on the clip - time on its first 2 frames), same run.", "",
             "| clip | frames | edgesdk FPS | deface FPS | speed-up | without startup: edgesdk / deface / speed-up | leaks edgesdk (raw / confirmed / score >= 0.9) | leaks deface (raw / confirmed / score >= 0.9) |",
             "|---|---|---|---|---|---|---|---|"]
    def f(d: dict) -> str:
        return " / ".join(f"{d[k]['leaked_faces']}/{d[k]['input_faces']}" for k in ("raw", "confirmed", "score_0.9"))

    for name, v in r["clips"].items():
        v = _fix(v)
        lines.append(f"| {name} | {v['frames']} | {v['edgesdk_fps']} | {v['deface_fps']} | **{v['speedup']}x** | "
                     f"{v['edgesdk_fps_no_startup'] or 'n/a'} / {v['deface_fps_no_startup'] or 'n/a'} / "
                     f"**{(str(v['speedup_no_startup']) + 'x') if v['speedup_no_startup'] else 'n/a'}** | "
                     f"{f(v['edgesdk_leaks'])} | {f(v['deface_leaks'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
