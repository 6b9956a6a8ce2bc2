"""The ``edgesdk`` command: a thin layer that parses, calls a library function and prints.

Each subcommand lives in its own module ``edgesdk/cli/cmd_<name>.py`` exposing ``ORDER: int`` (position in
``--help``) and ``register(subparsers)``; the parser it adds sets ``func=run`` where ``run(args) -> int``.
Modules are discovered here, so adding a command never edits this file. Command modules import heavy
libraries inside ``run`` only.

Exit codes: 0 success, 1 a failure (one clear line on stderr; traceback only with ``--verbose``), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from .._version import __version__
from ..errors import EdgeSDKError
from ..install import error_for_missing_module

__all__ = ["main", "build_parser"]

log = logging.getLogger("edgesdk")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def _command_modules():
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgesdk",
        description="Take image models from a workstation onto edge devices and run them there.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"edgesdk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _command_modules():
        mod.register(sub)
    # Every subcommand shows its defaults in --help.
    for p in sub.choices.values():
        if p.formatter_class is argparse.HelpFormatter:
            p.formatter_class = _Formatter
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # exits 2 on bad usage
    except EdgeSDKError as exc:  # an argument's parser needs a missing piece (e.g. --tiles without OpenCV)
        print(f"edgesdk: error: {exc}", file=sys.stderr)
        return 1
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except EdgeSDKError as exc:
        if verbose:
            raise
        print(f"edgesdk {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"edgesdk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an unexpected bug: still one line unless --verbose
        if verbose:
            raise
        known = error_for_missing_module(exc)  # e.g. no cv2: the command that installs it
        if known is not None:
            print(f"edgesdk {args.command}: error: {known}", file=sys.stderr)
            return 1
        print(
            f"edgesdk {args.command}: error: {type(exc).__name__}: {exc} (run with --verbose for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
