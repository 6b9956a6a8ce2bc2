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

Commands::

    status  ROOT                      releases, current, free bytes (changes nothing)
    prepare ROOT                      create ROOT/releases, check it is writable, remove stale ROOT/.tmp-*
    install ROOT [--archive F] [--release ID] [--manifest-sha256 H] [--size N] [--keep K]
                                      read a tar (stdin, or F), verify every sha256 against the manifest,
                                      move it to releases/ID, switch current, keep the last K
    switch  ROOT ID [--keep K]        make an existing release current again (verified first)
    rollback ROOT [--to ID]           switch current to the release deployed before it
    restart ROOT NAME [--manager CMD] [--timeout S] [--settle S] [--health-cmd CMD] [--previous ID]
                                      restart a service and wait until it stays active; if it does not,
                                      switch back to --previous and restart again
"""

from __future__ import annotations

import argparse
import datetime
import errno
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time

RELEASES = "releases"
CURRENT = "current"
META = ".edgesdk-release.json"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
EXIT_FAILED = 3
_CHUNK = 1 << 20


class Failure(Exception):
    """A failure with one line for the user."""


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


class Root:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.releases = os.path.join(self.path, RELEASES)
        self.current_link = os.path.join(self.path, CURRENT)
        self._lock_fd: int | None = None

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

    def list(self) -> list:
        """Releases, newest deploy first."""
        out: list = []
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
                "free": self.free()}

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

    def clean_stale(self, spare=None) -> list:  # type: ignore[valid-type]
        """Remove upload folders left by an interrupted deploy (we hold the lock, so their owner is gone).
        ``spare``: a path to leave alone (the archive an Ansible upload just put there)."""
        removed = []
        spare = os.path.abspath(os.path.expanduser(spare)) if spare else None
        for name in os.listdir(self.path):
            if os.path.join(self.path, name) == spare:
                continue
            if name.startswith(TMP_PREFIX) or name.startswith(".current.tmp-"):
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
        tmp = os.path.join(self.path, ".current.tmp-%d" % os.getpid())
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(os.path.join(RELEASES, rid), tmp)
            os.replace(tmp, self.current_link)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise _oserror(exc, "switching %s" % self.current_link, self.path)
        _fsync_dir(self.path)

    def prune(self, keep: int) -> list:  # type: ignore[valid-type]
        cur = self.current()
        removed = []
        for i, rel in enumerate(self.list()):
            if i >= keep and rel["id"] != cur:
                shutil.rmtree(os.path.join(self.releases, rel["id"]), ignore_errors=True)
                removed.append(rel["id"])
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
        with open(target, "wb") as out:
            while True:
                block = src.read(_CHUNK)  # type: ignore[union-attr]
                if not block:
                    break
                out.write(block)
                total += len(block)
            out.flush()
            os.fsync(out.fileno())
    return total


def install(root: Root, args) -> dict:
    root.lock()
    stale = root.clean_stale(spare=args.archive)
    root.check_writable()
    previous = root.current()
    if args.release and os.path.isdir(os.path.join(root.releases, args.release)):
        # Already on the device (e.g. after a rollback): verify it again and switch, nothing to upload.
        res = switch(root, args.release, args.keep)
        res["stale_removed"] = stale
        return res
    free = root.free()
    if args.size and free >= 0 and free < args.size + 64 * 1024:
        raise Failure("no space left on the device under %s: the bundle needs %d bytes, %d free"
                      % (root.path, args.size, free))
    tmp = os.path.join(root.path, "%s%s-%d" % (TMP_PREFIX, args.release or "upload", os.getpid()))
    try:
        os.mkdir(tmp)
        try:
            if args.archive:
                tar = tarfile.open(args.archive, "r:*")
            else:
                tar = tarfile.open(fileobj=sys.stdin.buffer, mode="r|*")
            with tar:
                received = _extract(tar, tmp)
        except (tarfile.TarError, EOFError) as exc:
            raise Failure("upload interrupted or damaged (%s): current release unchanged" % exc)
        manifest = verify(tmp, args.release, args.manifest_sha256)
        rid = args.release or manifest["_digest"][:16]
        final = root.release_dir(rid)
        meta = {"id": rid, "name": manifest.get("name", ""), "task": manifest.get("task", ""),
                "deployed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "seq": time.time_ns(), "size": received}
        with open(os.path.join(tmp, META), "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        if os.path.isdir(final):  # the same bundle without --release: nothing new
            shutil.rmtree(tmp, ignore_errors=True)
            res = switch(root, rid, args.keep)
            res["stale_removed"] = stale
            return res
        os.rename(tmp, final)
        _fsync_dir(root.releases)
    except OSError as exc:
        raise _oserror(exc, "receiving the bundle", root.path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        if args.archive and os.path.basename(args.archive).startswith(TMP_PREFIX):
            try:
                os.unlink(args.archive)
            except OSError:
                pass
    root.switch(rid)
    pruned = root.prune(args.keep)
    return {"ok": True, "status": "deployed", "release": rid, "previous": previous, "pruned": pruned,
            "stale_removed": stale, "root": root.path}


def switch(root: Root, rid: str, keep: int = 0, touch: bool = True) -> dict:
    """Make an existing release current (verified first). ``touch`` records it as the newest deploy."""
    d = root.release_dir(rid)
    if not os.path.isdir(d):
        raise Failure("release %s is not on the device (see: edgesdk releases)" % rid)
    previous = root.current()
    if previous == rid:
        return {"ok": True, "status": "unchanged", "release": rid, "previous": previous, "pruned": [],
                "root": root.path}
    verify(d, rid)
    if touch:
        meta = root.meta(rid)
        meta.update(id=rid, seq=time.time_ns(),
                    deployed=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        path = os.path.join(d, META)
        try:
            with open(path + ".tmp", "w") as f:
                json.dump(meta, f)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            raise _oserror(exc, "recording the deploy", root.path)
    root.switch(rid)
    pruned = root.prune(keep) if keep else []
    return {"ok": True, "status": "deployed", "release": rid, "previous": previous, "pruned": pruned,
            "root": root.path}


def rollback(root: Root, to=None) -> dict:
    root.lock()
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
    res = switch(root, target, touch=False)
    res["status"] = "rolled back" if res["status"] == "deployed" else res["status"]
    return res


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
    healthy, reason = _healthy(args, args.name)
    res = {"ok": healthy, "service": args.name, "healthy": healthy, "release": root.current(),
           "rolled_back": False}
    if healthy:
        res["status"] = "deployed"
        return res
    res["error"] = "service %s did not stay healthy within %gs (%s)" % (args.name, args.timeout, reason)
    if args.previous and args.previous != root.current():
        root.lock()
        switch(root, args.previous, touch=False)
        res.update(rolled_back=True, release=args.previous, status="rolled back")
        ok_again, reason2 = _healthy(args, args.name)
        res["healthy_after_rollback"] = ok_again
        res["error"] += "; rolled back to %s%s" % (
            args.previous, "" if ok_again else " (still unhealthy: %s)" % reason2)
    else:
        res["status"] = "failed"
    return res


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgesdk-agent")
    sub = p.add_subparsers(dest="cmd")
    sub.required = True
    for name in ("status", "prepare"):
        sub.add_parser(name).add_argument("root")
    s = sub.add_parser("install")
    s.add_argument("root")
    s.add_argument("--archive")
    s.add_argument("--release")
    s.add_argument("--manifest-sha256")
    s.add_argument("--size", type=int, default=0)
    s.add_argument("--keep", type=int, default=3)
    s = sub.add_parser("switch")
    s.add_argument("root")
    s.add_argument("release")
    s.add_argument("--keep", type=int, default=3)
    s = sub.add_parser("rollback")
    s.add_argument("root")
    s.add_argument("--to")
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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    root = Root(args.root)
    try:
        if args.cmd == "status":
            res = root.status()
        elif args.cmd == "prepare":
            root.lock()
            stale = root.clean_stale()
            root.check_writable()
            res = root.status()
            res["stale_removed"] = stale
        elif args.cmd == "install":
            if args.keep < 1:
                raise Failure("--keep must be at least 1")
            res = install(root, args)
        elif args.cmd == "switch":
            root.lock()
            res = switch(root, args.release, args.keep)
        elif args.cmd == "rollback":
            res = rollback(root, args.to)
        else:
            res = restart(root, args)
    except Failure as exc:
        res = {"ok": False, "error": str(exc), "current": root.current()}
    except OSError as exc:
        res = {"ok": False, "error": str(_oserror(exc, args.cmd, root.path)), "current": root.current()}
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0 if res.get("ok") else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
