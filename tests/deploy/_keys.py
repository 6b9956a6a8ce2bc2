"""Signing keys for the trust tests: real OpenSSH keys made with ssh-keygen, a real ssh-agent, and
allowed_signers files (OpenSSH format, plus edgesdk's ``@revoked`` marker)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "", comment: str = "edgesdk-test") -> Path:
    args = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *args, "-N", passphrase, "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    return path


def pub(path: Path) -> str:
    """'KEYTYPE BASE64' of a key file's public half."""
    text = (path if path.name.endswith(".pub") else path.with_name(path.name + ".pub")).read_text()
    return " ".join(text.split()[:2])


@dataclass
class Keys:
    dir: Path
    alice: Path     # ed25519, no passphrase
    bob: Path       # rsa 2048
    carol: Path     # ed25519 with a passphrase
    mallory: Path   # ed25519, in no policy
    allowed: Path   # alice, bob, carol

    def policy(self, name: str, text: str) -> Path:
        p = self.dir / name
        p.write_text(text)
        return p


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    if not shutil.which("ssh-keygen"):
        pytest.skip("ssh-keygen not installed")
    d = tmp_path_factory.mktemp("keys")
    alice = keygen(d / "alice")
    bob = keygen(d / "bob", "rsa")
    carol = keygen(d / "carol", passphrase=PASSPHRASE)
    mallory = keygen(d / "mallory")
    allowed = d / "allowed_signers"
    allowed.write_text(f"# who may sign models for our cameras\nalice@example.com {pub(alice)}\n"
                       f"bob@example.com namespaces=\"edgesdk-bundle\" {pub(bob)}\ncarol@example.com {pub(carol)}\n")
    return Keys(d, alice, bob, carol, mallory, allowed)


@pytest.fixture
def agent(tmp_path, monkeypatch):
    """A real ssh-agent for this test (SSH_AUTH_SOCK set); add(key) loads a key, answering its passphrase."""
    if not shutil.which("ssh-agent") or not shutil.which("ssh-add"):
        pytest.skip("ssh-agent not installed")
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{PASSPHRASE}'\n")
    askpass.chmod(0o700)

    def add(key: Path) -> None:
        env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
        subprocess.run(["ssh-add", str(key)], check=True, capture_output=True, env=env,
                       stdin=subprocess.DEVNULL, start_new_session=True)
    yield add
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
