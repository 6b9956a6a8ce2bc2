"""Helpers shared by the command modules: JSON output, progress bars that stay quiet in a pipe."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, Iterator

import numpy as np


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def _default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def is_terminal() -> bool:
    return sys.stderr.isatty()


class _Progress:
    def __init__(self, bar, task) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def update(self, **kw) -> None:
        if self._bar is not None:
            self._bar.update(self._task, **kw)


@contextlib.contextmanager
def progress(description: str, total: float | None) -> Iterator[_Progress]:
    """A rich progress bar on stderr when it is a terminal; does nothing in a pipe."""
    if not is_terminal():
        yield _Progress(None, None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        yield _Progress(bar, bar.add_task(description, total=total))


def parse_range(text: str) -> tuple[float, float]:
    """'-1,1' -> (-1.0, 1.0); raises argparse-style errors for anything else."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A,B (two numbers), got {text!r}") from None
    if not lo < hi:
        raise argparse.ArgumentTypeError(f"range {text!r}: A must be below B")
    return lo, hi


def _number(text: str, cast, ok, want: str):
    try:
        v = cast(text)
    except ValueError:
        kind = "whole number" if cast is int else "number"
        raise argparse.ArgumentTypeError(f"expected a {kind}, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {want}, got {text}")
    return v


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _number(text, int, lambda v: v >= 1, "a number >= 1")


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    return _number(text, int, lambda v: v >= 0, "a number >= 0")


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    return _number(text, float, lambda v: v > 0, "a number > 0")


def unit_float(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    return _number(text, float, lambda v: 0.0 < v < 1.0, "a value between 0 and 1")
