"""Deploy, re-deploy, keep-K, rollback and releases against a real sshd (see conftest.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from _deploy_util import current_of, release_ids, run_cli, run_exe

from edgesdk.bundle import load_bundle, pack, sha256_file
from edgesdk.deploy import SSHOptions, deploy, parse_target, release_id, releases, rollback


def _cli_deploy(sshd, bundle, root, *extra):
    return run_cli("deploy", str(bundle), sshd.target(root), "--ssh-config", str(sshd.ssh_config), *extra)


def test_deploy_uploads_verifies_and_switches(sshd, bundles, device_root):
    (b,) = bundles(1)
    code, out, err = _cli_deploy(sshd, b, device_root)
    assert code == 0, err
    rid = release_id(load_bundle(b))
    assert f"deployed release {rid}" in out
    # Files and checksums on the device match the manifest, byte for byte.
    rel = device_root / "releases" / rid
    manifest = json.loads((rel / "manifest.json").read_text())
    for name, meta in manifest["files"].items():
        assert sha256_file(rel / name) == meta["sha256"]
        assert (rel / name).read_bytes() == (b / name).read_bytes()
    assert sha256_file(rel / "manifest.json") == sha256_file(b / "manifest.json")
    # current is a relative symlink to the release; the device can load it as a bundle.
    assert current_of(device_root) == f"releases/{rid}"
    assert load_bundle(device_root / "current").digest == load_bundle(b).digest
    assert not [p for p in device_root.iterdir() if p.name.startswith(".tmp-")]


def test_redeploy_same_bundle_is_a_noop(sshd, bundles, device_root):
    (b,) = bundles(1)
    assert _cli_deploy(sshd, b, device_root)[0] == 0
    rel = device_root / "releases" / release_id(load_bundle(b))
    before = {p.name: p.stat().st_mtime_ns for p in rel.iterdir()}
    link_before = os.lstat(device_root / "current").st_ino
    code, out, err = _cli_deploy(sshd, b, device_root, "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "unchanged"
    assert {p.name: p.stat().st_mtime_ns for p in rel.iterdir()} == before
    assert os.lstat(device_root / "current").st_ino == link_before  # not even re-linked


def test_tar_bundle_deploys_like_a_folder(sshd, bundles, device_root, tmp_path):
    (b,) = bundles(1)
    tgz = pack(b, tmp_path / "b.tar.gz")
    code, out, err = _cli_deploy(sshd, tgz, device_root)
    assert code == 0, err
    assert current_of(device_root) == f"releases/{release_id(load_bundle(b))}"


@pytest.mark.slow
def test_keep_k_rollback_and_releases(sshd, bundles, device_root):
    bs = bundles(4)
    ids = [release_id(load_bundle(b)) for b in bs]
    target = parse_target(sshd.target(device_root))
    ssh = SSHOptions(config=str(sshd.ssh_config))
    for b in bs:
        res = deploy(b, target, ssh=ssh, keep=3)
        assert res.status == "deployed"
    # The oldest is pruned, the last three stay, the newest is current.
    assert release_ids(device_root) == set(ids[1:])
    assert res.pruned == [ids[0]] and res.previous == ids[2]
    assert current_of(device_root) == f"releases/{ids[3]}"

    code, out, err = run_cli("releases", sshd.target(device_root), "-F", str(sshd.ssh_config))
    assert code == 0, err
    lines = [ln for ln in out.splitlines() if ids[1] in ln or ids[2] in ln or ids[3] in ln]
    assert [ln.split()[1] if ln.startswith("*") else ln.split()[0] for ln in lines] == ids[:0:-1]
    assert lines[0].startswith("* ") and "demo3" in lines[0]  # current marked, newest first
    assert all(ln.split()[-1].startswith("demo") and "20" in ln for ln in lines)  # name and date shown

    code, out, err = run_cli("rollback", sshd.target(device_root), "-F", str(sshd.ssh_config))
    assert code == 0, err
    assert f"rolled back from {ids[3]} to {ids[2]}" in out
    assert current_of(device_root) == f"releases/{ids[2]}"
    # A second rollback goes one further back; then there is nothing older.
    assert rollback(target, ssh=ssh).release == ids[1]
    code, out, err = run_cli("rollback", sshd.target(device_root), "-F", str(sshd.ssh_config))
    assert code == 1 and "no earlier release" in err and len(err.strip().splitlines()) == 1
    assert current_of(device_root) == f"releases/{ids[1]}"
    state = releases(target, ssh=ssh)
    assert state["current"] == ids[1] and [r["id"] for r in state["releases"]] == ids[:0:-1]
    # Deploying a release that is still on the device switches to it without uploading.
    res = deploy(bs[3], target, ssh=ssh)
    assert res.status == "deployed" and current_of(device_root) == f"releases/{ids[3]}"
    # rollback --to a prefix
    assert rollback(target, ssh=ssh, to=ids[2][:6]).release == ids[2]


def test_alias_from_ssh_config_env_var_console(sshd, bundles, device_root):
    """The real executable, with EDGESDK_SSH_CONFIG standing in for ~/.ssh/config: the alias carries host,
    port, user and key."""
    (b,) = bundles(1)
    code, out, err = run_exe("deploy", str(b), f"edge-test:{device_root}", "--json",
                             env={**os.environ, "EDGESDK_SSH_CONFIG": str(sshd.ssh_config)})
    assert code == 0, err
    assert json.loads(out)["status"] == "deployed"


def test_explicit_port_user_and_identity(sshd, bundles, device_root):
    """-p/-i and user@ override/complement the config the way ssh does (Host * gives only known_hosts)."""
    (b,) = bundles(1)
    code, out, err = run_cli("deploy", str(b), f"{sshd.user}@127.0.0.1:{device_root}", "-F", str(sshd.ssh_config),
                             "-p", str(sshd.port), "-i", str(sshd.user_key))
    assert code == 0, err
    assert (device_root / "current").is_symlink()


def test_default_root_is_under_remote_home(sshd, bundles):
    """No :/path -> 'edgesdk' relative to the remote home, like scp."""
    (b,) = bundles(1)
    target = parse_target(f"{sshd.alias}")
    state = releases(target, ssh=SSHOptions(config=str(sshd.ssh_config)))
    assert state["root"] == str(Path("~").expanduser() / "edgesdk")
