"""int8 / float CPU latency of MobileNetV2, interleaved, and what changes the ratio.

    nice .venv/bin/python benchmarks/latency_int8_float.py [--runs 200] [--out benchmarks/results/convert]

Models, all run round-robin (one invoke of each per round, so machine noise hits them alike):
- float32: ../shared/testdata/models/mobilenet_v2_1.0_224_float.h5 converted without quantization;
- int8 edgesdk: the same model, `convert --edgetpu` defaults (GPTQ rounding, bias correction, percentile ranges,
  uint8 I/O, per-channel int8 weights), calibrated on 100 images of imagenet-500;
- int8 edgesdk, float I/O;
- Coral's mobilenet_v2_1.0_224_quant.tflite (the same architecture from TF1 quantization-aware training:
  uint8, per-tensor weights).
Each at 1 and 2 threads (XNNPACK). Writes latency_int8_float.json / .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
MODELS = SHARED / "testdata" / "models"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "convert"))
    a = p.parse_args(argv)
    from edgesdk.converters import ConvertOptions, convert, measure_latency

    res: dict = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.machine(),
                 "load_start": [round(v, 1) for v in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        h5 = str(MODELS / "mobilenet_v2_1.0_224_float.h5")
        calib = str(SHARED / "testdata" / "imagenet-500")
        convert(h5, t / "f32", ConvertOptions(quantize="none", latency_runs=0))
        convert(h5, t / "u8", ConvertOptions(quantize="int8", edgetpu=True, calib_data=calib, calib_images=100, latency_runs=0))
        convert(h5, t / "i8f", ConvertOptions(quantize="int8", io="float", calib_data=calib, calib_images=100, latency_runs=0))
        models = {"float32": t / "f32" / "model.tflite", "int8 edgesdk (uint8 I/O)": t / "u8" / "model.tflite",
                  "int8 edgesdk (float I/O)": t / "i8f" / "model.tflite",
                  "Coral uint8 per-tensor (QAT)": MODELS / "mobilenet_v2_1.0_224_quant.tflite"}
        for threads in (1, 2):
            lat = measure_latency(models, threads=threads, runs=a.runs)
            base = lat["float32"]["median"]
            res[f"threads_{threads}"] = {k: {**v, "ratio_to_float": round(v["median"] / base, 3)} for k, v in lat.items()}
    res["load_end"] = [round(v, 1) for v in os.getloadavg()]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency_int8_float.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["# MobileNetV2 int8 / float latency (XNNPACK, interleaved)", "",
             f"Measured {res['when']} ({res['machine']}, 2 CPUs shared with other work; load {res['load_start']} -> "
             f"{res['load_end']}). Command: `python benchmarks/latency_int8_float.py --runs {a.runs}`.", "",
             "| model | threads | median ms | p90 ms | / float |", "|---|---:|---:|---:|---:|"]
    for threads in (1, 2):
        for k, v in res[f"threads_{threads}"].items():
            lines.append(f"| {k} | {threads} | {v['median']:.2f} | {v['p90']:.2f} | {v['ratio_to_float']} |")
    (out / "latency_int8_float.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
