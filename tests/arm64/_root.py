"""An emulated arm64 Debian root for the arm64 tier: built once with debootstrap + qemu-user-static, cached
outside the repository (``~/.cache/edgesdk/arm64-<suite>``), rebuilt when missing or made for another package
list. Commands run in it with ``chroot`` while /proc, /sys and the test's bind mounts are mounted; everything
mounted is unmounted again, also on failure.

The Debian mirror is read from the host's apt sources (no host name here). pip in the root reaches PyPI with
the host's CA bundle and resolver file, copied in (the root lives in the cache, so nothing else changes).

``RootUnavailable`` carries the reason the tier skips with: no binfmt support for aarch64, no Debian mirror in
the host's apt sources, debootstrap failing.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

CACHE = Path(os.environ.get("EDGESDK_ARM64_CACHE", Path.home() / ".cache" / "edgesdk"))
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# What the tier needs in the root: Python with venv, sshd (deploy / bench --remote), and the Pi's apt-installed
# numpy + OpenCV for the --system-site-packages venv.
PACKAGES = ("python3", "python3-venv", "ca-certificates", "openssh-server", "openssh-client", "python3-numpy",
            "python3-opencv")
STAMP = ".edgesdk-root"
HOST_CA = "/etc/ssl/certs/edgesdk-host-ca.crt"


class RootUnavailable(Exception):
    """The arm64 root cannot be made here; the message is the skip reason."""


def _sources_entries() -> Iterator[tuple[str, list[str], list[str]]]:
    """(types, URIs, suites) of every entry in the host's apt sources (one-line and deb822 formats)."""
    etc = Path("/etc/apt")
    files = [etc / "sources.list"] + sorted((etc / "sources.list.d").glob("*.list"))
    for f in files:
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(line) >= 3:
                yield line[0], [line[1]], [line[2]]
    for f in sorted((etc / "sources.list.d").glob("*.sources")):
        for para in re.split(r"\n\s*\n", f.read_text(errors="replace")):
            fields: dict[str, str] = {}
            for line in para.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            yield fields.get("types", ""), fields.get("uris", "").split(), fields.get("suites", "").split()


def host_mirror() -> str:
    """The host's Debian archive URI (the entry serving a release suite, not -security or -updates);
    ``EDGESDK_ARM64_MIRROR`` overrides it."""
    if os.environ.get("EDGESDK_ARM64_MIRROR"):
        return os.environ["EDGESDK_ARM64_MIRROR"]
    for types, uris, suites in _sources_entries():
        if "deb" not in types.split():
            continue
        if any(re.fullmatch(r"[a-z]+", s) for s in suites):
            for uri in uris:
                if uri.rstrip("/").endswith("/debian"):
                    return uri
    raise RootUnavailable("no Debian mirror in the host's apt sources (/etc/apt/sources.list*)")


def ensure_binfmt() -> None:
    """Make sure arm64 binaries run here: binfmt_misc mounted and qemu-aarch64 enabled."""
    if shutil.which("qemu-aarch64-static") is None:
        raise RootUnavailable("qemu-user-static is not installed (apt-get install qemu-user-static binfmt-support)")
    if not (BINFMT / "status").exists():
        r = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RootUnavailable(f"no binfmt_misc support: cannot mount {BINFMT}: {r.stderr.strip()}")
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists() or not entry.read_text().startswith("enabled"):
        if shutil.which("update-binfmts") is None:
            raise RootUnavailable("binfmt-support is not installed (apt-get install binfmt-support)")
        r = subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True, text=True)
        if not entry.exists() or not entry.read_text().startswith("enabled"):
            raise RootUnavailable(f"binfmt for qemu-aarch64 cannot be enabled: {(r.stderr or r.stdout).strip()}")


def _host_ca() -> Path | None:
    for c in (os.environ.get("PIP_CERT"), os.environ.get("REQUESTS_CA_BUNDLE"), os.environ.get("SSL_CERT_FILE"),
              "/etc/ssl/certs/ca-certificates.crt"):
        if c and Path(c).is_file():
            return Path(c)
    return None


def _pip_conf() -> str:
    """The root's /etc/pip.conf: the host's network settings for pip (index URLs, trusted hosts, timeout), not
    its local folders, and the copied host CA bundle."""
    host = configparser.ConfigParser()
    host.read(["/etc/pip.conf", "/etc/xdg/pip/pip.conf", str(Path.home() / ".config/pip/pip.conf")])
    out = ["[global]", f"cert = {HOST_CA}"]
    for key in ("index-url", "extra-index-url", "trusted-host", "timeout"):
        if host.has_option("global", key):
            vals = [v for v in host.get("global", key).split() if not v.startswith(("file:", "/"))]
            if vals:
                out.append(f"{key} = {' '.join(vals)}")
    return "\n".join(out) + "\n"


def _configure(root: Path) -> None:
    """Copy the host's resolver file, CA bundle and pip network settings into the root."""
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf", follow_symlinks=True) if Path(
        "/etc/resolv.conf").exists() else None
    ca = _host_ca()
    if ca is not None:
        shutil.copyfile(ca, root / HOST_CA.lstrip("/"))
    (root / "etc/pip.conf").write_text(_pip_conf())


def _stamp(suite: str) -> str:
    return f"{suite} {' '.join(PACKAGES)}\n"


def ensure_root(suite: str = "bookworm", *, timeout: float = 1800) -> Path:
    """The cached arm64 root for ``suite`` (built now when missing); raises RootUnavailable with the reason."""
    ensure_binfmt()
    if shutil.which("debootstrap") is None:
        raise RootUnavailable("debootstrap is not installed (apt-get install debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / f"arm64-{suite}"
    with open(CACHE / f"arm64-{suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = root / STAMP
        if not (stamp.is_file() and stamp.read_text() == _stamp(suite)):
            _build(root, suite, timeout)
        _configure(root)
    return root


def _build(root: Path, suite: str, timeout: float) -> None:
    mirror = host_mirror()
    tmp = root.with_name(root.name + ".building")
    log = root.with_name(root.name + ".log")
    for d in (tmp, root):
        if d.exists():
            _unmount_all(d)
            shutil.rmtree(d)
    t0 = time.monotonic()
    cmd = ["debootstrap", "--arch=arm64", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(tmp),
           mirror]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        r: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # debootstrap and the emulated dpkg under it
        proc.wait()
        r = None
    finally:
        _unmount_all(tmp)
    if r != 0:
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:] if log.exists() else []
        shutil.rmtree(tmp, ignore_errors=True)
        why = "timed out" if r is None else f"exit {r}"
        raise RootUnavailable(f"debootstrap {suite} arm64 from {mirror} failed ({why}): {' '.join(tail)[:200]}")
    (tmp / STAMP).write_text(_stamp(suite))
    (tmp / "run/sshd").mkdir(parents=True, exist_ok=True)
    # openssh-server's postinst made host keys for the cached root; the tests bring their own.
    tmp.rename(root)
    with open(log, "a") as out:
        out.write(f"built in {time.monotonic() - t0:.0f} s\n")


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        points = [ln.split()[1].replace("\\040", " ") for ln in f]
    return [p for p in points if p.startswith(prefix)]


def _unmount_all(path: Path) -> None:
    """Unmount everything mounted under ``path``, deepest first (lazy as a last resort)."""
    for p in sorted(_mounts_under(path), key=len, reverse=True):
        if subprocess.run(["umount", p], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", p], capture_output=True)


@contextlib.contextmanager
def mounted(root: Path, binds: dict[str, Path] | None = None, ro_binds: dict[str, Path] | None = None
            ) -> Iterator[Path]:
    """/proc, /sys (read-only), ``binds`` and ``ro_binds`` ({path in root: host path}) mounted in ``root`` for
    the block; everything under ``root`` is unmounted afterwards, also on failure."""
    _unmount_all(root)  # left over by a killed run
    try:
        for fs, where, opts in (("proc", "proc", []), ("sysfs", "sys", ["-o", "ro"])):
            (root / where).mkdir(exist_ok=True)
            subprocess.run(["mount", "-t", fs, *opts, fs, str(root / where)], check=True, capture_output=True)
        for ro, table in ((False, binds or {}), (True, ro_binds or {})):
            for inside, host in table.items():
                target = root / inside.lstrip("/")
                target.mkdir(parents=True, exist_ok=True)
                subprocess.run(["mount", "--bind", str(host), str(target)], check=True, capture_output=True)
                if ro:
                    subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True, capture_output=True)
        yield root
    finally:
        _unmount_all(root)


def run(root: Path, script: str, *, timeout: float = 600, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run a shell script in the root (a clean environment; output captured as text)."""
    base = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
            "LANG": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_DEFAULT_TIMEOUT": "180",
            "DEBIAN_FRONTEND": "noninteractive"}
    base.update(env or {})
    r = subprocess.run(["chroot", str(root), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in base.items()),
                        "/bin/sh", "-c", script], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"in the arm64 root, exit {r.returncode}: {script}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


if __name__ == "__main__":  # build (or check) the cached roots: python tests/arm64/_root.py [SUITE...]
    import sys

    for s in sys.argv[1:] or ["bookworm"]:
        t = time.monotonic()
        print(s, ensure_root(s), f"{time.monotonic() - t:.0f} s", flush=True)
