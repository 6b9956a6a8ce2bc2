"""``edgesdk compile MODEL.tflite``: Edge TPU compilation through edgetpu_compiler, with the mapping report."""

from __future__ import annotations

import argparse
import sys

from ._common import add_json, print_json

ORDER = 51


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compile",
        help="compile a model for the Edge TPU with edgetpu_compiler (where installed) and report the mapping",
        description=(
            "Run Google's edgetpu_compiler (x86-64 Debian/Ubuntu only) on a full-integer .tflite model or a bundle, "
            "parse its log (ops mapped and left on the CPU, on-chip and off-chip memory, Edge TPU subgraphs) and "
            "add model_edgetpu.tflite to the bundle. Where the compiler is absent, nothing is changed: the predicted "
            "mapping is reported with how to install the compiler."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="a .tflite file or a bundle folder")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default: the bundle itself, or next to the .tflite)")
    p.add_argument("--num-segments", type=int, metavar="N", help="split the model for pipelining over N Edge TPUs")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..converters import compile_model

    report = compile_model(args.model, args.out, num_segments=args.num_segments)
    if args.json:
        print_json(report)
        return 0
    from ..converters import op_total

    pred = report.get("predicted") or {}
    if pred:
        print(f"predicted: {op_total(pred.get('mapped_ops'))} ops mapped to the Edge TPU, {op_total(pred.get('cpu_ops'))} on the CPU"
              + (f" (first: {pred.get('first_unmapped')})" if pred.get("first_unmapped") else ""))
    if not report["compiled"]:
        print(f"not compiled: {report['note']}", file=sys.stderr)
        return 0
    c = report["compiler"]
    print(f"edgetpu_compiler {c['version']}: {c['edgetpu_ops']} of {c['total_ops']} ops on the Edge TPU, "
          f"{c['subgraphs']} subgraph(s); on-chip {c['on_chip_used_bytes']} B used, {c['on_chip_remaining_bytes']} B "
          f"free; off-chip {c['off_chip_used_bytes']} B")
    for row in c["operators"]:
        print(f"  {row['op']:<28} {row['count']:>5}  {row['status']}")
    for path in report.get("outputs", []):
        print(f"wrote {path}")
    return 0
