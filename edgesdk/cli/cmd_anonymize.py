"""``edgesdk anonymize``: find faces (and any class a detector offers) in a camera stream, video, image or
folder and blur / pixelate / fill them; write a video or images, JSONL events, or serve an MJPEG page."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from ..errors import InputError
from ._common import add_json, non_negative_int, positive_int, print_json, progress, unit_float

ORDER = 40

log = logging.getLogger(__name__)

EXAMPLES = """examples:
  edgesdk anonymize demo -o demo.mp4                 built-in demo clip (no camera needed), 150 frames
  edgesdk anonymize clip.mp4 -o out.mp4 --events faces.jsonl
  edgesdk anonymize 0 --serve 127.0.0.1:8080         first USB camera, watch at http://127.0.0.1:8080/
  edgesdk anonymize photos/ -o blurred/ --mode pixelate
  edgesdk anonymize street.mp4 -o out.mp4 --detector face --detector plates.tar.gz --classes plate

guarantees: a frame is written only after the detector ran on it and every box found (and every box held by
the tracker for --hold-frames frames after a miss) was masked; if the detector fails on a frame, the frame is
blanked; a live source drops frames rather than passing them on unmasked.
"""


def _tiles(text: str):
    from ..runtime.faces import parse_tiles

    try:
        return parse_tiles(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _scale(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 1.0 <= v <= 4.0:
        raise argparse.ArgumentTypeError(f"mask scale must be between 1.0 and 4.0, got {v}")
    return v


def _hostport(text: str):
    from ..runtime.sinks import parse_hostport

    try:
        return parse_hostport(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "anonymize", help="blur faces (and other classes) in a camera stream, video, image or folder",
        description=__doc__, epilog=EXAMPLES,
    )
    p.add_argument("source", nargs="?", default=None, metavar="SOURCE",
                   help="video file, image, image folder, camera index or /dev/videoN, rtsp:// or http:// URL, "
                        "picamera[:N], or demo (default: the first camera if one exists, else demo)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output: a video (.mp4 .mkv .avi .mov .m4v: same size and frame rate as the source), an "
                        "image (.jpg .png ...) for a one-image source, or a folder (ending in / or existing) for images")
    p.add_argument("--detector", action="append", metavar="face|face-full|BUNDLE",
                   help="what to find: face (BlazeFace short range), face-full (full range), or an SSD detector "
                        "bundle / .tflite; repeat for several (default: face)")
    p.add_argument("--classes", action="append", metavar="A,B",
                   help="classes (label names or ids) to anonymize from a detector bundle; one per BUNDLE in order, "
                        "or one for all (default: every class)")
    p.add_argument("--mode", choices=("blur", "pixelate", "solid", "mask"), default="blur",
                   help="blur (kernel scaled to the box), pixelate (mosaic), solid (black box), mask (black ellipse)")
    p.add_argument("--feather", type=non_negative_int, default=0, metavar="PX",
                   help="soft edge width in pixels, kept inside the --mask-scale margin")
    p.add_argument("--threshold", type=unit_float, default=None, metavar="T",
                   help="detection score threshold (default: the model's: 0.5 face, 0.6 face-full, 0.5 bundles)")
    p.add_argument("--mask-scale", type=_scale, default=1.3, metavar="S", help="enlarge each box by S before masking")
    p.add_argument("--tiles", type=_tiles, default="auto", metavar="auto|off|RxC",
                   help="small faces: auto (tiles sized to the frame, spread over --sweep frames in videos, plus a "
                        "crop around each small face found), off, or RxC (every tile on every frame)")
    p.add_argument("--sweep", type=positive_int, default=4, metavar="N",
                   help="with --tiles auto on a video or camera, search every tile once per N frames (a face small "
                        "enough that only tiles find it may show for up to N-1 frames after it appears; 1: every "
                        "tile on every frame)")
    p.add_argument("--hold-frames", type=non_negative_int, default=5, metavar="N",
                   help="keep masking a face for N frames after the detector loses it")
    p.add_argument("--events", metavar="FILE", help="write JSONL events (frame, timestamp, boxes, scores; no pixels)")
    p.add_argument("--serve", type=_hostport, metavar="HOST:PORT",
                   help="serve an MJPEG page of the anonymized stream (e.g. 127.0.0.1:8080; loopback unless told)")
    p.add_argument("--show", action="store_true", help="show the anonymized frames in a window (needs a display)")
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N",
                   help="stop after N frames (demo: 150 unless given)")
    p.add_argument("--device", default="cpu", metavar="cpu|edgetpu",
                   help="where detector bundles run; edgetpu uses a bundle's Edge TPU model (BlazeFace stays on the CPU)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads per model (default: 1 for faces, so the pipeline stages get the other cores)")
    add_json(p)
    p.set_defaults(func=run)


# --- output planning --------------------------------------------------------------------------------------------
def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def plan_output(out: str | None, source_spec: str | None, source) -> tuple[str, Path] | None:
    """Validate -o before any work: ('video' | 'image' | 'folder', path) or None. Raises InputError."""
    from ..runtime.sinks import IMAGE_OUT_EXTENSIONS, VIDEO_FOURCC

    if out is None:
        return None
    p = Path(out)
    if source_spec is not None and Path(source_spec).exists() and _same_file(Path(source_spec), p):
        raise InputError(f"output {out} is the input: choose another path")
    is_folder = out.endswith(("/", os.sep)) or p.is_dir()
    if is_folder:
        if source_spec is not None and Path(source_spec).is_dir() and _same_file(Path(source_spec), p):
            raise InputError(f"output folder {out} is the input folder: choose another")
        if not p.parent.is_dir():
            raise InputError(f"output folder {p.parent} does not exist")
        if p.exists() and not os.access(p, os.W_OK):
            raise InputError(f"cannot write to {p}: permission denied")
        return "folder", p
    ext = p.suffix.lower()
    if not p.parent.is_dir():
        raise InputError(f"output folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK):
        raise InputError(f"cannot write to {p.parent}: permission denied")
    if ext in VIDEO_FOURCC:
        return "video", p
    if ext in IMAGE_OUT_EXTENSIONS:
        if getattr(source, "total", None) != 1:
            raise InputError(f"{out} is one image but the source has more frames: write to a video or a folder (end it with /)")
        return "image", p
    known = ", ".join(sorted(VIDEO_FOURCC)) + ", " + ", ".join(sorted(IMAGE_OUT_EXTENSIONS))
    raise InputError(f"unsupported output extension {ext or '(none)'} for {out}: use {known}, or a folder ending in /")


def _source_names(source):
    files = getattr(source, "files", None)
    if not files:
        return None
    return lambda i: Path(files[i]).stem


# --- run --------------------------------------------------------------------------------------------------------
def run(args) -> int:
    from ..runtime.anonymize import AnonymizePipeline, Blur, EllipseMask, Pixelate, Solid, build_detectors
    from ..runtime.sinks import EventsSink, ImageFileSink, ImageFolderSink, MjpegServer, VideoSink, WindowSink
    from ..runtime.sources import open_source

    # 1. everything that can be checked is checked before any work
    source = open_source(args.source, max_frames=args.max_frames)
    if args.output is None and args.events is None and args.serve is None and not args.show:
        raise InputError("nothing to write: give -o OUT, --events FILE, --serve HOST:PORT or --show")
    if args.events and args.output and _same_file(Path(args.events), Path(args.output)):
        raise InputError("--events and -o are the same file")
    if args.events:
        ev = Path(args.events)
        if args.source and Path(args.source).exists() and _same_file(Path(args.source), ev):
            raise InputError(f"events file {ev} is the input: choose another path")
        if not ev.parent.is_dir():
            raise InputError(f"output folder {ev.parent} does not exist")
    source.open()
    sinks: list = []
    try:
        plan = plan_output(args.output, args.source, source)
        live = bool(getattr(source, "live", False))
        threads = args.threads if args.threads is not None else 1
        detector = build_detectors(
            args.detector, classes=[c.split(",") for c in args.classes] if args.classes else None,
            threshold=args.threshold, tiles=args.tiles, device=args.device, threads=threads,
            sweep_frames=args.sweep, still=bool(getattr(source, "independent", False)),
        )
        mode = {"blur": Blur, "pixelate": Pixelate, "solid": Solid, "mask": EllipseMask}[args.mode](feather=args.feather)
        if plan is not None:
            kind, path = plan
            if kind == "video":
                sinks.append(VideoSink(path, source.fps or 30.0))
            elif kind == "image":
                sinks.append(ImageFileSink(path))
            else:
                sinks.append(ImageFolderSink(path, names=_source_names(source)))
        if args.events:
            sinks.append(EventsSink(args.events))
        server = None
        if args.serve:
            server = MjpegServer(*args.serve, title=f"edgesdk anonymize: {source.name}")
            sinks.append(server)
            print(f"serving the anonymized stream at {server.url}", file=sys.stderr)
        if args.show:
            sinks.append(WindowSink())
    except BaseException:
        for s in sinks:
            s.close()
        source.close()
        raise

    # 2. Ctrl-C / SIGTERM: finish the frames in flight, finalize the outputs, exit 0
    stop = threading.Event()

    def _on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.warning("stopping: finishing the current frame and closing the outputs (again to abort)")

    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, _on_signal)
    total = None if live else source.total
    try:
        with progress(f"anonymize {Path(source.name).name}", total) as bar:
            pipe = AnonymizePipeline(
                source, detector, mode, sinks, hold_frames=args.hold_frames, mask_scale=args.mask_scale,
                on_frame=lambda n: bar.advance(1),
            )
            try:
                summary = pipe.run(stop)
            except Exception as exc:
                summ = getattr(exc, "summary", None)
                if summ is not None and args.json:
                    print_json({**_report(args, source, detector, mode, summ, sinks), "ok": False})
                raise
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        detector.close()
    report = _report(args, source, detector, mode, summary, sinks)
    if args.json:
        print_json({**report, "ok": True})
    else:
        _print_summary(report)
    return 0


def _report(args, source, detector, mode, summary, sinks) -> dict:
    d = summary.to_dict()
    return {
        "source": source.name,
        "size": list(source.size) if source.size else None,
        "source_fps": source.fps,
        "detectors": getattr(detector, "name", "?"),
        "labels": list(getattr(detector, "labels", [])),
        "anonymizer": mode.describe(),
        "mask_scale": args.mask_scale,
        "hold_frames": args.hold_frames,
        "tiles": args.tiles if isinstance(args.tiles, str) else f"{args.tiles[0]}x{args.tiles[1]}",
        "outputs": [s.name for s in sinks],
        **{k: v for k, v in d.items() if k != "source"},
    }


def _print_summary(r: dict) -> None:
    st = r["stage_ms_per_frame"]
    lines = [
        f"{r['frames_written']} frames from {r['source']} in {r['seconds']:.2f} s ({r['fps']:.1f} FPS), "
        f"{r['detections']} detections, {r['held_boxes']} held boxes",
        f"  per frame: capture {st['capture']:.2f} ms, detect {st['detect']:.2f} ms, render {st['render']:.2f} ms, "
        f"write {st['write']:.2f} ms",
    ]
    extra = [f"{k} {r[k]}" for k in ("skipped", "dropped", "blanked") if r.get(k)]
    if r.get("interrupted"):
        extra.append("stopped early (interrupted), outputs finalized")
    if extra:
        lines.append("  " + ", ".join(extra))
    for o in r["outputs"]:
        lines.append(f"  -> {o}")
    print("\n".join(lines))
