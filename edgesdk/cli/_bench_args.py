"""The arguments of ``edgesdk bench`` and their checks (kept apart so cmd_bench stays a thin command)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import HelpFormatter, add_json, bounded_int, non_negative_int, positive_float, positive_int

MAX_RUNS = 100_000


def _threads(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N,M,... (e.g. 1,2,4), got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text!r}")
    return sorted(set(values), key=values.index)


def _seconds(text: str) -> float:
    v = positive_float(text)
    if v > 3600:
        raise argparse.ArgumentTypeError(f"expected at most 3600 seconds, got {text}")
    return v


def check_bench_args(args: argparse.Namespace):
    """Check the arguments before any measuring: -o FILE by extension onto --markdown / --plot / --save,
    threads capped at the core count, output folders exist. Returns the --image frame (BGR) or None."""
    import logging
    import os

    from ..errors import InputError

    for path in args.output:
        ext = Path(path).suffix.lower()
        dest = {".md": "markdown", ".markdown": "markdown", ".png": "plot", ".json": "save"}.get(ext)
        if dest is None:
            raise InputError(f"-o {path}: unknown report type {ext or '(none)'}; use .md, .png or .json")
        setattr(args, dest, path)
    cores = os.cpu_count() or 1
    if args.threads and max(args.threads) > cores and not args.remote:
        logging.getLogger("edgesdk.bench").warning("--threads capped at the %d core(s) of this machine", cores)
        args.threads = sorted({min(t, cores) for t in args.threads})
    if args.image and not args.pipeline:
        raise InputError("--image is the frame for --pipeline; add --pipeline")
    if args.limit and not args.data:
        raise InputError("--limit needs --data")
    if args.local and not args.remote:
        raise InputError("--local only makes sense with --remote")
    for path, what in ((args.markdown, "--markdown"), (args.plot, "--plot"), (args.save, "--save")):
        if path and not Path(path).resolve().parent.is_dir():
            raise InputError(f"{what} {path}: folder {Path(path).parent} does not exist")
    if args.data and not Path(args.data).is_dir():
        raise InputError(f"--data {args.data}: not a folder")
    if not args.image:
        return None
    import cv2

    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"--image {args.image}: not a readable image")
    return image



_Formatter = HelpFormatter  # defaults shown once; None/False ones not at all


def add_bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="+", metavar="MODEL", help=".tflite file or bundle (folder or .tar.gz)")
    p.add_argument("--device", default="cpu", help="cpu, edgetpu, usb, usb:N, pci, pci:N or :N")
    p.add_argument("--threads", type=_threads, default=None, metavar="N[,M...]",
                   help="interpreter threads; several values measure each (default: all cores)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--runs", type=bounded_int(1, MAX_RUNS), default=None, metavar="N",
                     help=f"timed runs per model, up to {MAX_RUNS} (default 100)")
    how.add_argument("--seconds", type=_seconds, default=None, metavar="S",
                     help="measure about S seconds per model (up to 3600)")
    p.add_argument("--warmup", type=non_negative_int, default=10, metavar="N", help="runs discarded first")
    p.add_argument("--pipeline", action="store_true",
                   help="also time pre-processing, invoke and decoding of a frame, as an application sees it")
    p.add_argument("--image", metavar="FILE", help="frame for --pipeline (default: a synthetic 640x480 frame)")
    p.add_argument("--data", metavar="DIR",
                   help="labelled images for a top-1/top-5 column: <wnid>_*.JPEG (+ imagenet_wnids.txt; scored by edgesdk "
                        "eval's function) or folders named after the model's labels")
    p.add_argument("--limit", type=positive_int, metavar="N", help="use the first N images of --data")
    p.add_argument("--wnids", metavar="FILE", help="wnid list for ImageNet-style --data (default: imagenet_wnids.txt "
                                                  "in DIR or next to the model)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement (a fresh process per model)")
    out = p.add_argument_group("reports")
    add_json(out)
    out.add_argument("--markdown", metavar="FILE", help="write a Markdown report")
    out.add_argument("--plot", metavar="FILE.png", help="write a PNG: latency distribution (+ latency vs accuracy)")
    out.add_argument("--save", metavar="FILE.json", help="write the JSON document to FILE (besides the table)")
    out.add_argument("--compare", metavar="OLD.json", help="show the change against an earlier --json/--save run")
    out.add_argument("--threshold", type=positive_float, default=10.0, metavar="PCT",
                     help="--compare: a p50 slower by more than PCT %% is a regression (exit 1)")
    rem = p.add_argument_group("on devices (over SSH; the device needs python3 with numpy and ai-edge-litert or "
                               "tflite-runtime, not edgesdk)")
    rem.add_argument("--remote", action="append", default=[], metavar="[USER@]HOST",
                     help="run on this host (repeatable; an ssh config alias works)")
    rem.add_argument("--local", action="store_true", help="with --remote: also run here, in the same table")
    from ._deploy_args import add_ssh_args

    add_ssh_args(p, o_is_output=True)  # -o is the output here as in every command
    out.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                     help="write a report, by extension: .md (Markdown), .png (plot), .json (document); repeatable")
