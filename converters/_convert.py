"""The conversion pipeline behind ``edgesdk convert``: load -> [QAT] -> calibrate -> quantize -> check -> bundle."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bundle import OutputSpec, read_labels
from ..errors import BundleError, InputError
from ._arch import ARCHITECTURES, build_architecture
from ._compile import op_total, predict_mapping
from ._data import load_images, sample, scan_images, stratified_split, tf_dataset
from ._export import export_bundle
from ._load import load_keras
from ._preprocess import infer_input_spec
from ._quantize import convert_tflite

log = logging.getLogger(__name__)

__all__ = ["ConvertOptions", "convert"]


@dataclass
class ConvertOptions:
    quantize: str = "int8"
    io: str | None = None  # None: uint8 with --edgetpu, else float
    calibration: str = "minmax"
    bias_correction: bool = True
    calib_data: str | None = None
    calib_images: int = 200
    data: str | None = None
    eval_data: str | None = None
    eval_images: int | None = None
    wnids: str | None = None
    labels: str | None = None
    edgetpu: bool = False
    input_range: tuple[float, float] | None = None
    input_size: int | None = None
    resize: str = "crop"
    qat: bool = False
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-5
    alpha: float = 1.0
    classes: int = 1000
    weights: str | None = None
    latency_runs: int = 20
    seed: int = 0
    overwrite: bool = False


def _check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BundleError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise BundleError(f"{out} exists and is not empty (use an empty or new folder, or --overwrite)")


def _decoder(model) -> str:
    last = model.layers[-1] if getattr(model, "layers", None) else None
    act = getattr(last, "activation", None)
    if getattr(act, "__name__", "") == "softmax" or type(last).__name__ == "Softmax":
        return "softmax"
    return "logits"


def _versions() -> dict:
    out = {}
    for mod in ("tensorflow", "tf_keras", "tensorflow_model_optimization"):
        try:
            import importlib.metadata as md

            out[mod] = md.version(mod.replace("_", "-") if mod != "tf_keras" else "tf-keras")
        except Exception:  # noqa: BLE001
            pass
    return out


def convert(model: str | os.PathLike, out_dir: str | os.PathLike, opts: ConvertOptions | None = None,
            *, progress=None) -> dict:
    """Convert ``model`` (a Keras file/folder or a built-in architecture name) and write the bundle ``out_dir``
    with report.json and report.md. Returns the report. ``progress(desc, total)`` is an optional context-manager
    factory for progress bars (the CLI's)."""
    opts = opts or ConvertOptions()
    if str(model).lower().endswith(".tflite"):  # a float TFLite model without its source
        from ._from_tflite import convert_float_tflite

        return convert_float_tflite(model, out_dir, opts, progress=progress)
    out = Path(out_dir)
    _check_out_dir(out, opts.overwrite)
    t_start = time.perf_counter()
    warnings: list[str] = []
    io = opts.io or ("uint8" if opts.edgetpu else "float")
    if opts.edgetpu:
        if opts.quantize != "int8":
            raise InputError("--edgetpu needs full-integer quantization (--quantize int8)")
        if io == "float":
            raise InputError("--edgetpu needs integer I/O (uint8 or int8), not float")
    if opts.qat and opts.quantize != "int8":
        raise InputError("--qat produces an int8 model: use it with --quantize int8")
    if opts.qat and not opts.data:
        raise InputError("--qat needs training images: --data DIR (one folder per class)")
    if opts.quantize == "int8" and not (opts.calib_data or opts.data):
        raise InputError("--quantize int8 needs calibration images: --calib-data DIR (or --data DIR)")

    # 1. the model
    name = str(model)
    if name in ARCHITECTURES:
        loaded, arch_spec = build_architecture(name, alpha=opts.alpha, input_size=opts.input_size or 224,
                                               classes=opts.classes, weights=opts.weights)
        spec = arch_spec if opts.input_range is None else infer_input_spec(loaded.model, opts.input_range, opts.resize)[0]
        range_source = "architecture" if opts.input_range is None else "--input-range"
    else:
        loaded = load_keras(model, input_size=opts.input_size)
        spec, range_source = infer_input_spec(loaded.model, opts.input_range, opts.resize)
        if range_source == "assumed":
            warnings.append("input range not known: assumed [-1, 1]; set it with --input-range A,B")
    h, w, c = loaded.input_shape[1:]
    labels = read_labels(opts.labels) if opts.labels else None

    # 2. data checks first: bad folders fail before minutes of work
    calib = None
    calib_set = None
    if opts.quantize == "int8":
        calib_set = sample(scan_images(opts.calib_data or opts.data, what="calibration folder"), opts.calib_images, opts.seed)
        desc = f"calibration images ({len(calib_set)})"
        ctx = progress(desc, len(calib_set)) if progress else _nullbar()
        with ctx as bar:
            calib = load_images(calib_set.paths, (h, w), spec, channels=c, on_image=lambda: bar.advance())
    train_set = None
    if opts.qat:
        train_set = scan_images(opts.data, what="training folder")
        if train_set.labels is None:
            raise InputError(f"{opts.data} has no class folders: --qat needs one folder per class")
        labels = labels or train_set.classes

    # 3. quantization-aware training
    history = None
    if opts.qat:
        from ._qat import qat_train

        tr, va = stratified_split(train_set.labels, len(train_set), (0.9, 0.1), opts.seed)
        train_ds = tf_dataset(train_set.subset(tr), (h, w), spec, batch_size=opts.batch_size, augment=True,
                              shuffle=True, seed=opts.seed)
        val_ds = tf_dataset(train_set.subset(va), (h, w), spec, batch_size=opts.batch_size)
        ctx = progress("QAT epochs", opts.epochs) if progress else _nullbar()
        with ctx as bar:
            loaded, history = qat_train(loaded, train_ds, val_ds, epochs=opts.epochs,
                                        learning_rate=opts.learning_rate, on_epoch=lambda e, logs: bar.advance())

    # 4. convert
    t_conv = time.perf_counter()
    to_convert = loaded
    bc_layers = 0
    if opts.quantize == "int8" and opts.bias_correction and not opts.qat and loaded.flavor == "tf_keras":
        from ._biascorrect import bias_correct
        from ._load import LoadedModel

        corrected, bc_layers = bias_correct(loaded.model, calib)
        to_convert = LoadedModel(corrected, loaded.flavor, loaded.source)
    calibration = "minmax" if opts.qat else opts.calibration
    result = convert_tflite(to_convert, opts.quantize, calib=calib, io=io, calibration=calibration)
    conversion_seconds = time.perf_counter() - t_conv

    tmp = Path(tempfile.mkdtemp(prefix="edgesdk-convert-"))
    try:
        model_path = tmp / "model.tflite"
        model_path.write_bytes(result.tflite)
        report: dict = {
            "name": Path(name).stem if name not in ARCHITECTURES else name,
            "source": {"model": name, "flavor": loaded.flavor, "input_shape": list(loaded.input_shape)},
            "input": spec.to_dict(), "input_range_source": range_source,
            "quantization": {"mode": opts.quantize, "io": io, "calibration": result.calibration,
                             "bias_correction_layers": bc_layers, "calib_images": result.calib_images,
                             "calib_data": str(opts.calib_data or opts.data) if calib is not None else None,
                             "qat": bool(opts.qat), "details": result.details},
            "conversion_seconds": round(conversion_seconds, 2),
        }
        if history:
            report["qat"] = {"epochs": opts.epochs, "history": history}

        # 5. check: size, ops, latency, Edge TPU prediction, accuracy
        models = {"model.tflite": model_path}
        size = {"model.tflite": len(result.tflite)}
        if opts.quantize != "none":
            ref = convert_tflite(loaded, "none")
            ref_path = tmp / "float.tflite"
            ref_path.write_bytes(ref.tflite)
            models["float32 reference"] = ref_path
            size["float32 reference"] = len(ref.tflite)
            size["ratio"] = round(len(result.tflite) / len(ref.tflite), 4)
        report["size"] = size
        report["ops"] = _op_counts(model_path)
        if opts.latency_runs > 0:
            from ._latency import measure_latency

            report["latency_ms"] = measure_latency(models, threads=1, runs=opts.latency_runs)
        if opts.quantize == "int8":
            pred = predict_mapping(model_path)
            report["edgetpu"] = {"predicted": pred}
            if pred is None:
                report["edgetpu"]["note"] = "Edge TPU prediction unavailable in this install"
            elif op_total(pred.get("cpu_ops")):
                msg = f"{op_total(pred.get('cpu_ops'))} op(s) would run on the CPU, starting at {pred.get('first_unmapped')}"
                warnings.append(msg)
                if opts.edgetpu:
                    log.warning("Edge TPU: %s", msg)
        if opts.eval_data:
            report["accuracy"] = _check_accuracy(loaded, model_path, spec, opts, progress)
        report["warnings"] = warnings
        report["total_seconds"] = round(time.perf_counter() - t_start, 2)
        versions = _versions()
        report["versions"] = {**versions, "python": platform.python_version()}
        export_bundle(
            out, model_path, input_spec=spec, output=OutputSpec(decoder=_decoder(loaded.model)), report=report,
            labels=labels, task="classify", name=report["name"],
            source={"model": name, "quantize": opts.quantize, "io": io, "calibration": result.calibration},
            versions=versions, overwrite=opts.overwrite,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def _op_counts(path: Path) -> dict:
    try:
        from ..tflite import read_model

        info = read_model(path)
        return dict(getattr(info, "op_counts", None) or {})
    except ImportError:
        from ..runtime import get_backend

        it = get_backend().Interpreter(model_path=str(path))
        counts: dict = {}
        for op in it._get_ops_details():  # noqa: SLF001
            counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
        return counts


def _check_accuracy(loaded, model_path: Path, spec, opts: ConvertOptions, progress) -> dict:
    from ._evaluate import label_offset, predict_keras, predict_tflite, topk_accuracy

    images = scan_images(opts.eval_data, wnids=opts.wnids, what="evaluation folder")
    images = sample(images, opts.eval_images, opts.seed)
    n = len(images)
    ctx = progress("evaluating Keras and TFLite", 2 * n) if progress else _nullbar()
    with ctx as bar:
        pk = predict_keras(loaded.model, images, spec, on_image=lambda: bar.advance())
        pt = predict_tflite(model_path, images, spec=spec, threads=1, on_image=lambda: bar.advance())
    out = {"data": str(opts.eval_data), "n": n, "agreement": float(np.mean(pk.argmax(1) == pt.argmax(1)))}
    if images.labels is not None:
        y = images.labels + label_offset(images, pk.shape[1])
        out["keras"] = {"top1": topk_accuracy(pk, y, 1), "top5": topk_accuracy(pk, y, 5)}
        out["tflite"] = {"top1": topk_accuracy(pt, y, 1), "top5": topk_accuracy(pt, y, 5)}
    return out


class _nullbar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def advance(self, n: int = 1) -> None:
        pass
