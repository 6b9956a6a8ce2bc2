"""A cut at any moment leaves a valid device. The device-side script names every step of a deploy (STEPS);
for each one, both ways:

(a) the deploying process is killed (with its ssh: the connection drops) while the device-side process waits
    at that step (EDGESDK_TEST_PAUSE_AT), which then goes on with a dead connection;
(b) the device-side process is killed with SIGKILL at that step (EDGESDK_TEST_KILL_AT), as by a power cut.

After each: ``current`` is a complete release whose files match its manifest and whose signature the device's
policy accepts; the next deploy succeeds, ends on the new release and leaves no leftovers. Both for a new
release (install) and for one already on the device (switch)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from _deploy_util import current_of, device_python, make_bundle, run_cli

from edgesdk.bundle import load_bundle, sign_bundle, verify_signature
from edgesdk.deploy import _remote, release_id

pytestmark = pytest.mark.slow

INSTALL_STEPS = ["locked", "cleaned", "tmp-created", "receiving", "received", "linked", "verified",
                 "signature-checked", "meta-written", "release-renamed", "link-created", "switched",
                 "root-fsynced", "pruned", "answered"]
SWITCH_STEPS = ["link-created", "switched", "root-fsynced", "pruned", "answered"]
TESTED: list[tuple[str, str, str]] = []


def test_step_list_matches_the_script():
    """Every step the harness cuts at exists in the script, and every deploy step of the script is cut at."""
    service_only = {"pending-written", "restart-begin", "healthy", "confirmed"}
    assert set(INSTALL_STEPS) | service_only == set(_remote.STEPS)
    assert set(SWITCH_STEPS) <= set(INSTALL_STEPS)


@pytest.fixture(scope="module")
def releases(tmp_path_factory, keys):
    """Three signed bundles: A (current before the cut), B (the one being deployed), C (filler for pruning)."""
    d = tmp_path_factory.mktemp("cut")
    out = {}
    for name in ("A", "B", "C"):
        b = make_bundle(d / name, name=name, size=300 * 1024)
        sign_bundle(b, keys.alice)
        out[name] = b
    return out


@pytest.fixture(scope="module")
def templates(sshd, releases, keys, tmp_path_factory):
    """Device folders made once by real deploys (policy installed, keep 3): C then A (A current), and C, B, A;
    each case starts from a copy."""
    out = {}
    for with_b in (False, True):
        root = tmp_path_factory.mktemp("template") / "edgesdk"
        root.mkdir()
        (root / "allowed_signers").write_text(keys.allowed.read_text())
        for name in (["C", "B", "A"] if with_b else ["C", "A"]):
            code, out_, err = run_cli("deploy", str(releases[name]), f"edge-test:{root}", "-F",
                                      str(sshd.ssh_config), "--keep", "3")
            assert code == 0, err
        out[with_b] = root
    return out


def _device(templates, root, with_b: bool) -> None:
    shutil.copytree(templates[with_b], root, symlinks=True)


def _assert_valid(root, keys, allowed_ids):
    cur = current_of(root)
    assert cur is not None and cur.split("/")[1] in allowed_ids, cur
    b = load_bundle(root / "current")  # every file against the manifest
    verify_signature(b, keys.allowed)
    for rel in (root / "releases").iterdir():
        load_bundle(rel)  # no release folder is ever incomplete


def _redeploy_and_check(sshd, releases, keys, root):
    code, out, err = run_cli("deploy", str(releases["B"]), f"edge-test:{root}", "-F", str(sshd.ssh_config),
                             "--keep", "2")
    assert code == 0, err
    assert current_of(root) == f"releases/{release_id(load_bundle(releases['B']))}"
    assert not [p.name for p in root.iterdir() if p.name.startswith(".tmp-")]
    assert len(list((root / "releases").iterdir())) <= 2
    _assert_valid(root, keys, {release_id(load_bundle(releases["B"]))})


def _ids(releases):
    return {release_id(load_bundle(releases[n])) for n in ("A", "B")}


@pytest.mark.parametrize("kind, steps", [("install", INSTALL_STEPS), ("switch", SWITCH_STEPS)])
def test_device_side_killed_at_every_step(sshd, keys, releases, templates, tmp_path, kind, steps):
    for i, name in enumerate(steps):
        root = tmp_path / f"{i}-{name}" / "edgesdk"
        _device(templates, root, with_b=kind == "switch")
        py = device_python(tmp_path, f"py-kill-{name}", env={_remote.KILL_ENV: name})
        code, out, err = run_cli("deploy", str(releases["B"]), f"edge-test:{root}", "-F", str(sshd.ssh_config),
                                 "--keep", "2", "--remote-python", str(py))
        if name != "answered":
            assert code == 1 and len(err.strip().splitlines()) == 1, (name, err)
        _assert_valid(root, keys, _ids(releases))
        _redeploy_and_check(sshd, releases, keys, root)
        TESTED.append(("device killed", kind, name))


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"device-side process {pid} did not finish")


@pytest.mark.parametrize("kind, steps", [("install", INSTALL_STEPS), ("switch", SWITCH_STEPS)])
def test_deploying_process_killed_at_every_step(sshd, keys, releases, templates, tmp_path, kind, steps):
    for i, name in enumerate(steps):
        root = tmp_path / f"{i}-{name}" / "edgesdk"
        _device(templates, root, with_b=kind == "switch")
        marker = tmp_path / f"paused-{kind}-{name}"
        py = device_python(tmp_path, f"py-pause-{name}",
                           env={_remote.PAUSE_ENV: name, _remote.PAUSE_FILE_ENV: str(marker)})
        proc = subprocess.Popen([sys.executable, "-m", "edgesdk", "deploy", str(releases["B"]), f"edge-test:{root}",
                                 "-F", str(sshd.ssh_config), "--keep", "2", "--remote-python", str(py)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, f"deploy ended before reaching {name}"
            time.sleep(0.02)
        assert marker.exists(), name
        time.sleep(0.05)
        device_pid = int(marker.read_text())
        os.killpg(proc.pid, signal.SIGKILL)  # the deploying machine and its ssh are gone
        proc.wait()
        marker.unlink()  # the device-side process goes on, with nobody listening
        _wait_gone(device_pid)
        _assert_valid(root, keys, _ids(releases))
        _redeploy_and_check(sshd, releases, keys, root)
        TESTED.append(("connection dropped", kind, name))


def test_report_interruption_points():
    """Runs last in this module: how many interruption points were cut at (printed with -s)."""
    if not TESTED:
        pytest.skip("the harness tests did not run")
    print(f"\ninterruption points tested: {len(TESTED)} "
          f"({sum(t[0] == 'device killed' for t in TESTED)} device killed, "
          f"{sum(t[0] == 'connection dropped' for t in TESTED)} connection dropped)")
