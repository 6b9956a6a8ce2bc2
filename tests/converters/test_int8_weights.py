"""Weight preparation before int8 conversion: sequential (GPTQ-style) and AdaRound rounding on the converter's
grid, cross-layer equalization. Real TFLite conversion of a tiny net; levels read back from the flatbuffer."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.converters._adaround import _round_layer, int8_grid
from edgesdk.converters._gptq import gptq_levels


def _problem(seed: int = 0, k: int = 48, o: int = 12, n: int = 400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)) @ rng.normal(size=(k, k)) * 0.3 + rng.normal(size=k)  # correlated inputs, non-zero mean
    w = rng.normal(size=(k, o)) * rng.uniform(0.01, 1.0, size=o)
    m, s = int8_grid(w.reshape(1, 1, k, o), depthwise=False)
    return m, s, x.T @ x


def _err(q, m, s, g):
    d = q - m / s
    return float(np.sum(d * (g @ d)))


def test_sequential_rounding_beats_nearest_and_keeps_the_scale():
    m, s, g = _problem()
    q, rel = gptq_levels(m, s, g, depthwise=False)
    near = np.round(m / s)
    assert np.all(q == np.round(q)) and np.abs(q).max() <= 127
    assert np.all(np.abs(q).max(axis=0) == 127)  # every column's max-magnitude weight stays at +-127: same scale
    assert rel < 0.8 and _err(q, m, s, g) < 0.8 * _err(near, m, s, g)


def test_adaround_is_never_worse_than_nearest():
    m, s, g = _problem(1)
    q, _, rel = _round_layer(m, s, np.ones(m.shape[1]), g, False, iters=150, lr=0.1, lam=0.1)
    near = np.round(m / s)
    assert np.all(np.abs(q - m / s) < 1.0)  # up or down only
    assert np.all(np.abs(q).max(axis=0) == 127)
    assert rel <= 1.0 and _err(q, m, s, g) <= _err(near, m, s, g) + 1e-9


def test_depthwise_sequential_rounding_per_channel():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 9, 8)) + 0.5
    g = np.einsum("pkc,plc->ckl", x, x)
    m, s = int8_grid(rng.normal(size=(3, 3, 8, 1)), depthwise=True)
    q, rel = gptq_levels(m, s, g, depthwise=True)
    assert q.shape == (9, 8) and rel < 1.0


def _tiny_with_stats():
    from _tiny import tiny_net

    model = tiny_net()
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            c = layer.gamma.shape[0]
            layer.set_weights([rng.choice([-1, 1], c) * rng.uniform(0.2, 3.0, c), rng.normal(0, 0.5, c),
                               rng.normal(0, 0.3, c), rng.uniform(0.01, 4.0, c)])
    calib = rng.uniform(-1, 1, size=(24, 32, 32, 3)).astype(np.float32)
    return model, calib


def _tflite_levels(tflite: bytes) -> dict[tuple, np.ndarray]:
    """int8 per-channel weight tensors of a TFLite flatbuffer by shape."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    out = {}
    for t in model.subgraphs[0].tensors:
        q = t.quantization
        data = model.buffers[t.buffer].data
        if t.type == 9 and q is not None and q.scale is not None and len(q.scale) > 1 and data is not None:
            out[tuple(t.shape)] = np.frombuffer(bytes(data), np.int8).reshape(t.shape)
    return out


def test_converter_reproduces_the_chosen_levels():
    """The converter folds the BN into the kernel and rounds per channel again: an on-grid kernel stays put."""
    from edgesdk.converters import LoadedModel, convert_tflite
    from edgesdk.converters._gptq import gptq_round

    model, calib = _tiny_with_stats()
    rounded, info = gptq_round(model, calib, images=24)
    assert info["layers"] == 4 and info["median_relative_error"] < 1.0
    tfl = convert_tflite(LoadedModel(rounded, "tf_keras", "tiny"), "int8", calib=calib).tflite
    levels = _tflite_levels(tfl)
    changed = 0
    for name in ("conv1", "conv2", "dw3", "conv4"):
        layer = rounded.get_layer(name)
        dw = name.startswith("dw")
        m, s = int8_grid(layer.get_weights()[0], dw)
        q = m / s
        assert np.abs(q - np.round(q)).max() < 1e-3  # on the grid
        kh, kw = layer.kernel_size
        want = np.round(q).T.reshape(-1, kh, kw, q.shape[1] if dw else layer.get_weights()[0].shape[2])
        if dw:
            want = np.round(q).reshape(1, kh, kw, q.shape[1])
        bn = rounded.get_layer(name.replace("conv", "bn").replace("dw", "bn"))
        sign = np.sign(bn.gamma.numpy())  # the fold multiplies by gamma / sqrt(var + eps): a negative gamma flips
        got = levels[tuple(want.shape)].astype(np.float64)
        np.testing.assert_array_equal(got, want * sign.reshape((-1, 1, 1, 1) if not dw else (1, 1, 1, -1)))
        m0, s0 = int8_grid(model.get_layer(name).get_weights()[0], dw)
        changed += int(np.sum(np.round(q) != np.round(m0 / s0)))
    assert changed > 0  # the rounding did choose something other than nearest


def test_equalization_keeps_the_float_model_and_evens_ranges():
    from edgesdk.converters._equalize import _in_range, _out_range, equalize, find_pairs

    model, calib = _tiny_with_stats()
    pairs = find_pairs(model)
    assert [(p.first.name, p.second.name) for p in pairs] == [("conv1", "conv2"), ("conv2", "dw3"), ("dw3", "conv4")]
    eq, info = equalize(model, calib)
    assert info["pairs"] == 3 and info["channels_rescaled"] > 0
    np.testing.assert_allclose(eq.predict(calib, verbose=0), model.predict(calib, verbose=0), atol=1e-5)
    relu, info_r = equalize(model, replace_relu6=True)
    assert info_r["relu6_replaced"] == 3
    first, second = relu.get_layer("conv1"), relu.get_layer("conv2")
    r1, r2 = _out_range(first, relu.get_layer("bn1")), _in_range(second, None)
    np.testing.assert_allclose(r1, r2, rtol=0.05)  # free scales: both ranges meet (after the sweeps)


def test_unknown_rounding_is_refused():
    from edgesdk.converters import ConvertOptions
    from edgesdk.errors import InputError

    with pytest.raises(InputError, match="rounding must be one of"):
        ConvertOptions(rounding="stochastic", calib_data="x").check()


def test_balance_scale_is_the_one_equalization_factor():
    """Both equalizations (Keras layers, a replayed .tflite) take s = sqrt(r1 / r2), 1 where a range is empty."""
    from edgesdk.converters._equalize import balance_scale

    s = balance_scale(np.array([4.0, 0.0, 1.0, 9.0]), np.array([1.0, 2.0, 0.0, 1.0]))
    assert np.allclose(s, [2.0, 1.0, 1.0, 3.0])
    assert np.allclose(balance_scale(np.array([1e-7, 4.0]), np.array([1.0, 1.0]), eps=1e-6), [1.0, 2.0])
