"""edgesdk verify BUNDLE --allowed-signers FILE: check a bundle's files against its manifest and the manifest's
signature against an OpenSSH allowed_signers file, here (the same check a device with a policy makes)."""

from __future__ import annotations

import argparse

from ._common import add_json, print_json

ORDER = 91

EPILOG = """\
examples:
  edgesdk bundle model.tflite -o out/bundle --labels labels.txt --sign ~/.ssh/id_ed25519
  edgesdk verify out/bundle --allowed-signers allowed_signers
allowed_signers lines (OpenSSH format, see `man ssh-keygen`, ALLOWED SIGNERS):
  ci@example.com namespaces="edgesdk-bundle" ssh-ed25519 AAAAC3Nza...
  alice@example.com valid-before="20270101Z" ssh-rsa AAAAB3Nza...
  @revoked ssh-ed25519 AAAAC3Nza...      (edgesdk's marker: this key is refused even if listed)
Exit 0 when the signature is good, 1 with one line saying why not.
"""


def register(sub) -> None:
    p = sub.add_parser("verify", help="check a bundle's signature against an allowed_signers file",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("bundle", metavar="BUNDLE", help="bundle folder or .tar.gz")
    p.add_argument("--allowed-signers", metavar="FILE", default=None,
                   help="OpenSSH allowed_signers file (default: $EDGESDK_ALLOWED_SIGNERS)")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bundle import verify_signature

    who = verify_signature(args.bundle, args.allowed_signers)
    if args.json:
        print_json({"bundle": args.bundle, "ok": True, "principal": who.principal, "fingerprint": who.fingerprint})
    else:
        print(f"{args.bundle}: good signature by {who.principal} ({who.fingerprint})")
    return 0
