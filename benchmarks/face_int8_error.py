"""Where the int8 BlazeFace's score error comes from: the error budget behind convert_face.md's recall.

    nice .venv/bin/python benchmarks/face_int8_error.py [--model face-full] [--out benchmarks/results/convert]

int8 moves each score logit a little, so a box the float model scores just above its threshold may fall under
it. This measures by how much and why, on crops of the project's videos at the face tiles' scales (every 15th
frame, 3 crops of 1 to 4 model inputs: inputs the calibration never saw), over the anchors whose float logit is
within +-2 of the threshold's (scores 0.12 to 0.88), as int8 - float logits (mean, std, 95th percentile of |d|):

- int8 as ``edgesdk convert MODEL --quantize int8 --calib-data faces`` makes it, per ``--calibration`` and
  ``--rounding`` (the default: percentile ranges, GPTQ rounding);
- the float graph (as replayed for the converter, depthwise pairs equalized) with only its weights on TFLite's
  per-channel int8 grid, rounded to nearest (the converter's own) or by GPTQ (as the converter does first): the
  weights' share;
- the same graph with only its activations fake-quantized (8 bits, the central 99.99% of the calibration
  values) at the tensors the int8 model quantizes (a conv or add feeding a ReLU is fused with it; pad, max-pool
  and reshape keep their input's scale): the activations' share, all at once and one tensor at a time (the ten
  largest), and weights plus activations together, which should land near the real int8 model;
- how unequal the channels of those activations are (largest / median channel range): what equalization
  could still win.
Writes face_int8_error.{json,md} (face_int8_error_full.* for the full-range model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from convert_face import CLIPS, FACES, VIDEOS  # noqa: E402

METHODS = (("percentile", "nearest"), ("minmax", "gptq"), ("percentile", "gptq"), ("mse", "gptq"))  # (--calibration, --rounding)
NEAR = 2.0  # |float logit - threshold logit| below this: the anchors that decide recall
TAIL = 5e-5  # activation ranges keep the central 1 - 2 * TAIL of the calibration values (as Percentile)
TAILS = (1e-5, 5e-5, 2e-4, 1e-3)  # the tails compared in simulation


def video_crops(size: tuple[int, int], spec, every: int = 15, per_frame: int = 3, seed: int = 1) -> np.ndarray:
    """(n, h, w, 3) float32 model inputs: ``per_frame`` random square crops (1 to 4 model inputs wide) of every
    ``every``-th frame of the test clips, stretched to the input size and normalised per ``spec``."""
    import cv2

    from edgesdk.runtime import fit_image, normalize
    from edgesdk.runtime.sources import video_frames

    h, w = size
    rng = np.random.default_rng(seed)
    out = []
    for clip in CLIPS:
        for i, f in enumerate(video_frames(VIDEOS / clip)):
            if i % every:
                continue
            ih, iw = f.shape[:2]
            for _ in range(per_frame):
                side = int(w * rng.uniform(1.0, max(1.0, min(4.0, min(iw, ih) / w))))
                x0, y0 = int(rng.integers(0, iw - side + 1)), int(rng.integers(0, ih - side + 1))
                x = fit_image(f[y0:y0 + side, x0:x0 + side], (w, h), "stretch")[0]
                out.append(normalize(cv2.cvtColor(x, cv2.COLOR_BGR2RGB), spec))
    return np.stack(out).astype(np.float32)


def logit_error(got: np.ndarray, ref: np.ndarray, centre: float) -> dict:
    """int8 - float score logits over the anchors with |ref - centre| < NEAR; ``ref`` already clipped."""
    m = np.abs(ref - centre) < NEAR
    d = got[m] - ref[m]
    return {"anchors": int(m.sum()), "mean": round(float(d.mean()), 4), "std": round(float(d.std()), 4),
            "p95_abs": round(float(np.percentile(np.abs(d), 95)), 4)}


def measure(model: str, calib_count: int) -> dict:
    from edgesdk.bundle import load_bundle
    from edgesdk.converters import (ConvertOptions, Gptq, Nearest, ReplayedTflite, calibration_inputs, convert,
                                    raw_outputs, sample, scan_images)
    from edgesdk.runtime.faces import face_model_path

    src = Path(face_model_path(model))
    res: dict = {"methods": {}}
    with tempfile.TemporaryDirectory() as tmp:
        bundles = {}
        for cal, rounding in METHODS:
            t = time.perf_counter()
            out = Path(tmp) / f"{cal}-{rounding}"
            convert(src, out, ConvertOptions(quantize="int8", calib_data=str(FACES), calibration=cal, rounding=rounding,
                                             calib_images=calib_count, latency_runs=0))
            bundles[f"{cal}, {rounding}"] = (out, round(time.perf_counter() - t, 1))
        manifest = load_bundle(bundles["percentile, gptq"][0]).manifest
        spec, params = manifest.input, manifest.output.params
        h, w = (int(v) for v in (params["anchors"]["input_size_height"], params["anchors"]["input_size_width"]))
        ev = video_crops((h, w), spec)
        images = sample(scan_images(FACES, what="faces"), calib_count, 0)  # as quantize_float_tflite picks them
        calib = calibration_inputs(images.paths, (h, w), spec, max(calib_count, len(images)), 0)
        replay = ReplayedTflite(src, calib, TAIL)
        c = replay.score_clip or np.inf
        thr = float(params.get("threshold", 0.5))
        centre = float(np.log(thr / (1 - thr)))
        ref = np.clip(raw_outputs(src, ev)[1], -c, c)
        res["eval_inputs"], res["calib_inputs"], res["score_clip"] = len(ev), len(calib), replay.score_clip
        for m, (path, secs) in bundles.items():
            got = raw_outputs(path / "model.tflite", ev)[1]
            res["methods"][m] = {**logit_error(got, ref, centre), "convert_seconds": secs}
        fref = replay.scores(ev)
        nearest, gptq = replay.on_grid(Nearest()), replay.on_grid(Gptq())
        q = set(replay.quantized)
        res["replay_vs_original"] = logit_error(fref, ref, centre)
        res["weights_only"] = logit_error(replay.scores(ev, weights=nearest), fref, centre)
        res["weights_only_gptq"] = logit_error(replay.scores(ev, weights=gptq), fref, centre)
        res["activations_only"] = logit_error(replay.scores(ev, fake_quant=q), fref, centre)
        res["weights_and_activations"] = logit_error(replay.scores(ev, weights=nearest, fake_quant=q), fref, centre)
        res["weights_gptq_and_activations"] = logit_error(replay.scores(ev, weights=gptq, fake_quant=q), fref, centre)
        per = []
        for t in replay.quantized:
            e = logit_error(replay.scores(ev, fake_quant={t}), fref, centre)
            per.append({"tensor": replay.g.tensors[t].name, "range": [round(v, 3) for v in replay.ranges[t]], **e})
        per.sort(key=lambda r: -r["std"])
        res["activation_tensors"] = len(per)
        res["per_tensor_top10"] = per[:10]
        res["per_tensor_variance_sum"] = round(float(sum(r["std"] ** 2 for r in per)), 5)
        res["tails"] = {}
        for tail in TAILS:  # the Percentile tail, simulated with GPTQ kernels
            r = replay if tail == TAIL else ReplayedTflite(src, calib, tail)
            res["tails"][str(tail)] = logit_error(r.scores(ev, weights=gptq, fake_quant=set(r.quantized)), fref, centre)
        spread = replay.channel_spread()
        res["channel_spread"] = {"median": round(float(np.median(list(spread.values()))), 2),
                                 "max": round(float(max(spread.values())), 2)}
    return res


def render(res: dict) -> str:
    kind = "full range" if res["model"] == "face-full" else "short range"
    rows = [(f"int8, --calibration {m.split(', ')[0]} --rounding {m.split(', ')[1]}"
             + (" (the default for this model)" if m == "percentile, gptq" else ""), e) for m, e in res["methods"].items()]
    rows += [("float graph with int8 weights only, nearest rounding", res["weights_only"]),
             ("float graph with int8 weights only, GPTQ rounding", res["weights_only_gptq"]),
             ("float graph with fake-quantized activations only", res["activations_only"]),
             ("nearest weights + activations (simulates --rounding nearest)", res["weights_and_activations"]),
             ("GPTQ weights + activations (simulates the default)", res["weights_gptq_and_activations"]),
             ("(float replay vs the original model)", res["replay_vs_original"])]
    va, vw, vg = res["activations_only"]["std"] ** 2, res["weights_only"]["std"] ** 2, res["weights_only_gptq"]["std"] ** 2
    lines = [f"# The int8 BlazeFace's ({kind}) score error, and where it comes from", "",
             f"Measured {res['when']} on {res['machine']} (load {res['load']}). Command: `{res['command']}`.", "",
             f"{res['eval_inputs']} crops of the test videos at the face tiles' scales; calibration: "
             f"{res['calib_inputs']} inputs from the faces folder, as `edgesdk convert` makes them. Error = model - "
             f"float score logit over the anchors whose float logit is within +-{NEAR} of the threshold's.", "",
             "| model | anchors | mean | std | 95th pct of abs |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {e['anchors']} | {e['mean']:+.3f} | {e['std']:.3f} | {e['p95_abs']:.3f} |" for name, e in rows]
    lines += ["", f"- share of the error variance with nearest rounding: activations {va / (va + vw) * 100:.0f}%, weights "
              f"{vw / (va + vw) * 100:.0f}% (std^2 of the rows; they add up: sqrt({va:.4f} + {vw:.4f}) = {np.sqrt(va + vw):.3f} "
              f"vs {res['weights_and_activations']['std']:.3f} simulated together); with GPTQ the weights' share is "
              f"{vg / (va + vg) * 100:.0f}%",
              f"- {res['activation_tensors']} quantized activation tensors; the sum of their one-at-a-time variances is "
              f"{res['per_tensor_variance_sum']:.4f} (all at once: {va:.4f}): the error is spread over the network, "
              "no tensor dominates:", "", "| tensor (one at a time) | range | std |", "|---|---|---:|"]
    lines += [f"| {r['tensor']} | {r['range'][0]} .. {r['range'][1]} | {r['std']:.3f} |" for r in res["per_tensor_top10"]]
    lines += ["", "- the Percentile tail (share of the calibration values left out at each end), simulated with GPTQ "
              "kernels:", "", "| tail | mean | std |", "|---:|---:|---:|"]
    lines += [f"| {t}{' (the default)' if float(t) == TAIL else ''} | {e['mean']:+.3f} | {e['std']:.3f} |"
              for t, e in res["tails"].items()]
    lines += ["", f"- channel inequality of those tensors (largest / median channel range on the calibration inputs): "
              f"median {res['channel_spread']['median']}, largest {res['channel_spread']['max']}: little left for "
              "equalization to win", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "convert"))
    p.add_argument("--model", choices=("face", "face-full"), default="face", help="short or full range BlazeFace")
    p.add_argument("--calib-images", type=int, default=200, help="calibration inputs (the converter's default)")
    a = p.parse_args(argv)
    res = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": f"{platform.machine()}, Python {platform.python_version()}",
           "model": a.model, "load": [round(v, 1) for v in os.getloadavg()],
           "command": ("nice .venv/bin/python benchmarks/face_int8_error.py " + " ".join(argv or sys.argv[1:])).rstrip()}
    res.update(measure(a.model, a.calib_images))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "face_int8_error" if a.model == "face" else "face_int8_error_full"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / f"{stem}.md").write_text(render(res))
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
