"""``edgesdk compile MODEL.tflite``: Edge TPU compilation through edgetpu_compiler, with the mapping report."""

from __future__ import annotations

import argparse
import sys

from ._common import add_json, bounded_int, print_json

ORDER = 51


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compile",
        help="compile a model for the Edge TPU with edgetpu_compiler (where installed) and report the mapping",
        description=(
            "Run Google's edgetpu_compiler (x86-64 Debian/Ubuntu only) on a full-integer .tflite model or a bundle, "
            "parse its log (ops mapped and left on the CPU, on-chip and off-chip memory, Edge TPU subgraphs) and "
            "add model_edgetpu.tflite to the bundle. Where the compiler is absent, nothing is changed: the predicted "
            "mapping is reported with how to install the compiler and the exit code is 1 (0 with --predict-only)."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="a .tflite file or a bundle folder")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default: the bundle itself, or next to the .tflite)")
    p.add_argument("--num-segments", type=bounded_int(1, 16), metavar="N",
                   help="split the model for pipelining over N Edge TPUs (1..16)")
    p.add_argument("--predict-only", action="store_true",
                   help="only report the predicted mapping; never run the compiler")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..converters import compile_model

    report = compile_model(args.model, args.out, num_segments=args.num_segments, predict_only=args.predict_only)
    ok = report.compiled or args.predict_only
    if args.json:
        print_json(report.to_dict())
        return 0 if ok else 1
    lines, notes = report.summary()
    for line in lines:
        print(line)
    if not ok:  # without the compiler: the prediction, then the install recipe once, exit 1
        for note in notes:
            print(f"edgesdk compile: error: {note}", file=sys.stderr)
        return 1
    return 0
