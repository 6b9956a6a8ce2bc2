"""edgesdk trust: install a device's signature policy (ROOT/allowed_signers); from then on the device refuses
every bundle not signed by a key it lists (unsigned, unknown or revoked key, changed after signing)."""

from __future__ import annotations

import argparse
import sys

from ._common import add_json, positive_int, print_json

ORDER = 84

EPILOG = """\
examples:
  edgesdk trust pi@kitchen-pi:/opt/edgesdk --allowed-signers allowed_signers
  edgesdk trust pi@kitchen-pi:/opt/edgesdk --show
  edgesdk trust pi@kitchen-pi:/opt/edgesdk --remove          # the device accepts unsigned bundles again
  edgesdk trust --inventory hosts.ini --allowed-signers allowed_signers --limit cameras
The policy is OpenSSH's allowed_signers format (see `edgesdk verify --help`); the device needs ssh-keygen
(OpenSSH 8.4+), which checks every bundle with `ssh-keygen -Y verify` before it switches.
"""


def register(sub) -> None:
    from ._deploy_args import add_ssh_args

    p = sub.add_parser("trust", help="install, show or remove a device's bundle signature policy",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("target", metavar="TARGET", nargs="?", help="[user@]host[:/path], as for deploy")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--allowed-signers", metavar="FILE", help="install this policy (checked first)")
    what.add_argument("--show", action="store_true", help="print the device's policy")
    what.add_argument("--remove", action="store_true", help="remove the policy: unsigned bundles are accepted again")
    f = p.add_argument_group("fleet (Ansible; needs the 'fleet' extra)")
    f.add_argument("--inventory", metavar="FILE", help="Ansible inventory: every host instead of TARGET")
    f.add_argument("--limit", metavar="PATTERN", help="only these hosts/groups (ansible --limit)")
    f.add_argument("--forks", type=positive_int, metavar="N", help="hosts in parallel (ansible --forks)")
    f.add_argument("--root", metavar="PATH", help="deploy folder on every host (overrides edgesdk_root)")
    add_ssh_args(p)
    add_json(p)
    p.set_defaults(func=run, _parser=p)


def _print(res, args) -> None:
    if args.show:
        print(f"# {res.target}: {res.path}" + ("" if res.policy else " (no policy: unsigned bundles accepted)"))
        if res.policy:
            print(res.policy, end="" if res.policy.endswith("\n") else "\n")
    elif res.status == "failed":
        print(f"{res.target}: failed  {res.message}")
    elif args.remove:
        print(f"{res.target}: signature policy {'REMOVED' if res.status == 'removed' else 'was not installed'}")
        if res.status == "removed":
            print(f"WARNING: {res.target} now accepts UNSIGNED bundles", file=sys.stderr)
    else:
        print(f"{res.target}: policy installed ({res.signers} signer(s), {res.revoked} revoked): "
              f"only signed bundles deploy now")


def run(args: argparse.Namespace) -> int:
    from ..deploy import DeployError, parse_target, trust, trust_fleet
    from ._deploy_args import ssh_options

    if bool(args.inventory) == bool(args.target):
        args._parser.error("give TARGET or --inventory (one of them)")
    if args.inventory:
        results = trust_fleet(args.inventory, allowed_signers=args.allowed_signers, show=args.show,
                              remove=args.remove, limit=args.limit, forks=args.forks, root=args.root,
                              ssh_config=args.ssh_config, echo=args.verbose)
    else:
        results = [trust(parse_target(args.target), ssh=ssh_options(args), allowed_signers=args.allowed_signers,
                         show=args.show, remove=args.remove, python=args.remote_python)]
    if args.json:
        print_json({"hosts": [r.to_dict() for r in results]} if args.inventory else results[0].to_dict())
    else:
        for r in results:
            _print(r, args)
    bad = [r for r in results if r.status == "failed"]
    if bad:
        raise DeployError(f"{len(bad)} of {len(results)} hosts did not take the change: {bad[0].target}: "
                          f"{bad[0].message}")
    return 0
