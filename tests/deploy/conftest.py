"""A real OpenSSH server for the deploy tests: /usr/sbin/sshd on 127.0.0.1 at a free port, a throwaway host
key and user key, run as the current user. The client side is an ssh config file with Host aliases, passed
with --ssh-config (ssh -F), so the tests also prove that aliases work as users expect.

Nothing here talks to an address outside 127.0.0.0/8. The "unknown host" name ``kitchen-pi..invalid`` is
rejected by the resolver library itself (empty label), so no DNS packet leaves the machine (checked with
``strace -e trace=connect,sendto ssh kitchen-pi..invalid``).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgesdk.bundle import Manifest, write_bundle

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
UNKNOWN_HOST = "kitchen-pi..invalid"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    if not Path(SSHD).is_file():
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server): deploy tests need a real sshd")
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.skip("OpenSSH client not installed (apt-get install openssh-client)")
    d = tmp_path_factory.mktemp("sshd")
    host_key = keygen(d / "host_key")
    user_key = keygen(d / "user_key")
    wrong_key = keygen(d / "wrong_key")
    other_host_key = keygen(d / "other_host_key")
    (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
    port = free_port()
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder sshd insists on
    cfg = d / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {d}/sshd.pid\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\nMaxStartups 64:30:128\nMaxSessions 64\n"
        f"AcceptEnv LANG LC_*\n"
    )
    log = open(d / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {(d / 'sshd.log').read_text()[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("sshd did not start listening within 10 s")
            time.sleep(0.05)
    pub = (d / "host_key.pub").read_text().split()
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    bad_known = d / "known_hosts_mismatch"
    other = (d / "other_host_key.pub").read_text().split()
    bad_known.write_text(f"[127.0.0.1]:{port} {other[0]} {other[1]}\n")
    user = getpass.getuser()
    common = f"  IdentitiesOnly yes\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
    client = d / "ssh_config"
    client.write_text(
        f"Host edge-test\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {user_key}\n"
        f"  UserKnownHostsFile {known}\n{common}"
        f"Host edge-wrongkey\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {wrong_key}\n"
        f"  UserKnownHostsFile {known}\n{common}"
        f"Host edge-mitm\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {user_key}\n"
        f"  UserKnownHostsFile {bad_known}\n{common}"
        f"Host edge-newhost\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {user_key}\n"
        f"  UserKnownHostsFile {d}/known_hosts_empty\n{common}"
        f"Host edge-refused\n  HostName 127.0.0.1\n  Port {free_port()}\n  User {user}\n  IdentityFile {user_key}\n"
        f"  UserKnownHostsFile {known}\n{common}"
        f"Host *\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
        "  GlobalKnownHostsFile /dev/null\n"
    )
    server = SSHServer(d, port, user, user_key, wrong_key, known, client)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
    """Run the real console entry point in a subprocess: exit code, stdout, stderr."""
    p = subprocess.run([sys.executable, "-m", "edgesdk", *args], capture_output=True, text=True, timeout=180)
    return p.returncode, p.stdout, p.stderr


def current_of(root: Path) -> str | None:
    link = root / "current"
    return os.readlink(link) if link.is_symlink() else None


def release_ids(root: Path) -> set[str]:
    rel = root / "releases"
    return {p.name for p in rel.iterdir()} if rel.is_dir() else set()


def json_out(stdout: str) -> dict:
    return json.loads(stdout)
