"""Benchmark of the stream pipeline (edgesdk.runtime.stream) for both jobs, in one run:

(a) own cost: everything the pipeline does per frame except the model invocations, measured single-threaded in
    CPU time of the process (time.process_time: waiting for a core taken by other processes is not counted;
    the decoder, encoder and interpreter threads are), stage by
    stage, with the pipeline's own parts (source, detector, tracker, frame stage, StreamFrame.meta, sinks):
    decode, preprocess (into the model input), the rest of detection (output decoding, tiles, NMS, filters),
    tracking, the frame stage (anonymize: mask; detect: events, zones, drawing), and the sinks (handing the frames
    to the video encoder, and for detect the JSONL events). The default encoder (H.264) is the ``ffmpeg`` binary in
    a child process, whose CPU time process_time does not see: it is reported beside it (``encoder_process``, the
    children's CPU time after the sinks closed) and in ``own_cost_with_encoder_ms``.
    On again.mkv (640x480) and one-by-one-person-detection.mp4 (768x432).
(b) detect file to file (threaded pipeline, 2 interpreter threads, -o video + --events) vs the model's bare
    invoke time per frame on 2 threads, same run.
(c) anonymize end-to-end FPS (CLI defaults, file to .mp4), best of --repeat; with ``--baseline CHECKOUT`` also the
    pipeline before the move (another checkout with its own .venv) and after it, alternating, through each
    checkout's benchmarks/anonymize_fps.py (--e2e-only and --stages-only).

    nice .venv/bin/python -m edgesdk.benchmarks.stream_pipeline [--out benchmarks/results/stream] [--repeat 3]
        [--baseline ../main]

Timing on a shared machine is noisy: compare the numbers of one run with each other.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
VIDEOS = SHARED / "testdata" / "videos"
MODELS = SHARED / "testdata" / "models"
SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"
LABELS = MODELS / "coco_labels.txt"
CLIPS = ["again.mkv", "one-by-one-person-detection.mp4"]
_now = time.process_time  # CPU time of the process (decoder and encoder threads included)
PARTS = ("decode", "preprocess", "invoke", "detect_other", "track", "stage", "sinks")


def _children_cpu() -> float:
    """CPU seconds (user + system) of the child processes waited for so far (the ffmpeg encoders)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _load() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return [-1.0, -1.0, -1.0]


class _Clock:
    """Wraps a model's preprocess and interpreter invoke to add up their time."""

    def __init__(self, model, _now=_now) -> None:
        self.pre = self.inv = 0.0
        self.invokes = 0
        inv0, pre0 = model.interpreter.invoke, model.preprocess

        def inv():
            a = _now()
            inv0()
            self.inv += _now() - a
            self.invokes += 1

        def pre(image):
            a = _now()
            out = pre0(image)
            self.pre += _now() - a
            return out

        model.interpreter.invoke, model.preprocess = inv, pre


def _job(job: str, tmp: Path, source):
    """(detector, tracker, stage, sinks, models) exactly as the job's entry point builds them."""
    from edgesdk.runtime import load
    from edgesdk.runtime.anonymize import MaskStage, Renderer, build_detectors, make_anonymizer
    from edgesdk.runtime.anonymize import IoUTracker
    from edgesdk.runtime.sinks import TrackEventsSink, VideoSink
    from edgesdk.runtime.stream import ByteTracker, DetectStage, ModelDetector, resolve_classes

    if job == "anonymize":
        det = build_detectors(["face"], threads=1, sweep_frames=4, workers=1)
        models = [det.detectors[0].inner.detector.model]  # type: ignore[attr-defined]  # the face tiler's model
        return det, IoUTracker(5), MaskStage(Renderer(make_anonymizer("blur"), 1.3)), \
            [VideoSink(tmp / "a.mp4", source.fps)], models
    # one interpreter thread here: a second XNNPACK thread spins after each invoke, and that CPU time would be
    # counted in the stages that follow it (the invoke itself is excluded from the own cost anyway)
    model = load(str(SSD), "cpu", 1)
    from edgesdk.bundle import read_labels

    model.labels = read_labels(LABELS)
    ssd = ModelDetector(model, threshold=0.3, keep=resolve_classes(["person"], model.labels, "ssd"), name="ssd")
    from edgesdk.runtime.stream import parse_line

    line = parse_line("door:0.5,0,0.5,1").resolved(*source.size)
    stage = DetectStage(model.labels, lines=[line], draw=True)
    return ssd, ByteTracker(0.5, 3, 30), stage, [VideoSink(tmp / "d.mp4", source.fps), TrackEventsSink(tmp / "e.jsonl")], [model]


def own_cost(job: str, clip: Path, reps: int = 2, clock: str = "cpu") -> dict:
    """ms per frame of each part, single thread, the pipeline's parts called in the pipeline's order.
    clock: ``cpu`` (process CPU time) or ``wall`` (perf_counter, as benchmarks/anonymize_fps.py --stages-only)."""
    _now = time.process_time if clock == "cpu" else time.perf_counter
    from edgesdk.runtime.sources import VideoFileSource
    from edgesdk.runtime.stream import StreamFrame

    t = dict.fromkeys(PARTS, 0.0)
    frames = invokes = 0
    children0 = _children_cpu()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            src = VideoFileSource(clip)
            src.open()
            det, tracker, stage, sinks, models = _job(job, Path(tmp), src)
            clocks = [_Clock(m, _now) for m in models]
            labels = list(det.labels)
            it = iter(src)
            while True:
                a = _now()
                try:
                    image, ts, index = next(it)
                except StopIteration:
                    break
                frame = StreamFrame(image, index, ts, src.frame_name(index))
                b = _now()
                p0, i0 = sum(c.pre for c in clocks), sum(c.inv for c in clocks)
                d = det.detect(frame.image)
                c_ = _now()
                pre, inv = sum(c.pre for c in clocks) - p0, sum(c.inv for c in clocks) - i0
                tr = tracker.track(d, frame.index)
                frame.detections, frame.held, frame.started, frame.ended = tr.detections, tr.held, tr.started, tr.ended
                e = _now()
                stage.apply(frame)
                g = _now()
                meta = frame.meta(labels)
                for s in sinks:
                    s.write(frame.image, frame.detections, meta)
                h = _now()
                t["decode"] += b - a
                t["preprocess"] += pre
                t["invoke"] += inv
                t["detect_other"] += (c_ - b) - pre - inv
                t["track"] += e - c_
                t["stage"] += g - e
                t["sinks"] += h - g
                frames += 1
            invokes += sum(c.invokes for c in clocks)
            for s in sinks:
                s.close()
            src.close()
            det.close()
    out = {k: round(v * 1000 / frames, 3) for k, v in t.items()}
    out["own_cost_ms"] = round(sum(out[k] for k in PARTS if k != "invoke"), 3)
    out["encoder_process"] = round((_children_cpu() - children0) * 1000 / frames, 3)
    out["own_cost_with_encoder_ms"] = round(out["own_cost_ms"] + out["encoder_process"], 3)
    out["invokes_per_frame"] = round(invokes / frames, 2)
    out["frames"] = frames // reps
    return out


def bare_invoke_ms(threads: int = 2, reps: int = 100) -> tuple[float, float]:
    """(median wall ms, mean process-CPU ms) of the SSD's interpreter.invoke() alone (input already set),
    ``threads`` XNNPACK threads."""
    from edgesdk.runtime import load

    m = load(str(SSD), "cpu", threads)
    it = m.interpreter
    tensor, _ = m.preprocess(np.zeros((300, 300, 3), np.uint8))
    it.set_tensor(m.image_input.index, tensor)
    for _ in range(10):
        it.invoke()
    ts = []
    c0 = time.process_time()
    for _ in range(reps):
        a = time.perf_counter()
        it.invoke()
        ts.append(time.perf_counter() - a)
    cpu = (time.process_time() - c0) / reps
    return statistics.median(ts) * 1000, cpu * 1000


def detect_file_to_file(clip: Path, repeat: int) -> dict:
    """Best of ``repeat``: edgesdk detect CLIP -o out.mp4 --events e.jsonl --classes person --line ... (2 threads),
    each run right after a bare-invoke measurement: ratios of wall time per frame and of process CPU per frame."""
    from edgesdk.runtime.stream import DetectConfig, detect_stream

    best = None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            inv_wall, inv_cpu = bare_invoke_ms(2)
            cfg = DetectConfig(model=str(SSD), source=str(clip), labels=str(LABELS), classes=("person",),
                               lines=("exit:0.75,0,0.75,1",), output=f"{tmp}/o.mp4", events=f"{tmp}/e.jsonl", threads=2)
            c0, e0 = time.process_time(), _children_cpu()
            r = detect_stream(cfg, handle_signals=False)
            cpu = (time.process_time() - c0) * 1000 / r["frames_written"]
            enc = (_children_cpu() - e0) * 1000 / r["frames_written"]
            r["encoder_cpu_ms_per_frame"] = round(enc, 3)
            r["ratio_cpu_with_encoder"] = round((cpu + enc) / inv_cpu, 2)
            r["ms_per_frame"] = round(r["seconds"] * 1000 / r["frames_written"], 3)
            r["cpu_ms_per_frame"] = round(cpu, 3)
            r["bare_invoke_ms"], r["bare_invoke_cpu_ms"] = round(inv_wall, 3), round(inv_cpu, 3)
            r["ratio_wall"] = round(r["ms_per_frame"] / inv_wall, 2)
            r["ratio_cpu"] = round(cpu / inv_cpu, 2)
            if best is None or r["ratio_wall"] < best["ratio_wall"]:
                best = r
    assert best is not None
    return {k: best[k] for k in ("frames_written", "fps", "ms_per_frame", "bare_invoke_ms", "ratio_wall",
                                 "cpu_ms_per_frame", "bare_invoke_cpu_ms", "ratio_cpu", "encoder_cpu_ms_per_frame",
                                 "ratio_cpu_with_encoder", "stage_ms_per_frame", "tracks", "counts")}


def _e2e(python: str, cwd: Path, clip: Path) -> dict:
    """benchmarks/anonymize_fps.py --e2e-only CLIP of the checkout at ``cwd`` (its own pipeline)."""
    import subprocess

    out = subprocess.run([python, "-m", "edgesdk.benchmarks.anonymize_fps", "--e2e-only", str(clip), "--repeat", "1"],
                         cwd=cwd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _stages(python: str, cwd: Path, clip: Path) -> dict:
    import subprocess

    out = subprocess.run([python, "-m", "edgesdk.benchmarks.anonymize_fps", "--stages-only", str(clip), "--repeat", "1"],
                         cwd=cwd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def baseline_compare(baseline: Path, clips: list[Path], repeat: int) -> dict:
    """The anonymize pipeline before the move (the checkout at ``baseline``, its own venv) and after it (this
    one), alternating: end-to-end FPS (best of ``repeat``) and the single-thread own cost of
    anonymize_fps.py --stages-only (wall clock)."""
    py_base = str(baseline / ".venv" / "bin" / "python")
    out = {}
    for clip in clips:
        before, after = [], []
        st_before, st_after = [], []
        for _ in range(repeat):
            before.append(_e2e(py_base, baseline, clip)["fps"])
            after.append(_e2e(sys.executable, REPO, clip)["fps"])
            st_before.append(_stages(py_base, baseline, clip)["own_cost_ms"])
            st_after.append(_stages(sys.executable, REPO, clip)["own_cost_ms"])
        out[clip.name] = {"fps_before": max(before), "fps_after": max(after), "fps_before_runs": before,
                          "fps_after_runs": after, "own_cost_ms_before": min(st_before), "own_cost_ms_after": min(st_after)}
    return out


def anonymize_fps(clip: Path, repeat: int) -> dict:
    from edgesdk.runtime.anonymize import AnonymizeConfig, anonymize

    best = None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            r = anonymize(AnonymizeConfig(source=str(clip), output=f"{tmp}/o.mp4"), handle_signals=False)
            if best is None or r["fps"] > best["fps"]:
                best = r
    assert best is not None
    return {k: best[k] for k in ("frames_written", "fps", "stage_ms_per_frame", "detections", "held_boxes")}


def to_markdown(r: dict) -> str:
    lines = [
        "# Stream pipeline: own cost per frame, detect vs bare invoke, anonymize FPS", "",
        f"Measured {r['when']} on {r['machine']} with {r['cpus']} CPUs shared with other work (load average "
        f"{r['load_average_start']} at the start, {r['load_average_end']} at the end), Python {r['python']}, "
        f"OpenCV {r['opencv']}. Command: `{r['command']}`.", "",
        "## (a) Own cost of the pipeline (single thread, stage by stage, CPU ms of the process per frame)", "",
        "Everything but the model invocations: decode + preprocess + rest of detection + track + stage + sinks. "
        "The video encoder (H.264, the `ffmpeg` binary, a child process on its own core) is not in the process's CPU "
        "time: its CPU per frame is the column after the own cost, and the last column adds it.", "",
        "| job | clip | frames | decode | preprocess | invoke (excluded) | rest of detection | track | stage | sinks | invokes/frame | own cost | encoder process | own cost + encoder |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in r["own_cost"].items():
        job, clip = key.split(":", 1)
        lines.append(f"| {job} | {clip} | {v['frames']} | {v['decode']} | {v['preprocess']} | {v['invoke']} | "
                     f"{v['detect_other']} | {v['track']} | {v['stage']} | {v['sinks']} | {v['invokes_per_frame']} | "
                     f"**{v['own_cost_ms']}** | {v.get('encoder_process', '-')} | {v.get('own_cost_with_encoder_ms', '-')} |")
    lines += ["", "## (b) detect file to file vs the model's bare invoke (2 threads)", "",
              "ssd_mobilenet_v1_coco_quant (300x300 uint8), 2 XNNPACK threads; each detect run (-o video, --events, "
              "--classes person, a line) right after a bare-invoke measurement (median wall ms, mean process CPU ms); "
              "the run with the best wall ratio. CPU: the process's; the encoder's (ffmpeg child) is added in the last ratio.", "",
              "| clip | frames | FPS | wall ms/frame | bare invoke wall ms | **wall ratio** | CPU ms/frame | bare invoke CPU ms | **CPU ratio** | encoder CPU ms/frame | CPU ratio with encoder | tracks | counts |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for clip, v in r["detect"].items():
        lines.append(f"| {clip} | {v['frames_written']} | {v['fps']} | {v['ms_per_frame']} | {v['bare_invoke_ms']} | "
                     f"**{v['ratio_wall']}** | {v['cpu_ms_per_frame']} | {v['bare_invoke_cpu_ms']} | **{v['ratio_cpu']}** | "
                     f"{v.get('encoder_cpu_ms_per_frame', '-')} | {v.get('ratio_cpu_with_encoder', '-')} | {v['tracks']} | {v['counts']} |")
    lines += ["", "## (c) anonymize, file to .mp4 (CLI defaults), best of the repeats", "",
              "| clip | frames | FPS | stage ms (threads in parallel) |", "|---|---|---|---|"]
    for clip, v in r["anonymize"].items():
        lines.append(f"| {clip} | {v['frames_written']} | {v['fps']} | {v['stage_ms_per_frame']} |")
    if r.get("baseline"):
        lines += ["", f"## Before and after the move, alternating in this run (before: `{r['baseline_path']}`)", "",
                  "benchmarks/anonymize_fps.py of each checkout: `--e2e-only CLIP` (AnonymizePipeline file to .mp4, "
                  "best of the runs) and `--stages-only CLIP` (single-thread own cost, wall clock, lowest).", "",
                  "| clip | FPS before | FPS after | own cost before (ms) | own cost after (ms) |", "|---|---|---|---|---|"]
        for clip, v in r["baseline"].items():
            lines.append(f"| {clip} | {v['fps_before']} | {v['fps_after']} | {v['own_cost_ms_before']} | {v['own_cost_ms_after']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "stream"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--own-only", action="store_true", help="only (a), printed as JSON")
    ap.add_argument("--baseline", metavar="CHECKOUT", help="another checkout (with its .venv) to compare anonymize with")
    args = ap.parse_args(argv)
    clips = [VIDEOS / c for c in CLIPS if (VIDEOS / c).exists()]
    if args.own_only:
        print(json.dumps({f"{j}:{c.name}": own_cost(j, c) for j in ("anonymize", "detect") for c in clips}, indent=1))
        return 0
    r: dict = {
        "command": "python -m edgesdk.benchmarks.stream_pipeline " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "opencv": cv2.__version__, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average_start": _load(),
    }
    r["own_cost"] = {f"{j}:{c.name}": own_cost(j, c) for j in ("anonymize", "detect") for c in clips}
    r["detect"] = {c.name: detect_file_to_file(c, args.repeat) for c in clips}
    r["anonymize"] = {c.name: anonymize_fps(c, args.repeat) for c in [VIDEOS / n for n in
                      ("again.mkv", "face-demographics-walking.gif", "one-by-one-person-detection.mp4")] if c.exists()}
    if args.baseline:
        r["baseline_path"] = args.baseline
        r["baseline"] = baseline_compare(Path(args.baseline), clips, args.repeat)
    r["load_average_end"] = _load()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream_pipeline.json").write_text(json.dumps(r, indent=1) + "\n")
    (out / "stream_pipeline.md").write_text(to_markdown(r))
    print(to_markdown(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
