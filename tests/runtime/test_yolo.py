"""YOLO heads (Ultralytics TFLite layouts): the pure decoder on arrays built by hand, and small Keras models
exported to TFLite in each layout (float and int8) run through the runtime. No real YOLO file exists here."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.runtime.decoders import YoloHead, decode_yolo
from edgesdk.runtime.faces import class_nms

C = 3  # classes
# (cx, cy, w, h) normalized, class, score
TRUTH = [
    ((0.30, 0.40, 0.20, 0.30), 0, 0.90),
    ((0.70, 0.60, 0.25, 0.20), 2, 0.80),
    ((0.70, 0.60, 0.25, 0.20), 1, 0.60),  # same place, another class: kept (class-aware NMS)
    ((0.31, 0.41, 0.20, 0.30), 0, 0.50),  # near-duplicate of the first, same class: suppressed
]
EXPECTED = [0, 1, 2]  # rows of TRUTH that survive, best first


def rows(n: int = 50, seed: int = 0) -> np.ndarray:
    """(n, 4 + 1 + C) v5 rows: the TRUTH boxes first, then background rows under any threshold."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 5 + C), np.float32)
    out[:, :4] = rng.uniform(0.1, 0.9, (n, 4)) * [1, 1, 0.2, 0.2]
    out[:, 4] = rng.uniform(0.0, 0.1, n)  # objectness of the background
    out[:, 5:] = rng.uniform(0.0, 1.0, (n, C))
    for i, (box, cls, score) in enumerate(TRUTH):
        out[i, :4] = box
        out[i, 4] = score
        out[i, 5:] = 0.02
        out[i, 5 + cls] = 1.0
    return out


def layout(v5_rows: np.ndarray, head: YoloHead) -> np.ndarray:
    """v5 rows -> the head's output tensor (v8: objectness folded into the class scores, transposed)."""
    if head is YoloHead.V5:
        return v5_rows[None]
    v8 = np.concatenate([v5_rows[:, :4], v5_rows[:, 4:5] * v5_rows[:, 5:]], axis=1)
    return v8.T[None].copy()


def quantize(x: np.ndarray, dtype) -> tuple[np.ndarray, float, int]:
    scale = 1.0 / 255
    zp = -128 if dtype == np.int8 else 0
    info = np.iinfo(dtype)
    return np.clip(np.rint(x / scale + zp), info.min, info.max).astype(dtype), scale, zp


def expected_xyxy(scale_w: float = 1.0, scale_h: float = 1.0) -> np.ndarray:
    b = np.array([TRUTH[i][0] for i in EXPECTED], np.float32)
    xyxy = np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], axis=1)
    return xyxy * [scale_w, scale_h, scale_w, scale_h]


@pytest.mark.parametrize("head", list(YoloHead))
def test_float_layouts(head):
    det = decode_yolo(layout(rows(), head), head, threshold=0.25)
    assert det.normalized
    np.testing.assert_allclose(det.xyxy, expected_xyxy(), atol=1e-5)
    np.testing.assert_allclose(det.score, [TRUTH[i][2] for i in EXPECTED], atol=1e-5)
    assert det.class_id.tolist() == [TRUTH[i][1] for i in EXPECTED]


@pytest.mark.parametrize("head", list(YoloHead))
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_quantized_layouts(head, dtype):
    q, scale, zp = quantize(layout(rows(), head), dtype)
    det = decode_yolo(q, head, scale=scale, zero_point=zp, threshold=0.25)
    np.testing.assert_allclose(det.xyxy, expected_xyxy(), atol=2 / 255)
    assert det.class_id.tolist() == [TRUTH[i][1] for i in EXPECTED]
    # the integer pre-filter must not drop a row the float check would keep: a score right at the threshold
    exact = decode_yolo(q, head, scale=scale, zero_point=zp, threshold=float(det.score[-1]))
    assert len(exact) == len(det)


@pytest.mark.parametrize("head", list(YoloHead))
def test_boxes_in_pixels(head):
    px = rows()
    px[:, :4] *= [320, 256, 320, 256]
    det = decode_yolo(layout(px, head), head, normalized=False, input_size=(320, 256))
    np.testing.assert_allclose(det.xyxy, expected_xyxy(), atol=1e-5)
    with pytest.raises(ValueError, match="input size"):
        decode_yolo(layout(px, head), head, normalized=False)


def test_threshold_and_limits():
    out = layout(rows(), YoloHead.V8)
    assert len(decode_yolo(out, YoloHead.V8, threshold=0.95)) == 0
    assert decode_yolo(out, YoloHead.V8, threshold=0.7).class_id.tolist() == [0, 2]
    assert len(decode_yolo(out, YoloHead.V8, max_detections=1)) == 1
    assert len(decode_yolo(out, YoloHead.V8, iou_threshold=1.0)) == 4  # NMS off: the duplicate stays
    # v5: the score is objectness x class score
    r = rows()
    r[0, 5:] = [0.5, 0, 0]
    r[3, 4] = 0.05  # the near-duplicate out of the way
    det = decode_yolo(r[None], YoloHead.V5, threshold=0.25)
    assert det.score[det.class_id == 0].max() == pytest.approx(0.45)


@pytest.mark.parametrize("shape, head", [((1, 50, 5), YoloHead.V5), ((1, 4, 50), YoloHead.V8), ((2, 8, 50), YoloHead.V8),
                                         ((8, 50, 2, 1), YoloHead.V8)])
def test_bad_shapes(shape, head):
    with pytest.raises(ValueError):
        decode_yolo(np.zeros(shape, np.float32), head)


def test_class_nms_only_within_a_class():
    box = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    assert class_nms(box, [0.9, 0.8, 0.7], [0, 0, 1], 0.5).tolist() == [0, 2]
    assert class_nms(box[:0], [], [], 0.5).tolist() == []


# --- small Keras models exported to TFLite in each layout, run through the runtime -------------------------------
SIZE = 64  # input 64x64: 8x8 + 4x4 + 2x2 = 84 candidates (v8), 3 x 84 = 252 (v5), as Ultralytics lays them out


def _candidates(head: YoloHead) -> int:
    from edgesdk.bundle._decoders import yolo_candidates

    return yolo_candidates(SIZE, SIZE) * (3 if head is YoloHead.V5 else 1)


def _keras_yolo(head: YoloHead):
    """A tiny conv net whose output is (almost) the fixed tensor layout(rows(N)): the Dense layer's bias holds
    it and its small kernel makes it depend a little on the image, as a real head does."""
    from edgesdk.converters import import_tf_keras

    k = import_tf_keras()
    target = layout(rows(_candidates(head)), head)[0]
    inp = k.Input((SIZE, SIZE, 3))
    x = k.layers.Conv2D(4, 3, strides=4, activation="relu")(inp)
    x = k.layers.GlobalAveragePooling2D()(x)
    dense = k.layers.Dense(target.size)
    out = k.layers.Reshape(target.shape)(dense(x))
    model = k.Model(inp, out)
    kernel = np.random.default_rng(1).normal(0, 1e-4, dense.kernel.shape).astype(np.float32)
    dense.set_weights([kernel, target.reshape(-1)])
    return model


@pytest.fixture(scope="module")
def yolo_tflites(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from edgesdk.converters import LoadedModel, convert_tflite

    folder = tmp_path_factory.mktemp("yolo")
    calib = np.random.default_rng(0).uniform(0, 1, (8, SIZE, SIZE, 3)).astype(np.float32)
    paths = {}
    for head in YoloHead:
        loaded = LoadedModel(_keras_yolo(head), "tf_keras", head.value)
        for mode, io in (("none", "float"), ("int8", "int8"), ("int8", "uint8")):
            res = convert_tflite(loaded, mode, calib=calib if mode == "int8" else None, io=io)
            p = folder / f"{head.value}-{io}.tflite"
            p.write_bytes(res.tflite)
            paths[head, io] = p
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("head", list(YoloHead))
@pytest.mark.parametrize("io", ["float", "int8", "uint8"])
def test_exported_models_through_the_runtime(yolo_tflites, head, io, tmp_path):
    """The bare .tflite is recognised once (decoder, [0, 1] letterboxed input) and ``detect`` decodes it; a
    bundle made from it says the same in its manifest."""
    from edgesdk.bundle import make_bundle
    from edgesdk.runtime import load

    model = load(yolo_tflites[head, io], threads=1)
    assert model.output_spec.decoder == head.value and model.output_spec.params["classes"] == C
    assert model.input_spec.resize == "letterbox" and model.input_spec.range == (0.0, 1.0)
    assert model.outputs[0].dtype == np.dtype(np.float32 if io == "float" else io)
    tol = 1e-3 if io == "float" else 3 * max(model.outputs[0].scale, 1 / 255)
    # a 128x96 photo: letterboxed into 64x64 (scale 0.5, 8 px bars top and bottom); boxes come back in its pixels
    image = np.full((96, 128, 3), 128, np.uint8)
    det = model.detect(image, threshold=0.25)
    want = (expected_xyxy(SIZE, SIZE) - [0, 8, 0, 8]) / 0.5
    np.testing.assert_allclose(det.xyxy, np.clip(want, 0, [128, 96, 128, 96]), atol=tol * SIZE / 0.5)
    assert det.class_id.tolist() == [TRUTH[i][1] for i in EXPECTED]
    bundle = make_bundle(yolo_tflites[head, io], tmp_path / "b")
    assert bundle.manifest.task == "detect" and bundle.manifest.output.decoder == head.value
    assert bundle.manifest.input.resize == "letterbox"
    assert len(load(bundle, threads=1).detect(image, threshold=0.25)) == len(EXPECTED)


def _greedy_nms(xyxy, score, thr):
    """Textbook greedy NMS, one IoU row per kept box: the reference for the vectorised ``nms``."""
    from edgesdk.runtime.faces import iou_matrix

    order = np.argsort(-np.asarray(score, np.float32), kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        order = order[1:][iou_matrix(xyxy[i:i + 1], xyxy[order[1:]])[0] <= thr] if order.size > 1 else order[1:]
    return np.asarray(keep, np.int64)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 60, 256, 400])
def test_nms_matches_the_greedy_reference(n):
    from edgesdk.runtime.faces import nms

    rng = np.random.default_rng(n)
    for _ in range(10):
        c = rng.uniform(0, 100, (n, 2))
        b = np.concatenate([c, c + rng.uniform(5, 40, (n, 2))], axis=1).astype(np.float32)
        s = rng.uniform(0, 1, n).astype(np.float32)
        if n > 3:
            s[1] = s[0]  # ties keep their order
        assert nms(b, s, 0.3).tolist() == _greedy_nms(b, s, 0.3).tolist()
