"""int8 MobileNetV2: agreement with float and top-1 per calibration method, on the split of
benchmarks/convert_mobilenet_v2.py (200 calibration images of imagenet-500, the other 300 held out).

    .venv/bin/python benchmarks/convert_methods.py [--out benchmarks/results/convert]

Methods (all with bias correction, float I/O): min/max (edgesdk's default), MSE ranges, 99.99th-percentile
ranges; then the product path `convert --edgetpu` (uint8 I/O, evaluated through the runtime's preprocessing) with
min/max and with percentile ranges. Writes convert_methods.json / .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_mobilenet_v2 as base  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(base.ROOT / "benchmarks" / "results" / "convert"))
    a = ap.parse_args()
    from edgesdk.bundle import InputSpec
    from edgesdk.converters import LoadedModel, bias_correct, convert_tflite, load_images, load_keras, scan_images

    loaded = load_keras(base.MODEL)
    spec = InputSpec.from_range(-1.0, 1.0, resize="crop")
    images = scan_images(base.IMAGES, wnids=base.WNIDS)
    perm = np.random.default_rng(0).permutation(len(images))
    cal_set, ev_set = images.subset(np.sort(perm[:200])), images.subset(np.sort(perm[200:]))
    calib, x_ev = load_images(cal_set.paths, (224, 224), spec), load_images(ev_set.paths, (224, 224), spec)
    y = ev_set.labels + 1
    p_float = np.asarray(loaded.model.predict(x_ev, batch_size=50, verbose=0))
    bc = LoadedModel(bias_correct(loaded.model, calib)[0], "tf_keras", loaded.source)
    res = {"float_top1": float(np.mean(p_float.argmax(1) == y)), "held_out": len(ev_set), "methods": {}}
    for cal in ("minmax", "mse", "percentile"):
        t = time.perf_counter()
        q = base.run_tflite(convert_tflite(bc, "int8", calib=calib, io="float", calibration=cal).tflite, x_ev)
        res["methods"][f"bias correction + {cal}"] = {
            "agreement": float(np.mean(q.argmax(1) == p_float.argmax(1))), "int8_top1": float(np.mean(q.argmax(1) == y)),
            "seconds": round(time.perf_counter() - t, 1)}
        print(cal, res["methods"][f"bias correction + {cal}"], flush=True)
    import tempfile

    from edgesdk.converters import ConvertOptions, convert

    with tempfile.TemporaryDirectory() as tmp:
        cal_dir, ev_dir = Path(tmp) / "calib", Path(tmp) / "eval"
        cal_dir.mkdir()
        ev_dir.mkdir()
        for p in cal_set.paths:
            (cal_dir / p.name).symlink_to(p)
        for p in ev_set.paths:
            (ev_dir / p.name).symlink_to(p)
        for cal in ("minmax", "percentile"):
            rep = convert(base.MODEL, Path(tmp) / cal, ConvertOptions(
                edgetpu=True, calibration=cal, calib_data=str(cal_dir), eval_data=str(ev_dir), wnids=str(base.WNIDS),
                latency_runs=0))
            acc = rep.accuracy
            assert acc is not None
            res["methods"][f"convert --edgetpu (uint8 I/O), {cal}"] = {
                "agreement": acc.agreement, "int8_top1": acc.tflite_top1, "seconds": rep.conversion_seconds}
            print(cal, res["methods"][f"convert --edgetpu (uint8 I/O), {cal}"], flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "convert_methods.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["# int8 MobileNetV2 per calibration method (300 held-out images of imagenet-500)", "",
             "Command: `python benchmarks/convert_methods.py`.", "",
             "| method | agreement with float | int8 top-1 | float top-1 | convert s |", "|---|---:|---:|---:|---:|"]
    for k, v in res["methods"].items():
        lines.append(f"| {k} | {v['agreement'] * 100:.2f}% | {v['int8_top1'] * 100:.2f}% | {res['float_top1'] * 100:.2f}% | {v['seconds']} |")
    (out / "convert_methods.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
