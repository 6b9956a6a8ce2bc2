"""Benchmark of `edgesdk anonymize`: end-to-end FPS file to file, per-stage time, the detector's bare invoke
time, the leak rate per clip of ../shared/testdata/videos and the demo's ground-truth coverage, in one run.

    .venv/bin/python -m edgesdk.benchmarks.anonymize_fps [--out benchmarks/results/anonymize] [--repeat 3]
    .venv/bin/python benchmarks/anonymize_fps.py --stages-only CLIP   # just the single-thread stage costs

Each clip is anonymized with the CLI's defaults (BlazeFace short range, --tiles auto with --sweep 4 and two tile
workers, blur, --mask-scale 1.3, --hold-frames 5, 1 interpreter thread per worker) into an .mp4, best of
--repeat runs; also with one worker, and with --tiles off (one pass per frame) for comparison.

Stage costs: the threaded pipeline's stage times include waiting for a CPU (other threads, other processes), so
the own cost around the detector is also measured single-threaded, stage by stage, on the same clip: decode,
preprocessing (colour, scaling into the model input), model invoke, the rest of detection (tile crops and
reflected margins, box decoding, NMS, merging, crops to follow), tracking, render, encode. ``--stages-only``
works on older checkouts of the SDK too (it only needs build_detectors, IoUTracker, Renderer, Blur).

Leaks: the written .mp4 is decoded and searched with BlazeFace at threshold 0.3 with every tile on every frame;
a leak is an input face (same detector at its default threshold 0.5, every tile on every frame) found again in
the output with IoU >= 0.5. Reported three ways: every such input face (raw), input faces the reference also
finds in an adjacent frame (confirmed), and faces the reference scores >= 0.9 (sure faces). Leaked boxes are
listed so a reader can look at them.

Demo: the built-in demo (150 frames) has exact ground truth (DemoSource.face_boxes: the photo's two face boxes
through each frame's affine). A face with >= 30 % of its box in view must be covered >= 80 % by the masked
boxes; reported per frame.

Sizes (``--sizes``): the smallest face BlazeFace finds reliably, the number the tile layout is derived from:
each labelled face (the demo photo's, two in images/face.jpg, the 18 in faces/training.xml) scaled to a given
width in the model input and placed at 9 positions; the share found (IoU >= 0.3) per width.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from edgesdk.benchmarks.anonymize_demo_coverage import demo_coverage
from edgesdk.benchmarks.anonymize_fps_md import markdown

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
VIDEOS = SHARED / "testdata" / "videos"
CLIPS = ["again.mkv", "face-demographics-walking.gif", "one-by-one-person-detection.mp4"]


def _load() -> tuple[float, float, float]:
    try:
        return tuple(round(v, 2) for v in os.getloadavg())  # type: ignore[return-value]
    except OSError:
        return (-1.0, -1.0, -1.0)


# --- single-thread stage costs (also runs against older checkouts) ----------------------------------------------
def stage_costs(clip: Path, reps: int = 3) -> dict:
    """ms per frame of each stage, run one after the other in one thread (no waiting on other threads)."""
    from edgesdk.runtime.anonymize import Blur, IoUTracker, Renderer, build_detectors

    kw: dict = {"threads": 1, "sweep_frames": 4}
    if "workers" in inspect.signature(build_detectors).parameters:
        kw["workers"] = 1  # one thread: every invoke counted here
    t = {k: 0.0 for k in ("decode", "preprocess", "invoke", "detect_other", "track", "render", "encode")}
    frames = invokes = 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            det = build_detectors(["face"], **kw)
            model = det.detectors[0].inner.detector.model
            it = model.interpreter
            inv0, pre0 = it.invoke, model.preprocess

            def inv(inv0=inv0):
                nonlocal invokes
                a = time.perf_counter()
                inv0()
                t["invoke"] += time.perf_counter() - a
                invokes += 1

            def pre(image, pre0=pre0):
                a = time.perf_counter()
                out = pre0(image)
                t["preprocess"] += time.perf_counter() - a
                return out

            it.invoke, model.preprocess = inv, pre
            tracker, render = IoUTracker(5), Renderer(Blur(), 1.3)
            cap = cv2.VideoCapture(str(clip))
            writer = None
            while True:
                a = time.perf_counter()
                ok, frame = cap.read()
                b = time.perf_counter()
                if not ok:
                    break
                t["decode"] += b - a
                i0, p0 = t["invoke"], t["preprocess"]
                d = det.detect(frame)
                c = time.perf_counter()
                t["detect_other"] += (c - b) - (t["invoke"] - i0) - (t["preprocess"] - p0)
                boxes, _ = tracker.update(d)
                e = time.perf_counter()
                t["track"] += e - c
                render(frame, boxes)
                g = time.perf_counter()
                t["render"] += g - e
                if writer is None:
                    writer = cv2.VideoWriter(str(Path(tmp) / "o.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30,
                                             (frame.shape[1], frame.shape[0]))
                g = time.perf_counter()
                writer.write(frame)
                t["encode"] += time.perf_counter() - g
                frames += 1
            cap.release()
            if writer is not None:
                writer.release()
            if hasattr(det, "close"):
                det.close()
    out = {k: round(v * 1000 / frames, 3) for k, v in t.items()}
    out["invokes_per_frame"] = round(invokes / frames, 2)
    out["invoke_ms_each"] = round(t["invoke"] * 1000 / max(1, invokes), 3)
    out["own_cost_ms"] = round(sum(out[k] for k in ("decode", "preprocess", "detect_other", "track", "render", "encode")), 3)
    return out


def encode_costs(clip: Path) -> dict:
    """ms per frame to encode the clip's frames with each codec OpenCV offers here."""
    from edgesdk.runtime.sources import video_frames

    frames = list(video_frames(clip))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ext, codec in ((".mp4", "mp4v"), (".avi", "MJPG"), (".mkv", "XVID")):
            w = cv2.VideoWriter(str(Path(tmp) / f"o{ext}"), cv2.VideoWriter_fourcc(*codec), 30,
                                (frames[0].shape[1], frames[0].shape[0]))
            if not w.isOpened():
                continue
            a = time.perf_counter()
            for f in frames:
                w.write(f)
            w.release()
            out[codec] = round((time.perf_counter() - a) * 1000 / len(frames), 3)
    return out


# --- end to end --------------------------------------------------------------------------------------------------
def bare_invoke_ms(model: str = "face", reps: int = 300) -> float:
    from edgesdk.runtime.faces import FaceDetector

    fd = FaceDetector(model, threads=1)
    tensor, _ = fd.model.preprocess(np.zeros((480, 640, 3), np.uint8))
    tensor = tensor.copy()
    for _ in range(20):
        fd.model.invoke(tensor)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fd.model.invoke(tensor)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def run_clip(clip: Path, tiles: str, workers: int | None, repeat: int, out_path: Path, detector: str = "face") -> dict:
    """Best of ``repeat`` runs of the CLI's pipeline, file to .mp4 (workers None: the SDK's default; also runs on
    older checkouts without tile workers). ``detector``: face, face-full or a face bundle."""
    from edgesdk.runtime.anonymize import AnonymizePipeline, Blur, build_detectors
    from edgesdk.runtime.sinks import VideoSink
    from edgesdk.runtime.sources import VideoFileSource

    kw = {"tiles": tiles, "threads": 1, "sweep_frames": 4}
    if workers is not None:
        kw["workers"] = workers
    best = None
    for _ in range(repeat):
        src = VideoFileSource(clip)
        src.open()
        det = build_detectors([detector], **kw)
        tiler = det.detectors[0].inner
        model = tiler.detector.model
        calls = [0]
        inv0 = model.interpreter.invoke

        def counted(inv0=inv0, calls=calls):
            calls[0] += 1
            inv0()

        model.interpreter.invoke = counted
        for extra in getattr(tiler, "_detectors", [])[1:]:
            inv1 = extra.model.interpreter.invoke

            def counted1(inv1=inv1, calls=calls):
                calls[0] += 1
                inv1()

            extra.model.interpreter.invoke = counted1
        pipe = AnonymizePipeline(src, det, Blur(), [VideoSink(out_path, src.fps)], hold_frames=5, mask_scale=1.3)
        try:
            s = pipe.run()
        finally:
            if hasattr(det, "close"):
                det.close()
        d = s.to_dict()
        d["invokes_per_frame"] = round(calls[0] / max(1, s.frames_read), 2)
        d["size"] = list(src.size)
        if best is None or d["fps"] > best["fps"]:
            best = d
    return best


def leaks(clip: Path, output: Path) -> dict:
    from edgesdk.runtime.anonymize import leak_detections, leak_report
    from edgesdk.runtime.sources import video_frames

    found = leak_detections(zip(video_frames(clip), video_frames(output)))
    return {
        "raw": leak_report(found, match_iou=0.5).to_dict(),
        "raw_iou_0.3": leak_report(found, match_iou=0.3).to_dict(),
        "confirmed": leak_report(found, match_iou=0.5, confirm=True).to_dict(),
        "score_0.9": leak_report(found, match_iou=0.5, min_score=0.9).to_dict(),
    }


def size_table(model: str = "face") -> dict:
    from edgesdk.runtime.faces import FaceDetector, iou_matrix
    from edgesdk.runtime.sources import demo_photo
    from edgesdk.runtime.sources._demo import CANVAS_FACES

    fd = FaceDetector(model, threads=1)
    n = fd.input_size[0]
    big = [(demo_photo(), tuple(CANVAS_FACES[0]))]
    face_jpg = cv2.imread(str(SHARED / "testdata" / "images" / "face.jpg"))
    if face_jpg is not None:
        big += [(face_jpg, (262, 80, 345, 165)), (face_jpg, (135, 105, 222, 195))]  # the two front faces
    small = []
    xml = SHARED / "testdata" / "faces" / "training.xml"
    if xml.exists():
        for im in ET.parse(xml).getroot().iter("image"):
            img = cv2.imread(str(xml.parent / im.get("file")))
            for b in im.iter("box"):
                l, t, w, h = (int(b.get(k)) for k in ("left", "top", "width", "height"))
                small.append((img, (l, t, l + w, t + h)))

    def rate(img, box, s):
        k = s / (box[2] - box[0])
        im = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
        b = np.array(box, np.float32) * k
        free = max(0.0, n - max(b[2] - b[0], b[3] - b[1]))
        pad = cv2.copyMakeBorder(im, n, n, n, n, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        hits = 0
        for ox in (-0.4, 0.0, 0.4):
            for oy in (-0.4, 0.0, 0.4):
                x0 = int(round((b[0] + b[2]) / 2 + ox * free - n / 2))
                y0 = int(round((b[1] + b[3]) / 2 + oy * free - n / 2))
                d = fd.detect(pad[y0 + n:y0 + 2 * n, x0 + n:x0 + 2 * n])
                gt = (b - np.array([x0, y0, x0, y0], np.float32))[None]
                hits += bool(len(d)) and float(iou_matrix(gt, d.xyxy).max()) >= 0.3
        return hits / 9

    rows = []
    for s in (8, 10, 12, 14, 16, 18, 20, 24, 28, 32, 48, 64, 96, 112):
        if s >= n:
            break
        rows.append({"width_px": s, "photo_faces": [round(rate(i, b, s), 2) for i, b in big],
                     "dlib_faces_mean": round(float(np.mean([rate(i, b, s) for i, b in small])), 3) if small and s <= 40 else None})
    return {"model": model, "input": n, "threshold": fd.threshold, "rows": rows}


# --- report --------------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "anonymize"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-leaks", action="store_true")
    ap.add_argument("--sizes", action="store_true", help="also measure the reliable face size table")
    ap.add_argument("--stages-only", metavar="CLIP", help="print the single-thread stage costs of CLIP and exit")
    ap.add_argument("--e2e-only", metavar="CLIP", help="print the end-to-end FPS of the defaults on CLIP and exit")
    ap.add_argument("--demo-only", action="store_true", help="print the demo's ground-truth coverage and exit")
    args = ap.parse_args(argv)
    if args.stages_only:
        print(json.dumps(stage_costs(Path(args.stages_only), args.repeat)))
        return 0
    if args.e2e_only:
        with tempfile.TemporaryDirectory() as tmp:
            r = run_clip(Path(args.e2e_only), "auto", None, args.repeat, Path(tmp) / "o.mp4")
        print(json.dumps({"fps": r["fps"], "stage_ms_per_frame": r["stage_ms_per_frame"], "invokes_per_frame": r["invokes_per_frame"],
                          "load_average": _load()}))
        return 0
    if args.demo_only:
        print(json.dumps(demo_coverage()))
        return 0
    from edgesdk._version import __version__

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "command": "python -m edgesdk.benchmarks.anonymize_fps " + " ".join(argv if argv is not None else sys.argv[1:]),
        "edgesdk": __version__, "machine": platform.machine(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "opencv": cv2.__version__,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average_start": _load(),
        "bare_invoke_ms": {"face (128x128, 1 thread)": round(bare_invoke_ms("face"), 3),
                           "face-full (192x192, 1 thread)": round(bare_invoke_ms("face-full"), 3)},
        "clips": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in CLIPS:
            clip = VIDEOS / name
            if not clip.exists():
                continue
            entry = {}
            for tiles, workers in (("auto", 2), ("auto", 1), ("off", 1)):
                path = Path(tmp) / f"{clip.stem}.{tiles}.{workers}.mp4"
                r = run_clip(clip, tiles, workers, args.repeat, path)
                if not args.no_leaks and (tiles, workers) != ("auto", 1):
                    r["leaks"] = leaks(clip, path)
                entry[f"tiles={tiles} workers={workers}"] = r
            entry["stages_single_thread"] = stage_costs(clip, args.repeat)
            results["clips"][name] = entry
            print(name, json.dumps({k: v.get("fps") for k, v in entry.items() if "fps" in v}), flush=True)
        results["encode_ms_per_frame_again_mkv"] = encode_costs(VIDEOS / CLIPS[0]) if (VIDEOS / CLIPS[0]).exists() else {}
    results["demo"] = demo_coverage()
    print("demo", json.dumps({k: v for k, v in results["demo"].items() if k != "missed"}), flush=True)
    if args.sizes:
        results["sizes"] = [size_table("face"), size_table("face-full")]
    results["load_average_end"] = _load()
    (out / "anonymize_fps.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "anonymize_fps.md").write_text(markdown(results))
    print(f"wrote {out / 'anonymize_fps.json'} and {out / 'anonymize_fps.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
