"""The runtime enforces a policy too: load(..., allowed_signers=) and $EDGESDK_ALLOWED_SIGNERS refuse unsigned
or wrongly signed bundles (a real model, real ssh-keygen); units written for ROOT/current carry the policy and
the boot check."""

from __future__ import annotations

import pytest
from _deploy_util import run_cli

from edgesdk.bundle import SignatureError, make_bundle, sign_bundle
from edgesdk.deploy import exec_args, unit_text
from edgesdk.runtime import load


@pytest.fixture
def real_bundles(tmp_path, mobilenet_v2_quant, keys):
    signed = make_bundle(mobilenet_v2_quant, tmp_path / "signed", task="classify").root
    sign_bundle(signed, keys.alice)
    unsigned = make_bundle(mobilenet_v2_quant, tmp_path / "unsigned", task="classify").root
    foreign = make_bundle(mobilenet_v2_quant, tmp_path / "foreign", task="classify").root
    sign_bundle(foreign, keys.mallory)
    return signed, unsigned, foreign


def test_load_requires_signature(real_bundles, keys, mobilenet_v2_quant, monkeypatch):
    signed, unsigned, foreign = real_bundles
    monkeypatch.delenv("EDGESDK_ALLOWED_SIGNERS", raising=False)
    assert load(unsigned).task == "classify"  # no policy: as before
    assert load(signed, allowed_signers=keys.allowed).task == "classify"
    with pytest.raises(SignatureError, match="not signed"):
        load(unsigned, allowed_signers=keys.allowed)
    with pytest.raises(SignatureError, match="not in"):
        load(foreign, allowed_signers=keys.allowed)
    with pytest.raises(SignatureError, match="bare .tflite cannot be signed"):
        load(mobilenet_v2_quant, allowed_signers=keys.allowed)
    monkeypatch.setenv("EDGESDK_ALLOWED_SIGNERS", str(keys.allowed))
    assert load(signed).task == "classify"
    with pytest.raises(SignatureError, match="not signed"):
        load(unsigned)


def test_cli_runtime_command_honours_env(real_bundles, keys, monkeypatch, grace_hopper):
    signed, unsigned, _ = real_bundles
    monkeypatch.setenv("EDGESDK_ALLOWED_SIGNERS", str(keys.allowed))
    code, out, err = run_cli("classify", str(signed), str(grace_hopper))
    assert code == 0, err
    code, out, err = run_cli("classify", str(unsigned), str(grace_hopper))
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "not signed" in lines[0], err


def test_unit_for_current_sets_policy_and_boot_check(tmp_path, keys):
    root = tmp_path / "edge sdk"
    root.mkdir()
    bundle = str(root / "current")
    argv = exec_args(bundle, source="0", python="/usr/bin/python3")
    text = unit_text("cam", argv, device_root=str(root))
    assert "EDGESDK_ALLOWED_SIGNERS" not in text  # no policy on this device yet
    assert f'ExecStartPre=-/usr/bin/python3 "{root}/.edgesdk-agent.py" boot-check "{root}"' in text
    (root / "allowed_signers").write_text(keys.allowed.read_text())
    text = unit_text("cam", argv, device_root=str(root))
    assert f'Environment="EDGESDK_ALLOWED_SIGNERS={root}/allowed_signers"' in text
    code, out, err = run_cli("service", "install", "--bundle", bundle, "--print", "--python", "/usr/bin/python3")
    assert code == 0 and "ExecStartPre=-" in out and "EDGESDK_ALLOWED_SIGNERS" in out, err
