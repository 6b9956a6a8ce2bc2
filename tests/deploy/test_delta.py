"""Send only what changed: files the device already holds (same sha256 in an earlier release) are hard-linked
there, not uploaded; a labels-only change uploads little more than the labels. Real model, real sshd."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
from _deploy_util import current_of, device_python, run_cli, tree_snapshot

from edgesdk.bundle import load_bundle, make_bundle, sign_bundle
from edgesdk.deploy import _remote, release_id


@pytest.fixture
def labelled(tmp_path, mobilenet_v2_quant, models_dir):
    """The same real model with two label files: v2 differs from v1 in its labels only."""
    labels = (models_dir / "imagenet_labels.txt").read_text()
    (tmp_path / "l1.txt").write_text(labels)
    (tmp_path / "l2.txt").write_text(labels.replace("goldfish", "gold fish"))
    v1 = make_bundle(mobilenet_v2_quant, tmp_path / "v1", labels=tmp_path / "l1.txt", task="classify").root
    v2 = make_bundle(mobilenet_v2_quant, tmp_path / "v2", labels=tmp_path / "l2.txt", task="classify").root
    return v1, v2, mobilenet_v2_quant.stat().st_size


def _deploy_json(sshd, bundle, root, *extra):
    code, out, err = run_cli("deploy", str(bundle), f"edge-test:{root}", "-F", str(sshd.ssh_config), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def test_labels_only_change_uploads_only_the_labels(sshd, labelled, device_root, keys):
    v1, v2, model_bytes = labelled
    for b in (v1, v2):
        sign_bundle(b, keys.alice)  # signed, under a policy: linking does not bypass the checks
    device_root.mkdir(parents=True)
    (device_root / "allowed_signers").write_text(keys.allowed.read_text())
    first = _deploy_json(sshd, v1, device_root)
    assert first["uploaded_bytes"] > model_bytes and first["reused_bytes"] == 0
    second = _deploy_json(sshd, v2, device_root)
    print(f"\nlabels-only redeploy: uploaded {second['uploaded_bytes']} B, reused {second['reused_bytes']} B, "
          f"model {model_bytes} B (first deploy uploaded {first['uploaded_bytes']} B)")
    assert second["status"] == "deployed"
    assert second["uploaded_bytes"] < model_bytes / 10
    assert second["reused_bytes"] == model_bytes
    r1, r2 = (device_root / "releases" / release_id(load_bundle(b)) for b in (v1, v2))
    assert os.stat(r1 / "model.tflite").st_ino == os.stat(r2 / "model.tflite").st_ino  # one copy on disk
    assert os.stat(r1 / "labels.txt").st_ino != os.stat(r2 / "labels.txt").st_ino
    assert current_of(device_root) == f"releases/{r2.name}"
    assert load_bundle(device_root / "current").labels[2].startswith("gold fish")


def test_disk_full_while_linking(sshd, labelled, device_root, tmp_path):
    """ENOSPC at the link step (fault injected in the device-side script: a hard link needs no data blocks, so
    a small real file system does not fail there reliably): one line, exit 1, current unchanged, no leftovers."""
    v1, v2, _ = labelled
    _deploy_json(sshd, v1, device_root)
    cur = current_of(device_root)
    before = tree_snapshot(device_root)
    py = device_python(tmp_path, env={_remote.FAULT_ENV: "enospc-link"})
    code, out, err = run_cli("deploy", str(v2), f"edge-test:{device_root}", "-F", str(sshd.ssh_config),
                             "--remote-python", str(py))
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert "no space left on the device" in lines[0] and "hard-linking" in lines[0], lines[0]
    assert current_of(device_root) == cur and tree_snapshot(device_root) == before
    load_bundle(device_root / "current")


def test_progress_bar_on_a_terminal_quiet_in_a_pipe(sshd, labelled, device_root):
    v1, v2, _ = labelled
    argv = [sys.executable, "-m", "edgesdk", "deploy", str(v1), f"edge-test:{device_root}", "-F", str(sshd.ssh_config)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stderr == "", p.stderr  # a pipe: no bar
    master, slave = pty.openpty()
    argv[4] = str(v2)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(60)
    os.close(master)
    assert proc.returncode == 0
    assert b"upload" in seen  # the rich bar drew on the terminal
