"""The runtime loader on real models from ../shared/testdata, and every error it promises."""

import os
import shutil

import numpy as np
import pytest

from edgesdk.errors import DelegateError, InputError, ModelError
from edgesdk.runtime import load, parse_device, read_image
from edgesdk.testing import build_fake_edgetpu_library


def test_classify_grace_hopper(mobilenet_v2_quant, grace_hopper):
    model = load(mobilenet_v2_quant, threads=2)
    assert model.backend.name == "ai_edge_litert"
    assert model.input_size == (224, 224)
    assert len(model.labels) == 1001  # imagenet_labels.txt found next to the model
    top = model.classify(read_image(grace_hopper), top_k=3)
    assert top.label(0) == "military uniform"
    assert top.score[0] > 0.5


def test_detect_ssd_with_extra_lstm_inputs(ssd_model, images_dir):
    model = load(ssd_model)
    assert len(model.inputs) == 3  # image + two LSTM states fed zeros
    img = read_image(images_dir / "kite_and_cold.jpg")
    det = model.detect(img, threshold=0.2)  # a traffic model: people score low here
    assert len(det) >= 1
    assert not det.normalized
    assert det.xyxy[:, 2].max() <= img.shape[1] and det.xyxy[:, 3].max() <= img.shape[0]


def test_invoke_validates_shape_and_dtype(mobilenet_v2_quant):
    model = load(mobilenet_v2_quant)
    out = model.invoke(np.zeros((1, 224, 224, 3), np.uint8))
    assert out[0].shape == (1, 1001)
    with pytest.raises(InputError, match=r"expects shape \(1, 224, 224, 3\) uint8, got \(1, 128, 128, 3\) uint8"):
        model.invoke(np.zeros((1, 128, 128, 3), np.uint8))
    with pytest.raises(InputError, match="float32"):
        model.invoke(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(InputError, match="takes 1 input"):
        model.invoke()


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load(tmp_path / "nope.tflite")


@pytest.mark.parametrize(
    "content,match",
    [
        (os.urandom(4096), "not a TFLite"),
        (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "HDF5"),
        (b"", "empty"),
    ],
)
def test_not_a_flatbuffer(tmp_path, content, match):
    p = tmp_path / "model.tflite"
    p.write_bytes(content)
    with pytest.raises(ModelError, match=match):
        load(p)


def test_real_h5_passed_by_mistake(models_dir):
    with pytest.raises(ModelError, match="HDF5"):
        load(models_dir / "mobilenet_v2_1.0_224_float.h5")


def test_truncated_file(tmp_path, mobilenet_v2_quant):
    data = mobilenet_v2_quant.read_bytes()
    p = tmp_path / "cut.tflite"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="truncated|corrupt"):
        load(p)


def test_edgetpu_model_on_cpu_names_the_cpu_twin(models_dir):
    with pytest.raises(ModelError, match=r"compiled for the Edge TPU.*mobilenet_v1_0\.25_128_quant\.tflite"):
        load(models_dir / "mobilenet_v1_0.25_128_quant_edgetpu.tflite", device="cpu")


def test_edgetpu_without_library(monkeypatch, models_dir):
    monkeypatch.setenv("EDGESDK_EDGETPU_LIB", "libedgetpu-does-not-exist.so.1")
    with pytest.raises(DelegateError, match="was not found: install the Edge TPU runtime"):
        load(models_dir / "mobilenet_v1_0.25_128_quant_edgetpu.tflite", device="usb:0")


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="needs a C compiler for the fake library")
def test_edgetpu_library_present_but_no_device(monkeypatch, tmp_path, models_dir):
    lib = build_fake_edgetpu_library(tmp_path)
    monkeypatch.setenv("EDGESDK_EDGETPU_LIB", str(lib))
    with pytest.raises(DelegateError, match="installed but no Edge TPU usb:0 was found"):
        load(models_dir / "mobilenet_v1_0.25_128_quant_edgetpu.tflite", device="usb:0")


@pytest.mark.parametrize(
    "device,expected",
    [("cpu", ("cpu", None)), ("edgetpu", ("edgetpu", None)), ("usb", ("edgetpu", "usb")),
     ("usb:1", ("edgetpu", "usb:1")), ("pci", ("edgetpu", "pci")), ("pci:0", ("edgetpu", "pci:0")),
     (":2", ("edgetpu", ":2"))],
)
def test_parse_device(device, expected):
    assert parse_device(device) == expected


@pytest.mark.parametrize("device", ["gpu", "usb:x", "tpu:0"])
def test_bad_device_string(device):
    with pytest.raises(ValueError, match="unknown device"):
        parse_device(device)


@pytest.mark.edgetpu
def test_real_edgetpu(models_dir, grace_hopper):  # pragma: no cover - needs hardware
    from edgesdk.runtime import find_edgetpu_library, list_edgetpu_devices

    if not find_edgetpu_library() or not list_edgetpu_devices():
        pytest.skip("no Edge TPU library or device on this machine")
    model = load(models_dir / "mobilenet_v1_0.25_128_quant_edgetpu.tflite", device="edgetpu")
    assert len(model.classify(read_image(grace_hopper))) == 5


def test_bundle_loads_with_its_input_spec(tmp_path, models_dir, grace_hopper):
    from edgesdk.bundle import make_bundle

    make_bundle(models_dir / "mobilenet_v2_1.0_224_quant.tflite", tmp_path / "b.tar.gz",
                labels=models_dir / "imagenet_labels.txt")
    model = load(tmp_path / "b.tar.gz")
    assert model.bundle is not None and model.task == "classify"
    assert model.classify(read_image(grace_hopper)).label(0) == "military uniform"


def test_model_file_parsed_once_per_version(tmp_path, ssd_model, monkeypatch):
    """Tile workers load the same model again: its flatbuffer is parsed once, again only when the file changes."""
    import edgesdk.tflite._reader as reader

    calls = []
    real = reader._parse
    monkeypatch.setattr(reader, "_parse", lambda data, where, path: calls.append(where) or real(data, where, path))
    copy = tmp_path / "m.tflite"
    shutil.copy(ssd_model, copy)
    load(copy)
    load(copy)
    assert len(calls) == 1
    os.utime(copy, ns=(1, 1))  # another version of the file
    load(copy)
    assert len(calls) == 2
