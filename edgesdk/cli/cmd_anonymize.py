"""``edgesdk anonymize``: find faces (and any class a detector offers) in a camera stream, video, image or
folder and blur / pixelate / fill them; write a video or images, JSONL events, or serve an MJPEG page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import add_json, add_video_args, non_negative_int, positive_int, print_json, progress, unit_float, video_options
from ._segment_args import add_person_mask_args
from ._stream_args import add_play_args, hostport

ORDER = 40

EXAMPLES = """examples:
  edgesdk anonymize demo -o demo.mp4                 built-in demo clip (no camera needed), 150 frames
  edgesdk anonymize clip.mp4 -o out.mp4 --events faces.jsonl
  edgesdk anonymize 0 --serve 127.0.0.1:8080         first USB camera, watch at http://127.0.0.1:8080/
  edgesdk anonymize photos/ -o blurred/ --mode pixelate
  edgesdk anonymize a.mp4 b.mp4 photos/              a_anonymized.mp4, b_anonymized.mp4, photos_anonymized/
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


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "anonymize", help="blur faces (and other classes) in a camera stream, video, image or folder",
        description=__doc__, epilog=EXAMPLES,
    )
    p.add_argument("source", nargs="*", metavar="SOURCE",
                   help="video file, image, image folder, camera index or /dev/videoN, rtsp:// or http:// URL, "
                        "picamera[:N], or demo (default: the first camera if one exists, else demo); several files "
                        "or folders: one output each (-o then names a folder)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output: a video (.mp4 .mkv .avi .mov .m4v: same size and frame rate as the source), an "
                        "image (.jpg .png ...) for a one-image source, or a folder (ending in / or existing) for images "
                        "(default, with no other output: NAME_anonymized.EXT or NAME_anonymized/ next to the input)")
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
    p.add_argument("--serve", type=hostport, metavar="HOST:PORT",
                   help="serve an MJPEG page of the anonymized stream (e.g. 127.0.0.1:8080; loopback unless told)")
    p.add_argument("--show", action="store_true", help="show the anonymized frames in a window (needs a display)")
    p.add_argument("--force", action="store_true", help="overwrite the default output <name>_anonymized.<ext>")
    add_play_args(p)
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N",
                   help="stop after N frames (demo: 150 unless given)")
    p.add_argument("--device", default="cpu", metavar="cpu|edgetpu",
                   help="where detector bundles run; edgetpu uses a bundle's Edge TPU model (BlazeFace stays on the CPU)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads per model (default: 1 for faces, so the pipeline stages get the other cores)")
    add_person_mask_args(p)
    add_video_args(p)
    add_json(p)
    p.set_defaults(func=run)


# --- run --------------------------------------------------------------------------------------------------------
def run(args) -> int:
    from ..runtime.anonymize import AnonymizeConfig, anonymize_inputs, summary_text
    from ..runtime.stream import RunError

    several = len(args.source) > 1
    cfg = AnonymizeConfig(
        output=args.output, events=args.events, serve=args.serve, show=args.show,
        detectors=tuple(args.detector or ["face"]),
        classes=tuple(tuple(c.split(",")) for c in args.classes) if args.classes else None, mode=args.mode,
        feather=args.feather, threshold=args.threshold, mask_scale=args.mask_scale, tiles=args.tiles,
        sweep=args.sweep, hold_frames=args.hold_frames, max_frames=args.max_frames, device=args.device,
        threads=args.threads, realtime=args.realtime, loop=args.loop, person_mask=args.person_mask,
        person_shape=args.person_shape, force=args.force, **video_options(args),
    )
    with progress("anonymize", None) as bar:
        def started(info) -> None:
            bar.update(completed=0, total=info.total, description=f"anonymize {Path(info.source).name}")
            if info.url:
                print(f"serving the anonymized stream at {info.url}", file=sys.stderr)

        try:
            reports = anonymize_inputs(cfg, args.source, keep_audio=not args.no_audio, on_start=started,
                                       on_frame=lambda n: bar.advance(1))
        except RunError as exc:
            if args.json and exc.report is not None:
                failed = {**exc.report, "ok": False}
                print_json([{**r, "ok": r is not exc.report} for r in exc.reports[:-1]] + [failed] if several else failed)
            raise
    if args.json:
        print_json([{**r, "ok": True} for r in reports] if several else {**reports[0], "ok": True})
    else:
        print("\n".join(summary_text(r) for r in reports))
    return 0
