"""A real OpenSSH server on 127.0.0.1 for tests (deploy, bench --remote): throwaway host and client keys,
a free port, and an ssh config file with a ``Host`` alias so tests run ``ssh -F CONFIG ALIAS`` exactly as a
user would with ~/.ssh/config.

Use it from a session fixture::

    from _sshd import start_sshd

    @pytest.fixture(scope="session")
    def sshd(tmp_path_factory):
        info = start_sshd(tmp_path_factory)
        yield info
        info.stop()

Skips (pytest.skip) when /usr/sbin/sshd or ssh-keygen is missing. Nothing listens outside 127.0.0.1.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = os.environ.get("EDGESDK_TEST_SSHD", "/usr/sbin/sshd")
ALIAS = "edgesdk-test-device"


@dataclass
class SshdInfo:
    host: str  # always 127.0.0.1
    port: int
    user: str
    key: Path  # client private key
    config: Path  # ssh client config with Host ALIAS (HostName, Port, User, IdentityFile, known hosts)
    known_hosts: Path
    alias: str = ALIAS
    proc: subprocess.Popen | None = field(default=None, repr=False)
    log: Path | None = None

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.alias}"

    def ssh(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a command through the alias (for test assertions)."""
        return subprocess.run(
            ["ssh", "-F", str(self.config), self.alias, *command], capture_output=True, text=True, timeout=timeout
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connecting to it is refused)."""
    return free_port()


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   capture_output=True)


def start_sshd(tmp_path_factory, timeout: float = 15.0) -> SshdInfo:
    """Start sshd on 127.0.0.1:<free port> for the current user; return how to reach it."""
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        pytest.skip(f"OpenSSH server not available ({SSHD}): apt-get install openssh-server")
    d: Path = tmp_path_factory.mktemp("sshd")
    os.chmod(d, 0o700)
    host_key, client_key = d / "host_ed25519", d / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    auth = d / "authorized_keys"
    auth.write_text(client_key.with_suffix(".pub").read_text())
    os.chmod(auth, 0o600)
    port = free_port()
    user = getpass.getuser()
    cfg = d / "sshd_config"
    cfg.write_text(
        "\n".join([
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {auth}",
            f"PidFile {d / 'sshd.pid'}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            "X11Forwarding no",
            "PrintMotd no",
            "LogLevel ERROR",
            "Subsystem sftp internal-sftp",
            # Each test connection costs what a device login costs, no more (0.17 s -> 0.03 s of CPU per
            # connection measured; the deploy tests open about 150). bash sources ~/.bashrc for an ssh command
            # only in a top-level shell (SHLVL < 2): on a workstation that file may run `pyenv init` and put
            # shims before /usr/bin/python3, which a device's login does not have. The client's default key
            # exchange (sntrup761x25519) costs 50 ms of client CPU per connection; curve25519 is what OpenSSH
            # used before 9.0 and still offers: the deploy code never sees the difference.
            "SetEnv SHLVL=1",
            "KexAlgorithms curve25519-sha256",
            "",
        ])
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation dir (Debian's sshd insists on it)
    log = d / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))
    known = d / "known_hosts"
    pub = host_key.with_suffix(".pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    client_cfg = d / "ssh_config"
    client_cfg.write_text(
        "\n".join([
            f"Host {ALIAS}",
            "  HostName 127.0.0.1",
            f"  Port {port}",
            f"  User {user}",
            f"  IdentityFile {client_key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {known}",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  LogLevel ERROR",
            "",
        ])
    )
    info = SshdInfo("127.0.0.1", port, user, client_key, client_cfg, known, proc=proc, log=log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {log.read_text(errors='replace')[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                info.stop()
                pytest.fail("sshd did not start listening")
            time.sleep(0.05)
    done = info.ssh("true")
    if done.returncode != 0:
        info.stop()
        pytest.fail(f"ssh to the test sshd failed: {done.stderr.strip()}")
    return info
