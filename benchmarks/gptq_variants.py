"""GPTQ rounding variants on the split of benchmarks/convert_methods.py (200 calibration / 300 held-out images).

    nice .venv/bin/python benchmarks/gptq_variants.py IMAGES,DENSE,DAMP,CALIBRATION,IO ... [--split-seed S] [--out FILE]

Each variant (e.g. ``64,0,0.01,percentile,float``: G from 64 images, Dense layer not rounded, damping 0.01,
percentile ranges, float I/O; IMAGES 0: nearest rounding) is GPTQ rounding + bias correction, converted and run on
the 1200 views; one JSON line per variant (agreement on the 300, on the 1200 views, int8 and float top-1, seconds) into
--out. ``--split-seed`` other than 0 draws another 200 / 300 split of imagenet-500 (a second opinion on the same
images, not the benchmark's held-out set).
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
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--out", default=str(base.ROOT / "benchmarks" / "results" / "convert" / "gptq_variants.jsonl"))
    a = ap.parse_args()
    from edgesdk.bundle import InputSpec
    from edgesdk.converters import LoadedModel, bias_correct, convert_tflite, load_images, load_keras, scan_images
    from edgesdk.converters import gptq_round

    loaded = load_keras(base.MODEL)
    spec = InputSpec.from_range(-1.0, 1.0, resize="crop")
    images = scan_images(base.IMAGES, wnids=base.WNIDS)
    perm = np.random.default_rng(a.split_seed).permutation(len(images))
    cal_set, ev_set = images.subset(np.sort(perm[:200])), images.subset(np.sort(perm[200:]))
    calib, x_ev = load_images(cal_set.paths, (224, 224), spec), load_images(ev_set.paths, (224, 224), spec)
    x_st = load_images(ev_set.paths, (224, 224), InputSpec.from_range(-1.0, 1.0, resize="stretch"))
    views = np.concatenate([x_ev, x_ev[:, :, ::-1], x_st, x_st[:, :, ::-1]])
    assert ev_set.labels is not None
    n, y = len(ev_set), ev_set.labels + 1
    ref = np.asarray(loaded.model.predict(views, batch_size=50, verbose=0)).argmax(1)
    float_top1 = float(np.mean(ref[:n] == y))
    with open(a.out, "a") as f:
        for v in a.variants:
            imgs, dense, damp, cal, io = v.split(",")
            t = time.perf_counter()
            m, d = loaded.model, dict[str, object]()
            if int(imgs) > 0:
                m, d = gptq_round(m, calib, images=int(imgs), dense=dense == "1", damp=float(damp))
            m, _ = bias_correct(m, calib)
            tp = time.perf_counter() - t
            tfl = convert_tflite(LoadedModel(m, "tf_keras", "x"), "int8", calib=calib, calibration=cal, io=io).tflite
            q = base.run_tflite(tfl, views).argmax(1)
            row = {"variant": v, "split_seed": a.split_seed, "agreement": float(np.mean(q[:n] == ref[:n])), "views": float(np.mean(q == ref)),
                   "top1": float(np.mean(q[:n] == y)), "float_top1": float_top1, "prep": round(tp, 1), "total": round(time.perf_counter() - t, 1), **d}
            f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
