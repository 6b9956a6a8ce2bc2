"""Command-line options shared by ``edgesdk deploy``, ``rollback`` and ``releases`` (ssh and health check)."""

from __future__ import annotations

import argparse

from ..deploy import SSH_CONFIG_ENV, HealthCheck, SSHOptions


class _NoShortO(argparse.Action):
    """``-o`` on a command without an output: bad usage that points to ``--ssh-option``."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error("-o is the output in edgesdk commands and this command writes none; "
                     "pass ssh options as --ssh-option KEY=VALUE")


def add_ssh_args(p: argparse.ArgumentParser, o_is_output: bool = False) -> None:
    """The ssh options; ``-o`` is never one of them (it is the output everywhere): a command without an
    output (``o_is_output=False``) refuses ``-o`` with a usage error naming ``--ssh-option``."""
    g = p.add_argument_group("ssh (everything else comes from your ssh config, as for `ssh`)")
    g.add_argument("-p", "--port", type=int, choices=range(1, 65536), metavar="PORT", help="ssh port (default: from ssh config, else 22)")
    g.add_argument("-i", "--identity", metavar="FILE", help="private key file (ssh -i)")
    g.add_argument("-F", "--ssh-config", metavar="FILE",
                   help=f"ssh config file (ssh -F); default ${SSH_CONFIG_ENV}, else ~/.ssh/config")
    g.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE",
                   help="extra ssh -o option (repeatable)")
    if not o_is_output:
        p.add_argument("-o", action=_NoShortO, nargs="?", help=argparse.SUPPRESS)
    g.add_argument("--connect-timeout", type=int, default=10, metavar="S", help="ssh ConnectTimeout")
    g.add_argument("--accept-new-host-key", action="store_true",
                   help="trust a device's host key on first contact (StrictHostKeyChecking=accept-new); a "
                        "CHANGED key is still refused")
    g.add_argument("--remote-python", default="python3", metavar="EXE", help="Python on the device")


def ssh_options(args: argparse.Namespace) -> SSHOptions:
    return SSHOptions(port=args.port, identity=args.identity, config=args.ssh_config,
                      options=tuple(args.ssh_option), connect_timeout=args.connect_timeout,
                      accept_new_host_key=args.accept_new_host_key)


def _number(text: str, minimum: float, inclusive: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v < minimum or (v == minimum and not inclusive):
        raise argparse.ArgumentTypeError(f"must be {'at least' if inclusive else 'above'} {minimum:g}, got {text!r}")
    return v


def positive(text: str) -> float:
    return _number(text, 0.0, inclusive=False)


def non_negative(text: str) -> float:
    return _number(text, 0.0, inclusive=True)


def add_service_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("service (restart after the switch; roll back if it does not come up healthy)")
    g.add_argument("--service", metavar="NAME", help="systemd service to restart (see `edgesdk service install`)")
    g.add_argument("--service-manager", default="systemctl", metavar="CMD",
                   help="command that understands `restart NAME` and `is-active NAME` on the device, "
                        "e.g. 'sudo systemctl' or 'systemctl --user'")
    g.add_argument("--health-timeout", type=positive, default=30.0, metavar="S",
                   help="seconds the service has to become healthy before the deploy rolls back")
    g.add_argument("--health-settle", type=non_negative, default=3.0, metavar="S",
                   help="seconds in a row the service must stay active to count as healthy")
    g.add_argument("--health-cmd", metavar="SHELL",
                   help="extra check run on the device, must exit 0 (e.g. 'curl -fsS http://127.0.0.1:8080/')")
    g.add_argument("--confirm-within", type=positive, default=None, metavar="S",
                   help="the device rolls back by itself unless the new release is confirmed healthy within S "
                        "seconds (deploying machine gone, reboot); default 2 x health-timeout + settle + 30")


def health_check(args: argparse.Namespace) -> HealthCheck:
    return HealthCheck(manager=args.service_manager, timeout=args.health_timeout, settle=args.health_settle,
                       command=args.health_cmd, confirm=getattr(args, "confirm_within", None))
