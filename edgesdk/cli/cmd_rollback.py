"""edgesdk rollback: switch a device's current release back to the one deployed before it."""

from __future__ import annotations

import argparse

from ._common import add_json, print_json

ORDER = 81


def register(sub) -> None:
    from ._deploy_args import add_service_args, add_ssh_args

    p = sub.add_parser("rollback", help="switch a device back to its previous release", description=__doc__)
    p.add_argument("target", metavar="TARGET", help="[user@]host[:/path] (host may be an ssh config alias)")
    p.add_argument("--to", metavar="ID", help="switch to this release (id or unique prefix, see `edgesdk releases`)")
    add_ssh_args(p)
    add_service_args(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy import parse_target, rollback
    from ._deploy_args import health_check, ssh_options

    res = rollback(parse_target(args.target), ssh=ssh_options(args), to=args.to, service=args.service,
                   health=health_check(args), python=args.remote_python)
    if args.json:
        print_json(res.to_dict())
    elif res.status == "unchanged":
        print(f"{res.target}: release {res.release} is already current")
    else:
        print(f"{res.target}: rolled back from {res.previous} to {res.release}")
    return 0
