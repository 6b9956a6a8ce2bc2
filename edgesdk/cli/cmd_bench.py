"""``edgesdk bench MODEL...``: latency percentiles, throughput, memory, size and accuracy, side by side."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ._common import add_json, non_negative_int, positive_float, positive_int

ORDER = 70

EPILOG = """\
examples:
  edgesdk bench a.tflite b.tflite --threads 1,2 --runs 200
  edgesdk bench model.tflite --pipeline --image photo.jpg --markdown bench.md --plot bench.png
  edgesdk bench bundle/ --data imagenet-val/ --limit 500          # adds top-1 / top-5
  edgesdk bench a.tflite --remote pi@kitchen --remote pi@garage   # on the devices, one table
  edgesdk bench a.tflite --json > new.json; edgesdk bench a.tflite --compare old.json --threshold 10

Models run interleaved (A B A B ...) so machine noise hits them alike; the table shows each p50 as a ratio to
the first. Latency is the raw interpreter invoke with inputs set once; --pipeline adds what an application sees.
Exit status: 0 all ran, 1 a model or host failed (one line each on stderr; the others still run and the table
marks the failures) or --compare found a regression, 2 bad usage.
"""


def _threads(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N,M,... (e.g. 1,2,4), got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text!r}")
    return sorted(set(values), key=values.index)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, except None/False ones (their help says what happens)."""

    def _get_help_string(self, action):
        if action.default in (None, False, []) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="latency, throughput, memory and accuracy of models, side by side, here or on a device",
        description=__doc__, epilog=EPILOG, formatter_class=_Formatter,
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help=".tflite file or bundle (folder or .tar.gz)")
    p.add_argument("--device", default="cpu", help="cpu, edgetpu, usb, usb:N, pci, pci:N or :N")
    p.add_argument("--threads", type=_threads, default=None, metavar="N[,M...]",
                   help="interpreter threads; several values measure each (default: all cores)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--runs", type=positive_int, default=None, metavar="N", help="timed runs per model (default 100)")
    how.add_argument("--seconds", type=positive_float, default=None, metavar="S", help="measure about S seconds per model")
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

    add_ssh_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgesdk.benchmarks import (benchmark, check_outputs, compare, error_lines, print_table, read_document, to_json,
                                    write_outputs)

    from ..errors import InputError
    from ._common import progress

    if args.image and not args.pipeline:
        raise InputError("--image is the frame for --pipeline; add --pipeline")
    if args.limit and not args.data:
        raise InputError("--limit needs --data")
    if args.local and not args.remote:
        raise InputError("--local only makes sense with --remote")
    check_outputs(markdown=args.markdown, plot=args.plot, save=args.save)
    old = read_document(args.compare) if args.compare else None  # fail before measuring anything
    if args.data and not Path(args.data).is_dir():
        raise InputError(f"--data {args.data}: not a folder")
    image = None
    if args.image:
        from ..runtime import read_image

        image = read_image(args.image)
    ssh = None
    if args.remote:
        from ._deploy_args import ssh_options

        ssh = ssh_options(args)
    command = "edgesdk bench " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["bench"] else ""
    total = args.runs or (100 if args.seconds is None else None)
    with progress("benchmarking", total) as bar:
        doc = benchmark(
            args.models, device=args.device, threads=args.threads, runs=args.runs, seconds=args.seconds,
            warmup=args.warmup, pipeline=args.pipeline, image=image, data=args.data, limit=args.limit,
            wnids=args.wnids, remotes=args.remote, local=True if args.local else None,
            remote_python=args.remote_python, ssh=ssh, memory=not args.no_memory, command=command,
            on_round=lambda n: bar.advance(1),
        )
    for line in error_lines(doc):
        print(f"edgesdk bench: error: {line}", file=sys.stderr)
    if args.json:
        sys.stdout.write(to_json(doc))
    else:
        print_table(doc, sys.stdout)
    for note in write_outputs(doc, save=args.save, markdown=args.markdown, plot_file=args.plot):
        print(f"edgesdk bench: {note}", file=sys.stderr)
    regressed = False
    if old is not None:
        metric = "p50"
        changes = compare(old, doc, threshold=args.threshold / 100.0, metric=metric)
        stream = sys.stderr if args.json else sys.stdout
        print(f"compared with {args.compare} ({metric}, threshold {args.threshold:g} %):", file=stream)
        for c in changes:
            print("  " + c.line(metric), file=stream)
        bad = [c for c in changes if c.regression]
        if bad:
            regressed = True
            print(f"edgesdk bench: error: {len(bad)} regression(s) beyond {args.threshold:g} % against {args.compare}",
                  file=sys.stderr)
    return 1 if doc["errors"] or regressed else 0
