"""The arm64 tier skips, with the reason in pytest's summary, where it cannot run: no binfmt support, no
Debian mirror, debootstrap failing. Nothing half-built is left in the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import _paths
import _root
from _sshd import refused_port


def test_no_binfmt_is_a_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(_root, "BINFMT", tmp_path / "no-such-dir")  # mount fails: no binfmt_misc there
    with pytest.raises(_root.RootUnavailable, match="no binfmt_misc support|qemu-user-static is not installed"):
        _root.ensure_binfmt()


def test_no_debian_mirror_is_a_reason(monkeypatch):
    monkeypatch.delenv("EDGESDK_ARM64_MIRROR", raising=False)
    monkeypatch.setattr(_root, "_sources_entries", lambda: iter([("deb", ["https://example.invalid/ubuntu"], ["jammy"])]))
    with pytest.raises(_root.RootUnavailable, match="no Debian mirror in the host's apt sources"):
        _root.host_mirror()


def test_host_mirror_is_read_from_apt_sources(monkeypatch):
    monkeypatch.delenv("EDGESDK_ARM64_MIRROR", raising=False)
    entries = [("deb", ["http://mirror.example/debian-security"], ["bookworm-security"]),
               ("deb-src", ["http://src.example/debian"], ["bookworm"]),
               ("deb", ["http://mirror.example/debian/"], ["bookworm", "bookworm-updates"])]
    monkeypatch.setattr(_root, "_sources_entries", lambda: iter(entries))
    assert _root.host_mirror() == "http://mirror.example/debian/"


@pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and chroot need root")
@pytest.mark.skipif(not _paths.TESTDATA.is_dir(), reason=f"test data not available: {_paths.TESTDATA} (the tier's "
                    "tests skip for that before debootstrap runs)")
def test_tier_skips_when_debootstrap_fails(tmp_path):
    """The whole tier, pointed at a mirror where nothing listens and an empty cache: every test skips with
    debootstrap's failure as the reason, pytest exits 0, and the summary says the tier was skipped."""
    env = dict(os.environ, EDGESDK_ARM64_CACHE=str(tmp_path / "cache"),
               EDGESDK_ARM64_MIRROR=f"http://127.0.0.1:{refused_port()}/debian", EDGESDK_ARM64_SUITES="bookworm")
    here = Path(__file__).parent
    r = subprocess.run([sys.executable, "-m", "pytest", "-m", "arm64", str(here), "-q", "-p", "no:cacheprovider",
                        "-rs", "-k", "bench or deploy"], capture_output=True, text=True, env=env, timeout=600,
                       cwd=here.parents[1])
    assert r.returncode == 0, r.stdout[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert " skipped" in last and "passed" not in last and "failed" not in last and "error" not in last, last
    assert "arm64 tier skipped:" in r.stdout and "arm64 tier (bookworm) SKIPPED:" in r.stdout, r.stdout[-3000:]
    assert ("debootstrap bookworm arm64 from http://127.0.0.1" in r.stdout
            or "binfmt" in r.stdout), r.stdout[-3000:]
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()] == []  # no half-built root
