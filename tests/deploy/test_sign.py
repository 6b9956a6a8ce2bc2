"""Signing bundles with OpenSSH keys (ssh-keygen -Y sign) and checking them (`edgesdk verify`), with real keys
and a real ssh-agent; every refusal is one line and exit 1."""

from __future__ import annotations

import json
import tarfile

import pytest
from _deploy_util import make_bundle, run_cli
from _keys import pub

from edgesdk.bundle import SIGNATURE_NAME, SignatureError, load_bundle, pack, sign_bundle, verify_signature
from edgesdk.bundle import sha256_file


def _one_line(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("who, principal", [("alice", "alice@example.com"), ("bob", "bob@example.com")])
def test_sign_and_verify_ed25519_and_rsa(keys, tmp_path, who, principal):
    b = make_bundle(tmp_path / "b")
    before = sha256_file(b / "manifest.json")
    sign_bundle(b, getattr(keys, who))
    assert (b / SIGNATURE_NAME).read_text().startswith("-----BEGIN SSH SIGNATURE-----")
    assert sha256_file(b / "manifest.json") == before  # the manifest itself is not touched
    code, out, err = run_cli("verify", str(b), "--allowed-signers", str(keys.allowed))
    assert code == 0, err
    assert out.strip().splitlines() == [f"{b}: good signature by {principal} ({verify_signature(b, keys.allowed).fingerprint})"]
    code, out, err = run_cli("verify", str(b), "--allowed-signers", str(keys.allowed), "--json")
    assert json.loads(out)["principal"] == principal


def test_bundle_cli_signs_real_model_folder_and_tar(keys, tmp_path, mobilenet_v2_quant):
    for out in (tmp_path / "folder", tmp_path / "b.tar.gz"):
        code, stdout, err = run_cli("bundle", str(mobilenet_v2_quant), "-o", str(out), "--task", "classify",
                                    "--sign", str(keys.alice))
        assert code == 0, err
        assert "signed with" in stdout
        assert verify_signature(out, keys.allowed).principal == "alice@example.com"
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert SIGNATURE_NAME in tar.getnames()  # the signature travels in the archive
    # pack keeps it too
    pack(tmp_path / "folder", tmp_path / "again.tar.gz")
    assert verify_signature(tmp_path / "again.tar.gz", keys.allowed).principal == "alice@example.com"


def test_sign_through_ssh_agent(keys, agent, tmp_path):
    """--sign KEY.pub with the private key in a real ssh-agent; and a passphrase-protected key the agent holds."""
    agent(keys.alice)
    b = make_bundle(tmp_path / "b")
    code, out, err = run_cli("verify", str(b), "--allowed-signers", str(keys.allowed))
    assert code == 1
    sign_bundle(b, keys.alice.with_name("alice.pub"))
    assert verify_signature(b, keys.allowed).principal == "alice@example.com"
    agent(keys.carol)
    c = make_bundle(tmp_path / "c")
    sign_bundle(c, keys.carol)  # encrypted on disk: ssh-keygen signs through the agent
    assert verify_signature(c, keys.allowed).principal == "carol@example.com"


def test_bad_signing_keys(keys, tmp_path, monkeypatch, mobilenet_v2_quant):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    (tmp_path / "notakey").write_text("hello\n")
    cases = [
        (tmp_path / "missing_key", "signing key not found"),
        (tmp_path / "notakey", "is not an SSH key"),
        (keys.carol, "passphrase-protected and ssh-agent does not hold it"),
        (keys.alice.with_name("alice.pub"), "is a public key: signing with it needs ssh-agent"),
    ]
    for key, needle in cases:
        out = tmp_path / f"out-{key.name}"
        code, stdout, err = run_cli("bundle", str(mobilenet_v2_quant), "-o", str(out), "--task", "classify",
                                    "--sign", str(key))
        _one_line(code, err, needle)
        assert not out.exists()  # nothing written


def _tamper_labels(b):
    """Change labels.txt AND its manifest entry: the checksums agree, the signature no longer does."""
    (b / "labels.txt").write_text("background\ncat\nwolf\n")
    m = json.loads((b / "manifest.json").read_text())
    m["files"]["labels.txt"] = {"sha256": sha256_file(b / "labels.txt"), "size": (b / "labels.txt").stat().st_size}
    (b / "manifest.json").write_text(json.dumps(m, indent=2))


def test_verify_refusals(keys, tmp_path):
    signed = make_bundle(tmp_path / "signed")
    sign_bundle(signed, keys.alice)
    unsigned = make_bundle(tmp_path / "unsigned")
    foreign = make_bundle(tmp_path / "foreign")
    sign_bundle(foreign, keys.mallory)
    tampered = make_bundle(tmp_path / "tampered")
    sign_bundle(tampered, keys.alice)
    _tamper_labels(tampered)
    changed_file = make_bundle(tmp_path / "changed")
    sign_bundle(changed_file, keys.alice)
    (changed_file / "labels.txt").write_text("background\ncat\nwol\n")
    revoked = keys.policy("revoked", keys.allowed.read_text() + f"@revoked {pub(keys.alice)}\n")
    expired = keys.policy("expired", f'alice@example.com valid-before="20200101Z" {pub(keys.alice)}\n')
    future = keys.policy("future", f'alice@example.com valid-after="29990101" {pub(keys.alice)}\n')
    other_ns = keys.policy("ns", f'alice@example.com namespaces="git" {pub(keys.alice)}\n')
    cases = [
        (unsigned, keys.allowed, ("not signed", SIGNATURE_NAME)),
        (foreign, keys.allowed, ("signed by a key that is not in", "SHA256:")),
        (tampered, keys.allowed, ("changed after signing",)),
        (changed_file, keys.allowed, ("checksum mismatch", "labels.txt")),
        (signed, revoked, ("revoked key",)),
        (signed, expired, ("outside its validity window", "valid-before 2020-01-01", "clock")),
        (signed, future, ("outside its validity window", "valid-after 2999-01-01")),
        (signed, other_ns, ("not permitted for namespace edgesdk-bundle",)),
        (signed, tmp_path / "nope", ("allowed_signers file not found",)),
    ]
    for bundle, policy, needles in cases:
        code, out, err = run_cli("verify", str(bundle), "--allowed-signers", str(policy))
        _one_line(code, err, *needles)
    with pytest.raises(SignatureError):
        verify_signature(load_bundle(tampered), keys.allowed)


@pytest.mark.parametrize("line, needle", [
    ("alice@example.com", "line 1: expected"),
    ("alice@example.com ssh-ed25519 !!notbase64", "line 1: the key is not valid base64"),
    ("alice@example.com ssh-foo AAAA", "line 1: bad option 'ssh-foo'"),
    ('alice@example.com valid-before=20200101 KEY', "values in double quotes"),
    ('alice@example.com valid-before="2020-01-01" KEY', "bad time '2020-01-01'"),
    ('alice@example.com namespaces="edgesdk-bundle KEY', "unclosed quote"),
    ("@cert-authority *.example.com KEY", "unknown marker @cert-authority"),
    ("# only a comment", "lists no key"),
])
def test_allowed_signers_syntax_errors(keys, tmp_path, line, needle):
    b = make_bundle(tmp_path / "b")
    sign_bundle(b, keys.alice)
    policy = keys.policy("bad", line.replace("KEY", pub(keys.alice)) + "\n")
    code, out, err = run_cli("verify", str(b), "--allowed-signers", str(policy))
    _one_line(code, err, needle)


def test_env_var_is_the_default_policy(keys, tmp_path, monkeypatch):
    b = make_bundle(tmp_path / "b")
    sign_bundle(b, keys.bob)
    monkeypatch.setenv("EDGESDK_ALLOWED_SIGNERS", str(keys.allowed))
    assert run_cli("verify", str(b))[0] == 0
    monkeypatch.delenv("EDGESDK_ALLOWED_SIGNERS")
    code, out, err = run_cli("verify", str(b))
    _one_line(code, err, "no allowed_signers file given")
