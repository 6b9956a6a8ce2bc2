"""``edgesdk detect MODEL [SOURCE|IMAGE...]``: boxes, classes and scores for images; on a video, camera, stream
or folder: persistent track ids, zones and lines, JSONL events, snapshots, annotated video and a live page."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._common import (
    HelpFormatter, add_json, add_video_args, non_negative_int, output_folder, positive_float, positive_int,
    print_json, progress, unit_float, video_options,
)
from ._model_args import add_model_args, load_from_args
from ._stream_args import add_play_args, hostport

ORDER = 40

DESCRIPTION = ("Boxes, classes and scores for images; on a video, camera, stream or folder: persistent track ids, "
               "zones and lines, JSONL events, snapshots, annotated video and a live page.")

EXAMPLES = """examples:
  edgesdk detect ssd.tflite photo.jpg --annotate boxes.jpg        boxes in one image (today's output)
  edgesdk detect ssd.tflite clip.mp4 --labels coco_labels.txt --classes person --line door:0.5,0,0.5,1 \\
      --events e.jsonl -o out.mp4                                    tracks, line crossings, annotated video
  edgesdk detect ssd.bundle 0 --serve 127.0.0.1:8080 --snapshots shots/   first camera, live page, a JPEG per new track
"""


def _grid(text: str) -> tuple[int, int]:
    r, _, c = text.lower().partition("x")
    if not (r.isdigit() and c.isdigit() and 1 <= int(r) <= 8 and 1 <= int(c) <= 8):
        raise argparse.ArgumentTypeError(f"expected RxC with 1-8 rows and columns (e.g. 2x2), got {text!r}")
    return int(r), int(c)


def register(sub) -> None:
    p = sub.add_parser("detect", help="boxes, classes and scores for images; tracks, zones and events on streams",
                       description=DESCRIPTION, epilog=EXAMPLES, formatter_class=HelpFormatter)
    add_model_args(p)
    p.add_argument("inputs", metavar="SOURCE|IMAGE", nargs="*",
                   help="image files, or one SOURCE as anonymize takes it: video, folder, camera index, /dev/videoN, "
                        "rtsp:// or http:// URL, picamera, demo (default: the first camera, else demo)")
    p.add_argument("--threshold", type=unit_float, default=0.5, help="score that starts a track (default: 0.5)")
    p.add_argument("--annotate", metavar="OUT", help="images: draw the boxes into an image file or a folder (created if missing)")
    p.add_argument("-o", "--output", metavar="OUT", help="annotated video (.mp4 ...), image, or folder ending in /")
    p.add_argument("--events", metavar="FILE.jsonl", help="frame records and track records (new, end, enter, leave, cross)")
    p.add_argument("--snapshots", metavar="DIR", help="one JPEG per new track, cropped to its box")
    p.add_argument("--classes", metavar="A,B", help="label names or ids to keep (default: all)")
    p.add_argument("--min-area", type=positive_float, default=None, metavar="PX2", help="smallest box area in source pixels")
    p.add_argument("--tiles", type=_grid, default=None, metavar="RxC", help="also search RxC overlapping tiles (small objects)")
    p.add_argument("--zone", action="append", default=[], metavar="NAME:x,y;x,y;x,y", help="polygon (pixels or 0-1); repeat")
    p.add_argument("--line", action="append", default=[], metavar="NAME:x1,y1,x2,y2", help="counting line (pixels or 0-1); repeat")
    p.add_argument("--min-hits", type=positive_int, default=3, metavar="N", help="detections in a row that confirm a track (default: 3)")
    p.add_argument("--max-misses", type=non_negative_int, default=30, metavar="M", help="frames a track may be missed before it ends (default: 30)")
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--mqtt", metavar="mqtt://HOST[:PORT]/PREFIX", help="publish events and retained counts")
    p.add_argument("--mqtt-user", metavar="USER", help="MQTT user name")
    p.add_argument("--mqtt-password-file", metavar="FILE", help="file holding the MQTT password")
    p.add_argument("--serve", type=hostport, metavar="HOST:PORT", help="live page (loopback unless told)")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs a display)")
    add_play_args(p)
    add_video_args(p)
    add_json(p)
    p.set_defaults(func=run, _parser=p)


def _still_images(args) -> bool:
    from ..runtime import IMAGE_SUFFIXES

    images = bool(args.inputs) and all(Path(i).suffix.lower() in IMAGE_SUFFIXES for i in args.inputs)
    stream_flags = (args.output, args.events, args.snapshots, args.zone, args.line, args.mqtt, args.serve, args.show,
                    args.classes, args.min_area, args.loop, args.tiles)
    return images and not any(stream_flags)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    if (args.mqtt_user or args.mqtt_password_file) and not args.mqtt:  # bad usage: one line, exit 2
        args._parser.exit(2, f"{args._parser.prog}: error: --mqtt-user and --mqtt-password-file go with --mqtt\n")
    if _still_images(args):
        return _run_stills(args)
    if len(args.inputs) > 1:
        raise InputError("give one SOURCE (several images: put them in a folder)")
    if args.annotate:
        raise InputError("--annotate is for image files; on a stream use -o OUT")
    from ..runtime.stream import DetectConfig, RunError, detect_stream

    cfg = DetectConfig(
        model=args.model, source=args.inputs[0] if args.inputs else None, labels=args.labels,
        input_range=args.input_range, output=args.output, events=args.events, snapshots=args.snapshots,
        serve=args.serve, mqtt=args.mqtt, mqtt_user=args.mqtt_user, mqtt_password_file=args.mqtt_password_file,
        show=args.show, classes=tuple(args.classes.split(",")) if args.classes else None, threshold=args.threshold,
        min_area=args.min_area or 0.0, tiles=args.tiles, zones=tuple(args.zone), lines=tuple(args.line), min_hits=args.min_hits,
        max_misses=args.max_misses, max_frames=args.max_frames, device=args.device, threads=args.threads,
        realtime=args.realtime, loop=args.loop, **video_options(args, args.inputs[0] if args.inputs else None),
    )
    with progress("detect", None) as bar:
        def started(info) -> None:
            bar.update(total=info.total, description=f"detect {Path(info.source).name}")
            if info.url:
                print(f"serving the detections at {info.url}", file=sys.stderr)

        try:
            report = detect_stream(cfg, on_start=started, on_frame=lambda n: bar.advance(1))
        except RunError as exc:
            if args.json and exc.report is not None:
                print_json({**exc.report, "ok": False})
            raise
    if args.json:
        print_json({**report, "ok": True})
        return 0
    ms = report["stage_ms_per_frame"]
    print(f"{report['frames_written']} frames from {report['source']} in {report['seconds']:.2f} s "
          f"({report['fps']:.1f} FPS); tracks: {report['tracks']}; per class: {report['tracks_per_class'] or report['detections_per_class']}")
    print("  per frame: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))
    if report["skipped_files"]:
        print(f"  skipped {len(report['skipped_files'])} unreadable: {', '.join(report['skipped_files'])}")
    for k, v in sorted(report["counts"].items()):
        print(f"  {k}: {v}")
    for o in report["outputs"]:
        print(f"  -> {o}")
    return 0


def _run_stills(args: argparse.Namespace) -> int:
    from ..runtime.stream import detect_images

    out = args.annotate
    if out and (out.endswith(("/", os.sep)) or len(args.inputs) > 1 or not Path(out).suffix):
        output_folder(out, "--annotate")  # a folder: created as bundle creates its output folder
    model = load_from_args(args)
    results = detect_images(model, args.inputs, args.threshold, args.annotate)
    if args.json:
        print_json({"model": str(model.path), "backend": model.backend.to_dict(), "device": model.device, "results": results})
        return 0
    for r in results:
        print(f"{r['image']}: {len(r['detections'])} detection(s)" + (f" -> {r['annotated']}" if "annotated" in r else ""))
        for d in r["detections"]:
            print(f"  {d['score']:.3f}  {d.get('label', d['class_id'])}  box {d['box']}")
    return 0
