"""The device side of ``edgesdk deploy``: one self-contained script, standard library only, run by the device's
``python3`` (3.7+). The device does not need edgesdk installed.

The workstation sends this file's source over ssh (``python3 -c SOURCE COMMAND ...``); the Ansible playbook runs
it with the ``script`` module. It prints one JSON object on stdout and exits 0 on success, 3 on a failure it
understood (``{"ok": false, "error": "one line"}``), 2 on bad usage.

Layout on the device::

    ROOT/releases/<id>/          one folder per bundle (id = first 16 hex digits of Bundle.digest),
                                 plus .edgesdk-release.json (deploy time and order)
    ROOT/current -> releases/<id>  relative symlink, replaced atomically with rename(2)
    ROOT/.tmp-*                  uploads in progress; removed by the next prepare if their process died
    ROOT/.lock                   flock held by every command that changes something
    ROOT/allowed_signers         the signature policy (``edgesdk trust``); when present every bundle must carry
                                 manifest.json.sig made by a listed key (``ssh-keygen -Y verify``), or is refused
    ROOT/.pending.json           a release switched to with --pending and not yet confirmed healthy: rolled back
                                 at its deadline (a detached watchdog) or at the next boot (``boot-check``)
    ROOT/.edgesdk-agent.py       a copy of this script, for the service unit's ExecStartPre boot-check

A cut at any moment: files and folders are fsynced before ``current`` is renamed, the root folder after it; a
release folder appears (rename) only complete, verified and signature-checked.

Test hooks (set only by tests, through a wrapper for the device's python): EDGESDK_TEST_KILL_AT=<step> kills this
process with SIGKILL at that step; EDGESDK_TEST_PAUSE_AT=<step> writes EDGESDK_TEST_PAUSE_FILE and waits until
that file is removed (so a test can cut the connection there); EDGESDK_TEST_FAULT=enospc-link raises ENOSPC while
hard-linking reused files. The steps are listed in STEPS.

Commands::

    status  ROOT                      releases, current, free bytes (changes nothing)
    prepare ROOT                      create ROOT/releases, check it is writable, remove stale ROOT/.tmp-*;
                                      answers the sha256 of every file the releases hold (uploads skip those)
    install ROOT [--archive F] [--release ID] [--manifest-sha256 H] [--size N] [--keep K] [pending options]
                                      read a tar (stdin, or F), hard-link the files it lacks from earlier
                                      releases, verify every sha256 against the manifest and the signature
                                      against ROOT/allowed_signers, move it to releases/ID, switch current
    switch  ROOT ID [--keep K] [pending options]  make an existing release current again (verified first)
    trust   ROOT [--show | --remove]  install the policy read from stdin (checked first), print or remove it
    verify-signature FOLDER POLICY    check FOLDER/manifest.json.sig against the policy file (no ROOT needed)
    boot-check ROOT                   roll back a pending release whose deadline passed or whose boot ended
    rollback ROOT [--to ID]           switch current to the release deployed before it
    restart ROOT NAME [--manager CMD] [--timeout S] [--settle S] [--health-cmd CMD] [--previous ID]
                                      restart a service and wait until it stays active; if it does not,
                                      switch back to --previous and restart again; confirms a pending release
    watchdog ROOT                     (internal) wait for the pending deadline, then roll back if unconfirmed

pending options: --pending SECONDS --service NAME --manager CMD: the new release must be confirmed healthy by
``restart`` within SECONDS, else the device rolls back by itself.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import errno
import fcntl
import hashlib
import json
import os
import shlex
import re
import shutil
import signal
import subprocess
import tempfile
import sys
import tarfile
import time
from typing import List, Optional

RELEASES = "releases"
CURRENT = "current"
META = ".edgesdk-release.json"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
SIGNATURE = "manifest.json.sig"
POLICY = "allowed_signers"
PENDING = ".pending.json"
AGENT_COPY = ".edgesdk-agent.py"
NAMESPACE = "edgesdk-bundle"
EXIT_FAILED = 3
_CHUNK = 1 << 20

# Every point where a test may cut this process (EDGESDK_TEST_KILL_AT / EDGESDK_TEST_PAUSE_AT), in order.
STEPS = (
    "locked", "cleaned", "tmp-created", "receiving", "received", "linked", "verified", "signature-checked",
    "meta-written", "release-renamed", "pending-written", "link-created", "switched", "root-fsynced", "pruned",
    "answered", "restart-begin", "healthy", "confirmed",
)
KILL_ENV = "EDGESDK_TEST_KILL_AT"
PAUSE_ENV = "EDGESDK_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "EDGESDK_TEST_PAUSE_FILE"
FAULT_ENV = "EDGESDK_TEST_FAULT"


class Failure(Exception):
    """A failure with one line for the user."""


_FIRED = set()  # type: set


def step(name: str) -> None:
    """A named point of the protocol; tests kill or pause the process here, once (see the module docstring)."""
    if name in _FIRED:
        return
    _FIRED.add(name)
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE_ENV) == name and os.environ.get(PAUSE_FILE_ENV):
        marker = os.environ[PAUSE_FILE_ENV]
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        deadline = time.monotonic() + 60
        while os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.02)


def _oserror(exc: OSError, what: str, root: str) -> Failure:
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return Failure("no space left on the device under %s while %s" % (root, what))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return Failure("no write permission on %s (%s) while %s" % (root, exc.strerror, what))
    if exc.errno == errno.ENOTDIR:
        return Failure("%s is not a folder (a path component is a file) while %s" % (root, what))
    return Failure("%s while %s: %s" % (exc.strerror or type(exc).__name__, what, exc.filename or root))


def _plain(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name:
        return False
    return all(p not in ("", ".", "..") for p in name.split("/"))


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: str, data: bytes) -> None:
    """Write ``path`` through a temporary sibling, fsync it, rename, fsync the folder."""
    tmp = os.path.join(os.path.dirname(path), "%s%s-%d" % (TMP_PREFIX, os.path.basename(path), os.getpid()))
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(os.path.dirname(path))


# -- signature policy (OpenSSH allowed_signers, plus "@revoked KEYTYPE BASE64" lines) ----------------------------
KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
)
_OPTION = re.compile(r'^(cert-authority|(namespaces|valid-after|valid-before)="([^"]*)")$', re.I)
_STAMP = re.compile(r"^\d{8}(\d{4}(\d{2})?)?Z?$")


def _split_options(text: str) -> tuple:
    """'opt1,opt2="a b" rest' -> (['opt1', 'opt2="a b"'], 'rest'); quotes may hold spaces and commas."""
    opts, cur, quoted, i = [], "", False, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            opts.append(cur)
            cur = ""
            i += 1
            continue
        elif c in " \t" and not quoted:
            break
        cur += c
        i += 1
    if quoted:
        raise ValueError("unclosed quote in the options")
    opts.append(cur)
    return opts, text[i:].strip()


def _key_blob(keytype: str, b64: str) -> bytes:
    if keytype not in KEY_TYPES:
        raise ValueError("unknown key type %r (expected one of %s)" % (keytype, ", ".join(KEY_TYPES[:3])))
    try:
        blob = base64.b64decode(b64, validate=True)
    except (ValueError, TypeError):
        raise ValueError("the key is not valid base64")
    n = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if blob[4:4 + n] != keytype.encode():
        raise ValueError("the key data is not a %s key" % keytype)
    return blob


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_policy(text: str) -> dict:
    """Check an allowed_signers file line by line; returns {"allowed": text for ssh-keygen, "revoked": [lines],
    "signers": n, "revoked_fingerprints": set}. Raises Failure naming the first bad line."""
    allowed, revoked, fps, signers = [], [], set(), 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            allowed.append(raw)
            continue
        try:
            if line.startswith("@revoked"):
                parts = line.split()
                if len(parts) < 3:
                    raise ValueError("expected: @revoked KEYTYPE BASE64")
                fps.add(fingerprint(_key_blob(parts[1], parts[2])))
                revoked.append("%s %s" % (parts[1], parts[2]))
                allowed.append("# " + raw)
                continue
            if line.startswith("@"):
                raise ValueError("unknown marker %s (only @revoked)" % line.split()[0])
            principals, _, rest = line.partition(" ")
            rest = rest.strip()
            if not rest:
                raise ValueError("expected: PRINCIPALS [OPTIONS] KEYTYPE BASE64")
            if rest.split()[0] not in KEY_TYPES:
                opts, rest = _split_options(rest)
                for opt in opts:
                    m = _OPTION.match(opt)
                    if not m:
                        raise ValueError("bad option %r (cert-authority, namespaces=\"..\", valid-after=\"..\", "
                                         "valid-before=\"..\"; values in double quotes)" % opt)
                    if m.group(2) and m.group(2).lower().startswith("valid") and not _STAMP.match(m.group(3)):
                        raise ValueError("bad time %r in %s (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z])"
                                         % (m.group(3), m.group(2)))
            parts = rest.split()
            if len(parts) < 2:
                raise ValueError("expected a key type and a base64 key after the principals")
            _key_blob(parts[0], parts[1])
            signers += 1
            allowed.append(raw)
        except ValueError as exc:
            raise Failure("allowed_signers line %d: %s" % (no, exc))
    if not signers:
        raise Failure("allowed_signers lists no key: every bundle would be refused")
    return {"allowed": "\n".join(allowed) + "\n", "revoked": revoked, "signers": signers,
            "revoked_fingerprints": fps}


def ssh_keygen() -> str:
    exe = shutil.which("ssh-keygen")
    if not exe:
        raise Failure("ssh-keygen not found on the device: it is needed to check bundle signatures "
                      "(install openssh-client)")
    return exe


def _keygen(*args: str, data=None) -> tuple:
    p = subprocess.run([ssh_keygen(), *args], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return p.returncode, [ln.strip() for ln in out.splitlines() if ln.strip()]


def _refusal(lines: list, fp: str, policy_path: str):
    """One line for what ssh-keygen said about the key's policy entry (validity window, namespace), or None."""
    why = " ".join(lines)
    if "expired" in why or "not yet valid" in why:
        m = re.search(r"verify time (\S+) ([<>]) (valid-\w+) (\S+)", why)
        when = (" (%s %s, this machine's clock says %s)" % (m.group(3), m.group(4), m.group(1))) if m else ""
        return ("the signing key %s is outside its validity window in %s%s: check the clock or the policy"
                % (fp, policy_path, when))
    if "namespace" in why:
        return "the signing key %s is not permitted for namespace %s in %s" % (fp, NAMESPACE, policy_path)
    return None


def verify_signature(folder: str, policy_path: str) -> dict:
    """Check ``folder``/manifest.json.sig: made with namespace edgesdk-bundle over manifest.json, by a key listed
    in the policy file (valid now by this machine's clock, not revoked). Returns {"principal", "fingerprint"};
    raises Failure with one line."""
    sig = os.path.join(folder, SIGNATURE)
    try:
        with open(policy_path, encoding="utf-8") as f:
            policy = parse_policy(f.read())
    except OSError as exc:
        raise Failure("cannot read the signature policy %s: %s" % (policy_path, exc.strerror))
    if not os.path.isfile(sig):
        raise Failure("the bundle is not signed (no %s) and this policy (%s) requires a signature: sign it with "
                      "edgesdk bundle ... --sign KEY" % (SIGNATURE, policy_path))
    with open(os.path.join(folder, MANIFEST), "rb") as f:
        manifest = f.read()
    code, lines = _keygen("-Y", "check-novalidate", "-n", NAMESPACE, "-s", sig, data=manifest)
    fps = [m.group(0) for ln in lines for m in [re.search(r"SHA256:[A-Za-z0-9+/]+", ln)] if m]
    if code != 0 and any(ln.lower().startswith("usage") or "illegal option" in ln or "unknown" in ln.lower()
                         for ln in lines):
        raise Failure("ssh-keygen on this machine is too old to check signatures (it lacks -Y check-novalidate "
                      "and -Y find-principals): upgrade openssh-client")
    if code != 0 or not fps:
        raise Failure("the signature does not match the manifest: the bundle was changed after signing "
                      "(or the signature is not an %s signature)" % NAMESPACE)
    fp = fps[0]
    if fp in policy["revoked_fingerprints"]:
        raise Failure("the bundle is signed by a revoked key (%s, @revoked in %s)" % (fp, policy_path))
    tmpdir = tempfile.mkdtemp(prefix="edgesdk-sig-")
    try:
        allowed = os.path.join(tmpdir, "allowed_signers")
        revoked = os.path.join(tmpdir, "revoked_keys")
        with open(allowed, "w") as f:
            f.write(policy["allowed"])
        with open(revoked, "w") as f:
            f.write("".join(ln + "\n" for ln in policy["revoked"]))
        code, lines = _keygen("-Y", "find-principals", "-s", sig, "-f", allowed)
        principals = [ln for ln in lines if code == 0 and ":" not in ln.split("@")[0] and " " not in ln]
        if code != 0 or not principals:
            raise Failure(_refusal(lines, fp, policy_path) or "the bundle is signed by a key that is not in %s (%s)"
                          % (policy_path, fp))
        code, lines = _keygen("-Y", "verify", "-f", allowed, "-I", principals[0], "-n", NAMESPACE, "-s", sig,
                              "-r", revoked, data=manifest)
        if code != 0:
            raise Failure(_refusal(lines, fp, policy_path) or "signature check failed for %s: %s"
                          % (principals[0], lines[-1] if lines else "refused"))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return {"principal": principals[0], "fingerprint": fp}


class Root:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.releases = os.path.join(self.path, RELEASES)
        self.current_link = os.path.join(self.path, CURRENT)
        self.policy = os.path.join(self.path, POLICY)
        self.pending_path = os.path.join(self.path, PENDING)
        self._lock_fd: Optional[int] = None

    # -- reading -------------------------------------------------------------------------------------------
    def current(self):
        try:
            target = os.readlink(self.current_link)
        except OSError:
            return None
        rid = os.path.basename(os.path.normpath(target))
        return rid if os.path.isdir(os.path.join(self.releases, rid)) else None

    def release_dir(self, rid: str) -> str:
        if not _plain(rid) or "/" in rid:
            raise Failure("bad release id %r" % rid)
        return os.path.join(self.releases, rid)

    def meta(self, rid: str) -> dict:
        try:
            with open(os.path.join(self.releases, rid, META)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def list(self) -> List[dict]:
        """Releases, newest deploy first."""
        out: List[dict] = []
        try:
            names = os.listdir(self.releases)
        except OSError:
            return out
        cur = self.current()
        for rid in names:
            d = os.path.join(self.releases, rid)
            if rid.startswith(".") or not os.path.isdir(d):
                continue
            m = self.meta(rid)
            out.append({
                "id": rid,
                "name": m.get("name", ""),
                "task": m.get("task", ""),
                "deployed": m.get("deployed", ""),
                "seq": m.get("seq", 0),
                "size": m.get("size", 0),
                "current": rid == cur,
            })
        out.sort(key=lambda r: r["seq"], reverse=True)
        return out

    def free(self) -> int:
        p = self.path
        while not os.path.exists(p) and os.path.dirname(p) != p:
            p = os.path.dirname(p)
        try:
            return shutil.disk_usage(p).free
        except OSError:
            return -1

    def status(self) -> dict:
        return {"ok": True, "root": self.path, "current": self.current(), "releases": self.list(),
                "free": self.free(), "policy": os.path.isfile(self.policy), "pending": self.pending()}

    def have(self) -> dict:
        """sha256 -> a file with that content in an existing release (read from the releases' manifests; the
        content is checked again after linking)."""
        found = {}
        for rel in self.list():
            d = os.path.join(self.releases, rel["id"])
            try:
                with open(os.path.join(d, MANIFEST), encoding="utf-8") as f:
                    files = json.load(f)["files"]
                for name, meta in files.items():
                    p = os.path.join(d, name)
                    if _plain(name) and meta.get("sha256") not in found and os.path.isfile(p):
                        found[meta["sha256"]] = p
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
        return found

    def check_signature(self, folder: str):
        """With a policy installed (ROOT/allowed_signers), the release in ``folder`` must be signed by it."""
        if not os.path.isfile(self.policy):
            return None
        try:
            return verify_signature(folder, self.policy)
        except Failure as exc:
            raise Failure("refused by the device's signature policy: %s" % exc)

    def pending(self):
        try:
            with open(self.pending_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # -- changing ------------------------------------------------------------------------------------------
    def lock(self) -> None:
        try:
            os.makedirs(self.releases, exist_ok=True)
            fd = os.open(os.path.join(self.path, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _oserror(exc, "creating %s" % self.releases, self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another deploy is running: wait for it
        self._lock_fd = fd

    def clean_stale(self, spare=None) -> List[str]:
        """Remove upload folders left by an interrupted deploy (we hold the lock, so their owner is gone).
        ``spare``: a path to leave alone (the archive an Ansible upload just put there)."""
        removed = []
        spare = os.path.abspath(os.path.expanduser(spare)) if spare else None
        for name in os.listdir(self.path):
            if os.path.join(self.path, name) == spare:
                continue
            if name.startswith(TMP_PREFIX):
                p = os.path.join(self.path, name)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    try:
                        os.unlink(p)
                    except OSError:
                        pass
                removed.append(name)
        return removed

    def check_writable(self) -> None:
        probe = os.path.join(self.path, ".tmp-probe-%d" % os.getpid())
        try:
            with open(probe, "wb") as f:
                f.write(b"ok")
            os.unlink(probe)
        except OSError as exc:
            raise _oserror(exc, "writing a test file", self.path)

    def switch(self, rid: str) -> None:
        """Point ROOT/current at releases/rid with one rename(2): there is no moment without a valid current."""
        tmp = os.path.join(self.path, "%scurrent-%d" % (TMP_PREFIX, os.getpid()))
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(os.path.join(RELEASES, rid), tmp)
            step("link-created")
            os.replace(tmp, self.current_link)
            step("switched")
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise _oserror(exc, "switching %s" % self.current_link, self.path)
        _fsync_dir(self.path)
        step("root-fsynced")

    def prune(self, keep: int) -> List[str]:
        cur = self.current()
        removed = []
        for i, rel in enumerate(self.list()):
            if i >= keep and rel["id"] != cur:
                # out of releases/ with one rename first: a cut never leaves a half-deleted release listed
                gone = os.path.join(self.path, "%spruned-%s-%d" % (TMP_PREFIX, rel["id"], os.getpid()))
                os.rename(os.path.join(self.releases, rel["id"]), gone)
                _fsync_dir(self.releases)
                shutil.rmtree(gone, ignore_errors=True)
                removed.append(rel["id"])
        step("pruned")
        return removed


def verify(folder: str, release=None, manifest_sha256=None) -> dict:
    """Check the files in ``folder`` against its manifest.json (sha256 and size of every file); returns the
    manifest. ``release``: the expected id (prefix of the digest of the manifest's file table)."""
    mpath = os.path.join(folder, MANIFEST)
    if not os.path.isfile(mpath):
        raise Failure("the upload has no %s" % MANIFEST)
    if manifest_sha256 and _sha256(mpath) != manifest_sha256:
        raise Failure("checksum mismatch on the device for %s: it changed in transit, not switching" % MANIFEST)
    try:
        with open(mpath, encoding="utf-8") as f:
            manifest = json.load(f)
        files = manifest["files"]
        if not isinstance(files, dict) or not files:
            raise ValueError("no file table")
    except (ValueError, KeyError, TypeError) as exc:
        raise Failure("%s on the device is not a bundle manifest (%s)" % (MANIFEST, exc))
    for name in sorted(files):
        meta = files[name]
        if not _plain(name):
            raise Failure("manifest names an unsafe path %r: refused" % name)
        p = os.path.join(folder, name)
        if not os.path.isfile(p):
            raise Failure("file %s listed in the manifest is missing on the device, not switching" % name)
        if "size" in meta and os.path.getsize(p) != meta["size"]:
            raise Failure("size mismatch on the device for %s (%d bytes, manifest says %s), not switching"
                          % (name, os.path.getsize(p), meta["size"]))
        if _sha256(p) != meta.get("sha256"):
            raise Failure("checksum mismatch on the device for %s (sha256 differs from the manifest), not switching"
                          % name)
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(("%s\0%s\n" % (name, files[name]["sha256"])).encode())
    digest = h.hexdigest()
    if release and not digest.startswith(release):
        raise Failure("the manifest on the device is not release %s (digest %s...), not switching"
                      % (release, digest[:16]))
    manifest["_digest"] = digest
    return manifest


def _extract(tar: tarfile.TarFile, dest: str) -> int:
    """Stream-extract regular files with plain names; anything else is refused. Returns bytes written."""
    total = 0
    for m in tar:
        if m.isdir():
            continue
        if not m.isfile():
            raise Failure("archive member %r is not a regular file: refused" % m.name)
        name = m.name[2:] if m.name.startswith("./") else m.name
        if not _plain(name):
            raise Failure("archive member %r would extract outside its folder: refused" % m.name)
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        src = tar.extractfile(m)
        if src is None:
            raise Failure("archive member %r cannot be read" % m.name)
        with open(target, "wb") as out:
            while True:
                block = src.read(_CHUNK)  # type: ignore[union-attr]
                if not block:
                    break
                out.write(block)
                total += len(block)
                step("receiving")
            out.flush()
            os.fsync(out.fileno())
    return total


def _link_reused(root: Root, tmp: str) -> int:
    """Hard-link every file the manifest lists but the upload lacks from an earlier release with the same
    sha256 (copied where the file system cannot link). Returns the bytes reused; the contents are verified
    with everything else afterwards."""
    try:
        with open(os.path.join(tmp, MANIFEST), encoding="utf-8") as f:
            files = json.load(f)["files"]
        missing = [(n, m) for n, m in sorted(files.items()) if not os.path.exists(os.path.join(tmp, n))]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0  # verify() says what is wrong with the manifest
    if not missing:
        return 0
    have = root.have()
    reused = 0
    for name, meta in missing:
        src = have.get(meta.get("sha256")) if isinstance(meta, dict) else None
        if src is None or not _plain(name):
            continue
        dst = os.path.join(tmp, name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.environ.get(FAULT_ENV) == "enospc-link":
            raise OSError(errno.ENOSPC, "No space left on device (test fault)", dst)
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copyfile(src, dst)
            _fsync_file(dst)
        reused += os.path.getsize(dst)
    return reused


def _own_source():
    """This script's text: from its file (Ansible's script module), else from our command line (python3 -c)."""
    path = globals().get("__file__")
    try:
        if path and os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
        with open("/proc/self/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        return args[args.index(b"-c") + 1]
    except (OSError, ValueError, IndexError):
        return None


def _boot_id() -> str:
    if os.environ.get("EDGESDK_TEST_BOOT_ID"):  # tests simulate a reboot with another boot id
        return os.environ["EDGESDK_TEST_BOOT_ID"]
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _expired(pending: dict) -> bool:
    return pending.get("boot_id") != _boot_id() or time.time() > float(pending.get("deadline", 0))


def _mark_pending(root: Root, rid: str, last_good, args) -> None:
    """Before ``current`` moves: the record that makes the device roll back by itself unless ``restart``
    confirms the release healthy in time (a watchdog at the deadline, ``boot-check`` after a reboot)."""
    if not args.pending:
        return
    src = _own_source()
    if src:
        _write_atomic(os.path.join(root.path, AGENT_COPY), src)
    data = {"release": rid, "previous": last_good, "deadline": time.time() + args.pending, "boot_id": _boot_id(),
            "service": args.service, "manager": args.manager}
    _write_atomic(root.pending_path, json.dumps(data).encode())
    step("pending-written")


def _clear_pending(root: Root) -> None:
    try:
        os.unlink(root.pending_path)
    except OSError:
        return
    _fsync_dir(root.path)


def resolve_pending(root: Root, restart_service: bool) -> dict:
    """Roll back a release that was never confirmed healthy: switch to the last confirmed release (checksums
    verified; it was accepted when it was deployed), drop the marker, restart the service if asked."""
    pending = root.pending()
    res = {"ok": True, "status": "nothing pending", "current": root.current()}
    if not pending:
        return res
    prev = pending.get("previous")
    if pending.get("release") == root.current() and prev and os.path.isdir(os.path.join(root.releases, prev)):
        switch(root, prev, touch=False, signed=False)
        res.update(status="rolled back", release=prev, unconfirmed=pending.get("release"))
    else:
        res["status"] = "marker cleared"
    _clear_pending(root)
    if restart_service and pending.get("service"):
        code, out = _run(pending.get("manager") or "systemctl", "restart", pending["service"])
        res["restarted"] = code == 0
    res["current"] = root.current()
    return res


def _settle_pending(root: Root):
    """Before a deploy changes anything: an expired marker is rolled back first. Returns the last confirmed
    release while one is still pending (a new deploy replaces the marker but keeps that fallback)."""
    pending = root.pending()
    if pending and _expired(pending):
        resolve_pending(root, restart_service=False)
        return None
    return pending.get("previous") if pending else None


def _spawn_watchdog(root: Root) -> None:
    """A detached process (double fork, own session, no ssh pipes) that rolls back at the deadline unless the
    release was confirmed: the device does it even if the deploying machine is gone."""
    if not os.path.isfile(root.pending_path) or not hasattr(os, "fork"):
        return
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if root._lock_fd is not None:
            os.close(root._lock_fd)
        watchdog(Root(root.path))
    finally:
        os._exit(0)


def watchdog(root: Root) -> dict:
    pending = root.pending()
    while pending and time.time() < float(pending.get("deadline", 0)):
        time.sleep(min(1.0, max(0.05, float(pending["deadline"]) - time.time())))
        again = root.pending()
        if not again or again.get("release") != pending.get("release"):
            return {"ok": True, "status": "confirmed or replaced"}
    if not pending:
        return {"ok": True, "status": "nothing pending"}
    root.lock()
    again = root.pending()
    if not again or again.get("release") != pending.get("release"):
        return {"ok": True, "status": "confirmed or replaced"}
    res = resolve_pending(root, restart_service=True)
    _write_atomic(os.path.join(root.path, ".edgesdk-watchdog.json"), json.dumps(res).encode())
    return res


def install(root: Root, args) -> dict:
    root.lock()
    step("locked")
    stale = root.clean_stale(spare=args.archive)
    step("cleaned")
    root.check_writable()
    last_good = _settle_pending(root)
    previous = root.current()
    if args.release and os.path.isdir(os.path.join(root.releases, args.release)):
        # Already on the device (e.g. after a rollback): verify it again and switch, nothing to upload.
        res = switch(root, args.release, args.keep, args=args, last_good=last_good)
        res["stale_removed"] = stale
        return res
    free = root.free()
    if args.size and free >= 0 and free < args.size + 64 * 1024:
        raise Failure("no space left on the device under %s: the bundle needs %d bytes, %d free"
                      % (root.path, args.size, free))
    tmp = os.path.join(root.path, "%s%s-%d" % (TMP_PREFIX, args.release or "upload", os.getpid()))
    what = "receiving the bundle"
    try:
        os.mkdir(tmp)
        step("tmp-created")
        try:
            if args.archive:
                tar = tarfile.open(args.archive, "r:*")
            else:
                tar = tarfile.open(fileobj=sys.stdin.buffer, mode="r|*")
            with tar:
                received = _extract(tar, tmp)
        except (tarfile.TarError, EOFError) as exc:
            raise Failure("upload interrupted or damaged (%s): current release unchanged" % exc)
        step("received")
        what = "hard-linking files reused from earlier releases"
        reused = _link_reused(root, tmp)
        step("linked")
        what = "checking the bundle"
        manifest = verify(tmp, args.release, args.manifest_sha256)
        step("verified")
        signer = root.check_signature(tmp)
        step("signature-checked")
        rid = args.release or manifest["_digest"][:16]
        final = root.release_dir(rid)
        meta = {"id": rid, "name": manifest.get("name", ""), "task": manifest.get("task", ""),
                "deployed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "seq": time.time_ns(), "size": received + reused, "signer": signer}
        what = "recording the release"
        with open(os.path.join(tmp, META), "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        step("meta-written")
        if os.path.isdir(final):  # the same bundle without --release: nothing new
            shutil.rmtree(tmp, ignore_errors=True)
            res = switch(root, rid, args.keep, args=args, last_good=last_good)
            res["stale_removed"] = stale
            return res
        os.rename(tmp, final)
        _fsync_dir(root.releases)
        step("release-renamed")
    except OSError as exc:
        raise _oserror(exc, what, root.path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        if args.archive and os.path.basename(args.archive).startswith(TMP_PREFIX):
            try:
                os.unlink(args.archive)
            except OSError:
                pass
    _mark_pending(root, rid, last_good or previous, args)
    root.switch(rid)
    pruned = root.prune(args.keep)
    _spawn_watchdog(root)
    return {"ok": True, "status": "deployed", "release": rid, "previous": last_good or previous, "pruned": pruned,
            "stale_removed": stale, "root": root.path, "received_bytes": received, "reused_bytes": reused,
            "signer": signer}


def _adopt_signature(root: Root, d: str, args) -> None:
    """A deploy of a release already on the device carries the bundle's signature (--signature-b64): store it
    with the release (checked against the policy first), so a release deployed unsigned before a policy was
    installed can be switched to once it is signed."""
    text = getattr(args, "signature_b64", None) if args is not None else None
    if not text:
        return
    try:
        sig = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise Failure("--signature-b64 is not base64")
    path = os.path.join(d, SIGNATURE)
    try:
        with open(path, "rb") as f:
            if f.read() == sig:
                return
    except OSError:
        pass
    tmpdir = tempfile.mkdtemp(prefix="edgesdk-sig-")
    try:
        shutil.copyfile(os.path.join(d, MANIFEST), os.path.join(tmpdir, MANIFEST))
        with open(os.path.join(tmpdir, SIGNATURE), "wb") as f:
            f.write(sig)
        root.check_signature(tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    _write_atomic(path, sig)


def switch(root: Root, rid: str, keep: int = 0, touch: bool = True, signed: bool = True, args=None,
           last_good=None) -> dict:
    """Make an existing release current (checksums verified first; with ``signed``, the signature too when a
    policy is installed). ``touch`` records it as the newest deploy."""
    d = root.release_dir(rid)
    if not os.path.isdir(d):
        raise Failure("release %s is not on the device (see: edgesdk releases)" % rid)
    _adopt_signature(root, d, args)
    previous = root.current()
    if previous == rid:  # (still prune: a deploy cut before its prune leaves one release too many)
        return {"ok": True, "status": "unchanged", "release": rid, "previous": previous,
                "pruned": root.prune(keep) if keep else [], "root": root.path}
    verify(d, rid)
    signer = root.check_signature(d) if signed else None
    if touch:
        meta = root.meta(rid)
        meta.update(id=rid, seq=time.time_ns(),
                    deployed=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        try:
            _write_atomic(os.path.join(d, META), json.dumps(meta).encode())
        except OSError as exc:
            raise _oserror(exc, "recording the deploy", root.path)
    if args is not None:
        _mark_pending(root, rid, last_good or previous, args)
    root.switch(rid)
    pruned = root.prune(keep) if keep else []
    if args is not None:
        _spawn_watchdog(root)
    return {"ok": True, "status": "deployed", "release": rid, "previous": last_good or previous, "pruned": pruned,
            "root": root.path, "signer": signer, "received_bytes": 0, "reused_bytes": 0}


def rollback(root: Root, to=None) -> dict:
    """Back to an earlier release (checksums verified; no signature check: it was accepted when deployed)."""
    root.lock()
    _clear_pending(root)
    rels = root.list()
    cur = root.current()
    if to:
        match = [r for r in rels if r["id"].startswith(to)]
        if len(match) != 1:
            raise Failure("no single release matches %r on the device (see: edgesdk releases)" % to)
        target = match[0]["id"]
    else:
        ids = [r["id"] for r in rels]
        older = ids[ids.index(cur) + 1:] if cur in ids else ids
        if not older:
            raise Failure("no earlier release to roll back to under %s" % root.path)
        target = older[0]
    res = switch(root, target, touch=False, signed=False)
    res["status"] = "rolled back" if res["status"] == "deployed" else res["status"]
    return res


def trust(root: Root, args) -> dict:
    """Install (stdin or --file), --show or --remove ROOT/allowed_signers."""
    if args.show:
        try:
            with open(root.policy, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            text = None
        return {"ok": True, "root": root.path, "policy": text, "path": root.policy}
    root.lock()
    if args.remove:
        existed = os.path.isfile(root.policy)
        if existed:
            os.unlink(root.policy)
            _fsync_dir(root.path)
        return {"ok": True, "status": "removed" if existed else "absent", "root": root.path, "path": root.policy}
    ssh_keygen()
    try:
        if args.file:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
        else:
            text = sys.stdin.read()
    finally:
        if args.file and os.path.basename(args.file).startswith(TMP_PREFIX):
            try:
                os.unlink(args.file)
            except OSError:
                pass
    parsed = parse_policy(text)
    _write_atomic(root.policy, text.encode("utf-8"))
    return {"ok": True, "status": "installed", "root": root.path, "path": root.policy,
            "signers": parsed["signers"], "revoked": len(parsed["revoked"]),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def _run(cmd: str, *extra: str, timeout: float = 60) -> tuple:
    try:
        p = subprocess.run(shlex.split(cmd) + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except FileNotFoundError:
        return 127, "%s: command not found" % shlex.split(cmd)[0]
    except subprocess.TimeoutExpired:
        return 124, "%s timed out" % cmd
    return p.returncode, p.stdout.decode(errors="replace").strip()


def _healthy(args, name: str) -> tuple:
    """Restart the service, then wait until it is active (and --health-cmd passes) for --settle seconds in a
    row, within --timeout seconds. Returns (healthy, reason)."""
    code, out = _run(args.manager, "restart", name)
    if code != 0:
        return False, "restart failed: %s" % (out.splitlines()[-1] if out else "exit %d" % code)
    deadline = time.monotonic() + args.timeout
    since = None
    reason = "not active"
    while time.monotonic() < deadline:
        code, out = _run(args.manager, "is-active", name)
        ok = code == 0
        if ok and args.health_cmd:
            hcode, hout = _run("sh", "-c", args.health_cmd)
            ok = hcode == 0
            reason = "health check failed: %s" % (hout.splitlines()[-1] if hout else "exit %d" % hcode)
        elif not ok:
            reason = "service is %s" % (out.splitlines()[-1] if out else "not active")
        now = time.monotonic()
        if ok:
            since = now if since is None else since
            if now - since >= args.settle:
                return True, "active"
        else:
            since = None
        time.sleep(args.interval)
    return False, reason


def restart(root: Root, args) -> dict:
    """Restart the service and wait for it to stay healthy: confirm the pending release, or switch back."""
    step("restart-begin")
    healthy, reason = _healthy(args, args.name)
    res = {"ok": healthy, "service": args.name, "healthy": healthy, "release": root.current(),
           "rolled_back": False}
    if healthy:
        step("healthy")
        root.lock()
        pending = root.pending()
        if pending and pending.get("release") == root.current():
            _clear_pending(root)
            res["confirmed"] = True
        step("confirmed")
        res["status"] = "deployed"
        return res
    res["error"] = "service %s did not stay healthy within %gs (%s)" % (args.name, args.timeout, reason)
    root.lock()
    if args.previous and args.previous != root.current():
        switch(root, args.previous, touch=False, signed=False)
        _clear_pending(root)
        res.update(rolled_back=True, release=args.previous, status="rolled back")
        ok_again, reason2 = _healthy(args, args.name)
        res["healthy_after_rollback"] = ok_again
        res["error"] += "; rolled back to %s%s" % (
            args.previous, "" if ok_again else " (still unhealthy: %s)" % reason2)
    else:
        _clear_pending(root)
        res["status"] = "failed"
    return res


def boot_check(root: Root) -> dict:
    """For the service's ExecStartPre: a release still pending after a reboot (or past its deadline) was never
    confirmed healthy, so the previous one becomes current again before the service starts."""
    pending = root.pending()
    if not pending:
        return {"ok": True, "status": "nothing pending", "current": root.current()}
    root.lock()
    pending = root.pending()
    if pending and _expired(pending):
        return resolve_pending(root, restart_service=False)
    return {"ok": True, "status": "pending" if pending else "nothing pending", "current": root.current()}


def _pending_args(s) -> None:
    s.add_argument("--signature-b64", help="the bundle's manifest.json.sig, for a release already on the device")
    s.add_argument("--pending", type=float, default=0.0, help="seconds to confirm the release healthy")
    s.add_argument("--service")
    s.add_argument("--manager", default="systemctl")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgesdk-agent")
    sub = p.add_subparsers(dest="cmd")
    sub.required = True
    for name in ("status", "prepare", "boot-check", "watchdog"):
        sub.add_parser(name).add_argument("root")
    s = sub.add_parser("install")
    s.add_argument("root")
    s.add_argument("--archive")
    s.add_argument("--release")
    s.add_argument("--manifest-sha256")
    s.add_argument("--size", type=int, default=0)
    s.add_argument("--keep", type=int, default=3)
    _pending_args(s)
    s = sub.add_parser("switch")
    s.add_argument("root")
    s.add_argument("release")
    s.add_argument("--keep", type=int, default=3)
    _pending_args(s)
    s = sub.add_parser("rollback")
    s.add_argument("root")
    s.add_argument("--to")
    s = sub.add_parser("trust")
    s.add_argument("root")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--show", action="store_true")
    g.add_argument("--remove", action="store_true")
    g.add_argument("--file")
    s = sub.add_parser("verify-signature")
    s.add_argument("root", metavar="folder")
    s.add_argument("policy")
    s = sub.add_parser("restart")
    s.add_argument("root")
    s.add_argument("name")
    s.add_argument("--manager", default="systemctl")
    s.add_argument("--timeout", type=float, default=30.0)
    s.add_argument("--settle", type=float, default=3.0)
    s.add_argument("--interval", type=float, default=0.5)
    s.add_argument("--health-cmd")
    s.add_argument("--previous")
    return p


def _dispatch(root: Root, args) -> dict:
    if args.cmd == "status":
        return root.status()
    if args.cmd == "prepare":
        root.lock()
        stale = root.clean_stale()
        root.check_writable()
        res = root.status()
        res["stale_removed"] = stale
        res["have"] = sorted(root.have())
        return res
    if args.cmd in ("install", "switch") and args.keep < 1:
        raise Failure("--keep must be at least 1")
    if args.cmd == "install":
        return install(root, args)
    if args.cmd == "switch":
        root.lock()
        root.clean_stale()
        return switch(root, args.release, args.keep, args=args, last_good=_settle_pending(root))
    if args.cmd == "rollback":
        return rollback(root, args.to)
    if args.cmd == "trust":
        return trust(root, args)
    if args.cmd == "verify-signature":
        return dict(verify_signature(args.root, args.policy), ok=True)
    if args.cmd == "boot-check":
        return boot_check(root)
    if args.cmd == "watchdog":
        return watchdog(root)
    return restart(root, args)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    root = Root(args.root)
    try:
        res = _dispatch(root, args)
    except Failure as exc:
        res = {"ok": False, "error": str(exc), "current": root.current()}
    except OSError as exc:
        res = {"ok": False, "error": str(_oserror(exc, args.cmd, root.path)), "current": root.current()}
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    step("answered")
    return 0 if res.get("ok") else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
