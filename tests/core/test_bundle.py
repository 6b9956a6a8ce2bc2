import io
import json
import tarfile
from pathlib import Path

import pytest

from edgesdk.bundle import (
    SCHEMA, InputSpec, Manifest, OutputSpec, load_bundle, make_bundle, pack, read_labels, write_bundle,
)
from edgesdk.errors import BundleError


def small_bundle(tmp_path: Path, name="b"):
    m = Manifest(task="classify", labels="labels.txt", input=InputSpec.from_range(0, 1), output=OutputSpec("softmax"))
    return write_bundle(tmp_path / name, m, {"model.tflite": b"TFL3 not a real model", "labels.txt": b"cat\ndog\n"})


def test_write_and_load_roundtrip(tmp_path):
    b = small_bundle(tmp_path)
    data = json.loads((b.root / "manifest.json").read_text())
    assert data["schema"] == SCHEMA
    assert set(data["files"]) == {"model.tflite", "labels.txt"}
    assert len(data["files"]["model.tflite"]["sha256"]) == 64
    again = load_bundle(b.root)
    assert again.manifest == b.manifest
    assert again.labels == ["cat", "dog"]
    assert again.manifest.input.range == (0.0, 1.0)
    assert again.manifest.input.std == (255.0,)
    assert b.root.stat().st_mode & 0o755 == 0o755  # readable by other users (e.g. a service account)


def test_checksum_mismatch_and_missing_file(tmp_path):
    b = small_bundle(tmp_path)
    (b.root / "labels.txt").write_bytes(b"cat\nfox\n")
    with pytest.raises(BundleError, match="checksum mismatch for labels.txt"):
        load_bundle(b.root)
    (b.root / "labels.txt").unlink()
    with pytest.raises(BundleError, match="missing file labels.txt"):
        load_bundle(b.root)


def test_unknown_schema_and_unknown_keys(tmp_path):
    b = small_bundle(tmp_path)
    data = json.loads((b.root / "manifest.json").read_text())
    (b.root / "manifest.json").write_text(json.dumps({**data, "schema": "edgesdk.bundle/99"}))
    with pytest.raises(BundleError, match="unknown bundle schema"):
        load_bundle(b.root)
    (b.root / "manifest.json").write_text(json.dumps({**data, "colour": "RGB"}))
    with pytest.raises(BundleError, match="unknown key"):
        load_bundle(b.root)
    (b.root / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(b.root)


def test_manifest_rejects_unsafe_names():
    with pytest.raises(BundleError, match="unsafe path"):
        Manifest(task="classify", model="../model.tflite")
    with pytest.raises(BundleError, match="unsafe path"):
        Manifest(task="classify", files={"/etc/passwd": {}})


def test_pack_and_load_tarball(tmp_path):
    b = small_bundle(tmp_path)
    tgz = pack(b.root, tmp_path / "b.tar.gz")
    with tarfile.open(tgz) as t:
        assert sorted(t.getnames()) == ["labels.txt", "manifest.json", "model.tflite"]
    loaded = load_bundle(tgz, extract_to=tmp_path / "x")
    assert loaded.digest == b.digest


def _tar_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        member.size = len(data) if member.isfile() else 0
        t.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


@pytest.mark.parametrize(
    "make_member,reason",
    [
        (lambda: tarfile.TarInfo("../escape.txt"), "outside its folder"),
        (lambda: tarfile.TarInfo("/tmp/abs.txt"), "absolute path"),
        (lambda: _symlink("link", "/etc/passwd"), "is a link"),
        (lambda: _hardlink("hl", "/etc/passwd"), "is a link"),
    ],
)
def test_unsafe_tar_members_refused(tmp_path, make_member, reason):
    archive = _tar_with(tmp_path, make_member())
    dest = tmp_path / "dest"
    with pytest.raises(BundleError, match=reason):
        load_bundle(archive, extract_to=dest)
    assert not (tmp_path / "escape.txt").exists()
    assert not any(dest.rglob("*")) if dest.exists() else True


def _symlink(name, target):
    m = tarfile.TarInfo(name)
    m.type, m.linkname = tarfile.SYMTYPE, target
    return m


def _hardlink(name, target):
    m = tarfile.TarInfo(name)
    m.type, m.linkname = tarfile.LNKTYPE, target
    return m


def test_write_bundle_is_atomic(tmp_path):
    m = Manifest(task="classify")
    with pytest.raises(BundleError, match="does not exist"):
        write_bundle(tmp_path / "out", m, {"model.tflite": tmp_path / "missing.tflite"})
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary folder left behind


def test_write_bundle_refuses_non_empty_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not empty"):
        write_bundle(tmp_path / "out", Manifest(task="classify"), {"model.tflite": b"x"})
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_read_labels_formats(tmp_path):
    (tmp_path / "a.txt").write_text("0  person\n1  bicycle\n3  car\n")
    assert read_labels(tmp_path / "a.txt") == ["person", "bicycle", "2", "car"]
    (tmp_path / "b.txt").write_text("background\ntench, Tinca tinca\n")
    assert read_labels(tmp_path / "b.txt") == ["background", "tench, Tinca tinca"]


def test_make_bundle_from_real_models(tmp_path, models_dir):
    b = make_bundle(models_dir / "mobilenet_v1_0.25_128_quant.tflite", tmp_path / "mnv1",
                    labels=models_dir / "imagenet_labels.txt")
    assert b.manifest.task == "classify"
    assert b.manifest.edgetpu_model == "model_edgetpu.tflite"  # the _edgetpu twin next to it
    assert b.manifest.input.raw
    d = make_bundle(models_dir / "ssd_traffic_lstm_quant.tflite", tmp_path / "ssd.tar.gz")
    assert d.manifest.task == "detect" and d.manifest.output.decoder == "ssd"
    with pytest.raises(BundleError, match="Edge TPU-compiled"):
        make_bundle(models_dir / "mobilenet_v1_0.25_128_quant_edgetpu.tflite", tmp_path / "x")
    assert not (tmp_path / "x").exists()
