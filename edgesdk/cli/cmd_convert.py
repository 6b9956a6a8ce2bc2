"""``edgesdk convert MODEL -o DIR``: Keras model -> quantized TFLite (and Edge TPU-ready) bundle with a report."""

from __future__ import annotations

import argparse
import sys

from ._common import add_json, bounded_int, parse_range, positive_float, positive_int, print_json, progress

ORDER = 50


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert",
        help="quantize a Keras model (PTQ or QAT) and export a TFLite bundle with a report",
        description=(
            "Convert a Keras model (.h5, .keras, SavedModel folder) or a built-in architecture (mobilenet_v1, "
            "mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large, efficientnet_b0, efficientnet_lite0) to TFLite, "
            "quantized, and write DIR as a bundle (manifest.json, model.tflite, labels.txt) with report.json and "
            "report.md: size, op counts, CPU latency, the predicted Edge TPU mapping and, with --eval-data, accuracy "
            "and top-1 agreement of the TFLite model with the Keras model. A float .tflite MODEL (MediaPipe's BlazeFace, "
            "pose detector, selfie segmenters, or any model of the ops they use) is quantized to full integer without "
            "its source: int8 I/O, or uint8 with --edgetpu; known models keep their decoder and anchors in the "
            "manifest. Needs the 'convert' extra."
        ),
    )
    p.add_argument("model", metavar="MODEL", nargs="?", help="Keras model file/folder, a float .tflite, or a built-in architecture name")
    p.add_argument("--recipe", metavar="FILE",
                   help="run a TOML recipe (finetune, prune, distill, qat, quantize, edgetpu steps) instead of MODEL")
    p.add_argument("-o", "--out", metavar="DIR", required=True, help="bundle folder to write (new or empty)")
    p.add_argument("--quantize", choices=("none", "dynamic", "float16", "int8"), default="int8",
                   help="none: float32; dynamic: int8 weights; float16: float16 weights; int8: full integer")
    p.add_argument("--io", choices=("float", "int8", "uint8"), default=None,
                   help="input/output type of an int8 model (default: uint8 with --edgetpu, else float)")
    p.add_argument("--calibration", choices=("minmax", "mse", "percentile"), default=None,
                   help="activation ranges: minmax (TFLite's own), mse (error-minimising clip over histograms) or "
                        "percentile (the central 99.99%% of the values); default percentile for Keras models; for "
                        "a .tflite its known model's own (percentile for the face detectors), else minmax")
    p.add_argument("--no-bias-correction", dest="bias_correction", action="store_false",
                   help="skip correcting the mean shift int8 weights cause (bias correction)")
    p.add_argument("--rounding", choices=("gptq", "nearest", "adaround"), default="gptq",
                   help="int8 weight rounding of Keras models: gptq (default: sequential, error feedback on the "
                        "calibration images), nearest (the converter's) or adaround (learned up/down; slow)")
    p.add_argument("--equalize", action="store_true", help="cross-layer equalization of conv pairs before int8")
    p.add_argument("--calib-data", metavar="DIR", help="calibration images (flat folder or class folders)")
    p.add_argument("--calib-images", type=bounded_int(1, 100_000), default=200, metavar="N", help="number of calibration images")
    p.add_argument("--qat", action="store_true", help="quantization-aware training (tfmot) on --data before export")
    p.add_argument("--data", metavar="DIR", help="training images, one folder per class (for --qat)")
    p.add_argument("--epochs", type=bounded_int(1, 1000), default=1, metavar="N", help="QAT epochs")
    p.add_argument("--batch-size", type=bounded_int(1, 4096), default=32, metavar="N", help="QAT batch size")
    p.add_argument("--learning-rate", type=positive_float, default=1e-5, metavar="LR", help="QAT learning rate")
    p.add_argument("--eval-data", metavar="DIR", help="labelled images: report accuracy and TFLite/Keras agreement")
    p.add_argument("--eval-images", type=positive_int, default=None, metavar="N", help="use at most N evaluation images")
    p.add_argument("--wnids", metavar="FILE", help="wnid list for ImageNet-style <wnid>_*.JPEG evaluation images")
    p.add_argument("--labels", metavar="FILE", help="labels.txt to put in the bundle")
    p.add_argument("--edgetpu", action="store_true",
                   help="Edge TPU-ready: full integer, uint8 I/O, batch 1; warns about ops left on the CPU")
    p.add_argument("--input-range", type=parse_range, metavar="A,B", help="the model's input value range, e.g. -1,1")
    p.add_argument("--input-size", type=bounded_int(8, 4096), metavar="N", help="fix a dynamic input to N x N (or size a built-in)")
    p.add_argument("--resize", choices=("crop", "stretch", "letterbox"), default="crop",
                   help="how images are fitted to the input (written into the bundle)")
    p.add_argument("--alpha", type=positive_float, default=1.0, help="width multiplier of a built-in MobileNet")
    p.add_argument("--classes", type=bounded_int(1, 100_000), default=1000, help="classes of a built-in architecture")
    p.add_argument("--weights", metavar="FILE", help="weights file for a built-in architecture ('imagenet' for Keras' own)")
    p.add_argument("--latency-runs", type=bounded_int(0, 10_000), default=20, metavar="N",
                   help="CPU latency runs per model (0: skip)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it holds something")
    p.add_argument("--seed", type=int, default=0, help="seed for image sampling and splits")
    add_json(p)
    p.set_defaults(func=run)


def _run_recipe(args: argparse.Namespace) -> int:
    from ..converters import load_recipe, run_recipe
    from ..errors import InputError

    if not args.recipe:
        raise InputError("give a MODEL or --recipe FILE")
    if args.model:
        raise InputError("give either a MODEL or --recipe FILE, not both (the recipe names its model)")
    recipe = load_recipe(args.recipe)
    report = run_recipe(recipe, args.out, overwrite=args.overwrite, progress=progress)
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"wrote {args.out} ({len(recipe.steps)} steps of {recipe.path.name})")
    if report.steps is not None:
        print(report.steps.to_markdown(), end="")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.recipe or not args.model:
        return _run_recipe(args)
    from ..converters import ConvertOptions, convert

    opts = ConvertOptions(
        quantize=args.quantize, io=args.io, calibration=args.calibration, bias_correction=args.bias_correction,
        rounding=args.rounding, equalize=args.equalize,
        calib_data=args.calib_data, calib_images=args.calib_images, data=args.data, eval_data=args.eval_data,
        eval_images=args.eval_images, wnids=args.wnids, labels=args.labels, edgetpu=args.edgetpu,
        input_range=args.input_range, input_size=args.input_size, resize=args.resize, qat=args.qat,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, alpha=args.alpha,
        classes=args.classes, weights=args.weights, latency_runs=args.latency_runs, seed=args.seed,
        overwrite=args.overwrite,
    )
    report = convert(args.model, args.out, opts, progress=progress)
    if args.json:
        print_json(report.to_dict())
        return 0
    lines, warnings = report.summary()
    for line in lines:
        print(line)
    for w in warnings:
        print(f"  {w}", file=sys.stderr)
    return 0
