"""The service side: unit text (checked by systemd-analyze verify), `edgesdk service install`, and deploy
--service with restart, health check and automatic rollback, driven by a stand-in service manager that is a
real script on the "device" (systemd is not running in this sandbox) and starts a real process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _deploy_util import current_of, make_bundle, run_cli

from edgesdk.bundle import load_bundle
from edgesdk.deploy import exec_args, release_id, unit_text





def _calls(manager: Path) -> list[str]:
    log = manager.parent / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_unit_text_and_systemd_verify(tmp_path):
    bundle = "/opt/edge sdk/current"  # a space: needs systemd quoting
    argv = exec_args(bundle, source="/dev/video0", out="/var/lib/edgesdk/50%.mp4", extra=["--mode", "pixelate"],
                     python=sys.executable)
    assert argv == [sys.executable, "-m", "edgesdk", "anonymize", "/dev/video0", "--detector", bundle,
                    "-o", "/var/lib/edgesdk/50%.mp4", "--mode", "pixelate"]
    text = unit_text("edgesdk-cam", argv, user="pi", workdir="/opt/edge sdk")
    assert f'ExecStart={sys.executable} -m edgesdk anonymize /dev/video0 --detector "/opt/edge sdk/current" ' \
           f"-o /var/lib/edgesdk/50%%.mp4 --mode pixelate" in text
    for line in ["Restart=on-failure", "User=pi", "WorkingDirectory=/opt/edge sdk", "WantedBy=multi-user.target"]:
        assert line in text.splitlines()
    assert exec_args("/r/current", command="detect", source="img.jpg")[3:] == ["detect", "/r/current", "img.jpg"]
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed: unit syntax not checked by systemd")
    unit = tmp_path / "edgesdk-cam.service"
    unit.write_text(text.replace("User=pi", "User=root"))
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("ExecStart=" + sys.executable, "ExecStart=relative/python"))
    assert subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True).returncode != 0


def test_service_install_without_systemd_writes_unit_and_says_how(tmp_path, bundles):
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd is running here: install would enable the unit for real")
    (b,) = bundles(1)
    out = tmp_path / "units"
    out.mkdir()
    code, stdout, err = run_cli("service", "install", "--bundle", str(b), "--source", "0", "--name", "cam",
                                "--unit-file", str(out / "cam.service"), "--", "--mode", "solid")
    assert code == 0, err
    text = (out / "cam.service").read_text()
    assert f"--detector {b} --mode solid" in text and "Restart=on-failure" in text
    assert "systemctl daemon-reload && sudo systemctl enable --now cam" in stdout
    # default location without systemd: ./NAME.service
    p = subprocess.run([sys.executable, "-m", "edgesdk", "service", "install", "--bundle", str(b)],
                       capture_output=True, text=True, cwd=out)
    assert p.returncode == 0, p.stderr
    assert (out / "edgesdk-anonymize.service").is_file()


def test_service_install_enables_with_given_manager(tmp_path, bundles, manager):
    (b,) = bundles(1)
    code, out, err = run_cli("service", "install", "--bundle", str(b), "--name", "cam", "--unit-file",
                             str(tmp_path / "cam.service"), "--systemctl", str(manager))
    assert code == 0, err
    assert [c.split()[:3] for c in _calls(manager)] == [["daemon-reload"], ["enable", "--now", "cam"],
                                                         ["restart", "cam"]]
    assert "enabled and started cam" in out


@pytest.mark.parametrize("args, needle", [
    (["--bundle", "/nonexistent/current"], "bundle not found"),
    (["--bundle", "/tmp", "--name", "bad name!"], "bad service name"),
    (["--bundle", "/tmp", "--unit-file", "/nonexistent/dir/x.service"], "does not exist"),
])
def test_service_install_bad_input(args, needle):
    code, out, err = run_cli("service", "install", *args)
    assert code == 1 and len(err.strip().splitlines()) == 1 and needle in err, err


@pytest.mark.slow
def test_deploy_restarts_service_and_rolls_back_when_unhealthy(sshd, device_root, manager, tmp_path):
    good = make_bundle(tmp_path / "good", name="good")
    broken = make_bundle(tmp_path / "broken", name="broken-model")
    good_id, broken_id = release_id(load_bundle(good)), release_id(load_bundle(broken))
    svc = ["-F", str(sshd.ssh_config), "--service", "cam", "--service-manager", str(manager),
           "--health-timeout", "2", "--health-settle", "0.8"]
    code, out, err = run_cli("deploy", str(good), f"edge-test:{device_root}", *svc)
    assert code == 0, err
    assert "service cam healthy" in out
    assert f"restart cam releases/{good_id}" in _calls(manager)  # restarted after the switch

    t0 = time.monotonic()
    code, out, err = run_cli("deploy", str(broken), f"edge-test:{device_root}", *svc)
    took = time.monotonic() - t0
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "did not stay healthy within 2s" in err and f"rolled back to {good_id}" in err
    assert current_of(device_root) == f"releases/{good_id}"
    calls = _calls(manager)
    assert calls.index(f"restart cam releases/{broken_id}") < calls.index(f"restart cam releases/{good_id}", 1)
    assert subprocess.run([str(manager), "is-active", "cam"]).returncode == 0  # the good app runs again
    assert took < 20
    # the broken release stays listed (not current) for inspection
    code, out, err = run_cli("releases", f"edge-test:{device_root}", "-F", str(sshd.ssh_config), "--json")
    rels = {r["id"]: r for r in json.loads(out)["releases"]}
    assert rels[good_id]["current"] and not rels[broken_id]["current"]


def test_rollback_with_service_restarts_it(sshd, device_root, manager, tmp_path):
    a = make_bundle(tmp_path / "a", name="a")
    b = make_bundle(tmp_path / "b", name="b")
    common = ["-F", str(sshd.ssh_config)]
    svc = ["--service", "cam", "--service-manager", str(manager), "--health-timeout", "3", "--health-settle", "0.5"]
    for x in (a, b):
        assert run_cli("deploy", str(x), f"edge-test:{device_root}", *common)[0] == 0
    code, out, err = run_cli("rollback", f"edge-test:{device_root}", *common, *svc)
    assert code == 0, err
    a_id = release_id(load_bundle(a))
    assert current_of(device_root) == f"releases/{a_id}"
    assert f"restart cam releases/{a_id}" in _calls(manager)
