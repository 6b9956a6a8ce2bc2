"""edgesdk service install: write (and where systemd runs, enable) a systemd unit that runs a runtime command
on the device's current release, restarted on failure. Run it on the device."""

from __future__ import annotations

import argparse
import os

ORDER = 83

EPILOG = """\
examples (on the device):

  sudo edgesdk service install --bundle /opt/edgesdk/current --source 0 -- --events /var/lib/edgesdk/events.jsonl

  edgesdk service install --bundle ~/edgesdk/current --unit-file ./edgesdk-anonymize.service -- --mode pixelate

Arguments after `--` are passed to the runtime command. Point --bundle at ROOT/current (the symlink), so
`edgesdk deploy ... --service NAME` only has to restart the service after switching releases.
"""


def register(sub) -> None:
    p = sub.add_parser("service", help="run the current release as a systemd service", description=__doc__)
    ssub = p.add_subparsers(dest="service_command", metavar="ACTION")
    ssub.required = True
    i = ssub.add_parser("install", help="write and enable a systemd unit", description=__doc__, epilog=EPILOG,
                        formatter_class=p.formatter_class)
    i.add_argument("--bundle", required=True, metavar="PATH", help="the bundle to run, normally ROOT/current")
    i.add_argument("--source", metavar="SOURCE", help="input for the runtime command (camera index, file, URL)")
    i.add_argument("--out", metavar="PATH", help="output of the runtime command (its -o)")
    i.add_argument("--name", default="edgesdk-anonymize", help="service name")
    i.add_argument("--user", help="run the service as this user (User=)")
    i.add_argument("--command", dest="runtime_command", default="anonymize", metavar="CMD",
                   help="edgesdk runtime command to run (anonymize gets the bundle as --detector, others as MODEL)")
    i.add_argument("--python", metavar="EXE", help="Python that runs edgesdk (default: this one)")
    i.add_argument("--unit-file", metavar="PATH",
                   help="where to write the unit (default /etc/systemd/system/NAME.service where systemd runs, "
                        "else ./NAME.service)")
    i.add_argument("--systemctl", metavar="CMD",
                   help="service manager command to reload/enable with (default systemctl, used only where "
                        "systemd runs unless given)")
    i.add_argument("--print", dest="print_only", action="store_true", help="print the unit and write nothing")
    i.add_argument("extra", nargs="*", metavar="-- ARGS", help="more arguments for the runtime command")
    i.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy import device_root_of, exec_args, install_unit, unit_text
    from ..errors import InputError

    bundle = os.path.abspath(os.path.expanduser(args.bundle))  # abspath keeps the `current` symlink as is
    if not os.path.exists(bundle) and not args.print_only:
        raise InputError(f"bundle not found: {bundle} (deploy one first: edgesdk deploy BUNDLE host:ROOT)")
    argv = exec_args(bundle, command=args.runtime_command, source=args.source, out=args.out, extra=args.extra,
                     python=args.python)
    check_unit_command(argv[3:], strict=not args.print_only)
    text = unit_text(args.name, argv, user=args.user, workdir=os.path.dirname(bundle),
                     device_root=device_root_of(bundle))
    if args.print_only:
        print(text, end="")
        return 0
    done = install_unit(args.name, text, unit_file=args.unit_file, systemctl=args.systemctl)
    print(f"wrote {done.path}")
    print(done.hint)
    return 0


def check_unit_command(argv: list[str], *, strict: bool = True) -> None:
    """Run the edgesdk parser (and anonymize's output check) on the command a unit will run, so a mistake
    fails now instead of in a restart loop. Bad usage always raises InputError; a problem with the output path
    raises when ``strict`` (install on the device), else it is logged as a warning (--print elsewhere)."""
    import contextlib
    import io
    import logging

    from ..errors import InputError
    from . import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = build_parser().parse_args(argv)
    except SystemExit:
        lines = err.getvalue().strip().splitlines()
        reason = lines[-1] if lines else "bad arguments"
        raise InputError(f"the unit would run `edgesdk {' '.join(argv)}`, which fails: {reason}") from None
    if getattr(ns, "command", None) != "anonymize" or not getattr(ns, "output", None):
        return
    from ..runtime.stream import plan_output

    try:  # total=1: the source is only opened by the service, so image outputs are accepted too
        plan_output(ns.output, None, 1)
    except InputError as exc:
        hint = " (JSONL events: pass `-- --events PATH` instead of --out)" if ns.output.endswith((".jsonl", ".json")) else ""
        if strict or "extension" in str(exc):
            raise InputError(f"the service would fail at start: {exc}{hint}") from None
        logging.getLogger(__name__).warning("on the device: %s", exc)
