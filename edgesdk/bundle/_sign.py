"""Signed bundles with the OpenSSH keys people already have.

``ssh-keygen -Y sign -n edgesdk-bundle`` over ``manifest.json`` (which holds the sha256 of every file) writes
``manifest.json.sig`` into the bundle; ``ssh-keygen -Y verify`` against an OpenSSH ``allowed_signers`` file checks
it. Keys: Ed25519, RSA, ECDSA files; keys held by ssh-agent (pass the ``.pub`` file, or a passphrase-protected
private key whose ``.pub`` the agent holds); FIDO keys (``sk-ssh-ed25519@openssh.com``) where the local
ssh-keygen has FIDO support (it asks for a touch). No Python dependency: everything goes through ssh-keygen.

The policy file is OpenSSH's allowed_signers format (principals, options cert-authority / namespaces= /
valid-after= / valid-before=, key) plus ``@revoked KEYTYPE BASE64`` lines: a revoked key is refused even when a
line above lists it (passed to ``ssh-keygen -Y verify -r``). The check itself is the device-side script's
``verify_signature`` (one implementation for the workstation, the device and the runtime).
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BundleError, InputError
from ._manifest import MANIFEST_NAME

log = logging.getLogger(__name__)

SIGNATURE_NAME = "manifest.json.sig"
NAMESPACE = "edgesdk-bundle"
ALLOWED_SIGNERS_ENV = "EDGESDK_ALLOWED_SIGNERS"


class SignatureError(BundleError):
    """A bundle is unsigned, signed by a key the policy does not accept, or changed after signing."""


@dataclass(frozen=True)
class Signer:
    """Who signed a bundle: the principal from allowed_signers and the key's SHA256 fingerprint."""

    principal: str
    fingerprint: str


def _agent():
    from ..deploy import _remote

    return _remote


def _keygen_exe() -> str:
    exe = shutil.which("ssh-keygen")
    if not exe:
        raise InputError("ssh-keygen not found: install the OpenSSH client (apt install openssh-client)")
    return exe


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def _agent_keys() -> list[str]:
    """'KEYTYPE BASE64' of every key ssh-agent holds ([] without an agent)."""
    if not os.environ.get("SSH_AUTH_SOCK") or not shutil.which("ssh-add"):
        return []
    p = _run(["ssh-add", "-L"])
    return [" ".join(ln.split()[:2]) for ln in p.stdout.splitlines() if p.returncode == 0 and ln.strip()]


def _pub_of(path: Path) -> str | None:
    pub = path if path.name.endswith(".pub") else path.with_name(path.name + ".pub")
    if not pub.is_file():
        return None
    parts = pub.read_text(errors="replace").split()
    return " ".join(parts[:2]) if len(parts) >= 2 else None


def signing_key(key: str | os.PathLike) -> Path:
    """Check ``key`` can sign here and return the path ssh-keygen should get (the .pub when the agent signs).
    Raises InputError with one line: missing, not an SSH key, public key without an agent holding it,
    passphrase-protected without an agent (and no terminal to type the passphrase)."""
    exe = _keygen_exe()
    path = Path(key).expanduser()
    if not path.is_file():
        raise InputError(f"signing key not found: {path}")
    if _run([exe, "-l", "-f", str(path)]).returncode != 0:
        raise InputError(f"{path} is not an SSH key (ssh-keygen cannot read it)")
    pub = _pub_of(path)
    in_agent = pub is not None and pub in _agent_keys()
    if path.name.endswith(".pub") or not _is_private(path.read_bytes()):
        if in_agent:
            return path
        why = "SSH_AUTH_SOCK is not set" if not os.environ.get("SSH_AUTH_SOCK") else "the agent does not hold it"
        raise InputError(f"{path} is a public key: signing with it needs ssh-agent holding its private key ({why}; "
                         f"ssh-add the private key, or pass the private key file)")
    if _run([exe, "-y", "-P", "", "-f", str(path)], stdin=subprocess.DEVNULL).returncode == 0:
        return path  # a private key without passphrase
    if in_agent:
        return path.with_name(path.name + ".pub")
    if sys.stdin.isatty():
        return path  # ssh-keygen asks for the passphrase on the terminal
    raise InputError(f"{path} is passphrase-protected and ssh-agent does not hold it: run `ssh-add {path}` "
                     f"first (or sign from a terminal)")


def _is_private(data: bytes) -> bool:
    return b"PRIVATE KEY-----" in data[:200]


def _sign_folder(root: Path, key: Path) -> None:
    exe = _keygen_exe()
    with tempfile.TemporaryDirectory(prefix="edgesdk-sign-") as tmp:
        copy = Path(tmp) / MANIFEST_NAME
        shutil.copyfile(root / MANIFEST_NAME, copy)
        tty = sys.stdin.isatty()
        p = subprocess.run([exe, "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(copy)],
                           stdin=None if tty else subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=None if tty else subprocess.PIPE, text=True)
        sig = copy.with_name(SIGNATURE_NAME)
        if p.returncode != 0 or not sig.is_file():
            lines = [ln for ln in (p.stderr or "").splitlines() if ln.strip() and "passphrase:" not in ln]
            raise InputError(f"signing with {key} failed: {lines[-1] if lines else f'exit {p.returncode}'}")
        tmp_sig = root / f".{SIGNATURE_NAME}.tmp-{os.getpid()}"
        shutil.copyfile(sig, tmp_sig)
        tmp_sig.replace(root / SIGNATURE_NAME)


def sign_bundle(bundle: str | os.PathLike, key: str | os.PathLike) -> Signer | None:
    """Sign a bundle folder or .tar.gz in place with ``key`` (see :func:`signing_key`). The bundle is verified
    first (a changed file is never signed); a .tar.gz is rewritten atomically. Returns the key's fingerprint
    (principal empty: that is the verifier's policy to say)."""
    from ._io import load_bundle, pack

    keypath = signing_key(key)
    src = Path(bundle)
    if src.is_dir():
        b = load_bundle(src)
        _sign_folder(b.root, keypath)
    else:
        if not src.exists():
            raise BundleError(f"bundle not found: {src}")
        if not src.name.endswith((".tar.gz", ".tgz")):
            raise BundleError(f"cannot sign {src.name}: signing works on bundle folders and .tar.gz files")
        with tempfile.TemporaryDirectory(prefix="edgesdk-sign-") as tmp:
            b = load_bundle(src, extract_to=tmp)
            _sign_folder(b.root, keypath)
            pack(b.root, src)
    pub = _pub_of(keypath)
    fp = _agent().fingerprint(base64.b64decode(pub.split()[1])) if pub else ""
    log.info("signed %s with %s", src, fp or keypath)
    return Signer("", fp)


def check_policy(allowed_signers: str | os.PathLike) -> dict:
    """Read and check an allowed_signers file (SignatureError naming the first bad line). Returns
    {"text", "signers": n, "revoked": n}."""
    path = Path(allowed_signers)
    if not path.is_file():
        raise InputError(f"allowed_signers file not found: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        parsed = _agent().parse_policy(text)
    except _agent().Failure as exc:
        raise SignatureError(f"{path}: {exc}") from None
    return {"text": text, "signers": parsed["signers"], "revoked": len(parsed["revoked"])}


def verify_signature(bundle, allowed_signers: str | os.PathLike | None = None) -> Signer:
    """Check a bundle's signature against an allowed_signers file (default: $EDGESDK_ALLOWED_SIGNERS).

    ``bundle``: a Bundle, a folder or a .tar.gz; its files are checked against the manifest first. Raises
    SignatureError (unsigned, unknown or revoked key, key outside its validity window by this machine's clock,
    changed after signing), BundleError, InputError (no policy file, no ssh-keygen)."""
    from ._io import Bundle, load_bundle

    policy = allowed_signers or os.environ.get(ALLOWED_SIGNERS_ENV)
    if not policy:
        raise InputError(f"no allowed_signers file given (and ${ALLOWED_SIGNERS_ENV} is not set)")
    check_policy(policy)
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    remote = _agent()
    try:
        who = remote.verify_signature(str(b.root), str(policy))
    except remote.Failure as exc:
        raise SignatureError(str(exc)) from None
    return Signer(who["principal"], who["fingerprint"])
