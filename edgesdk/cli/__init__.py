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

from .. import __version__
from ..errors import EdgeSDKError
from ._common import HelpFormatter as _Formatter
from ..install import error_for_missing_module

__all__ = ["main", "build_parser"]

log = logging.getLogger("edgesdk")


def _all_parsers(parser: argparse.ArgumentParser):
    """The parser and every sub-parser below it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _all_parsers(child)


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
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, the native libraries' messages and full tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors (no warnings, no progress)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _command_modules():
        mod.register(sub)
    # Every subcommand shows its defaults in --help, and takes -v / -q after its name too.
    for p in _all_parsers(parser):
        if p.formatter_class in (argparse.HelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
            p.formatter_class = _Formatter
        if p is not parser and "-q" not in p._option_string_actions:
            p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    from .._native import quiet_env

    words = sys.argv[1:] if argv is None else argv
    quiet_env(verbose=any(w in ("-v", "--verbose") for w in words))  # before anything imports TensorFlow or OpenCV
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # exits 2 on bad usage
    except EdgeSDKError as exc:  # an argument's parser needs a missing piece (e.g. --tiles without OpenCV)
        print(f"edgesdk: error: {exc}", file=sys.stderr)
        return 1
    verbose = getattr(args, "verbose", False)
    quiet = getattr(args, "quiet", False) and not verbose
    from ._common import set_quiet

    set_quiet(quiet)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING)
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
        print(f"edgesdk {args.command}: error: {describe_error(exc)} (run with --verbose for the traceback)",
              file=sys.stderr)
        return 1


def describe_error(exc: BaseException) -> str:
    """What went wrong, in words: no exception class names, and a file we were writing atomically
    (``.NAME.tmp``) is named as the user's NAME."""
    import re

    if isinstance(exc, OSError) and exc.strerror:
        name = re.sub(r"(^|/)\.([^/]+)\.tmp$", r"\1\2", str(exc.filename)) if exc.filename else ""
        return f"{name}: {exc.strerror.lower()}" if name else exc.strerror.lower()
    if isinstance(exc, UnicodeDecodeError):
        return "a file is not UTF-8 text"
    text = str(exc).strip().splitlines()
    return text[0] if text else "an unexpected error"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
