"""QAT starts faithful: activation ranges set from data (tfmot starts them at [-6, 6]) and depthwise kernels
fake-quantized per channel (tfmot gives a (kh, kw, C, 1) kernel one range), on a small net whose linear bottleneck
reaches ~40 and whose depthwise channels differ by 1000x, like a pretrained MobileNetV2's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow_model_optimization")


def _net():
    from edgesdk.converters import import_tf_keras

    k = import_tf_keras()
    L = k.layers
    inp = k.Input((24, 24, 3))
    x = L.Conv2D(16, 3, padding="same", name="c1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(6.0, name="r1")(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = L.BatchNormalization(name="bn_dw")(x)
    x = L.ReLU(6.0, name="r_dw")(x)
    x = L.Conv2D(32, 1, use_bias=False, name="project")(x)
    x = L.BatchNormalization(name="bn_project")(x)  # linear bottleneck: no activation
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(10, name="logits")(x)
    m = k.Model(inp, out)
    rng = np.random.default_rng(0)
    dw = m.get_layer("dw")
    w = dw.get_weights()[0]
    dw.set_weights([w * (10.0 ** -(np.arange(16) / 5.0))[None, None, :, None]])  # channel scales 1 .. 1e-3
    bn = m.get_layer("bn_dw")
    g, b, mean, var = bn.get_weights()
    bn.set_weights([g, b, mean, (var * (10.0 ** -(np.arange(16) / 2.5))).astype(np.float32)])  # undo it
    bnp = m.get_layer("bn_project")
    g, b, mean, var = bnp.get_weights()
    bnp.set_weights([g * 40.0, b, mean, var])  # outputs far beyond tfmot's initial [-6, 6]
    x = rng.uniform(-1, 1, (64, 24, 24, 3)).astype(np.float32)
    return m, x


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).mean() / (np.abs(np.asarray(b)).mean() + 1e-9))


def _inner(k, model, name):
    return k.Model(model.inputs, model.get_layer(name).output)


@pytest.mark.slow
def test_qat_ranges_and_depthwise_channels_follow_the_float_model():
    from edgesdk.converters import import_tf_keras, import_tfmot
    from edgesdk.converters import init_ranges, prepare_for_qat

    k, tfmot = import_tf_keras(), import_tfmot()
    m, x = _net()
    ref = np.asarray(m(x, training=False))
    prepare_for_qat(m)
    q = tfmot.quantization.keras.quantize_model(m)
    dw = q.get_layer("quant_dw")
    ranges = [v for v in dw.weights if v.name.endswith(("_min:0", "_max:0")) and "depthwise_kernel" in v.name]
    assert ranges and all(tuple(v.shape) == (16,) for v in ranges), [(v.name, v.shape) for v in ranges]
    before = _rel(q(x, training=False), ref)  # tfmot's own start: ranges [-6, 6]
    updates = init_ranges(q, [x[:32], x[32:]])
    after = _rel(q(x, training=False), ref)
    assert updates > 0
    assert before > 0.3, before
    assert after < 0.05, after
    # the per-channel depthwise: its block's output follows the float net's (per-tensor loses the small channels)
    fq = np.asarray(_inner(k, q, "quant_r_dw")(x, training=False))
    ff = np.asarray(_inner(k, m, "r_dw")(x, training=False))
    small = slice(8, 16)
    assert _rel(fq[..., small], ff[..., small]) < 0.1


def _net_with_dead_channels():
    """Conv -> BN -> ReLU6 whose first 4 output channels have only zero weights (as pruning leaves them) but a
    batch-norm shift of 3: those channels output the constant 3, which the int8 model must keep."""
    from edgesdk.converters import import_tf_keras

    k = import_tf_keras()
    L = k.layers
    inp = k.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="c1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(6.0, name="r1")(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(4, name="logits")(x)
    m = k.Model(inp, out)
    c1 = m.get_layer("c1")
    w = c1.get_weights()[0]
    w[..., :4] = 0.0
    c1.set_weights([w])
    bn = m.get_layer("bn1")
    g, b, mean, var = bn.get_weights()
    bn.set_weights([g, np.full_like(b, 3.0), mean, var])
    dense = m.get_layer("logits")
    kw, kb = dense.get_weights()
    kw[:4] = 1.0  # the logits lean on the constant channels
    dense.set_weights([kw, kb])
    x = np.random.default_rng(1).uniform(-1, 1, (32, 16, 16, 3)).astype(np.float32)
    return m, x


@pytest.mark.slow
def test_all_zero_weight_channels_keep_their_bias_in_the_int8_file():
    from ai_edge_litert.interpreter import Interpreter
    from edgesdk.converters import LoadedModel
    from edgesdk.converters._qat import (
        floor_weight_ranges,
        init_ranges,
        quantization_aware,
    )
    from edgesdk.converters import convert_tflite

    m, x = _net_with_dead_channels()
    q = quantization_aware(m)
    init_ranges(q, [x[:16], x[16:]])
    ref = np.asarray(q(x, training=False))
    c1 = q.get_layer("quant_c1")
    lo = next(v for v in c1.weights if v.name.endswith("kernel_min:0"))
    assert np.all(lo.numpy()[:4] == 0.0)  # tfmot's range of an all-zero channel: [0, 0]
    res = convert_tflite(LoadedModel(q, "tf_keras", "test"), "int8", calib=x, io="float")  # floors the ranges
    assert np.all(lo.numpy()[:4] < 0.0) and floor_weight_ranges(q) == 0  # widened once, idempotent
    assert _rel(q(x, training=False), ref) < 1e-6  # zero weights: the Keras model is unchanged
    it = Interpreter(model_content=res.tflite)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for xi in x:
        it.set_tensor(i, xi[None])
        it.invoke()
        out.append(it.get_tensor(o)[0])
    assert _rel(out, ref) < 0.05, _rel(out, ref)  # without the floor: the 4 channels' biases saturate int32


@pytest.mark.slow
def test_qat_trains_the_weights_with_batch_norms_frozen():
    from edgesdk.converters import import_tf_keras
    from edgesdk.converters import quantization_aware

    k = import_tf_keras()
    m, x = _net()
    for layer in m.layers:
        layer.trainable = False  # as a fine-tuned trunk may come
    q = quantization_aware(m)
    inner = [getattr(la, "layer", la) for la in q.layers]
    bns = [b for b in inner if type(b).__name__.startswith("BatchNormalization")]
    assert bns and not any(b.trainable for b in bns)
    before = {b.name: np.array(b.moving_mean) for b in bns}
    kernel = np.array(q.get_layer("quant_project").weights[0])
    q.compile(optimizer=k.optimizers.SGD(0.1), loss=k.losses.SparseCategoricalCrossentropy(from_logits=True))
    q.fit(x, np.arange(len(x)) % 10, batch_size=32, epochs=1, verbose=0)
    assert not np.allclose(np.array(q.get_layer("quant_project").weights[0]), kernel)  # the convs learn
    for b in bns:  # the batch norms keep their statistics (inference mode)
        assert np.array_equal(np.array(b.moving_mean), before[b.name]), b.name
