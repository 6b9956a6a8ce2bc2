"""A device that enforces signatures: `edgesdk trust` installs ROOT/allowed_signers over the real sshd; then
signed bundles deploy and unsigned, foreign-signed, revoked and tampered ones are refused by the device-side
script (one line, current untouched, the upload cleaned up)."""

from __future__ import annotations

import json

import pytest
from _deploy_util import current_of, device_python, make_bundle, release_ids, run_cli, tree_snapshot
from _keys import pub

from edgesdk.bundle import load_bundle, sign_bundle, sha256_file
from edgesdk.deploy import release_id


def _one_line(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def _deploy(sshd, bundle, root, *extra):
    return run_cli("deploy", str(bundle), f"edge-test:{root}", "-F", str(sshd.ssh_config), *extra)


def _trust(sshd, root, *extra):
    return run_cli("trust", f"edge-test:{root}", "-F", str(sshd.ssh_config), *extra)


def _signed(path, key, name="demo"):
    b = make_bundle(path, name=name)
    sign_bundle(b, key)
    return b


def test_policy_enforced_on_the_device(sshd, keys, device_root, tmp_path):
    first = make_bundle(tmp_path / "first", name="first")  # deployed before any policy: unsigned
    assert _deploy(sshd, first, device_root)[0] == 0
    code, out, err = _trust(sshd, device_root, "--allowed-signers", str(keys.allowed))
    assert code == 0, err
    assert "policy installed (3 signer(s), 0 revoked)" in out
    assert (device_root / "allowed_signers").read_text() == keys.allowed.read_text()
    code, out, err = _trust(sshd, device_root, "--show")
    assert code == 0 and keys.allowed.read_text() in out

    good = _signed(tmp_path / "good", keys.alice, "good")
    code, out, err = _deploy(sshd, good, device_root, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "deployed" and res["signer"]["principal"] == "alice@example.com"
    cur = current_of(device_root)
    assert cur == f"releases/{release_id(load_bundle(good))}"
    assert (device_root / "current" / "manifest.json.sig").is_file()  # the signature is kept with the release

    tampered = _signed(tmp_path / "tampered", keys.alice, "tampered")
    (tampered / "labels.txt").write_text("background\ncat\nwolf\n")
    m = json.loads((tampered / "manifest.json").read_text())
    m["files"]["labels.txt"] = {"sha256": sha256_file(tampered / "labels.txt"), "size": 20}
    (tampered / "manifest.json").write_text(json.dumps(m))
    revoked_policy = keys.policy("revoking", keys.allowed.read_text() + f"@revoked {pub(keys.bob)}\n")
    cases = [
        (make_bundle(tmp_path / "unsigned", name="unsigned"), ("refused by the device's signature policy",
                                                                 "not signed")),
        (_signed(tmp_path / "foreign", keys.mallory, "foreign"), ("signed by a key that is not in",)),
        (tampered, ("changed after signing",)),
    ]
    for bundle, needles in cases:
        before = tree_snapshot(device_root)
        code, out, err = _deploy(sshd, bundle, device_root)
        _one_line(code, err, *needles)
        assert f"current is still {cur.split('/')[1]}" in err
        assert current_of(device_root) == cur and tree_snapshot(device_root) == before  # upload cleaned up

    # revocation: bob signs fine, then his key is revoked in the policy
    by_bob = _signed(tmp_path / "bob", keys.bob, "bob")
    assert _trust(sshd, device_root, "--allowed-signers", str(revoked_policy))[0] == 0
    before = tree_snapshot(device_root)
    code, out, err = _deploy(sshd, by_bob, device_root)
    _one_line(code, err, "revoked key")
    assert tree_snapshot(device_root) == before

    # a release already on the device is checked again when switched to by a deploy
    code, out, err = _deploy(sshd, first, device_root)
    _one_line(code, err, "not signed")
    assert current_of(device_root) == cur

    # --remove: loud, and unsigned bundles deploy again
    code, out, err = _trust(sshd, device_root, "--remove")
    assert code == 0 and "REMOVED" in out and "UNSIGNED" in err
    assert not (device_root / "allowed_signers").exists()
    assert _deploy(sshd, cases[0][0], device_root)[0] == 0
    code, out, err = _trust(sshd, device_root, "--show")
    assert code == 0 and "no policy" in out


def test_agent_signed_bundle_deploys(sshd, keys, agent, device_root, tmp_path):
    agent(keys.carol)
    assert _trust(sshd, device_root, "--allowed-signers", str(keys.allowed))[0] == 0
    b = _signed(tmp_path / "b", keys.carol.with_name("carol.pub"))
    code, out, err = _deploy(sshd, b, device_root)
    assert code == 0 and "signed by carol@example.com" in out, err


def test_tar_bundle_signed_deploys(sshd, keys, device_root, tmp_path):
    from edgesdk.bundle import pack

    b = _signed(tmp_path / "b", keys.alice)
    tgz = pack(b, tmp_path / "b.tar.gz")
    assert _trust(sshd, device_root, "--allowed-signers", str(keys.allowed))[0] == 0
    assert _deploy(sshd, tgz, device_root)[0] == 0


def test_clock_window_is_the_devices(sshd, keys, device_root, tmp_path):
    """valid-after / valid-before are checked against the DEVICE's clock: a key whose window excludes the
    device's 'now' (a device clock behind or ahead of the window) is refused, and the line says so."""
    future = keys.policy("future-only", f'alice@example.com valid-after="29990101Z" {pub(keys.alice)}\n')
    assert _trust(sshd, device_root, "--allowed-signers", str(future))[0] == 0
    b = _signed(tmp_path / "b", keys.alice)
    code, out, err = _deploy(sshd, b, device_root)
    _one_line(code, err, "outside its validity window", "valid-after 2999-01-01", "clock says")
    assert current_of(device_root) is None and release_ids(device_root) == set()


@pytest.mark.parametrize("text, needle", [
    ("alice@example.com ssh-ed25519", "line 1: expected a key type and a base64 key"),
    ("alice@example.com valid-before=2020 KEY", "values in double quotes"),
    ("", "lists no key"),
])
def test_bad_policy_is_not_installed(sshd, keys, device_root, text, needle):
    bad = keys.policy("bad_policy", text.replace("KEY", pub(keys.alice)) + "\n")
    code, out, err = _trust(sshd, device_root, "--allowed-signers", str(bad))
    _one_line(code, err, needle)
    assert not (device_root / "allowed_signers").exists()


def test_device_without_ssh_keygen_refuses_policy(sshd, keys, device_root, tmp_path):
    py = device_python(tmp_path, path="/nonexistent")  # ssh-keygen not on the device's PATH
    code, out, err = _trust(sshd, device_root, "--allowed-signers", str(keys.allowed), "--remote-python", str(py))
    _one_line(code, err, "ssh-keygen not found on the device", "needed to check bundle signatures")
    assert not (device_root / "allowed_signers").exists()
    # with a policy installed, the same device refuses to deploy instead of skipping the check
    assert _trust(sshd, device_root, "--allowed-signers", str(keys.allowed))[0] == 0
    b = _signed(tmp_path / "b", keys.alice)
    code, out, err = _deploy(sshd, b, device_root, "--remote-python", str(py))
    _one_line(code, err, "ssh-keygen not found on the device")
    assert current_of(device_root) is None


def test_trust_usage(keys):
    assert run_cli("trust", "--show")[0] == 2  # neither TARGET nor --inventory
    assert run_cli("trust", "edge-test:/x")[0] == 2  # nothing to do
    assert run_cli("trust", "edge-test:/x", "--show", "--remove")[0] == 2


def test_release_deployed_unsigned_then_signed(sshd, keys, device_root, tmp_path):
    """A bundle deployed before the policy existed, then signed (same files, same release id): the deploy
    carries the signature to the release on the device, checked first; a foreign one is refused."""
    import shutil

    a = make_bundle(tmp_path / "a", name="a")
    b = make_bundle(tmp_path / "b", name="b")
    assert _deploy(sshd, b, device_root)[0] == 0
    assert _deploy(sshd, a, device_root)[0] == 0
    assert _trust(sshd, device_root, "--allowed-signers", str(keys.allowed))[0] == 0
    b_id = release_id(load_bundle(b))
    foreign = tmp_path / "b-foreign"
    shutil.copytree(b, foreign)
    sign_bundle(foreign, keys.mallory)
    code, out, err = _deploy(sshd, foreign, device_root)
    _one_line(code, err, "not in")
    assert not (device_root / "releases" / b_id / "manifest.json.sig").exists()
    sign_bundle(b, keys.alice)
    code, out, err = _deploy(sshd, b, device_root, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["release"] == b_id and res["signer"]["principal"] == "alice@example.com"
    assert res["uploaded_bytes"] == 0  # nothing but the signature travelled, as an argument
    assert (device_root / "releases" / b_id / "manifest.json.sig").read_bytes() == (b / "manifest.json.sig").read_bytes()
