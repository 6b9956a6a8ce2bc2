"""Every bad input of issue 7: one clear line on stderr, exit 1, the device's ``current`` unchanged,
nothing half-written left behind."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
from _deploy_util import UNKNOWN_HOST, current_of, release_ids, run_cli

from edgesdk.bundle import load_bundle
from edgesdk.deploy import DeployError, SSHOptions, call_agent, deploy, parse_target, release_id
from edgesdk.deploy import _deploy


def _one_line_error(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 1, err
    assert len(lines) == 1, err
    assert lines[0].startswith("edgesdk ") and ": error: " in lines[0], err
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.fixture
def deployed(sshd, bundles, device_root):
    """A device that already runs bundle 0; bundle 1 is the new one we try to deploy."""
    b0, b1 = bundles(2)
    deploy(b0, parse_target(sshd.target(device_root)), ssh=SSHOptions(config=str(sshd.ssh_config)))
    return b0, b1, f"releases/{release_id(load_bundle(b0))}"


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.is_symlink() and os.readlink(p)) or p.stat().st_size
            for p in sorted(root.rglob("*")) if p.name != ".lock"}


@pytest.mark.parametrize("alias, needles", [
    ("edge-refused", ("connection refused", "is sshd running")),
    ("edge-wrongkey", ("refused our key", "Permission denied")),
    ("edge-mitm", ("does NOT match", "ssh-keygen -R")),
    ("edge-newhost", ("not in known_hosts", "--accept-new-host-key")),
])
def test_connection_failures(sshd, deployed, device_root, alias, needles):
    _, b1, cur = deployed
    before = _snapshot(device_root)
    code, out, err = run_cli("deploy", str(b1), f"{alias}:{device_root}", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, *needles)
    assert current_of(device_root) == cur and _snapshot(device_root) == before


def test_unknown_host(sshd, bundles, tmp_path):
    (b,) = bundles(1)
    code, out, err = run_cli("deploy", str(b), f"pi@{UNKNOWN_HOST}:/opt/edgesdk", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, "unknown host", UNKNOWN_HOST)


def test_accept_new_host_key_is_opt_in(sshd, bundles, device_root):
    """Host-key checking stays on by default; --accept-new-host-key trusts a first-seen key (and only then)."""
    (b,) = bundles(1)
    (sshd.dir / "known_hosts_empty").unlink(missing_ok=True)
    code, out, err = run_cli("deploy", str(b), f"edge-newhost:{device_root}", "-F", str(sshd.ssh_config),
                             "--accept-new-host-key")
    assert code == 0, err
    assert (sshd.dir / "known_hosts_empty").read_text().count("ssh-ed25519") == 1
    (sshd.dir / "known_hosts_empty").unlink()


def test_manifest_does_not_match_files(sshd, deployed, device_root):
    _, b1, cur = deployed
    data = bytearray((b1 / "model.tflite").read_bytes())
    data[100] ^= 0xFF
    (b1 / "model.tflite").write_bytes(bytes(data))
    before = _snapshot(device_root)
    code, out, err = run_cli("deploy", str(b1), f"edge-test:{device_root}", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, "checksum mismatch", "model.tflite")
    assert current_of(device_root) == cur and _snapshot(device_root) == before


def test_tar_with_path_traversal_is_refused(sshd, deployed, device_root, tmp_path):
    _, b1, cur = deployed
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        for name in ["manifest.json", "model.tflite", "labels.txt"]:
            tar.add(b1 / name, arcname=name)
        payload = b"owned\n"
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    before = _snapshot(device_root)
    code, out, err = run_cli("deploy", str(evil), f"edge-test:{device_root}", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, "../../escaped.txt", "refused")
    assert current_of(device_root) == cur and _snapshot(device_root) == before
    assert not list(tmp_path.parent.rglob("escaped.txt"))


def _corrupting_writer(name: str):
    real = _deploy.write_tar

    def write(stream, bundle, names=None):  # flips one byte of `name` in transit, after the local check passed
        tmp = Path(bundle.root).parent / f"{bundle.root.name}-in-transit"
        shutil.copytree(bundle.root, tmp, dirs_exist_ok=True)
        data = bytearray((tmp / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (tmp / name).write_bytes(bytes(data))
        real(stream, type(bundle)(tmp, bundle.manifest), names)
    return write


@pytest.mark.parametrize("name, needle", [
    ("model.tflite", "checksum mismatch on the device for model.tflite"),
    ("manifest.json", "checksum mismatch on the device for manifest.json"),
])
def test_corrupted_in_transit_does_not_switch(sshd, deployed, device_root, monkeypatch, name, needle):
    """The device re-checks every sha256 against the manifest: a byte flipped on the way never goes live."""
    _, b1, cur = deployed
    monkeypatch.setattr(_deploy, "write_tar", _corrupting_writer(name))
    before = _snapshot(device_root)
    with pytest.raises(DeployError, match=needle) as exc:
        deploy(b1, parse_target(f"edge-test:{device_root}"), ssh=SSHOptions(config=str(sshd.ssh_config)))
    assert "current is still" in str(exc.value)
    assert current_of(device_root) == cur and _snapshot(device_root) == before  # tmp folder removed too


def _tar_bytes(writer, bundle) -> bytes:
    buf = io.BytesIO()
    writer(buf, bundle)
    return buf.getvalue()


def _middle_of_model(data: bytes, bundle) -> int:
    """An offset in the middle of model.tflite's bytes inside the tar stream."""
    model = (bundle.root / "model.tflite").read_bytes()
    start = data.find(model[:256])
    assert start > 0
    return start + len(model) // 2


def test_dropped_connection_mid_upload(sshd, deployed, device_root, monkeypatch):
    """The stream ends in the middle of a file (link dropped cleanly): the device cleans up, current stays."""
    _, b1, cur = deployed

    real_write = _deploy.write_tar

    def half(stream, bundle, names=None):
        data = _tar_bytes(real_write, bundle)
        stream.write(data[: _middle_of_model(data, bundle)])
    monkeypatch.setattr(_deploy, "write_tar", half)
    before = _snapshot(device_root)
    with pytest.raises(DeployError, match="upload interrupted"):
        deploy(b1, parse_target(f"edge-test:{device_root}"), ssh=SSHOptions(config=str(sshd.ssh_config)))
    assert current_of(device_root) == cur and _snapshot(device_root) == before


def test_killed_upload_leaves_current_and_next_deploy_cleans(sshd, deployed, device_root, monkeypatch, tmp_path):
    """The device-side process dies mid-upload (power cut, OOM, ssh session killed): nothing can clean up
    then, so the half-written temp folder stays; current is untouched; the next deploy removes the folder."""
    from _deploy_util import make_bundle

    _, _, cur = deployed
    b1 = make_bundle(tmp_path / "big", name="big", size=256 * 1024)  # well past the reader's 10 KiB buffer
    go_on = threading.Event()
    real_write = _deploy.write_tar

    def stalled(stream, bundle, names=None):
        data = _tar_bytes(real_write, bundle)
        cut = _middle_of_model(data, bundle)
        stream.write(data[:cut])
        stream.flush()
        go_on.wait(30)
        stream.write(data[cut:])

    monkeypatch.setattr(_deploy, "write_tar", stalled)
    errors = []

    def run():
        try:
            deploy(b1, parse_target(f"edge-test:{device_root}"), ssh=SSHOptions(config=str(sshd.ssh_config)))
        except DeployError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=run)
    t.start()
    try:
        deadline = time.monotonic() + 20
        tmp = []
        while time.monotonic() < deadline:
            tmp = [p for p in device_root.glob(".tmp-*") if p.is_dir() and any(p.iterdir())]
            if tmp:
                break
            time.sleep(0.05)
        assert tmp, "the upload never started"
        pid = int(tmp[0].name.rsplit("-", 1)[1])  # .tmp-<release>-<pid>
        os.kill(pid, signal.SIGKILL)
    finally:
        go_on.set()
        t.join(30)
    assert errors and "interrupted" in errors[0], errors
    assert current_of(device_root) == cur
    assert tmp[0].is_dir()  # left behind by the dead process
    monkeypatch.setattr(_deploy, "write_tar", real_write)
    res = deploy(b1, parse_target(f"edge-test:{device_root}"), ssh=SSHOptions(config=str(sshd.ssh_config)))
    assert res.status == "deployed" and tmp[0].name in res.stale_removed
    assert not list(device_root.glob(".tmp-*"))


@pytest.fixture
def immutable(device_root):
    """chattr +i: even root cannot create entries in the folder (a real 'no write permission' for root)."""
    if not shutil.which("chattr"):
        pytest.skip("chattr (e2fsprogs) not installed")
    made = []

    def make(path: Path) -> None:
        p = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if p.returncode != 0:
            pytest.skip(f"chattr +i not supported here: {p.stderr.strip()}")
        made.append(path)
    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_no_write_permission_on_root(sshd, deployed, device_root, immutable):
    _, b1, cur = deployed
    before = _snapshot(device_root)
    immutable(device_root)
    code, out, err = run_cli("deploy", str(b1), f"edge-test:{device_root}", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, "no write permission on", str(device_root))
    assert current_of(device_root) == cur and _snapshot(device_root) == before


def test_no_write_permission_to_create_root(sshd, bundles, tmp_path, immutable):
    (b,) = bundles(1)
    parent = tmp_path / "locked"
    parent.mkdir()
    immutable(parent)
    code, out, err = run_cli("deploy", str(b), f"edge-test:{parent}/edgesdk", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, "no write permission on")
    assert not (parent / "edgesdk").exists()


def test_root_under_a_regular_file(sshd, bundles, tmp_path):
    (b,) = bundles(1)
    (tmp_path / "afile").write_text("x")
    code, out, err = run_cli("deploy", str(b), f"edge-test:{tmp_path}/afile/edgesdk", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, "is not a folder")


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 256 KiB tmpfs as the device's disk."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here to simulate a full disk: {p.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_no_space_refused_before_upload(sshd, bundles, tiny_disk, tmp_path):
    from _deploy_util import make_bundle

    small = make_bundle(tmp_path / "small", size=4096)
    big = make_bundle(tmp_path / "big", name="big", size=400 * 1024)
    root = tiny_disk / "edgesdk"
    assert run_cli("deploy", str(small), f"edge-test:{root}", "-F", str(sshd.ssh_config))[0] == 0
    cur = current_of(root)
    code, out, err = run_cli("deploy", str(big), f"edge-test:{root}", "-F", str(sshd.ssh_config))
    _one_line_error(code, err, "no space left", "free")
    assert current_of(root) == cur and not list(root.glob(".tmp-*"))
    assert release_ids(root) == {cur.split("/")[1]}


def test_disk_full_during_upload(sshd, bundles, tiny_disk, tmp_path):
    """Without the size hint the device really runs out of space mid-file (ENOSPC from the tmpfs): one line,
    the partial upload is removed, current unchanged."""
    from _deploy_util import make_bundle

    small = make_bundle(tmp_path / "small", size=4096)
    big = load_bundle(make_bundle(tmp_path / "big", name="big", size=400 * 1024))
    root = tiny_disk / "edgesdk"
    target = parse_target(f"edge-test:{root}")
    ssh = SSHOptions(config=str(sshd.ssh_config))
    deploy(small, target, ssh=ssh)
    cur = current_of(root)
    with pytest.raises(DeployError, match="no space left on the device") as exc:
        call_agent(target, ssh, "install", str(root), "--release", release_id(big),
                   feed=lambda s: _deploy.write_tar(s, big))
    assert "current is still" in str(exc.value)
    assert current_of(root) == cur and not list(root.glob(".tmp-*"))


def test_missing_remote_python(sshd, bundles, device_root):
    (b,) = bundles(1)
    code, out, err = run_cli("deploy", str(b), f"edge-test:{device_root}", "-F", str(sshd.ssh_config),
                             "--remote-python", "python3-not-here")
    _one_line_error(code, err, "python3-not-here not found")


@pytest.mark.parametrize("args, needle", [
    (["b", "bad host:/x"], "bad host"),
    (["b", "@host"], "bad user"),
])
def test_bad_targets(bundles, args, needle):
    (b,) = bundles(1)
    code, out, err = run_cli("deploy", str(b), *args[1:])
    _one_line_error(code, err, needle)


@pytest.mark.parametrize("args", [
    ["--keep", "0", "edge-test:/x"],
    ["--health-timeout", "-1", "edge-test:/x"],
    [],  # neither TARGET nor --inventory
    ["edge-test:/x", "--inventory", "hosts.ini"],
    ["edge-test:/x", "--forks", "3"],
])
def test_bad_usage_exits_2(bundles, args):
    (b,) = bundles(1)
    code, out, err = run_cli("deploy", str(b), *args)
    assert code == 2, err



@pytest.mark.parametrize("command", [["deploy", "b"], ["rollback"], ["releases"], ["trust", "--show"]])
def test_short_o_is_not_an_ssh_option(command):
    """Issue 18: -o is the output everywhere; these commands write none, so -o is bad usage naming --ssh-option."""
    code, out, err = run_cli(*command, "edge-test:/x", "-o", "StrictHostKeyChecking=no")
    assert code == 2, err
    assert "--ssh-option KEY=VALUE" in err and "Traceback" not in err


def test_ssh_option_reaches_ssh(sshd, device_root):
    """--ssh-option still goes to ssh: Port= overrides the alias whose port refuses connections."""
    cfg = ["-F", str(sshd.ssh_config)]
    code, _, err = run_cli("releases", sshd.target(device_root, "edge-refused"), *cfg)
    assert code == 1 and "connection refused" in err, err
    code, out, err = run_cli("releases", sshd.target(device_root, "edge-refused"), *cfg,
                             "--ssh-option", f"Port={sshd.port}")
    assert code == 0, err
    assert "no releases" in out

def test_bundle_not_found(tmp_path):
    code, out, err = run_cli("deploy", str(tmp_path / "nope.tar.gz"), "edge-test:/x")
    _one_line_error(code, err, "bundle not found")
