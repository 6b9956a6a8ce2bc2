"""edgesdk convert / eval on tiny Keras models built here (fast), and every bad input the issue lists."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgesdk.cli import main
from edgesdk.converters import import_tf_keras
from edgesdk.errors import MissingExtraError

try:
    import_tf_keras()  # sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported
except MissingExtraError as exc:
    pytest.skip(str(exc), allow_module_level=True)

import tensorflow as tf  # noqa: E402  (a global: Keras serialises Lambda closures, and modules cannot be copied)

CLASSES = ("blue", "green", "red")


def _tiny_model(tfk, input_shape=(32, 32, 3), name="tiny"):
    L = tfk.layers
    inp = tfk.Input(input_shape)
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    x = L.Conv2D(16, 1)(x)
    x = L.ReLU(6.0)(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(len(CLASSES), activation="softmax")(x)
    return tfk.Model(inp, out, name=name)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Tiny data (3 colour classes) and a tiny model trained a little on it."""
    tfk = import_tf_keras()
    root = tmp_path_factory.mktemp("conv")
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for k, name in enumerate(CLASSES):
        d = root / "data" / name
        d.mkdir(parents=True)
        for i in range(8):
            img = rng.integers(0, 80, (36, 44, 3), dtype=np.uint8)
            img[:, :, 2 - k] += 150  # BGR: blue, green, red dominant
            cv2.imwrite(str(d / f"{i}.png"), img)
            rgb = cv2.resize(cv2.cvtColor(img[:, 6:38], cv2.COLOR_BGR2RGB), (32, 32), interpolation=cv2.INTER_AREA)
            xs.append(rgb / 255.0)
            ys.append(k)
    model = _tiny_model(tfk)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.asarray(xs, np.float32), np.asarray(ys), epochs=30, batch_size=4, verbose=0)
    model.save(root / "tiny.h5")
    (root / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    flat = root / "calib"
    flat.mkdir()
    for p in sorted((root / "data").rglob("*.png"))[::2]:
        (flat / f"{p.parent.name}_{p.name}").write_bytes(p.read_bytes())
    return root


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_clean_failure(code, err, out_dir: Path, needle: str):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert not out_dir.exists()
    assert not [p for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}.tmp")]


@pytest.mark.slow
def test_convert_int8_bundle_with_report(work, tmp_path, capsys):
    out = tmp_path / "b"
    code, stdout, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--calib-data", work / "calib",
                             "--eval-data", work / "data", "--labels", work / "labels.txt", "--input-range", "0,1",
                             "--latency-runs", "5", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    from edgesdk.bundle import load_bundle
    from edgesdk.runtime import load

    b = load_bundle(out)
    assert sorted(b.manifest.files) == ["labels.txt", "model.tflite", "report.json", "report.md"]
    assert b.labels == list(CLASSES) and b.manifest.output.decoder == "softmax"
    assert b.manifest.input.range == (0.0, 1.0) and report["input_range_source"] == "--input-range"
    assert json.loads((out / "report.json").read_text())["quantization"] == report["quantization"]
    q = report["quantization"]
    assert q["mode"] == "int8" and q["io"] == "float" and q["calibration"] == "percentile" and q["calib_images"] == 12
    assert q["weights"]["rounding"] == "gptq"
    assert q["bias_correction_layers"] == 2
    assert report["size"]["float32 reference"] > 0 and report["size"]["ratio"] > 0  # tiny: int8 gains nothing
    assert set(report["latency_ms"]) == {"model.tflite", "float32 reference"}
    assert report["ops"].get("CONV_2D") == 2 and report["ops"].get("DEPTHWISE_CONV_2D") == 1
    acc = report["accuracy"]
    assert acc["n"] == 24 and acc["agreement"] >= 0.9 and acc["keras"]["top1"] >= 0.9
    assert abs(acc["tflite"]["top1"] - acc["keras"]["top1"]) <= 1 / 12
    md = (out / "report.md").read_text()
    assert "## Accuracy" in md and "int8 weights: gptq rounding, bias correction on 2 layers" in md
    m = load(out, threads=1)
    img = cv2.imread(str(next((work / "data" / "red").iterdir())))
    assert CLASSES[int(np.argmax(m.run(img)[0]))] == "red"


@pytest.mark.slow
def test_convert_edgetpu_uint8_all_ops_mapped(work, tmp_path, capsys):
    out = tmp_path / "e"
    code, stdout, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--calib-data", work / "calib",
                             "--input-range", "0,1", "--edgetpu", "--calibration", "mse", "--latency-runs", "0", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["quantization"]["calibration"] == "mse"
    assert report["quantization"]["details"]["activation_tensors"] >= 4
    from edgesdk.tflite import read_model

    info = read_model(out / "model.tflite")
    assert str(info.inputs[0].dtype).lower() == "uint8" and str(info.outputs[0].dtype).lower() == "uint8"
    assert list(info.inputs[0].shape) == [1, 32, 32, 3]
    pred = report["edgetpu"]["predicted"]
    assert pred["cpu_ops"] == {} and pred["first_unmapped"] is None
    assert sum(pred["mapped_ops"].values()) == sum(info.op_counts.values())


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["none", "dynamic", "float16"])
def test_convert_other_modes(work, tmp_path, capsys, mode):
    out = tmp_path / mode
    code, stdout, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--quantize", mode,
                             "--input-range", "0,1", "--latency-runs", "0", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["quantization"]["mode"] == mode and "edgetpu" not in report
    from edgesdk.runtime import load

    m = load(out, threads=1)
    assert m.inputs[0].dtype == np.float32


def test_eval_keras_and_bundle_agree(work, tmp_path, capsys):
    out = tmp_path / "f"
    assert _run(capsys, "convert", work / "tiny.h5", "-o", out, "--quantize", "none", "--input-range", "0,1",
                "--latency-runs", "0", "--resize", "crop")[0] == 0
    code, stdout, _ = _run(capsys, "eval", out, "--data", work / "data", "--json")
    assert code == 0
    t = json.loads(stdout)
    code, stdout, _ = _run(capsys, "eval", work / "tiny.h5", "--data", work / "data", "--input-range", "0,1", "--json")
    assert code == 0
    k = json.loads(stdout)
    assert t["n"] == k["n"] == 24 and t["top5"] == k["top5"] == 1.0  # 3 classes
    assert t["top1"] == pytest.approx(k["top1"], abs=1 / 24) and k["top1"] >= 0.9
    code, _, err = _run(capsys, "eval", out, "--data", work / "calib")
    assert code == 1 and "no labels" in err


# ------------------------------------------------------------------------------------------- bad inputs
def test_not_a_model(tmp_path, capsys, work):
    bad = tmp_path / "model.h5"
    bad.write_text("hello, I am not a model\n")
    out = tmp_path / "o"
    code, _, err = _run(capsys, "convert", bad, "-o", out, "--calib-data", work / "calib")
    _assert_clean_failure(code, err, out, "not a Keras model")


@pytest.mark.slow
def test_dynamic_input_shape_offers_input_size(tmp_path, capsys, work):
    tfk = import_tf_keras()
    p = tmp_path / "dyn.h5"
    _tiny_model(tfk, input_shape=(None, None, 3), name="dyn").save(p)
    out = tmp_path / "o"
    code, _, err = _run(capsys, "convert", p, "-o", out, "--calib-data", work / "calib")
    _assert_clean_failure(code, err, out, "--input-size")
    code, stdout, err = _run(capsys, "convert", p, "-o", out, "--calib-data", work / "calib", "--input-size", "24",
                             "--input-range", "0,1", "--latency-runs", "0", "--json")
    assert code == 0, err
    assert json.loads(stdout)["source"]["input_shape"] == [None, 24, 24, 3]


@pytest.mark.parametrize("kind", ["empty", "missing", "corrupt"])
def test_bad_calibration_folder(tmp_path, capsys, work, kind):
    calib = tmp_path / "calib"
    if kind != "missing":
        calib.mkdir()
    if kind == "corrupt":
        (calib / "x.jpg").write_bytes(b"\xff\xd8garbage")
    out = tmp_path / "o"
    code, _, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--calib-data", calib, "--input-range", "0,1")
    _assert_clean_failure(code, err, out, {"empty": "has no images", "missing": "not found",
                                           "corrupt": "not a readable image"}[kind])


@pytest.mark.parametrize("channels,word", [(1, "grayscale"), (4, "RGBA")])
def test_wrong_channel_count_images(tmp_path, capsys, work, channels, word):
    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(3):
        shape = (20, 20) if channels == 1 else (20, 20, 4)
        cv2.imwrite(str(calib / f"{i}.png"), np.full(shape, 40 * i, np.uint8))
    out = tmp_path / "o"
    code, _, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--calib-data", calib, "--input-range", "0,1")
    _assert_clean_failure(code, err, out, word)


def test_ops_tflite_cannot_convert(tmp_path, capsys, work):
    tfk = import_tf_keras()
    inp = tfk.Input((16, 16, 3))
    x = tfk.layers.Conv2D(4, 3)(inp)
    x = tfk.layers.Lambda(lambda t: tf.numpy_function(lambda a: a * 2, [t], tf.float32))(x)
    p = tmp_path / "pyfunc.h5"
    tfk.Model(inp, x).save(p)
    out = tmp_path / "o"
    code, _, err = _run(capsys, "convert", p, "-o", out, "--quantize", "none", "--input-range", "0,1")
    _assert_clean_failure(code, err, out, "TFLite cannot convert")
    assert "PyFunc" in err


def test_existing_non_empty_out_dir_is_refused(tmp_path, capsys, work):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--quantize", "none")
    assert code == 1 and "not empty" in err and (out / "keep.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------ QAT and built-ins
@pytest.mark.slow
def test_qat_one_epoch(work, tmp_path, capsys):
    out = tmp_path / "q"
    code, stdout, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--qat", "--data", work / "data",
                             "--epochs", "1", "--batch-size", "8", "--input-range", "0,1", "--edgetpu",
                             "--latency-runs", "0", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["quantization"]["qat"] is True and len(report["qat"]["history"]["loss"]) == 1
    assert report["edgetpu"]["predicted"]["cpu_ops"] == {}
    from edgesdk.bundle import load_bundle

    assert load_bundle(out).labels == list(CLASSES)


@pytest.mark.slow
def test_builtin_architecture_and_offline_imagenet_weights(tmp_path, capsys):
    from edgesdk.converters import build_architecture

    loaded, spec = build_architecture("efficientnet_lite0", input_size=64, classes=5)
    names = [type(layer).__name__ for layer in loaded.model.layers]
    assert "Multiply" not in names and loaded.model.output_shape == (None, 5) and spec.range == (-1.0, 1.0)
    loaded, spec = build_architecture("mobilenet_v3_small", input_size=96, classes=4, alpha=0.75)
    assert loaded.model.output_shape[-1] == 4
    out = tmp_path / "o"
    code, _, err = _run(capsys, "convert", "mobilenet_v2", "--weights", "imagenet", "--input-size", "96",
                        "-o", out, "--quantize", "none")
    _assert_clean_failure(code, err, out, "--weights FILE")


def test_eval_data_unreadable_images_are_skipped_and_named(tmp_path, capsys, caplog, work):
    """Issue 18: an unreadable --eval-data image is skipped and named (report.json, report.md), as in
    calibration; too many fail with one line and nothing written."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(work / "data", data)
    (data / "red" / "cut.png").write_bytes((data / "red" / "0.png").read_bytes()[:60])  # truncated
    out = tmp_path / "b"
    code, stdout, err = _run(capsys, "convert", work / "tiny.h5", "-o", out, "--quantize", "none", "--input-range",
                             "0,1", "--eval-data", data, "--latency-runs", "0", "--json")
    assert code == 0, err
    acc = json.loads((out / "report.json").read_text())["accuracy"]
    assert acc["n"] == 24 and [Path(p).name for p in acc["skipped"]] == ["cut.png"]
    assert json.loads(stdout)["accuracy"]["skipped"] == acc["skipped"]
    assert "cut.png" in caplog.text and "cut.png" in (out / "report.md").read_text()
    for i in range(3):
        (data / "blue" / f"bad{i}.png").write_bytes(b"not an image")
    out2 = tmp_path / "b2"
    code, _, err = _run(capsys, "convert", work / "tiny.h5", "-o", out2, "--quantize", "none", "--input-range",
                        "0,1", "--eval-data", data, "--latency-runs", "0")
    _assert_clean_failure(code, err, out2, "4 of 28 evaluation images could not be read")
