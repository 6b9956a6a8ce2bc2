"""Benchmark of ``edgesdk convert`` on the float MobileNetV2 test model (issue 4's targets), in ONE run.

    .venv/bin/python benchmarks/convert_mobilenet_v2.py [--out benchmarks/results/convert]

The 500 images of ../shared/testdata/imagenet-500 are split with a seeded permutation: 200 calibrate, the other
300 (never seen by calibration) measure top-1 agreement with the float Keras model and top-1 accuracy. Measured:
- calibration methods side by side (float I/O, same 200 images): the plain TFLite converter (min/max ranges) with
  100 and 200 images, MSE ranges, bias correction + min/max (edgesdk's default), bias correction + MSE;
  agreement also on 1200 views of the 300 held-out images (centre crop, stretch, and their mirror images) since
  300 images resolve agreement only to 0.33 points;
- the product path: ``convert(..., edgetpu=True)`` (uint8 I/O, batch 1), timed end to end, with its report;
- sizes, and CPU latency (XNNPACK, 1 thread) of float TFLite vs int8, interleaved in one loop.
Writes convert_mobilenet_v2.json and .md into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", ROOT.parent / "shared")) / "testdata"
MODEL = SHARED / "models" / "mobilenet_v2_1.0_224_float.h5"
IMAGES = SHARED / "imagenet-500"
WNIDS = SHARED / "models" / "imagenet_wnids.txt"


def link_split(tmp: Path, cal_set, ev_set) -> tuple[Path, Path]:
    """Folders ``tmp``/calib and ``tmp``/eval of symlinks to the two ImageSets' files (what ``convert`` reads)."""
    out = []
    for name, images in (("calib", cal_set), ("eval", ev_set)):
        d = tmp / name
        d.mkdir()
        for p in images.paths:
            (d / p.name).symlink_to(p)
        out.append(d)
    return out[0], out[1]


def run_tflite(tflite: bytes, x: np.ndarray) -> np.ndarray:
    from edgesdk.runtime import get_backend

    it = get_backend().Interpreter(model_content=tflite, num_threads=2)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    for k in range(len(x)):
        xi = x[k:k + 1]
        if i["dtype"] != np.float32:
            s, z = i["quantization"]
            info = np.iinfo(i["dtype"])
            xi = np.clip(np.round(xi / s + z), info.min, info.max).astype(i["dtype"])
        it.set_tensor(i["index"], xi)
        it.invoke()
        r = it.get_tensor(o["index"])[0]
        if o["dtype"] != np.float32:
            s, z = o["quantization"]
            r = (r.astype(np.float32) - z) * s
        out.append(r)
    return np.asarray(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "convert"))
    ap.add_argument("--latency-runs", type=int, default=50)
    args = ap.parse_args()

    from edgesdk.bundle import InputSpec
    from edgesdk.converters import (ConvertOptions, convert, convert_tflite, load_images, load_keras,
                                    measure_latency, scan_images)
    from edgesdk.converters import bias_correct
    from edgesdk.converters import LoadedModel

    t0 = time.perf_counter()
    loaded = load_keras(MODEL)
    spec = InputSpec.from_range(-1.0, 1.0, resize="crop")
    images = scan_images(IMAGES, wnids=WNIDS)
    perm = np.random.default_rng(0).permutation(len(images))
    cal_idx, ev_idx = np.sort(perm[:200]), np.sort(perm[200:])
    cal_set, ev_set = images.subset(cal_idx), images.subset(ev_idx)
    calib = load_images(cal_set.paths, (224, 224), spec)
    x_ev = load_images(ev_set.paths, (224, 224), spec)
    x_st = load_images(ev_set.paths, (224, 224), InputSpec.from_range(-1.0, 1.0, resize="stretch"))
    views = np.concatenate([x_ev, x_ev[:, :, ::-1], x_st, x_st[:, :, ::-1]])
    y = ev_set.labels + 1  # 1001 outputs, background at 0
    p_float = np.asarray(loaded.model.predict(views, batch_size=50, verbose=0))
    n = len(ev_set)
    float_top1 = float(np.mean(p_float[:n].argmax(1) == y))

    def score(q: np.ndarray) -> dict:
        agree = q.argmax(1) == p_float.argmax(1)
        return {"agreement": float(agree[:n].mean()), "agreement_1200_views": float(agree.mean()),
                "int8_top1": float(np.mean(q[:n].argmax(1) == y)), "float_top1": float_top1}

    methods = {}
    bc_model = None
    for name, ncal, calibration, bc in [
        ("plain converter, 100 images (min/max)", 100, "minmax", False),
        ("plain converter, 200 images (min/max)", 200, "minmax", False),
        ("MSE ranges, 200 images", 200, "mse", False),
        ("bias correction + min/max, 200 images (default)", 200, "minmax", True),
        ("bias correction + MSE ranges, 200 images", 200, "mse", True),
    ]:
        t = time.perf_counter()
        target = loaded
        if bc:
            if bc_model is None:
                bc_model = LoadedModel(bias_correct(loaded.model, calib)[0], "tf_keras", loaded.source)
            target = bc_model
        res = convert_tflite(target, "int8", calib=calib[:ncal], io="float", calibration=calibration)
        secs = time.perf_counter() - t
        methods[name] = {**score(run_tflite(res.tflite, views)), "seconds": round(secs, 1), "bytes": len(res.tflite)}
        print(name, methods[name], flush=True)

    float_tfl = convert_tflite(loaded, "none").tflite

    # the product path, timed end to end: edgesdk convert --edgetpu
    with tempfile.TemporaryDirectory() as tmp:
        cal_dir, ev_dir = link_split(Path(tmp), cal_set, ev_set)
        out = Path(tmp) / "bundle"
        t = time.perf_counter()
        cpu = time.process_time()
        opts = ConvertOptions(edgetpu=True, calib_data=str(cal_dir), calib_images=200, latency_runs=0)
        report = convert(MODEL, out, opts)
        convert_seconds = time.perf_counter() - t
        convert_cpu = time.process_time() - cpu
        edgetpu_tfl = (out / "model.tflite").read_bytes()
        # accuracy of the Edge TPU-ready model (uint8 I/O), fed like the runtime does
        from edgesdk.converters import predict_tflite

        q_edge = predict_tflite(out, ev_set, threads=2)
    edge = {"agreement": float(np.mean(q_edge.argmax(1) == p_float[:n].argmax(1))),
            "int8_top1": float(np.mean(q_edge.argmax(1) == y)), "float_top1": float_top1}
    int8_float_io = convert_tflite(bc_model, "int8", calib=calib, io="float", calibration="minmax").tflite
    lat = measure_latency({"float32": float_tfl, "int8 (float I/O)": int8_float_io, "int8 (uint8 I/O, --edgetpu)": edgetpu_tfl},
                          threads=1, runs=args.latency_runs)
    pred = dict(report.edgetpu_predicted or {})
    from edgesdk.converters import op_total

    result = {
        "command": "python benchmarks/convert_mobilenet_v2.py",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "model": str(MODEL.name), "calibration_images": 200, "held_out_images": n,
        "methods": methods,
        "edgetpu_convert": {
            "seconds_end_to_end": round(convert_seconds, 1),
            "cpu_seconds_end_to_end": round(convert_cpu, 1),
            "load_average_at_end": os.getloadavg()[0],
            "conversion_seconds": report.conversion_seconds,
            **edge,
            "predicted_mapped_ops": op_total(pred.get("mapped_ops")), "predicted_cpu_ops": op_total(pred.get("cpu_ops")),
            "first_unmapped": pred.get("first_unmapped"),
            "io": report.io, "bytes": len(edgetpu_tfl),
        },
        "size": {"float32_tflite": len(float_tfl), "int8_edgetpu": len(edgetpu_tfl),
                 "ratio": round(len(edgetpu_tfl) / len(float_tfl), 4)},
        "latency_ms_1_thread": lat,
        "latency_ratio": round(lat["int8 (uint8 I/O, --edgetpu)"]["median"] / lat["float32"]["median"], 3),
        "latency_ratio_float_io": round(lat["int8 (float I/O)"]["median"] / lat["float32"]["median"], 3),
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "convert_mobilenet_v2.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "convert_mobilenet_v2.md").write_text(render(result))
    print(render(result))


def render(r: dict) -> str:
    e = r["edgetpu_convert"]
    lines = [
        "# edgesdk convert: float MobileNetV2 -> int8", "",
        f"Command: `{r['command']}` ({r['machine']['cpus']} CPUs, {r['machine']['platform']}).",
        f"Calibration: {r['calibration_images']} images of imagenet-500; measured on the other {r['held_out_images']} "
        "(agreement also on 1200 views: centre crop, stretch, mirrored).", "",
        "## Calibration methods (float I/O, same images)", "",
        "| method | agreement (300) | agreement (1200 views) | int8 top-1 | float top-1 | convert s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in r["methods"].items():
        lines.append(f"| {name} | {m['agreement'] * 100:.2f}% | {m['agreement_1200_views'] * 100:.2f}% | "
                     f"{m['int8_top1'] * 100:.2f}% | {m['float_top1'] * 100:.2f}% | {m['seconds']} |")
    lat = r["latency_ms_1_thread"]
    lines += [
        "", "## `convert --edgetpu` (uint8 I/O, batch 1; the shipped path)", "",
        f"- conversion: {e['conversion_seconds']} s (whole `convert()` call incl. loading, calibration images, "
        f"float reference, report: {e['seconds_end_to_end']} s wall, {e['cpu_seconds_end_to_end']} s CPU over all "
        f"threads; 1-min load average {e['load_average_at_end']:.1f} on {r['machine']['cpus']} CPUs at the end)",
        f"- agreement with float: {e['agreement'] * 100:.2f}%; top-1 int8 {e['int8_top1'] * 100:.2f}% vs float "
        f"{e['float_top1'] * 100:.2f}%",
        f"- Edge TPU (predicted): {e['predicted_mapped_ops']} ops mapped, {e['predicted_cpu_ops']} on the CPU",
        f"- size: {r['size']['int8_edgetpu']} bytes vs float TFLite {r['size']['float32_tflite']} "
        f"(ratio {r['size']['ratio']})", "",
        "## CPU latency, XNNPACK, 1 thread, interleaved (ms)", "",
        "| model | median | p90 | runs |", "|---|---:|---:|---:|",
    ]
    lines += [f"| {k} | {v['median']:.2f} | {v['p90']:.2f} | {v['runs']} |" for k, v in lat.items()]
    lines += ["", f"int8 / float latency: {r['latency_ratio']} (uint8 I/O), {r['latency_ratio_float_io']} (float I/O)",
              "", f"Total benchmark time: {r['total_seconds']} s", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
