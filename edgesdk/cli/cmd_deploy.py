"""edgesdk deploy: push a bundle to a device over SSH (or to a fleet through Ansible) and switch to it."""

from __future__ import annotations

import argparse

from ._common import add_json, positive_int, print_json, progress

ORDER = 80

EPILOG = """\
examples:
  edgesdk deploy model.tar.gz pi@kitchen-pi:/opt/edgesdk
  edgesdk deploy out/bundle kitchen-pi --service edgesdk-anonymize     # alias from ~/.ssh/config
  edgesdk deploy model.tar.gz --inventory hosts.ini --limit cameras --forks 10

On the device: ROOT/releases/<id>/ per bundle, ROOT/current -> releases/<id> (switched with one rename),
the last --keep releases stay. The device needs python3 and sshd; edgesdk itself is not needed there.
Fleet inventories set the folder per host or group with the variable edgesdk_root.
"""




def register(sub) -> None:
    from ._deploy_args import add_service_args, add_ssh_args

    p = sub.add_parser("deploy", help="push a bundle to a device (or a fleet) over SSH, switch atomically",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("bundle", metavar="BUNDLE", help="bundle folder or .tar.gz")
    p.add_argument("target", metavar="TARGET", nargs="?",
                   help="[user@]host[:/path] (host may be an ssh config alias; path default: edgesdk under home)")
    p.add_argument("--keep", type=positive_int, default=3, metavar="K", help="releases kept on the device")
    f = p.add_argument_group("fleet (Ansible; needs the 'fleet' extra)")
    f.add_argument("--inventory", metavar="FILE", help="Ansible inventory: deploy to its hosts instead of TARGET")
    f.add_argument("--limit", metavar="PATTERN", help="only these hosts/groups (ansible --limit)")
    f.add_argument("--forks", type=positive_int, metavar="N", help="hosts in parallel (ansible --forks)")
    f.add_argument("--root", metavar="PATH", help="deploy folder on every host (overrides edgesdk_root)")
    add_ssh_args(p)
    add_service_args(p)
    add_json(p)
    p.set_defaults(func=run, _parser=p)


def _run_fleet(args) -> int:
    from ..deploy import DeployError
    from ._deploy_args import health_check
    from ..deploy import deploy_fleet

    results, output = deploy_fleet(
        args.bundle, args.inventory, limit=args.limit, forks=args.forks, keep=args.keep, root=args.root,
        service=args.service, health=health_check(args), ssh_config=args.ssh_config,
        python=args.remote_python if args.remote_python != "python3" else None, echo=args.verbose)
    if args.json:
        print_json({"hosts": [r.to_dict() for r in results]})
    else:
        width = max(len(r.host) for r in results)
        for r in results:
            note = f"  {r.message}" if r.message else ""
            print(f"{r.host:<{width}}  {r.status:<11}  {r.release or '-'}{note}")
    counts = {s: sum(r.status == s for r in results) for s in ("deployed", "unchanged", "failed", "rolled back")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    bad = counts["failed"] + counts["rolled back"]
    if bad:
        raise DeployError(f"{bad} of {len(results)} hosts did not end on the new release ({summary})")
    if not args.json:
        print(summary)
    return 0


def run(args: argparse.Namespace) -> int:
    from ..deploy import deploy, parse_target
    from ._deploy_args import health_check, ssh_options

    if args.inventory:
        if args.target:
            args._parser.error("give TARGET or --inventory, not both")
        return _run_fleet(args)
    if not args.target:
        args._parser.error("nothing to deploy to: give TARGET ([user@]host[:/path]) or --inventory FILE")
    if args.limit or args.forks or args.root:
        args._parser.error("--limit, --forks and --root go with --inventory")
    with progress("upload", None) as bar:
        res = deploy(args.bundle, parse_target(args.target), ssh=ssh_options(args), keep=args.keep,
                     service=args.service, health=health_check(args), python=args.remote_python,
                     progress=lambda sent, total: bar.update(completed=sent, total=total))
    if args.json:
        print_json(res.to_dict())
        return 0
    if res.status == "unchanged":
        print(f"{res.target}: release {res.release} is already current (nothing to do)")
    else:
        extra = [f"previous {res.previous}" if res.previous else "first release"]
        if res.pruned:
            extra.append(f"removed old {', '.join(res.pruned)}")
        if res.stale_removed:
            extra.append(f"cleaned {len(res.stale_removed)} interrupted upload(s)")
        if res.service:
            extra.append(f"service {res.service} healthy")
        if res.signer:
            extra.append(f"signed by {res.signer['principal']}")
        extra.append(f"{res.uploaded_bytes} B uploaded, {res.reused_bytes} B reused")
        print(f"{res.target}: deployed release {res.release} ({'; '.join(extra)})")
    return 0
