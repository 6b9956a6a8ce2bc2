"""Fleets through Ansible: the shipped playbook run by `edgesdk deploy BUNDLE --inventory hosts.ini` against
"hosts" that are folders on the same real sshd (two good ones, one whose ROOT cannot be written, one that
refuses the connection). Ansible runs are slow, so one module-scoped scenario covers deploy and re-deploy."""

from __future__ import annotations

import json
import os
import signal
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _deploy_util import current_of, make_bundle, run_cli, write_fake_manager

from edgesdk.bundle import load_bundle
from edgesdk.deploy import ansible_playbook_exe, playbook_path, release_id

pytestmark = pytest.mark.skipif(not (Path(sys.executable).parent / "ansible-playbook").exists()
                                and not shutil.which("ansible-playbook"),
                                reason="ansible-core not installed (pip install 'edgesdk[fleet]')")


def _inventory(sshd, path: Path, roots: dict[str, str], bad_port: int, host_vars: dict[str, str]) -> Path:
    common = (f"ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={sshd.user} "
              f"ansible_ssh_private_key_file={sshd.user_key}")
    lines = ["[cameras]"]
    for host, root in roots.items():
        lines.append(f"{host} {common} edgesdk_root={root} {host_vars.get(host, '')}".rstrip())
    lines += ["", "[offline]",
              f"cam-off ansible_host=127.0.0.1 ansible_port={bad_port} ansible_user={sshd.user} "
              f"ansible_ssh_private_key_file={sshd.user_key}",
              "", "[all:vars]",
              # this sandbox's PATH has pyenv shims that fool Ansible's interpreter discovery; pin the system one
              "ansible_python_interpreter=/usr/bin/python3",
              f"ansible_ssh_common_args='-o UserKnownHostsFile={sshd.known_hosts} -o GlobalKnownHostsFile=/dev/null "
              "-o IdentitiesOnly=yes'"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def fleet(sshd, tmp_path_factory):
    from _sshd import refused_port as free_port

    d = tmp_path_factory.mktemp("fleet")
    roots = {"cam-a": d / "a" / "edgesdk", "cam-b": d / "b" / "edgesdk", "cam-ro": d / "ro" / "edgesdk"}
    (d / "ro").write_text("a regular file where the folder should be\n")  # cam-ro: ROOT cannot be created
    # cam-b runs a service (stand-in manager, see conftest): a bundle that does not come up is rolled back there
    (d / "svc").mkdir()
    manager = write_fake_manager(d / "svc", roots["cam-b"])
    svc = {"cam-b": f"edgesdk_service=cam edgesdk_service_manager={manager} edgesdk_health_timeout=2 "
                    "edgesdk_health_settle=0.5"}
    inv = _inventory(sshd, d / "hosts.ini", {h: str(r) for h, r in roots.items()}, free_port(), svc)
    b1 = make_bundle(d / "b1", name="one")
    b2 = make_bundle(d / "b2", name="broken-two")
    # Run 1: b1 everywhere except offline; cam-b already has b1 -> unchanged there.
    assert run_cli("deploy", str(b1), f"edge-test:{roots['cam-b']}", "-F", str(sshd.ssh_config))[0] == 0
    run1 = run_cli("deploy", str(b1), "--inventory", str(inv), "--json")
    yield {"roots": roots, "inv": inv, "b1": b1, "b2": b2, "run1": run1, "dir": d, "manager": manager}
    for pid_file in (d / "svc").glob("*.pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


@pytest.mark.slow  # a real ansible-playbook run
def test_fleet_per_host_summary(fleet):
    code, out, err = fleet["run1"]
    assert code == 1, err  # two hosts failed
    hosts = {h["host"]: h for h in json.loads(out)["hosts"]}
    rid = release_id(load_bundle(fleet["b1"]))
    assert hosts["cam-a"]["status"] == "deployed" and hosts["cam-a"]["release"] == rid
    assert hosts["cam-b"]["status"] == "unchanged"
    assert hosts["cam-ro"]["status"] == "failed" and "is not a folder" in hosts["cam-ro"]["message"]
    assert hosts["cam-off"]["status"] == "failed" and "refused" in hosts["cam-off"]["message"].lower()
    assert len(err.strip().splitlines()) == 1 and "2 of 4 hosts" in err and "1 deployed, 1 unchanged" in err
    for h in ("cam-a", "cam-b"):
        root = fleet["roots"][h]
        assert current_of(root) == f"releases/{rid}"
        assert load_bundle(root / "current").digest == load_bundle(fleet["b1"]).digest
        assert not list(root.glob(".tmp-*"))  # the uploaded archive is removed after install


@pytest.mark.slow  # a real ansible-playbook run
def test_fleet_limit_forks_rollback_and_table(fleet, sshd):
    """--limit and --forks; a plain-text table per host; on cam-b the new bundle's service does not come up, so
    that host rolls back by itself while cam-a keeps the new release."""
    code, out, err = run_cli("deploy", str(fleet["b2"]), "--inventory", str(fleet["inv"]), "--limit", "cam-a,cam-b",
                             "--forks", "2")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "1 of 2 hosts" in err and "1 deployed, 0 unchanged, 0 failed, 1 rolled back" in err
    rid1, rid2 = (release_id(load_bundle(fleet[k])) for k in ("b1", "b2"))
    rows = {ln.split()[0]: ln for ln in out.strip().splitlines()}
    assert set(rows) == {"cam-a", "cam-b"}  # --limit: cam-ro and cam-off were not touched
    assert "deployed" in rows["cam-a"] and rid2 in rows["cam-a"]
    assert "rolled back" in rows["cam-b"] and f"rolled back to {rid1}" in rows["cam-b"]
    assert current_of(fleet["roots"]["cam-a"]) == f"releases/{rid2}"
    assert current_of(fleet["roots"]["cam-b"]) == f"releases/{rid1}"
    calls = (fleet["manager"].parent / "calls.log").read_text().splitlines()
    assert calls.index(f"restart cam releases/{rid2}") < calls.index(f"restart cam releases/{rid1}")
    # Same layout as a single-device deploy: the plain rollback command works on a fleet host.
    code, out, err = run_cli("rollback", f"edge-test:{fleet['roots']['cam-a']}", "-F", str(sshd.ssh_config))
    assert code == 0 and current_of(fleet["roots"]["cam-a"]) == f"releases/{rid1}", err


def test_playbook_print_and_out(tmp_path):
    code, out, err = run_cli("ansible-playbook", "--print")
    assert code == 0 and out == playbook_path().read_text()
    code, out, err = run_cli("ansible-playbook", "--out", str(tmp_path / "pb"))
    assert code == 0, err
    assert (tmp_path / "pb" / "playbook.yml").is_file() and (tmp_path / "pb" / "edgesdk_agent.py").is_file()
    # it is valid for ansible-playbook itself
    p = subprocess.run([ansible_playbook_exe(), "--syntax-check", "-i", "localhost,", str(tmp_path / "pb" / "playbook.yml")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_inventory_not_found(tmp_path, bundles):
    (b,) = bundles(1)
    code, out, err = run_cli("deploy", str(b), "--inventory", str(tmp_path / "nope.ini"))
    assert code == 1 and "inventory not found" in err and len(err.strip().splitlines()) == 1
