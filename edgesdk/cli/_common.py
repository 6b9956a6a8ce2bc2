"""Helpers shared by the command modules: JSON output, progress bars that stay quiet in a pipe."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each default once: not for flags (on/off), None, or help that already says its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default in (None, False, True, [], argparse.SUPPRESS) or "default" in text
                or isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))):
            return text
        return super()._get_help_string(action)

    def _format_text(self, text: str) -> str:
        return super()._format_text(text.replace("``", "`"))  # docstrings' RST literals read as `code`


def add_json(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
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


_QUIET = False


def set_quiet(quiet: bool) -> None:
    """--quiet: no progress bars (and the CLI sets the log level to errors)."""
    global _QUIET
    _QUIET = quiet


def is_terminal() -> bool:
    """Progress shows only on a terminal, and not with --quiet."""
    return sys.stderr.isatty() and not _QUIET


class _Progress:
    def __init__(self, bar, task, seconds: float | None = None) -> None:
        self._bar, self._task = bar, task
        self._seconds = seconds
        self._start = time.monotonic()

    def advance(self, n: int = 1) -> None:
        if self._bar is None:
            return
        if self._seconds:  # a time-based bar: completed = seconds spent, capped at the planned total
            self._bar.update(self._task, completed=min(time.monotonic() - self._start, self._seconds))
        else:
            self._bar.advance(self._task, n)

    def update(self, **kw) -> None:
        if self._bar is not None:
            self._bar.update(self._task, **kw)


@contextlib.contextmanager
def _logging_above(stream) -> Iterator[None]:
    """Route the log handlers that write to stderr through ``stream`` (rich's proxy), so a WARNING is printed
    above a progress bar instead of inside it."""
    moved = []
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) in (sys.__stderr__, _REAL_STDERR):
            moved.append((h, h.setStream(stream)))
    try:
        yield
    finally:
        for h, old in moved:
            h.setStream(old)


_REAL_STDERR = sys.stderr


@contextlib.contextmanager
def progress(description: str, total: float | None, *, seconds: float | None = None) -> Iterator[_Progress]:
    """A rich progress bar on stderr when it is a terminal; does nothing in a pipe. ``total`` counts steps
    (None: a spinner with the count); ``seconds`` makes a time-based bar of about that many seconds."""
    if not is_terminal():
        yield _Progress(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if seconds:
        columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                   TextColumn(f"of ~{seconds:.0f} s")]
    elif total is None:
        columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:.0f}"),
                   TimeElapsedColumn()]
    else:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        with _logging_above(sys.stderr):
            yield _Progress(bar, bar.add_task(description, total=seconds or total), seconds)


@contextlib.contextmanager
def phase(description: str) -> Iterator[None]:
    """A spinner with elapsed time for one phase of long work whose steps cannot be counted."""
    with progress(description, None):
        yield


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


def bounded_int(lo: int, hi: int):
    """argparse type: a whole number in lo..hi."""
    def parse(text: str) -> int:
        return _number(text, int, lambda v: lo <= v <= hi, f"a number from {lo} to {hi}")

    parse.__name__ = f"int {lo}..{hi}"
    return parse


def probability(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    return _number(text, float, lambda v: 0.0 <= v <= 1.0, "a value from 0 to 1")


def add_video_args(parser: argparse.ArgumentParser) -> None:
    """--codec, --crf, --no-audio, --encoder for commands that write a video (pass them on with video_options)."""
    from ..runtime.sinks import ENCODERS, VIDEO_CODECS

    g = parser.add_argument_group("video output")
    g.add_argument("--codec", choices=VIDEO_CODECS, default="h264",
                   help="video codec when writing through ffmpeg (h264 plays in every browser)")
    g.add_argument("--crf", type=bounded_int(0, 51), default=23, metavar="0-51",
                   help="quality for h264/hevc/vp9: lower is better and bigger (18 looks lossless)")
    g.add_argument("--no-audio", action="store_true", help="drop the source's audio track (kept by default)")
    g.add_argument("--encoder", choices=ENCODERS, default="auto",
                   help="ffmpeg (H.264, audio) or opencv (MPEG-4 Part 2, no audio); auto: ffmpeg when installed")


def video_options(args: argparse.Namespace, source: str | None = None) -> dict:
    """VideoSink keyword arguments from add_video_args' options; ``source``: the input file whose audio to keep
    (None for cameras and streams)."""
    from pathlib import Path

    keep_audio = source is not None and not args.no_audio and Path(source).is_file()
    return {"codec": args.codec, "crf": args.crf, "encoder": args.encoder,
            "audio_from": source if keep_audio else None}


def output_folder(path: str | os.PathLike, what: str = "output") -> Path:
    """The one rule for output folders (bundle, convert, detect --annotate, anonymize -o DIR/): a missing
    folder is created, parents included, as `bundle` does; a file in the way or no permission is an InputError
    naming the folder."""
    from ..errors import InputError

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what} {p} is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {what} folder {p}: {(exc.strerror or 'error').lower()}") from None
    return p
