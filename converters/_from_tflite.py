"""``edgesdk convert MODEL.tflite --quantize int8``: a float TFLite model (no Keras source) -> full-integer bundle.

Steps: read and replay the flatbuffer in TensorFlow (``_tflite_graph``), check the replay against the original,
build calibration inputs the way the device feeds the model (the whole image as the model's resize policy has
it, plus crops of it at the scales of the face tiles, so a few photos give a few hundred different inputs),
round the convolution kernels by GPTQ on their int8 grid (``_tflite_gptq``, unless --rounding nearest),
quantize with the TFLite converter (int8, or uint8 I/O with --edgetpu), predict the Edge TPU mapping (compile
where ``edgetpu_compiler`` exists) and write a bundle whose manifest keeps the model decodable: task, decoder
and anchor options for the MediaPipe models this knows (``_known_tflite``).
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..bundle import InputSpec, OutputSpec
from ..errors import InputError
from ..runtime import fit_image, model_pixels, normalize, read_image
from ._compile import predict_mapping
from ._data import ImageSet, sample, scan_images
from ._known_tflite import KnownModel, identify
from ._report import mapping_summary, op_total
from ._strategies import Calibration, MinMax

if TYPE_CHECKING:
    from ..tflite import ModelInfo

log = logging.getLogger(__name__)

__all__ = ["MIN_CALIB_IMAGES", "FloatTfliteInput", "calibration_inputs", "check_float_tflite", "input_coverage",
           "quantize_float_tflite"]

MIN_CALIB_IMAGES = 4  # distinct photos; each gives several crops
REPLAY_TOLERANCE = 5e-2  # largest |float replay - original| accepted: outputs are logits up to ~100 and the
# summation order differs (measured: 6e-5 to 4e-3 on the five MediaPipe models)
COVERAGE_WARN = 0.5  # calibration inputs spanning less of the input range than this: warn


def calibration_inputs(paths: list[Path], size: tuple[int, int], spec: InputSpec, count: int,
                       seed: int = 0) -> np.ndarray:
    """``count`` float32 inputs (count, h, w, 3): each image whole (resized per ``spec``), then random crops of
    the model's aspect ratio, 1 to 4 times the model input, as the tiled face detector feeds the model."""
    import cv2

    h, w = size
    rng = np.random.default_rng(seed)
    images = [read_image(p) for p in paths]
    out = np.empty((count, h, w, 3), np.float32)
    for i in range(count):
        img = images[i % len(images)]
        if i < len(images):
            x = model_pixels(img, (w, h), spec)
        else:
            ih, iw = img.shape[:2]
            f = min(iw / w, ih / h)
            s = rng.uniform(min(1.0, f), max(1.0, min(4.0, f)))
            cw, ch = max(1, int(w * s)), max(1, int(h * s))
            x0, y0 = int(rng.integers(0, max(1, iw - cw + 1))), int(rng.integers(0, max(1, ih - ch + 1)))
            x = fit_image(img[y0:y0 + ch, x0:x0 + cw], (w, h), "stretch")[0]
            if spec.color == "RGB":
                x = cv2.cvtColor(x, cv2.COLOR_BGR2RGB)
        out[i] = normalize(x, spec)
    return out


def input_coverage(calib: np.ndarray, spec: InputSpec) -> float:
    """Share of the model's input range the calibration inputs span (1st to 99th percentile): a low share means
    images of the wrong kind (dark, flat), whose narrow ranges real images then saturate."""
    lo, hi = spec.range or (float(calib.min()), float(calib.max()))
    p1, p99 = np.percentile(calib, [1, 99])
    return float((p99 - p1) / (hi - lo)) if hi > lo else 1.0


def _quantize(graph, calib: np.ndarray, io: str, calibration: Calibration) -> bytes:
    from ._env import import_tf
    from ._quantize import _conversion_error, _io_dtype

    tf = import_tf()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([graph.fn])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = _io_dtype(tf, io)
    conv.inference_output_type = _io_dtype(tf, io)
    try:
        return calibration.quantize(tf, conv, calib, io)[0]
    except Exception as exc:  # noqa: BLE001 - one line naming the ops
        raise _conversion_error(exc, "the replayed model") from None


def _float_of(graph) -> bytes:
    from ._env import import_tf

    tf = import_tf()
    return tf.lite.TFLiteConverter.from_concrete_functions([graph.fn]).convert()


def _output_order(model: bytes, names: tuple[str, ...]) -> list[str]:
    """Output names of the converted model: the converter keeps the replay's order (output_0, output_1, ...)."""
    from ..tflite import read_model

    return [t.name for t in read_model(model).outputs]


@dataclass(frozen=True)
class FloatTfliteInput:
    """What ``check_float_tflite`` found usable, for ``quantize_float_tflite``: the float model at ``src`` (its
    ModelInfo ``info``), the calibration images and the int8 model's I/O type."""

    src: Path
    info: ModelInfo
    images: ImageSet
    io: str


def check_float_tflite(src: Path, opts) -> FloatTfliteInput:
    """The usable input of the float ``.tflite`` at ``src``, or InputError / ModelError naming what cannot work,
    before any work (reads the flatbuffer, lists the calibration folder). ``opts`` is a ConvertOptions."""
    from ..tflite import read_model
    from ._tflite_graph import check_float_model

    info = read_model(src)  # a non-TFLite file fails here with one line
    check_float_model(info, src.name)  # already quantized, dynamic input, unsupported op: said first
    if opts.quantize != "int8":
        raise InputError(f"a .tflite model can only be quantized to full integer here (--quantize int8), not {opts.quantize}")
    io = opts.io or ("uint8" if opts.edgetpu else "int8")
    if io == "float" and opts.edgetpu:
        raise InputError("--edgetpu needs integer I/O (uint8 or int8), not float")
    if not opts.rounding_method.replays:
        raise InputError(opts.rounding_method.not_replayed())
    if not opts.calib_data:
        raise InputError("--quantize int8 needs calibration images: --calib-data DIR")
    images = scan_images(opts.calib_data, what="calibration folder")
    if len(images) < MIN_CALIB_IMAGES:
        raise InputError(f"calibration folder {opts.calib_data} has {len(images)} image(s); at least "
                         f"{MIN_CALIB_IMAGES} are needed")
    return FloatTfliteInput(src, info, images, io)


def quantize_float_tflite(checked: FloatTfliteInput, work: str | Path, opts, *, progress=None) -> dict:
    """Quantize the float ``.tflite`` that ``check_float_tflite`` checked (full integer) in the folder ``work``;
    returns the record of the step that does it (recipes.FloatTfliteStep: model paths, the report and the
    bundle's manifest parts). ``opts`` is the ConvertOptions it was checked with."""
    from ..tflite import read_model
    from ._env import phase, tool_versions
    from ._tflite_equalize import equalize_depthwise
    from ._tflite_graph import check_rebuild, read_weights, rebuild_tflite

    src, info, images, io = checked.src, checked.info, checked.images, checked.io
    t_start = time.perf_counter()
    warnings: list[str] = []
    known = identify(tuple(info.inputs[0].shape), [tuple(t.shape) for t in info.outputs])
    clip = known.output_clips([tuple(t.shape) for t in info.outputs]) if known else {}
    spec, range_source = _input_spec(known, opts, warnings)
    h, w = info.inputs[0].shape[1:3]
    images = sample(images, opts.calib_images, opts.seed)
    count = max(opts.calib_images, len(images))
    ctx = phase(progress, f"calibration inputs ({count} from {len(images)} images)", 1)
    with ctx as bar:
        calib = calibration_inputs(images.paths, (h, w), spec, count, opts.seed)
        bar.advance()
    coverage = input_coverage(calib, spec)
    if coverage < COVERAGE_WARN:
        warnings.append(f"calibration images span only {coverage * 100:.0f}% of the input range {list(spec.range or [])}"
                        " (wrong kind of images: too dark or flat?): int8 activations will saturate on real images")
    # depthwise -> conv pairs equalized (exact in float; int8 error of the score logits down 2.6x on BlazeFace)
    weights, equalized = equalize_depthwise(src, info, read_weights(src, info), calib)
    graph = rebuild_tflite(src, clip, weights)  # InputError/ModelError: quantized, dynamic, unknown op
    drift = check_rebuild(src, graph, calib[:2], clip)
    if drift > REPLAY_TOLERANCE:
        raise InputError(f"{src.name}: the replayed graph differs from the model by {drift:.3g}; not quantized")
    float_graph = graph
    with phase(progress, f"{opts.rounding_method} rounding of the kernels", None):  # GPTQ: _tflite_gptq.py
        weights, rounded = opts.rounding_method.apply_replayed(src, info, weights, calib, clip)
    if rounded is not None:
        graph = rebuild_tflite(src, clip, weights)
    t_conv = time.perf_counter()
    calibration = opts.calibration_method or (known.calibration if known and known.calibration else MinMax())
    tflite = _quantize(graph, calib, io, calibration)
    conversion_seconds = time.perf_counter() - t_conv
    output = known.output_spec() if known else OutputSpec(decoder="raw")
    score_threshold = None
    if known is not None and known.task == "face":  # int8 keeps the float model's boxes: threshold chosen here
        from ._face_threshold import choose_threshold

        t, score_threshold = choose_threshold(src, tflite, calib, output.params)
        output = OutputSpec(output.decoder, output.label_offset, {**output.params, "threshold": t})
    float_ref = _float_of(float_graph)

    work = Path(work)
    with phase(progress, "checking the int8 model", None):
        model_path = work / "model.tflite"
        model_path.write_bytes(tflite)
        (work / "float.tflite").write_bytes(float_ref)
        report: dict = {
            "name": known.name if known else src.stem,
            "source": {"model": str(src), "flavor": "tflite", "input_shape": list(graph.input_shape),
                       "clipped_outputs": {str(k): v for k, v in clip.items()},
                       "recognised_as": known.name if known else None, "replay_max_abs_diff": drift},
            "input": spec.to_dict(), "input_range_source": range_source,
            "quantization": {"mode": "int8", "io": io, "calibration": calibration.name, "calib_images": len(images),
                             "equalized": equalized, "score_threshold": score_threshold,
                             "weights": {"rounding": opts.rounding_method.name, "bias_correction_layers": 0, "equalize": False,
                                         "rounding_details": rounded or {}},
                             "calib_inputs": count, "calib_data": str(opts.calib_data),
                             "input_coverage": round(coverage, 3), "method": "flatbuffer replayed in TensorFlow, "
                             "TFLite converter full-integer quantization"},
            "conversion_seconds": round(conversion_seconds, 2),
            "size": {"model.tflite": len(tflite), "float32 reference": src.stat().st_size,
                     "ratio": round(len(tflite) / src.stat().st_size, 4)},
            "ops": dict(read_model(tflite).op_counts),
        }
        if opts.latency_runs > 0:
            from ._latency import measure_latency

            report["latency_ms"] = measure_latency({"model.tflite": model_path, "float32 (original)": src},
                                                   threads=1, runs=opts.latency_runs)
        pred = predict_mapping(model_path)
        report["edgetpu"] = {"predicted": pred}
        if pred and op_total(pred.get("cpu_ops")) and opts.edgetpu:
            warnings.append(f"predicted mapping: {mapping_summary(pred)}")
        report["warnings"] = warnings
        for msg in warnings:
            log.warning("%s", msg)
        report["total_seconds"] = round(time.perf_counter() - t_start, 2)
        versions = tool_versions()
        report["versions"] = {**versions, "python": platform.python_version()}
        output = OutputSpec(output.decoder, output.label_offset,
                            {**output.params, "outputs": _output_order(tflite, graph.output_names)})
        files: dict[str, str] = {}  # the Edge TPU compiler's log, for the bundle
        etpu = _compile_if_possible(model_path, report, files) if opts.edgetpu else None
        bundle = {"input": spec.to_dict(), "output": output.to_dict(), "labels": list(known.labels) if known else None,
                  "task": known.task if known else "classify", "versions": versions, "files": files,
                  "source": {"model": str(src), "quantize": "int8", "io": io, "from": "tflite"}}
    return {"tflite": str(model_path), "edgetpu": etpu, "report": report, "bundle": bundle}


def _input_spec(known: KnownModel | None, opts, warnings: list[str]) -> tuple[InputSpec, str]:
    if opts.input_range is not None:
        base = known.input_spec() if known else InputSpec(resize=opts.resize)
        return InputSpec.from_range(*opts.input_range, color="RGB", resize=base.resize), "--input-range"
    if known is not None:
        return known.input_spec(), f"known model ({known.name})"
    warnings.append("input range not known: assumed [-1, 1]; set it with --input-range A,B")
    return InputSpec.from_range(-1.0, 1.0, color="RGB", resize=opts.resize), "assumed"


def _compile_if_possible(model_path: Path, report: dict, files: dict[str, str]) -> str | None:
    """The Edge TPU model compiled from ``model_path`` (its log added to ``files`` as compile_*.log), or None and
    a note in the report without edgetpu_compiler."""
    from ._compile import compile_model, find_compiler

    if find_compiler() is None:
        report.setdefault("edgetpu", {})["note"] = "edgetpu_compiler not found: mapping predicted, not compiled"
        return None
    res = compile_model(model_path, model_path.parent / "edgetpu")
    report.setdefault("edgetpu", {})["compiler"] = res.compiler.to_dict() if res.compiler else None
    files.update({Path(p).name.replace("model_", "compile_", 1): p for p in res.outputs if p.endswith(".log")})
    return next((p for p in res.outputs if p.endswith("_edgetpu.tflite")), None)
