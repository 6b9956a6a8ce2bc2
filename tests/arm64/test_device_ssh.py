"""An arm64 device reachable over SSH: OpenSSH's sshd runs inside the emulated root on 127.0.0.1 at a free
port; from the host, the CLI deploys (the device-side script runs under the root's arm64 python3), lists
releases, rolls back, shows the service unit, and benchmarks remotely (the report says aarch64)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _device import DATA, WORK
from _sshd import _keygen, free_port

pytestmark = pytest.mark.arm64
ALIAS = "arm64-device"
MODEL = f"{DATA}/models/mobilenet_v2_1.0_224_quant.tflite"
LABELS = f"{DATA}/models/imagenet_labels.txt"


@pytest.fixture(scope="module")
def ssh_device(device):
    """sshd in the root (root login with a throwaway key) and an ssh config with Host ALIAS; stopped after."""
    d = device.work / "sshd"
    d.mkdir()
    os.chmod(d, 0o700)
    host_key, client_key = d / "host_ed25519", d / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    (d / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    port = free_port()
    inside = f"{WORK}/sshd"
    (d / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {inside}/host_ed25519",
        f"AuthorizedKeysFile {inside}/authorized_keys", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
        "X11Forwarding no", "PrintMotd no", "LogLevel ERROR", "Subsystem sftp internal-sftp", ""]))
    log = open(d / "sshd.log", "wb")
    proc = subprocess.Popen(["chroot", str(device.root), "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                             "/usr/sbin/sshd", "-D", "-e", "-f", f"{inside}/sshd_config"],
                            stdout=subprocess.DEVNULL, stderr=log)
    pub = host_key.with_suffix(".pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    config = d / "ssh_config"
    config.write_text(f"Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {client_key}\n"
                      f"  IdentitiesOnly yes\n  UserKnownHostsFile {d / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
                      "  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n")
    try:
        deadline = time.monotonic() + 60  # sshd starts slowly under emulation
        while True:
            assert proc.poll() is None, (d / "sshd.log").read_text(errors="replace")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "sshd in the arm64 root did not start listening"
                time.sleep(0.2)
        r = subprocess.run(["ssh", "-F", str(config), ALIAS, "uname -m"], capture_output=True, text=True, timeout=120)
        assert r.stdout.strip() == "aarch64", (r.stdout, r.stderr)
        yield config
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """The host's edgesdk executable (this venv's)."""
    exe = Path(sys.executable).with_name("edgesdk")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout)


def test_deploy_releases_rollback_service(device, ssh_device, tmp_path):
    cfg = str(ssh_device)
    bundles = []
    for i in (1, 2):
        b = tmp_path / f"bundle{i}"
        labels = ["--labels", str(device.root / LABELS.lstrip("/"))] if i == 2 else []  # a different bundle
        r = _cli("bundle", str(device.root / MODEL.lstrip("/")), "-o", str(b), "--task", "classify", *labels)
        assert r.returncode == 0, r.stderr
        bundles.append(b)
    target = f"{ALIAS}:{WORK}/edgesdk"
    for b in bundles:
        r = _cli("deploy", str(b), target, "-F", cfg, "--json")
        assert r.returncode == 0, r.stderr
    rels = json.loads(_cli("releases", target, "-F", cfg, "--json").stdout)
    assert len(rels["releases"]) == 2 and rels["current"]
    first_current = rels["current"]
    r = _cli("rollback", target, "-F", cfg, "--json")
    assert r.returncode == 0, r.stderr
    after = json.loads(_cli("releases", target, "-F", cfg, "--json").stdout)
    assert after["current"] != first_current and after["current"] in {x["id"] for x in rels["releases"]}
    current = device.host(f"{WORK}/edgesdk/current")
    assert (current / "model.tflite").is_file() and (current / "manifest.json").is_file()
    # the unit, shown on the device (no systemd in the root)
    v = device.venv("system")
    r = subprocess.run(["ssh", "-F", cfg, ALIAS, f"{WORK}/{v}/bin/edgesdk service install --bundle "
                        f"{WORK}/edgesdk/current --command classify --source {DATA}/images/grace_hopper.bmp --print"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "[Service]" in r.stdout and f"{WORK}/{v}/bin/" in r.stdout and f"{WORK}/edgesdk/current" in r.stdout


def test_bench_remote_says_aarch64(device, ssh_device):
    v = device.venv("system")
    local_model = str(device.root / MODEL.lstrip("/"))
    r = _cli("bench", local_model, "--runs", "3", "--warmup", "1", "--threads", "1", "--no-memory", "--json",
             "--remote", ALIAS, "-F", str(ssh_device), "--remote-python", f"{WORK}/{v}/bin/python")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    machines = rep["machines"]
    remote = {k: m for k, m in machines.items() if ALIAS in k}
    assert remote and all(m["arch"] == "aarch64" for m in remote.values()), machines
