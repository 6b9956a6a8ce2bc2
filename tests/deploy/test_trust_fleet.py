"""`edgesdk trust --inventory` and the shipped playbook under a policy: per host, the same refusals as a
single-device deploy (real ansible-playbook against "hosts" that are folders on the real sshd)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from _deploy_util import current_of, make_bundle, run_cli

from edgesdk.bundle import load_bundle, sign_bundle
from edgesdk.deploy import ansible_playbook_exe, release_id

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (Path(sys.executable).parent / "ansible-playbook").exists()
                       and not shutil.which("ansible-playbook"), reason="ansible-core not installed"),
]


def test_trust_and_deploy_on_an_inventory(sshd, keys, tmp_path):
    from test_deploy_fleet import _inventory
    from _sshd import refused_port

    roots = {"cam-a": tmp_path / "a" / "edgesdk", "cam-b": tmp_path / "b" / "edgesdk"}
    inv = _inventory(sshd, tmp_path / "hosts.ini", {h: str(r) for h, r in roots.items()}, refused_port(), {})
    later = make_bundle(tmp_path / "later", name="later")  # on the hosts before any policy, signed afterwards
    assert run_cli("deploy", str(later), "--inventory", str(inv), "--limit", "cameras")[0] == 0
    code, out, err = run_cli("trust", "--inventory", str(inv), "--allowed-signers", str(keys.allowed),
                             "--limit", "cameras", "--json")
    assert code == 0, err
    hosts = {h["target"]: h for h in json.loads(out)["hosts"]}
    assert {h: hosts[h]["status"] for h in roots} == {"cam-a": "installed", "cam-b": "installed"}
    for r in roots.values():
        assert (r / "allowed_signers").read_text() == keys.allowed.read_text()
    code, out, err = run_cli("trust", "--inventory", str(inv), "--show", "--limit", "cam-a")
    assert code == 0 and keys.allowed.read_text().splitlines()[1] in out, err

    unsigned = make_bundle(tmp_path / "unsigned", name="unsigned")
    code, out, err = run_cli("deploy", str(unsigned), "--inventory", str(inv), "--limit", "cameras", "--json")
    assert code == 1
    res = {h["host"]: h for h in json.loads(out)["hosts"]}
    for h, r in roots.items():
        assert res[h]["status"] == "failed" and "not signed" in res[h]["message"], res[h]
        assert current_of(r) == f"releases/{release_id(load_bundle(later))}" and not list(r.glob(".tmp-*"))

    signed = make_bundle(tmp_path / "signed", name="signed")
    sign_bundle(signed, keys.alice)
    code, out, err = run_cli("deploy", str(signed), "--inventory", str(inv), "--limit", "cameras")
    assert code == 0, err
    for r in roots.values():
        assert current_of(r) == f"releases/{release_id(load_bundle(signed))}"

    sign_bundle(later, keys.bob)  # already on the hosts: only its signature travels, checked there
    code, out, err = run_cli("deploy", str(later), "--inventory", str(inv), "--limit", "cameras")
    assert code == 0, err
    for r in roots.values():
        assert current_of(r) == f"releases/{release_id(load_bundle(later))}"
        assert (r / "current" / "manifest.json.sig").is_file()

    code, out, err = run_cli("trust", "--inventory", str(inv), "--remove", "--limit", "cameras")
    assert code == 0 and out.count("REMOVED") == 2, err
    assert not any((r / "allowed_signers").exists() for r in roots.values())


def test_trust_playbook_syntax(tmp_path):
    import subprocess

    from edgesdk.deploy import _trust

    p = subprocess.run([ansible_playbook_exe(), "--syntax-check", "-i", "localhost,", str(_trust._trust_playbook())],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
