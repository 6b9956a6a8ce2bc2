"""edgesdk releases: list the releases on a device, newest deploy first, and which one is current."""

from __future__ import annotations

import argparse

from ._common import add_json, print_json

ORDER = 82


def register(sub) -> None:
    from ._deploy_args import add_ssh_args

    p = sub.add_parser("releases", help="list the releases on a device", description=__doc__)
    p.add_argument("target", metavar="TARGET", help="[user@]host[:/path] (host may be an ssh config alias)")
    add_ssh_args(p)
    add_json(p)
    p.set_defaults(func=run)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def run(args: argparse.Namespace) -> int:
    from ..deploy import parse_target, releases
    from ._deploy_args import ssh_options

    target = parse_target(args.target)
    state = releases(target, ssh=ssh_options(args), python=args.remote_python)
    rels = state["releases"]
    if args.json:
        print_json({"target": str(target), "root": state["root"], "current": state["current"], "releases": rels})
        return 0
    if not rels:
        print(f"{target}: no releases under {state['root']}")
        return 0
    print(f"{target} ({state['root']}):")
    for r in rels:
        mark = "*" if r["current"] else " "
        print(f"{mark} {r['id']}  {r['deployed'] or '?':<25}  {_size(int(r.get('size') or 0)):>9}  "
              f"{r['task'] or '':<9} {r['name']}")
    if not state["current"]:
        print("  (no current release)")
    return 0
