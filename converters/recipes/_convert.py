"""kind "convert": the whole single-model conversion of ``edgesdk convert MODEL`` as one step: load, [QAT],
calibrate, quantize, check (size, ops, latency, Edge TPU prediction, accuracy). ``convert()`` runs it as a
one-step recipe, so its images are loaded and its report and bundle written the way every recipe's are."""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError
from .._env import phase, tool_versions
from .._strategies import Calibration, MinMax, Nearest, Percentile, Rounding, parse_calibration, parse_rounding
from ._context import StepContext

log = logging.getLogger(__name__)

__all__ = ["ConvertOptions", "ConvertStep"]


@dataclass
class ConvertOptions:
    """The settings of ``edgesdk convert MODEL`` (its flags). ``calibration`` and ``rounding`` take a strategy
    (``Percentile()``, ``Gptq()``, ...) or its name, as the CLI passes it; names become strategies on construction
    (InputError for an unknown one)."""

    quantize: str = "int8"
    io: str | None = None  # None: uint8 with --edgetpu, else float
    # activation ranges; None: Percentile for Keras models, for a .tflite its known model's own, else MinMax
    # (convert_methods.md)
    calibration: Calibration | str | None = None
    bias_correction: bool = True
    rounding: Rounding | str = "gptq"  # int8 weight rounding: Gptq, Nearest (the converter's) or AdaRound
    equalize: bool = False  # cross-layer equalization before quantization
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

    def __post_init__(self) -> None:  # names -> strategies once; an unknown name fails here, before any work
        self.calibration = self.calibration_method
        self.rounding = self.rounding_method

    @property
    def calibration_method(self) -> Calibration | None:
        """``calibration`` as a strategy (None: the model kind's default); InputError for an unknown name."""
        return None if self.calibration is None else parse_calibration(self.calibration, "--calibration")

    @property
    def rounding_method(self) -> Rounding:
        """``rounding`` as a strategy; InputError for an unknown name."""
        return parse_rounding(self.rounding, "--rounding")

    @property
    def io_type(self) -> str:
        return self.io or ("uint8" if self.edgetpu else "float")

    def check(self) -> None:
        """InputError for option combinations that cannot work (before any work)."""
        if self.edgetpu:
            if self.quantize != "int8":
                raise InputError("--edgetpu needs full-integer quantization (--quantize int8)")
            if self.io_type == "float":
                raise InputError("--edgetpu needs integer I/O (uint8 or int8), not float")
        if self.qat and self.quantize != "int8":
            raise InputError("--qat produces an int8 model: use it with --quantize int8")
        if self.qat and not self.data:
            raise InputError("--qat needs training images: --data DIR (one folder per class)")
        if self.quantize == "int8" and not (self.calib_data or self.data):
            raise InputError("--quantize int8 needs calibration images: --calib-data DIR (or --data DIR)")


def _decoder(tflite: Path) -> str:
    """The bundle's classifier decoder, read from the converted graph (as `edgesdk bundle` does)."""
    from ...tflite import classifier_decoder, read_model

    return classifier_decoder(read_model(tflite))


@dataclass
class ConvertStep:
    """The conversion of ``model`` (a Keras file/folder or a built-in architecture name) with ``options``."""

    kind = "convert"
    trains = False
    exports = True

    model: str
    options: ConvertOptions

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        self.options.check()

    def _bar(self, ctx: StepContext, desc: str, total: int | None):
        return phase(ctx.run.progress, desc, total)

    def _load(self, ctx: StepContext, warnings: list[str]):
        from .._arch import ARCHITECTURES, build_architecture
        from .._input_spec import infer_input_spec
        from .._load import load_keras

        opts, name = self.options, self.model
        if name in ARCHITECTURES:
            loaded, arch_spec = build_architecture(name, alpha=opts.alpha, input_size=opts.input_size or 224,
                                                   classes=opts.classes, weights=opts.weights)
            if opts.input_range is None:
                return loaded, arch_spec, "architecture"
            return loaded, infer_input_spec(loaded.model, opts.input_range, opts.resize)[0], "--input-range"
        with self._bar(ctx, "loading the Keras model", None):
            loaded = load_keras(name, input_size=opts.input_size)
        spec, range_source = infer_input_spec(loaded.model, opts.input_range, opts.resize)
        if range_source == "assumed":
            warnings.append("input range not known: assumed [-1, 1]; set it with --input-range A,B")
        return loaded, spec, range_source

    def run(self, ctx: StepContext) -> dict:
        from ...bundle import read_labels
        from .._data import scan_images
        from .._quantize import convert_tflite

        opts, name, run = self.options, self.model, ctx.run
        t_start = time.perf_counter()
        warnings: list[str] = []
        io = opts.io_type

        # 1. the model
        loaded, spec, range_source = self._load(ctx, warnings)
        run.spec = spec
        h, w, c = loaded.input_shape[1:]
        labels = read_labels(opts.labels) if opts.labels else None

        # 2. data checks first: bad folders fail before minutes of work
        calib = None
        if opts.quantize == "int8":
            images = scan_images(str(opts.calib_data or opts.data), what="calibration folder")
            calib = run.load_images(images, opts.calib_images, (h, w), c, desc="calibration images")
        train_set = None
        if opts.qat:
            train_set = scan_images(str(opts.data), what="training folder")
            if train_set.labels is None:
                raise InputError(f"{opts.data} has no class folders: --qat needs one folder per class")
            labels = labels or train_set.classes

        # 3. quantization-aware training
        history = None
        if opts.qat:
            loaded, history = self._qat(ctx, loaded, train_set, spec, (h, w))

        # 4. convert
        t_conv = time.perf_counter()
        to_convert = loaded
        bc_layers, prep = 0, None
        rounding = opts.rounding_method
        if opts.quantize == "int8" and not opts.qat and loaded.flavor == "tf_keras" and (
                opts.bias_correction or opts.equalize or not isinstance(rounding, Nearest)):
            from .._load import LoadedModel
            from .._prequant import prepare_weights

            assert calib is not None
            with self._bar(ctx, "preparing int8 weights", None):
                prepared, prep = prepare_weights(loaded.model, calib, equalize=opts.equalize, rounding=rounding,
                                                 bias_correction=opts.bias_correction)
            bc_layers = prep["bias_correction_layers"]
            to_convert = LoadedModel(prepared, loaded.flavor, loaded.source)
        with self._bar(ctx, f"converting ({opts.quantize})", None):
            calibration = MinMax() if opts.qat else opts.calibration_method or Percentile()
            result = convert_tflite(to_convert, opts.quantize, calib=calib, io=io, calibration=calibration)
        conversion_seconds = time.perf_counter() - t_conv
        model_path = ctx.dir / "model.tflite"
        model_path.write_bytes(result.tflite)
        report: dict = {
            "name": Path(name).stem if name not in _architectures() else name,
            "source": {"model": name, "flavor": loaded.flavor, "input_shape": list(loaded.input_shape)},
            "input": spec.to_dict(), "input_range_source": range_source,
            "quantization": {"mode": opts.quantize, "io": io, "calibration": result.calibration,
                             "bias_correction_layers": bc_layers, "weights": prep, "calib_images": result.calib_images,
                             "calib_data": str(opts.calib_data or opts.data) if calib is not None else None,
                             "qat": bool(opts.qat), "details": result.details,
                             "skipped_images": [str(p) for p in run.skipped]},
            "conversion_seconds": round(conversion_seconds, 2),
        }
        if history:
            report["qat"] = {"epochs": opts.epochs, "history": history}

        # 5. check: size, ops, latency, Edge TPU prediction, accuracy
        self._check(ctx, report, loaded, model_path, result, warnings)
        if opts.eval_data:
            report["accuracy"] = self._accuracy(ctx, loaded, model_path, spec)
        report["warnings"] = warnings
        report["total_seconds"] = round(time.perf_counter() - t_start, 2)
        versions = tool_versions()
        report["versions"] = {**versions, "python": platform.python_version()}
        bundle = {"input": spec.to_dict(), "decoder": _decoder(model_path), "labels": labels, "versions": versions,
                  "source": {"model": name, "quantize": opts.quantize, "io": io, "calibration": result.calibration}}
        return {"tflite": str(model_path), "report": report, "bundle": bundle}

    def _qat(self, ctx: StepContext, loaded, train_set, spec, size):
        from .._data import stratified_split, tf_dataset
        from .._qat import qat_train

        opts = self.options
        tr, va = stratified_split(train_set.labels, len(train_set), (0.9, 0.1), opts.seed)
        train_ds = tf_dataset(train_set.subset(tr), size, spec, batch_size=opts.batch_size, augment=True,
                              shuffle=True, seed=opts.seed)
        val_ds = tf_dataset(train_set.subset(va), size, spec, batch_size=opts.batch_size)
        with self._bar(ctx, "QAT epochs", opts.epochs) as bar:
            return qat_train(loaded, train_ds, val_ds, epochs=opts.epochs, learning_rate=opts.learning_rate,
                             on_epoch=lambda e, logs: bar.advance())

    def _check(self, ctx: StepContext, report: dict, loaded, model_path: Path, result, warnings: list[str]) -> None:
        from ...tflite import read_model
        from .._compile import predict_mapping
        from .._report import mapping_summary
        from .._quantize import convert_tflite
        from .._report import op_total

        opts = self.options
        models: dict[str, str | bytes | Path] = {"model.tflite": model_path}
        size: dict[str, float] = {"model.tflite": len(result.tflite)}
        if opts.quantize != "none":
            with self._bar(ctx, "converting the float32 reference", None):
                ref = convert_tflite(loaded, "none")
            ref_path = ctx.dir / "float.tflite"
            ref_path.write_bytes(ref.tflite)
            models["float32 reference"] = ref_path
            size["float32 reference"] = len(ref.tflite)
            size["ratio"] = round(len(result.tflite) / len(ref.tflite), 4)
        report["size"] = size
        report["ops"] = dict(read_model(model_path).op_counts)
        if opts.latency_runs > 0:
            from .._latency import measure_latency

            with self._bar(ctx, "measuring CPU latency", None):
                report["latency_ms"] = measure_latency(models, threads=1, runs=opts.latency_runs)
        if opts.quantize == "int8":
            pred = predict_mapping(model_path)
            report["edgetpu"] = {"predicted": pred}
            if pred is None:
                report["edgetpu"]["note"] = "Edge TPU prediction unavailable in this install"
            elif op_total(pred.get("cpu_ops")):
                msg = f"predicted mapping: {mapping_summary(pred)}"
                warnings.append(msg)
                if opts.edgetpu:
                    log.warning("Edge TPU: %s", msg)

    def _accuracy(self, ctx: StepContext, loaded, model_path: Path, spec) -> dict:
        from .._data import check_skipped, sample, scan_images
        from .._evaluate import label_offset, predict_keras, predict_tflite, tied_disagreements, topk_accuracy

        opts = self.options
        images = sample(scan_images(str(opts.eval_data), wnids=opts.wnids, what="evaluation folder"), opts.eval_images,
                        opts.seed)
        total = len(images)
        skipped: list[Path] = []  # unreadable images: named in a warning, left out, listed in the report
        with self._bar(ctx, "evaluating Keras and TFLite", 2 * total) as bar:
            pk = predict_keras(loaded.model, images, spec, on_image=lambda: bar.advance(), skipped=skipped)
            check_skipped(skipped, total, "evaluation")  # too many: InputError
            images = images.subset([i for i, q in enumerate(images.paths) if q not in skipped])
            bar.advance(len(skipped))
            pt = predict_tflite(model_path, images, spec=spec, threads=1, on_image=lambda: bar.advance())
        out = {"data": str(opts.eval_data), "n": len(images), "skipped": [str(q) for q in skipped],
               "agreement": float(np.mean(pk.argmax(1) == pt.argmax(1))), "tied_disagreements": tied_disagreements(pk, pt)}
        if images.labels is not None:
            y = images.labels + label_offset(images, pk.shape[1])
            out["keras"] = {"top1": topk_accuracy(pk, y, 1), "top5": topk_accuracy(pk, y, 5)}
            out["tflite"] = {"top1": topk_accuracy(pt, y, 1), "top5": topk_accuracy(pt, y, 5)}
        return out


def _architectures():
    from .._arch import ARCHITECTURES

    return ARCHITECTURES
