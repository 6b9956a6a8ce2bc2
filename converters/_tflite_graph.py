"""A float ``.tflite`` rebuilt as a TensorFlow function, so the TFLite converter can quantize it (full integer).

MediaPipe's models (BlazeFace, the pose detector, the selfie segmenters) ship as float flatbuffers without a
Keras source and without a signature. This module reads the flatbuffer (``edgesdk.tflite``), takes the float
weights from the interpreter (float16 weights behind DEQUANTIZE and sparse ones behind DENSIFY are decoded by
TFLite itself) and replays the operators with TensorFlow ops. The result is a batch-1, static-shape
``tf.function`` that computes the same outputs (checked by :func:`check_rebuild`), which the converter then
turns into an int8 model like any Keras model.

Only the operators these models use are replayed (:data:`SUPPORTED`); any other raises a ModelError naming the
operator and its index.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError

log = logging.getLogger(__name__)

__all__ = ["SUPPORTED", "RebuiltGraph", "check_rebuild", "clip_heads", "custom_options", "read_weights", "rebuild_tflite", "run_ops"]

_WEIGHT_OPS = ("DEQUANTIZE", "DENSIFY")  # constant-in, constant-out: folded into the weights
SUPPORTED = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "FULLY_CONNECTED",
    "HARD_SWISH", "SOFTMAX",
    "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "PADV2", "RELU", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "SUB", "TANH", "Convolution2DTransposeBias", *_WEIGHT_OPS,
})
_QUANT_DTYPES = ("INT8", "UINT8", "INT16")


@dataclass
class RebuiltGraph:
    """The replayed model: ``fn`` maps a (1, h, w, c) float32 tensor to the model's outputs (a tuple, in the
    flatbuffer's output order). ``input_shape`` (1, h, w, c); ``output_names`` the flatbuffer's output names."""

    fn: object
    input_shape: tuple[int, ...]
    output_names: tuple[str, ...]
    op_counts: dict


def _act(tf, x, name: str):
    if name in (None, "NONE"):
        return x
    if name == "RELU":
        return tf.nn.relu(x)
    if name == "RELU6":
        return tf.nn.relu6(x)
    if name == "RELU_N1_TO_1":
        return tf.clip_by_value(x, -1.0, 1.0)
    if name == "TANH":
        return tf.tanh(x)
    raise ModelError(f"fused activation {name} is not supported by the .tflite quantizer")


def _pad_name(opts) -> str:
    return "SAME" if opts.get("padding") == "SAME" else "VALID"


def _raw_constants(path: Path, info) -> dict[int, np.ndarray]:
    """Every constant tensor of the main graph, decoded from its buffer (shape and dtype from the tensor)."""
    from ..tflite import load_schema
    from ..tflite import numpy_dtype

    s = load_schema()
    data = path.read_bytes()
    get_root = getattr(s.Model, "GetRootAs", None) or s.Model.GetRootAsModel
    model = get_root(data, 0)
    out = {}
    for t in info.main.tensors:
        dt = numpy_dtype(t.dtype)
        if not t.is_constant or dt is None:
            continue
        raw = model.Buffers(t.buffer).DataAsNumpy()
        arr = np.frombuffer(raw.tobytes(), dtype=np.dtype(dt).newbyteorder("<")).copy()
        out[t.index] = arr.reshape(t.shape) if arr.size == t.size else arr  # sparse (DENSIFY input): kept flat
    return out


def _dequantized(t, q: np.ndarray) -> np.ndarray:
    if q.dtype == np.float16:
        return q.astype(np.float32)
    qp = t.quantization
    if qp is None:
        return q.astype(np.float32)
    shape = [1] * q.ndim
    if len(qp.scale) > 1:
        shape[qp.quantized_dimension] = -1
    scale = np.asarray(qp.scale, np.float32).reshape(shape)
    zp = np.asarray(qp.zero_point if len(qp.zero_point) else [0], np.float32).reshape(shape if len(qp.zero_point) > 1 else [1] * q.ndim)
    return (q.astype(np.float32) - zp) * scale


def _interpreter_values(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """Values the TFLite kernels compute from constants (DENSIFY of sparse weights), read after one invoke."""
    from ._env import import_tf

    tf = import_tf()
    # without the default delegate: XNNPACK would take such weights itself and leave the outputs unset
    it = tf.lite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True, num_threads=1,
                             experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    return {i: np.array(it.get_tensor(i)) for i in indices}


def read_weights(path: str | Path, info) -> dict[int, np.ndarray]:
    """Float values of every constant tensor and of every DEQUANTIZE/DENSIFY output of a constant."""
    g, path = info.main, Path(path)
    vals = _raw_constants(path, info)
    weight_ops = [op for op in g.operators if op.opcode in _WEIGHT_OPS]
    if any(op.opcode == "DENSIFY" for op in weight_ops):  # sparse weights: TFLite's own kernels decode them
        const = set(vals)
        outs = []
        for op in weight_ops:
            if all(i in const for i in op.inputs if i >= 0):
                const.add(op.outputs[0])
                outs.append(op.outputs[0])
        vals.update(_interpreter_values(path, outs))
    else:
        for op in weight_ops:
            if all(i in vals for i in op.inputs if i >= 0):
                vals[op.outputs[0]] = _dequantized(g.tensors[op.inputs[0]], vals[op.inputs[0]])
    return {i: (v.astype(np.float32) if v.dtype == np.float16 else v) for i, v in vals.items()}


def check_float_model(info, name: str) -> None:
    g = info.main
    if len(info.subgraphs) > 1:
        raise ModelError(f"{name} has {len(info.subgraphs)} subgraphs; the .tflite quantizer takes single-graph models")
    for t in info.inputs:
        if t.is_dynamic:
            raise InputError(f"{name} has a dynamic input shape {list(t.shape_signature)}: the .tflite quantizer "
                             "needs fixed shapes (export the model with a fixed input size)")
        if t.shape and t.shape[0] != 1:
            raise InputError(f"{name} has batch {t.shape[0]}: the .tflite quantizer needs batch 1")
    if len(info.inputs) != 1 or len(info.inputs[0].shape) != 4:
        raise InputError(f"{name} has inputs {[list(t.shape) for t in info.inputs]}: one image input (1, h, w, c) is needed")
    quant = [op for op in g.operators if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
             and g.tensors[op.inputs[0]].dtype in _QUANT_DTYPES]
    if quant or info.inputs[0].dtype in _QUANT_DTYPES:
        raise InputError(f"{name} is already quantized ({info.inputs[0].dtype} input, integer activations): "
                         "nothing to quantize; use it as it is (edgesdk compile for the Edge TPU)")
    for op in g.operators:
        if op.opcode not in SUPPORTED:
            raise ModelError(f"{name}: operator {op.index} ({op.opcode}) is not supported by the .tflite quantizer "
                             f"(it replays {', '.join(sorted(SUPPORTED - set(_WEIGHT_OPS)))})")


def _heads(g, output: int) -> set[int]:
    """Indices of the CONV_2D ops whose results reach model output ``output`` (its position) only through
    RESHAPE / CONCATENATION."""
    producer = {o: op for op in g.operators for o in op.outputs}
    heads: set[int] = set()
    todo = [g.outputs[output]]
    while todo:
        op = producer.get(todo.pop())
        if op is None:
            continue
        if op.opcode == "CONV_2D" and op.options.get("fused_activation_function", "NONE") == "NONE":
            heads.add(op.index)
        elif op.opcode in ("RESHAPE", "CONCATENATION"):
            todo.extend(i for i in (op.inputs if op.opcode == "CONCATENATION" else op.inputs[:1]) if i >= 0)
    return heads


def rebuild_tflite(path: str | Path, clip_outputs: dict[int, float] | None = None,
                   weights: dict[int, np.ndarray] | None = None) -> RebuiltGraph:
    """Read the float ``.tflite`` at ``path`` and return it as a TensorFlow function.

    clip_outputs: {output position: c}: the convolutions producing that output are clipped to [-c, c], written
    so that the converter fuses the clip into them (weights / c, fused RELU_N1_TO_1, then x c). int8 then spends
    its 256 steps on [-c, c] instead of the calibration's extremes: for BlazeFace's score logits (seen from -385
    to 394) a step of 0.125 instead of 3, where the decoder only needs the logits near its threshold
    (sigmoid(+-16) is 0 or 1 to 7 digits).

    weights: the float constants to use instead of the file's (tensor index -> array, as :func:`read_weights`
    gives them; e.g. equalized by ``_tflite_equalize``).

    Raises InputError for an already-quantized model or a dynamic/batched input, ModelError for an operator
    the replay does not know (naming it and its index) or a file that is not TFLite."""
    from ..tflite import read_model
    from ._env import import_tf

    path = Path(path)
    info = read_model(path)
    check_float_model(info, path.name)
    tf = import_tf()
    g = info.main
    vals = read_weights(path, info) if weights is None else weights
    consts = {i: tf.constant(v.astype(np.float32) if v.dtype == np.float16 else v) for i, v in vals.items()}
    in_t = info.inputs[0]
    custom = custom_options(path, g)
    clip = clip_heads(g, clip_outputs)

    def replay(x):
        vals = run_ops(tf, g, {**consts, in_t.index: x}, clip, custom, path.name)
        return tuple(vals[i] for i in g.outputs)

    spec = tf.TensorSpec(list(in_t.shape), tf.float32, name="input")
    fn = tf.function(replay).get_concrete_function(spec)
    names = tuple(g.tensors[i].name for i in g.outputs)
    return RebuiltGraph(fn, tuple(in_t.shape), names, dict(info.op_counts))


def custom_options(path: Path, g) -> dict[int, bytes]:
    """{op index: custom options} of the custom operators of subgraph ``g`` of the model at ``path`` (one read of
    the file, only when there are any)."""
    custom = [op.index for op in g.operators if op.is_custom]
    if not custom:
        return {}
    from ..tflite import load_schema

    s = load_schema()
    get_root = getattr(s.Model, "GetRootAs", None) or s.Model.GetRootAsModel
    graph = get_root(Path(path).read_bytes(), 0).Subgraphs(0)
    ops = {i: graph.Operators(i) for i in custom}
    return {i: op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b"" for i, op in ops.items()}


def clip_heads(g, clip_outputs: dict[int, float] | None) -> dict[int, float]:
    """{op index: c} of the convolutions to clip, for ``clip_outputs`` ({output position: c})."""
    return {h: c for pos, c in (clip_outputs or {}).items() for h in _heads(g, pos)}


def run_ops(tf, g, vals: dict, clip: dict[int, float], custom: dict[int, bytes], name: str, after=None) -> dict:
    """Run the operators of subgraph ``g`` on ``vals`` (tensor index -> tensor: the constants and the input, any
    batch size), returning every tensor. ``clip``: :func:`clip_heads`; ``custom``: op index -> custom options;
    ``after(op, y) -> y``, when given, sees (and may replace) each operator's result, e.g. to simulate its
    quantization."""
    vals = dict(vals)
    for op in g.operators:
        if op.opcode in _WEIGHT_OPS and op.outputs[0] in vals:
            continue
        try:
            if op.index in clip:
                y = _clipped_conv(tf, op, vals, clip[op.index])
            else:
                y = _apply(tf, op, g, vals, custom.get(op.index, b""))
        except (ModelError, InputError):
            raise
        except Exception as exc:  # noqa: BLE001 - one line naming the op
            raise ModelError(f"{name}: operator {op.index} ({op.opcode}) could not be replayed: "
                             f"{str(exc).splitlines()[0][:200]}") from None
        vals[op.outputs[0]] = after(op, y) if after is not None else y
    return vals


def _clipped_conv(tf, op, vals, c: float):
    """CONV_2D clipped to [-c, c]: conv(x, w / c) + b / c, clipped to [-1, 1] (fused as RELU_N1_TO_1), times c."""
    o = op.options
    w = tf.transpose(vals[op.inputs[1]], (1, 2, 3, 0)) / c
    y = tf.nn.conv2d(vals[op.inputs[0]], w, strides=[1, o["stride_h"], o["stride_w"], 1], padding=_pad_name(o))
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        y = y + vals[op.inputs[2]] / c
    return tf.minimum(tf.maximum(y, -1.0), 1.0) * c


def _any_batch(shape: list[int]) -> list[int]:
    """``shape`` with its batch of 1 left to the input (the replay also runs on batches: ``run_ops``)."""
    return [-1, *shape[1:]] if shape and shape[0] == 1 else shape


def _apply(tf, op, g, vals, custom: bytes):
    o = op.options
    x = vals[op.inputs[0]]
    out_shape = list(g.tensors[op.outputs[0]].shape)
    k = op.opcode
    if k == "CONV_2D":
        w = tf.transpose(vals[op.inputs[1]], (1, 2, 3, 0))  # OHWI -> HWIO
        y = tf.nn.conv2d(x, w, strides=[1, o["stride_h"], o["stride_w"], 1], padding=_pad_name(o),
                         dilations=[1, o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1), 1])
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            y = y + vals[op.inputs[2]]
        return _act(tf, y, o.get("fused_activation_function"))
    if k == "DEPTHWISE_CONV_2D":
        w = vals[op.inputs[1]]  # (1, H, W, C*M)
        c = int(x.shape[-1])
        w = tf.reshape(w, (int(w.shape[1]), int(w.shape[2]), c, int(w.shape[3]) // c))
        y = tf.nn.depthwise_conv2d(x, w, strides=[1, o["stride_h"], o["stride_w"], 1], padding=_pad_name(o),
                                   dilations=[o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)])
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            y = y + vals[op.inputs[2]]
        return _act(tf, y, o.get("fused_activation_function"))
    if k == "Convolution2DTransposeBias":
        padding, sw, sh = struct.unpack("<iii", custom[:12])  # TfLiteTransposeConvParams
        w = tf.transpose(vals[op.inputs[1]], (1, 2, 0, 3))  # OHWI -> HWOI
        shape = tf.concat([tf.shape(x)[:1], tf.constant(out_shape[1:], tf.int32)], 0)  # any batch
        y = tf.nn.conv2d_transpose(x, w, shape, strides=[1, sh, sw, 1], padding="SAME" if padding == 1 else "VALID")
        return y + vals[op.inputs[2]]
    if k == "FULLY_CONNECTED":
        w = vals[op.inputs[1]]  # (out, in)
        y = tf.matmul(tf.reshape(x, (-1, int(w.shape[1]))), w, transpose_b=True)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            y = y + vals[op.inputs[2]]
        return tf.reshape(_act(tf, y, o.get("fused_activation_function")), _any_batch(out_shape))
    if k == "SOFTMAX":
        return tf.nn.softmax(x * float(o.get("beta", 1.0)))
    if k in ("ADD", "MUL", "SUB"):
        b = vals[op.inputs[1]]
        y = {"ADD": tf.add, "MUL": tf.multiply, "SUB": tf.subtract}[k](x, b)
        return _act(tf, y, o.get("fused_activation_function"))
    if k == "RELU":
        return tf.nn.relu(x)
    if k == "RELU6":
        return tf.nn.relu6(x)
    if k == "TANH":
        return tf.tanh(x)
    if k == "LOGISTIC":
        return tf.sigmoid(x)
    if k == "HARD_SWISH":
        return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)
    if k in ("PAD", "PADV2"):
        value = vals[op.inputs[2]] if k == "PADV2" and len(op.inputs) > 2 else 0.0
        return tf.pad(x, tf.cast(vals[op.inputs[1]], tf.int32), constant_values=value)
    if k in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        pool = tf.nn.max_pool2d if k == "MAX_POOL_2D" else tf.nn.avg_pool2d
        y = pool(x, ksize=[o["filter_height"], o["filter_width"]], strides=[o["stride_h"], o["stride_w"]],
                 padding=_pad_name(o))
        return _act(tf, y, o.get("fused_activation_function"))
    if k == "RESHAPE":
        return tf.reshape(x, _any_batch(out_shape))
    if k == "CONCATENATION":
        y = tf.concat([vals[i] for i in op.inputs], axis=o["axis"])
        return _act(tf, y, o.get("fused_activation_function"))
    if k == "RESIZE_BILINEAR":
        return tf.compat.v1.image.resize_bilinear(x, out_shape[1:3], align_corners=bool(o.get("align_corners")),
                                                  half_pixel_centers=bool(o.get("half_pixel_centers")))
    if k == "RESIZE_NEAREST_NEIGHBOR":
        return tf.compat.v1.image.resize_nearest_neighbor(x, out_shape[1:3], align_corners=bool(o.get("align_corners")),
                                                          half_pixel_centers=bool(o.get("half_pixel_centers")))
    if k == "DEPTH_TO_SPACE":
        return tf.nn.depth_to_space(x, o["block_size"])
    if k == "MEAN":
        axes = [int(a) for a in np.ravel(vals[op.inputs[1]].numpy())]
        return tf.reduce_mean(x, axis=axes, keepdims=bool(o.get("keep_dims")))
    raise ModelError(f"operator {op.index} ({k}) is not supported by the .tflite quantizer")


def check_rebuild(path: str | Path, graph: RebuiltGraph, images: np.ndarray,
                  clip_outputs: dict[int, float] | None = None) -> float:
    """Largest absolute difference between the original model's outputs (clipped as ``clip_outputs``) and the
    replay's on ``images`` ((n, h, w, c) float32, preprocessed); the replay is trusted only when this is tiny."""
    from ._env import import_tf

    tf = import_tf()
    it = tf.lite.Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    ins, outs = it.get_input_details()[0], it.get_output_details()
    worst = 0.0
    for img in images:
        it.set_tensor(ins["index"], img[None].astype(np.float32))
        it.invoke()
        ref = [it.get_tensor(d["index"]) for d in outs]
        got = graph.fn(tf.constant(img[None], tf.float32))  # type: ignore[operator]
        for k, (r, y) in enumerate(zip(ref, got)):
            if clip_outputs and k in clip_outputs:
                r = np.clip(r, -clip_outputs[k], clip_outputs[k])
            worst = max(worst, float(np.max(np.abs(r - y.numpy()))))
    return worst
