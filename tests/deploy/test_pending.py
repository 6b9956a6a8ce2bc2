"""With --service a new release stays pending until the device-side restart confirms it healthy. If nobody
confirms it (the deploying machine gone, the device-side process killed), a detached watchdog on the device
rolls back at the deadline; after a reboot inside the window, the boot check (the unit's ExecStartPre) does.
The service manager is the stand-in script from _deploy_util (systemd does not run in this sandbox)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from _deploy_util import current_of, device_python, make_bundle, run_cli

from edgesdk.bundle import load_bundle
from edgesdk.deploy import _remote, release_id




def _svc(sshd, manager, *extra):
    return ["-F", str(sshd.ssh_config), "--service", "cam", "--service-manager", str(manager),
            "--health-timeout", "2", "--health-settle", "0.5", *extra]


def _two(tmp_path):
    a, b = make_bundle(tmp_path / "a", name="a"), make_bundle(tmp_path / "b", name="b")
    return a, b, release_id(load_bundle(a)), release_id(load_bundle(b))


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_confirmed_release_clears_the_marker(sshd, device_root, manager, tmp_path):
    a, b, a_id, b_id = _two(tmp_path)
    code, out, err = run_cli("deploy", str(a), f"edge-test:{device_root}", *_svc(sshd, manager))
    assert code == 0, err
    assert not (device_root / ".pending.json").exists()
    agent = device_root / ".edgesdk-agent.py"  # the boot check the unit runs
    assert agent.read_text() == (_remote.__file__ and open(_remote.__file__).read())


@pytest.mark.slow
def test_unconfirmed_release_rolled_back_by_the_device(sshd, device_root, manager, tmp_path):
    """The device-side restart is killed before it can confirm (the deploying side is gone with it): at the
    deadline the device's watchdog switches back to the previous release and restarts the service."""
    a, b, a_id, b_id = _two(tmp_path)
    assert run_cli("deploy", str(a), f"edge-test:{device_root}", *_svc(sshd, manager))[0] == 0
    py = device_python(tmp_path, env={_remote.KILL_ENV: "restart-begin"})
    t0 = time.monotonic()
    code, out, err = run_cli("deploy", str(b), f"edge-test:{device_root}", *_svc(sshd, manager),
                             "--confirm-within", "4", "--remote-python", str(py))
    assert code == 1, err
    assert current_of(device_root) == f"releases/{b_id}"  # switched, not confirmed
    pending = json.loads((device_root / ".pending.json").read_text())
    assert pending["release"] == b_id and pending["previous"] == a_id
    assert _wait(lambda: current_of(device_root) == f"releases/{a_id}", 20), "the watchdog did not roll back"
    took = time.monotonic() - t0
    assert 3.5 < took < 20
    assert _wait(lambda: (device_root / ".edgesdk-watchdog.json").exists(), 5)
    report = json.loads((device_root / ".edgesdk-watchdog.json").read_text())
    assert report["status"] == "rolled back" and report["release"] == a_id and report["restarted"]
    assert not (device_root / ".pending.json").exists()
    calls = (manager.parent / "calls.log").read_text().splitlines()
    assert calls[-1] == f"restart cam releases/{a_id}"  # the service restarted on the previous release
    # the next deploy works as usual
    assert run_cli("deploy", str(b), f"edge-test:{device_root}", *_svc(sshd, manager))[0] == 0
    assert current_of(device_root) == f"releases/{b_id}"


def test_reboot_in_the_window_leaves_previous_current(sshd, device_root, manager, tmp_path):
    a, b, a_id, b_id = _two(tmp_path)
    assert run_cli("deploy", str(a), f"edge-test:{device_root}", *_svc(sshd, manager))[0] == 0
    py = device_python(tmp_path, env={_remote.KILL_ENV: "restart-begin"})
    code, out, err = run_cli("deploy", str(b), f"edge-test:{device_root}", *_svc(sshd, manager),
                             "--confirm-within", "600", "--remote-python", str(py))
    assert code == 1 and current_of(device_root) == f"releases/{b_id}"
    agent = device_root / ".edgesdk-agent.py"
    # the same boot, inside the window (e.g. the service restarting by itself): nothing changes
    same = sshd.ssh(f"python3 {agent} boot-check {device_root}")
    assert json.loads(same.stdout)["status"] == "pending" and current_of(device_root) == f"releases/{b_id}"
    # after a reboot (another boot id), before the service starts: the previous release is current again
    boot = sshd.ssh(f"EDGESDK_TEST_BOOT_ID=rebooted python3 {agent} boot-check {device_root}")
    res = json.loads(boot.stdout)
    assert boot.returncode == 0 and res["status"] == "rolled back" and res["release"] == a_id, boot
    assert current_of(device_root) == f"releases/{a_id}"
    assert not (device_root / ".pending.json").exists()
    assert load_bundle(device_root / "current").manifest.name == "a"


def test_deploy_after_an_expired_marker_settles_it_first(sshd, device_root, manager, tmp_path):
    a, b, a_id, b_id = _two(tmp_path)
    c = make_bundle(tmp_path / "c", name="c")
    assert run_cli("deploy", str(a), f"edge-test:{device_root}", *_svc(sshd, manager))[0] == 0
    py = device_python(tmp_path, env={_remote.KILL_ENV: "restart-begin"})
    run_cli("deploy", str(b), f"edge-test:{device_root}", *_svc(sshd, manager), "--confirm-within", "600",
            "--remote-python", str(py))
    p = json.loads((device_root / ".pending.json").read_text())
    p["deadline"] = 0  # as if the watchdog had died with the deadline passed
    (device_root / ".pending.json").write_text(json.dumps(p))
    code, out, err = run_cli("deploy", str(c), f"edge-test:{device_root}", "-F", str(sshd.ssh_config), "--json")
    assert code == 0, err
    assert json.loads(out)["previous"] == a_id  # b was never confirmed: the fallback is a


def test_boot_check_without_marker_is_a_noop(device_root):
    device_root.mkdir(parents=True)
    p = subprocess.run(["python3", _remote.__file__, "boot-check", str(device_root)], capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["status"] == "nothing pending"
