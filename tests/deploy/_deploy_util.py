"""A real OpenSSH server for the deploy tests (tests/_sshd.py: /usr/sbin/sshd on 127.0.0.1 at a free port,
throwaway host and user keys, run as the current user). The client side is an ssh config file with Host
aliases, passed with --ssh-config (ssh -F), so the tests also prove that aliases work as users expect.

Nothing here talks to an address outside 127.0.0.0/8. The "unknown host" name ``kitchen-pi..invalid`` is
rejected by the resolver library itself (empty label), so no DNS packet leaves the machine (checked with
``strace -e trace=connect,sendto ssh kitchen-pi..invalid``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgesdk.bundle import Manifest, write_bundle

UNKNOWN_HOST = "kitchen-pi..invalid"


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgesdk-test", "-f", str(path)],
                   check=True)
    return path


@dataclass
class SSHServer:
    dir: Path
    port: int
    user: str
    user_key: Path
    wrong_key: Path
    known_hosts: Path
    ssh_config: Path
    alias: str = "edge-test"

    def target(self, root: Path | str, alias: str | None = None) -> str:
        return f"{alias or self.alias}:{root}"

    def ssh(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ssh", "-F", str(self.ssh_config), self.alias, command], capture_output=True,
                              text=True, timeout=30)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> SSHServer:
    """The shared real sshd (tests/_sshd.py) plus the aliases the deploy tests need: the right key, a wrong
    key, a mismatching pinned host key, an unpinned host key and a port where nothing listens."""
    from _sshd import refused_port, start_sshd

    info = start_sshd(tmp_path_factory)
    try:
        yield add_aliases(info.config.parent, info.port, info.user, info.key, info.known_hosts, refused_port())
    finally:
        info.stop()


def add_aliases(d: Path, port: int, user: str, user_key: Path, known: Path, bad_port: int) -> SSHServer:
    wrong_key = keygen(d / "wrong_key")
    other = keygen(d / "other_host_key").with_suffix(".pub").read_text().split()
    bad_known = d / "known_hosts_mismatch"
    bad_known.write_text(f"[127.0.0.1]:{port} {other[0]} {other[1]}\n")
    common = "  IdentitiesOnly yes\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
    aliases = {
        "edge-test": (port, user_key, known),
        "edge-wrongkey": (port, wrong_key, known),
        "edge-mitm": (port, user_key, bad_known),
        "edge-newhost": (port, user_key, d / "known_hosts_empty"),
        "edge-refused": (bad_port, user_key, known),
    }
    client = d / "deploy_ssh_config"
    client.write_text("".join(
        f"Host {alias}\n  HostName 127.0.0.1\n  Port {p}\n  User {user}\n  IdentityFile {key}\n"
        f"  UserKnownHostsFile {kh}\n{common}" for alias, (p, key, kh) in aliases.items())
        + f"Host *\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n")
    return SSHServer(d, port, user, user_key, wrong_key, known, client)


def make_bundle(out: Path, name: str = "demo", payload: bytes | None = None, size: int = 4096) -> Path:
    """A small real bundle (write_bundle: manifest with sha256 of every file)."""
    data = payload if payload is not None else os.urandom(size)
    write_bundle(out, Manifest(task="classify", name=name, labels="labels.txt"),
                 {"model.tflite": data, "labels.txt": b"background\ncat\ndog\n"})
    return out


@pytest.fixture
def bundles(tmp_path):
    """Factory: bundles(n) -> n distinct bundle folders."""
    def make(n: int = 1, **kw) -> list[Path]:
        return [make_bundle(tmp_path / f"bundle{i}", name=f"demo{i}", **kw) for i in range(n)]
    return make


@pytest.fixture
def device_root(tmp_path) -> Path:
    """The deploy ROOT on the "device" (same machine, reached through sshd)."""
    return tmp_path / "device" / "edgesdk"


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (``edgesdk.cli.main``, what the console script calls): exit code, stdout,
    stderr. In-process keeps the suite fast; run_exe runs the real executable (a few tests use it)."""
    import contextlib
    import io
    import logging

    from edgesdk.cli import main

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers = root.handlers[:]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: bad usage
            code = exc.code if isinstance(exc.code, int) else 1
    root.handlers[:] = handlers
    return code, out.getvalue(), err.getvalue()


def run_exe(*args: str, **kw) -> tuple[int, str, str]:
    """Run ``python -m edgesdk`` in a subprocess."""
    p = subprocess.run([sys.executable, "-m", "edgesdk", *args], capture_output=True, text=True, timeout=180, **kw)
    return p.returncode, p.stdout, p.stderr


def current_of(root: Path) -> str | None:
    link = root / "current"
    return os.readlink(link) if link.is_symlink() else None


def release_ids(root: Path) -> set[str]:
    rel = root / "releases"
    return {p.name for p in rel.iterdir()} if rel.is_dir() else set()


def json_out(stdout: str) -> dict:
    return json.loads(stdout)


FAKE_MANAGER = r"""#!/bin/sh
# Stand-in for systemctl on the test device. `restart NAME` (re)starts the "app" in the background on the
# bundle behind ROOT/current: the app reads its manifest and exits 1 after 0.3 s when the bundle's name
# starts with "broken" (a model that does not load), else it keeps running. `is-active NAME` exits 0 while the
# app process is alive (not a zombie). Every call is logged with the release current at that moment.
dir=$(dirname "$0")
root="$FAKE_ROOT_PLACEHOLDER"
echo "$* $(readlink "$root/current")" >> "$dir/calls.log"
case "$1" in
restart)
  if [ -f "$dir/$2.pid" ]; then kill "$(cat "$dir/$2.pid")" 2>/dev/null; fi
  python3 -c '
import json, sys, time
name = json.load(open(sys.argv[1] + "/manifest.json"))["name"]
time.sleep(0.3)
if name.startswith("broken"):
    sys.exit(1)
time.sleep(600)
' "$root/current" </dev/null >/dev/null 2>&1 &
  echo $! > "$dir/$2.pid"
  ;;
is-active)
  pid=$(cat "$dir/$2.pid" 2>/dev/null) || { echo inactive; exit 3; }
  if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
    echo active
  else
    echo failed; exit 3
  fi
  ;;
daemon-reload|enable) ;;
*) echo "unknown: $1" >&2; exit 1 ;;
esac
"""


def write_fake_manager(folder: Path, root: Path) -> Path:
    """The stand-in service manager above, for the device folder ``root``; returns the script path."""
    script = folder / "fake-systemctl"
    script.write_text(FAKE_MANAGER.replace("$FAKE_ROOT_PLACEHOLDER", str(root)))
    script.chmod(0o755)
    return script


def device_python(folder: Path, name: str = "python3-device", env: dict | None = None,
                  path: str | None = None) -> Path:
    """A stand-in for the device's python3 (--remote-python) that sets environment variables only tests set
    (EDGESDK_TEST_KILL_AT, ...) or a PATH without some tool, then runs the real interpreter."""
    import shlex

    exe = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    lines = ["#!/bin/sh"]
    lines += [f"export {k}={shlex.quote(str(v))}" for k, v in (env or {}).items()]
    if path is not None:
        lines.append(f"export PATH={shlex.quote(path)}")
    lines.append(f'exec {exe} "$@"')
    script = folder / name
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def tree_snapshot(root: Path) -> dict:
    """Every path under the device root with its size or link target (the lock file aside)."""
    return {str(p.relative_to(root)): (p.is_symlink() and os.readlink(p)) or p.stat().st_size
            for p in sorted(root.rglob("*")) if p.name != ".lock"}


@pytest.fixture
def manager(tmp_path, device_root):
    """A fake service manager for the device root (its started services are stopped at the end)."""
    d = tmp_path / "svc"
    d.mkdir()
    script = write_fake_manager(d, device_root)
    yield script
    for pid_file in d.glob("*.pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
