"""int8 MobileNetV2: agreement with float and top-1 per calibration / weight method, on the split of
benchmarks/convert_mobilenet_v2.py (200 calibration images of imagenet-500, the other 300 held out).

    nice .venv/bin/python benchmarks/convert_methods.py [--out benchmarks/results/convert] [--only SUBSTR ...]

Float I/O methods, each a weight preparation (edgesdk.converters.prepare_weights: [cross-layer equalization] ->
[weight rounding: GPTQ-style sequential or AdaRound] -> bias correction) and an activation range method (min/max,
MSE, 99.99th percentile); then the product path ``convert --edgetpu`` (uint8 I/O, evaluated through the runtime's
preprocessing). Agreement is also given on 1200 views of the 300 held-out images (centre crop, stretch, mirrored)
because 300 images resolve it only to 0.33 points. Checks that no calibration image (by content) is held out.
Writes convert_methods.json / .md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_mobilenet_v2 as base  # noqa: E402

# name -> (equalize, rounding, bias correction, activation ranges); "cle-relu": ReLU6 -> ReLU between the pairs
FLOAT_IO = {
    "bias correction + minmax": (None, "nearest", True, "minmax"),
    "bias correction + mse": (None, "nearest", True, "mse"),
    "bias correction + percentile": (None, "nearest", True, "percentile"),
    "CLE (ReLU6 kept, safe) + bias correction + minmax": ("cle", "nearest", True, "minmax"),
    "CLE (ReLU6 kept, safe) + bias correction + percentile": ("cle", "nearest", True, "percentile"),
    "CLE (ReLU6 -> ReLU) + bias correction + minmax": ("cle-relu", "nearest", True, "minmax"),
    "AdaRound + minmax": (None, "adaround", True, "minmax"),
    "AdaRound + percentile": (None, "adaround", True, "percentile"),
    "GPTQ rounding + minmax": (None, "gptq", True, "minmax"),
    "GPTQ rounding + percentile": (None, "gptq", True, "percentile"),
    "CLE (safe) + GPTQ rounding + minmax": ("cle", "gptq", True, "minmax"),
    "CLE (safe) + GPTQ rounding + percentile": ("cle", "gptq", True, "percentile"),
}
# name -> (calibration, rounding, equalize) through edgesdk.converters.convert(edgetpu=True)
EDGETPU = {
    "convert --edgetpu (uint8 I/O), minmax": ("minmax", "nearest", False),
    "convert --edgetpu (uint8 I/O), percentile": ("percentile", "nearest", False),
    "convert --edgetpu (uint8 I/O), GPTQ rounding + minmax": ("minmax", "gptq", False),
    "convert --edgetpu (uint8 I/O), GPTQ rounding + percentile": ("percentile", "gptq", False),
}


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _prepare(loaded, calib, eq: str | None, rounding: str, bc: bool):
    from edgesdk.converters import LoadedModel
    from edgesdk.converters import equalize
    from edgesdk.converters import prepare_weights

    model, info = loaded.model, {}
    if eq == "cle-relu":
        model, info["equalize"] = equalize(model, calib, replace_relu6=True)
    model, prep = prepare_weights(model, calib, equalize=eq == "cle", rounding=rounding, bias_correction=bc)
    return LoadedModel(model, "tf_keras", loaded.source), {**info, **prep}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(base.ROOT / "benchmarks" / "results" / "convert"))
    ap.add_argument("--only", nargs="*", default=None, help="run only methods whose name contains one of these")
    a = ap.parse_args()
    from edgesdk.bundle import InputSpec
    from edgesdk.converters import ConvertOptions, convert, convert_tflite, load_images, load_keras, scan_images

    def wanted(name: str) -> bool:
        return a.only is None or any(s in name for s in a.only)

    loaded = load_keras(base.MODEL)
    spec = InputSpec.from_range(-1.0, 1.0, resize="crop")
    images = scan_images(base.IMAGES, wnids=base.WNIDS)
    perm = np.random.default_rng(0).permutation(len(images))
    cal_set, ev_set = images.subset(np.sort(perm[:200])), images.subset(np.sort(perm[200:]))
    overlap = len({_digest(p) for p in cal_set.paths} & {_digest(p) for p in ev_set.paths})
    if overlap:
        raise SystemExit(f"{overlap} calibration image(s) are also held out")
    calib, x_ev = load_images(cal_set.paths, (224, 224), spec), load_images(ev_set.paths, (224, 224), spec)
    x_st = load_images(ev_set.paths, (224, 224), InputSpec.from_range(-1.0, 1.0, resize="stretch"))
    views = np.concatenate([x_ev, x_ev[:, :, ::-1], x_st, x_st[:, :, ::-1]])
    n, y = len(ev_set), ev_set.labels + 1
    p_float = np.asarray(loaded.model.predict(views, batch_size=50, verbose=0))
    ref = p_float.argmax(1)
    res: dict = {"command": "nice .venv/bin/python benchmarks/convert_methods.py",
                 "float_top1": float(np.mean(ref[:n] == y)), "held_out": n, "calibration_images": len(cal_set),
                 "calibration_held_out_overlap_by_content": overlap, "methods": {}}
    prepared: dict = {}  # the same weight preparation is reused across range methods (its time counted each row)
    for name, (eq, rounding, bc, cal) in FLOAT_IO.items():
        if not wanted(name):
            continue
        if (eq, rounding, bc) not in prepared:
            t = time.perf_counter()
            prepared[eq, rounding, bc] = (*_prepare(loaded, calib, eq, rounding, bc), time.perf_counter() - t)
        target, info, t_prep = prepared[eq, rounding, bc]
        t = time.perf_counter() - t_prep
        q = base.run_tflite(convert_tflite(target, "int8", calib=calib, io="float", calibration=cal).tflite, views).argmax(1)
        row = {"agreement": float(np.mean(q[:n] == ref[:n])), "agreement_1200_views": float(np.mean(q == ref)),
               "int8_top1": float(np.mean(q[:n] == y)), "seconds": round(time.perf_counter() - t, 1),
               "prepare_seconds": round(t_prep, 1)}
        if eq == "cle-relu":  # the float model itself changed: how far from the original float
            pf = np.asarray(target.model.predict(views[:n], batch_size=50, verbose=0)).argmax(1)
            row["modified_float_agreement"], row["modified_float_top1"] = float(np.mean(pf == ref[:n])), float(np.mean(pf == y))
        res["methods"][name] = row
        print(name, row, info.get("rounding_details"), info.get("equalize"), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cal_dir, ev_dir = base.link_split(Path(tmp), cal_set, ev_set)
        for k, (name, (cal, rounding, eq)) in enumerate(EDGETPU.items()):
            if not wanted(name):
                continue
            rep = convert(base.MODEL, Path(tmp) / f"b{k}", ConvertOptions(
                edgetpu=True, calibration=cal, rounding=rounding, equalize=eq, calib_data=str(cal_dir),
                eval_data=str(ev_dir), wnids=str(base.WNIDS), latency_runs=0))
            acc = rep.accuracy
            assert acc is not None
            res["methods"][name] = {"agreement": acc.agreement, "int8_top1": acc.tflite_top1,
                                    "seconds": rep.conversion_seconds, "total_seconds": rep.report["total_seconds"],
                                    "disagreements": round((1 - acc.agreement) * acc.n),
                                    "disagreements_that_are_ties": acc.tied_disagreements,
                                    "agreement_ties_counted": acc.agreement + acc.tied_disagreements / acc.n}
            print(name, res["methods"][name], flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if a.only is None else "_partial"
    (out / f"convert_methods{suffix}.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / f"convert_methods{suffix}.md").write_text(render(res))
    print(render(res))
    return 0


def render(res: dict) -> str:
    lines = ["# int8 MobileNetV2 per calibration method (300 held-out images of imagenet-500)", "",
             f"Command: `{res['command']}`. Calibration: {res['calibration_images']} images, none of them (by content) "
             f"among the {res['held_out']} held out. Float top-1 {res['float_top1'] * 100:.2f}%. Agreement = same "
             "top-1 class as the float Keras model; 1200 views = the held-out images centre-cropped, stretched and "
             "mirrored (float I/O rows only). Seconds, float I/O rows: weight preparation, and preparation + conversion + "
             "running the 1200 views; --edgetpu rows: the conversion step (incl. preparation), and the whole "
             "`convert()` call. Wall time on 2 cores shared with other work (load 3-8).", "",
             "| method | agreement | agreement (1200 views) | int8 top-1 | prepare s | s |",
             "|---|---:|---:|---:|---:|---:|"]
    for k, v in res["methods"].items():
        views = f"{v['agreement_1200_views'] * 100:.2f}%" if "agreement_1200_views" in v else "-"
        prep = v.get("prepare_seconds", "-")
        secs = f"{v['seconds']} / {v['total_seconds']}" if "total_seconds" in v else f"{v['seconds']}"
        lines.append(f"| {k} | {v['agreement'] * 100:.2f}% | {views} | {v['int8_top1'] * 100:.2f}% | {prep} | {secs} |")
        if "modified_float_agreement" in v:
            lines.append(f"| (that float model with ReLU, unquantized) | {v['modified_float_agreement'] * 100:.2f}% | - | "
                         f"{v['modified_float_top1'] * 100:.2f}% | - | - |")
    ties = {k: v for k, v in res["methods"].items() if "disagreements_that_are_ties" in v}
    if ties:
        lines += ["", "The --edgetpu rows' outputs are uint8 softmax probabilities in steps of 1/256: when the top step is "
                  "shared by several classes, the index order picks one. Disagreements that are such ties, with the "
                  "float model's class among the tied:", "",
                  "| method | disagreements | of them ties | agreement counting those ties |", "|---|---:|---:|---:|"]
        lines += [f"| {k} | {v['disagreements']} | {v['disagreements_that_are_ties']} | "
                  f"{v['agreement_ties_counted'] * 100:.2f}% |" for k, v in ties.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
