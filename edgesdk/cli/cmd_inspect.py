"""``edgesdk inspect MODEL``: inputs, outputs, quantization, ops, Edge TPU compilation and predicted mapping."""

from __future__ import annotations

import argparse
import sys

from ..inspection import inspect_model, inspect_tables
from ._common import add_json, print_json

ORDER = 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="inputs, outputs, quantization, op counts and the predicted Edge TPU mapping of a model",
        description=(
            "Read a .tflite model (or the model of a bundle) without TensorFlow and show its inputs, outputs, "
            "dtypes, quantization, op counts, custom ops, whether it is Edge TPU-compiled, and which ops the Edge "
            "TPU compiler would map (predicted from its documented rules) or, for a compiled model, which ops run "
            "outside the Edge TPU op."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="a .tflite file or a bundle (folder or .tar.gz)")
    p.add_argument("--ops", action="store_true", help="also list every operator and where it runs")
    add_json(p)
    p.set_defaults(func=run)


def _plain_table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = [title]
    lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)


def _print_human(d: dict, show_ops: bool) -> None:
    head, tables, tail = inspect_tables(d, show_ops)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        console = Console()
        for line in head:
            console.print(line, highlight=False, markup=False)
        for title, headers, rows in tables:
            t = Table(title=title, title_justify="left")
            for h in headers:
                t.add_column(h)
            for r in rows:
                t.add_row(*r)
            console.print(t)
        for line in tail:
            console.print(line, highlight=False, markup=False)
        return
    out = ["\n".join(head)]
    out += [_plain_table(*t) for t in tables]
    out.append("\n".join(tail))
    sys.stdout.write("\n\n".join(out) + "\n")


def run(args: argparse.Namespace) -> int:
    d = inspect_model(args.model)
    if args.json:
        print_json(d)
    else:
        _print_human(d, args.ops)
    return 0
