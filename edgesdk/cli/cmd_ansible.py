"""edgesdk ansible-playbook: show or write the Ansible playbook `edgesdk deploy --inventory` runs, for
people who run Ansible themselves."""

from __future__ import annotations

import argparse

ORDER = 84


def register(sub) -> None:
    p = sub.add_parser("ansible-playbook", help="print or write the fleet deploy playbook", description=__doc__)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--print", dest="print_only", action="store_true", help="print playbook.yml on stdout")
    g.add_argument("--out", metavar="DIR", help="write playbook.yml and the device-side edgesdk_agent.py there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy import playbook_text, write_playbook

    if args.print_only:
        print(playbook_text(), end="")
        return 0
    for path in write_playbook(args.out):
        print(f"wrote {path}")
    print(f"run: ansible-playbook -i hosts.ini {args.out.rstrip('/')}/playbook.yml -e edgesdk_bundle=$PWD/BUNDLE.tar.gz")
    return 0
