"""Arguments the stream commands (anonymize, detect) share."""

from __future__ import annotations

import argparse


def hostport(text: str) -> tuple[str, int]:
    """argparse type for HOST:PORT (loopback when the host is left out)."""
    from ..runtime.sinks import parse_hostport

    try:
        return parse_hostport(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_play_args(p: argparse.ArgumentParser) -> None:
    """--realtime / --no-realtime and --loop (file sources)."""
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                   help="play a file at its frame rate (default: on with --serve)")
    p.add_argument("--loop", action="store_true", help="start a file again at its end (demos; stop with Ctrl-C)")
