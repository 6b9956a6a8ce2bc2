"""The detection decoder is chosen by the bundle, or recognised once from a bare .tflite's outputs when that is
unambiguous; `bundle` writes it, `inspect` shows it, `Model.detect` uses it. Real models from ../shared."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from _paths import IMAGES, MODELS
from edgesdk.bundle import ANCHOR_PRESETS, OutputSpec, load_bundle, make_bundle, recognize_decoder, recognize_model, write_bundle
from edgesdk.cli import main
from edgesdk.errors import ModelError
from edgesdk.runtime import load, read_image
from edgesdk.runtime.decoders import PERSON_ANCHORS
from edgesdk.runtime.faces import FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, ssd_anchors
from edgesdk.tflite import TensorInfo, read_model


def model(name: str):
    p = MODELS / name
    if not p.is_file():
        pytest.skip(f"test data not available: {p}")
    return p


@pytest.mark.parametrize("name, task, decoder", [
    ("pose_detection.tflite", "detect", "mediapipe-person"),
    ("ssd_mobilenet_v1_coco_quant.tflite", "detect", "ssd"),
    ("ssd_traffic_lstm_quant.tflite", "detect", "ssd"),
    ("mobilenet_v2_1.0_224_quant.tflite", None, None),
    ("mobilenet_v1_0.25_128_quant_edgetpu.tflite", None, None),
    ("deeplabv3_mnv2_dm05_pascal_quant.tflite", None, None),
    ("selfie_segmentation.tflite", None, None),
])
def test_recognised_from_real_models(name, task, decoder):
    choice = recognize_model(read_model(model(name)))
    assert (choice.task, choice.output.decoder) == (task, decoder) if decoder else choice is None


def t(shape, name="t") -> TensorInfo:
    return TensorInfo(0, name, shape, "FLOAT32")


IMG640 = [t((1, 640, 640, 3))]


@pytest.mark.parametrize("inputs, outputs, want", [
    (IMG640, [t((1, 84, 8400))], ("yolo-v8", 80)),  # YOLOv8n / YOLO11n COCO at 640
    (IMG640, [t((1, 85, 25200))], None),  # v5 transposed: not an Ultralytics layout
    (IMG640, [t((1, 25200, 85))], ("yolo-v5", 80)),
    ([t((1, 320, 320, 3))], [t((1, 5, 2100))], ("yolo-v8", 1)),  # one class at 320
    (IMG640, [t((1, 84, 8000))], None),  # candidates do not fit the input size
    ([t((1, 256, 256, 3))], [t((1, 256, 256))], None),  # a one-channel map
    ([t((1, 224, 224, 3))], [t((1, 2254, 12)), t((1, 2254, 1))], ("mediapipe-person", None)),
    ([t((1, 256, 256, 3))], [t((1, 2254, 12)), t((1, 2254, 1))], None),  # person layout at another input size
    ([t((1, 128, 128, 3))], [t((1, 896, 16)), t((1, 896, 1))], ("blazeface", None)),
    ([t((1, 128, 128, 3))], [t((1, 900, 16)), t((1, 900, 1))], None),
    ([t((1, 8))], [t((1, 84, 8400))], None),  # no image input
])
def test_recognize_decoder_is_pure_over_tensor_shapes(inputs, outputs, want):
    choice = recognize_decoder(inputs, outputs, ())
    if want is None:
        assert choice is None
        return
    assert choice.output.decoder == want[0] and choice.reason
    if want[1] is not None:
        assert choice.output.params["classes"] == want[1]


def test_custom_op_means_ssd_whatever_the_shapes():
    assert recognize_decoder([t((1, 8))], [t((1, 2))], ("TFLite_Detection_PostProcess",)).output.decoder == "ssd"


def test_anchor_presets_agree_with_the_runtime():
    runtime = {"face short range": SHORT_RANGE_ANCHORS, "face full range": FULL_RANGE_ANCHORS,
               "person (pose_detection)": PERSON_ANCHORS}
    for p in ANCHOR_PRESETS:
        opts = runtime[p.name]
        as_json = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(opts).items()}
        assert as_json == p.anchors, p.name
        assert len(ssd_anchors(opts)) == p.num_anchors


def test_bare_tflite_detect_uses_the_recognised_decoder():
    m = load(model("pose_detection.tflite"), threads=2)
    assert m.task == "detect" and m.output_spec.decoder == "mediapipe-person"
    assert m.input_spec.resize == "letterbox" and m.input_spec.range == (-1.0, 1.0)
    det = m.detect(read_image(IMAGES / "grace_hopper.bmp"))
    assert len(det) == 1 and det.keypoints.shape == (1, 4, 2) and det.class_id.tolist() == [0]
    assert m.detection_decoder is m.detection_decoder  # built once


def test_bundle_writes_the_decoder_and_detect_follows_the_manifest(tmp_path):
    b = make_bundle(model("pose_detection.tflite"), tmp_path / "person")
    m = json.loads((b.root / "manifest.json").read_text())
    assert m["task"] == "detect" and m["output"]["decoder"] == "mediapipe-person"
    assert m["output"]["params"]["anchors"]["strides"] == [8, 16, 32, 32, 32]
    assert m["input"]["resize"] == "letterbox" and m["input"]["range"] == [-1.0, 1.0]
    image = read_image(IMAGES / "grace_hopper.bmp")
    assert len(load(b, threads=2).detect(image)) == 1
    # the manifest decides, not the shapes: a manifest that says something else is followed (and fails clearly)
    files = {"model.tflite": b.model_path}
    for out, says in [(OutputSpec("ssd"), "not the SSD post-process outputs"),
                      (OutputSpec("blazeface", params={"anchors": m["output"]["params"]["anchors"], "num_keypoints": 6}),
                       "are not blazeface's"),
                      (OutputSpec("logits"), "`detect` needs a detection model")]:
        other = write_bundle(tmp_path / out.decoder, b.manifest.replace(output=out), files)
        with pytest.raises(ModelError, match=says):
            load(load_bundle(other.root), threads=1).detect(image)
    # a higher threshold in the call is honoured by every decoder
    assert len(load(b, threads=1).detect(image, threshold=0.99)) == 0


def test_ssd_bundle_and_bare_model_agree(tmp_path):
    ssd = model("ssd_mobilenet_v1_coco_quant.tflite")
    image = read_image(IMAGES / "kite_and_cold.jpg")
    bare = load(ssd, threads=2).detect(image, threshold=0.4)
    bundled = load(make_bundle(ssd, tmp_path / "ssd"), threads=2).detect(image, threshold=0.4)
    assert len(bare) >= 1 and 0 in bare.class_id  # people on the beach (class 0 = person)
    np.testing.assert_allclose(bare.xyxy, bundled.xyxy)


def test_inspect_shows_the_decision(capsys, tmp_path):
    assert main(["inspect", str(model("pose_detection.tflite"))]) == 0
    assert "decoder   mediapipe-person (recognised from the outputs: MediaPipe person" in capsys.readouterr().out
    assert main(["inspect", str(model("mobilenet_v2_1.0_224_quant.tflite")), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decoder"]["decoder"] is None
    b = make_bundle(model("ssd_mobilenet_v1_coco_quant.tflite"), tmp_path / "ssd")
    assert main(["inspect", str(b.root)]) == 0
    assert "decoder   ssd (bundle manifest)" in capsys.readouterr().out


def test_bundle_command_writes_the_decoder(capsys, tmp_path):
    out = tmp_path / "p"
    assert main(["bundle", str(model("pose_detection.tflite")), "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["output"]["decoder"] == "mediapipe-person" and manifest["task"] == "detect"
