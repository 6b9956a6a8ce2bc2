"""Benchmark of the int8 BlazeFace that `edgesdk convert` makes from MediaPipe's float .tflite.

    nice .venv/bin/python benchmarks/convert_face.py [--out benchmarks/results/convert] [--stride 1] [--model face-full]

In one run: converts face_detection_short_range.tflite (or the full-range model) twice (int8 I/O for the CPU, and --edgetpu), then

- recall: every box the float model finds (all tiles on every frame, still-image tile layout, default
  threshold) on every --stride-th frame of ../shared/testdata/videos and on the 4 labelled photos, and the share
  the int8 model finds again with IoU >= 0.5 (and the reverse: int8 boxes the float model lacks);
- labelled faces: the 18 boxes of faces/training.xml found by `anonymize`'s still-photo detector (IoU >= 0.3 and
  >= 0.5) with the float model and with the int8 bundle;
- leaks: each clip anonymized with the CLI's video defaults (benchmarks/anonymize_fps.run_clip) once with the
  float model and once with the int8 bundle, and checked with the anonymize benchmark's leak check (its four
  definitions; "sure" = reference score >= 0.9);
- latency: bare invoke of int8 and float on 1 thread, interleaved (one invoke of each per round);
- Edge TPU: the mapping the predictor gives for the --edgetpu variant (no compiler here).
Writes convert_face.json and convert_face.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
FACES = SHARED / "testdata" / "faces"
VIDEOS = SHARED / "testdata" / "videos"
CLIPS = ["again.mkv", "face-demographics-walking.gif", "one-by-one-person-detection.mp4"]
sys.path.insert(0, str(REPO / "benchmarks"))


MODEL = "face"  # the built-in float model compared with its int8 bundle (--model)
ROUNDING = "gptq"  # the converter's --rounding (--rounding)


def convert(out: Path, edgetpu: bool) -> dict:
    from edgesdk.converters import ConvertOptions, convert as _convert
    from edgesdk.runtime.faces import face_model_path

    opts = ConvertOptions(quantize="int8", calib_data=str(FACES), edgetpu=edgetpu, latency_runs=0, rounding=ROUNDING)
    t = time.perf_counter()
    rep = _convert(face_model_path(MODEL), out, opts).to_dict()  # report.json's content
    rep["wall_seconds"] = round(time.perf_counter() - t, 1)
    return rep


def _thorough(model: str):
    from edgesdk.runtime.anonymize import STILL_TILE_FACTOR
    from edgesdk.runtime.faces import FaceDetector, TiledDetector

    return TiledDetector(FaceDetector(model, threads=1), "auto", sweep_frames=1, tile_factor=STILL_TILE_FACTOR)


def _frames(stride: int):
    from edgesdk.runtime.sources import video_frames

    for p in sorted(FACES.glob("*.jpg")):
        yield "photos", cv2.imread(str(p))
    for clip in CLIPS:
        for i, f in enumerate(video_frames(VIDEOS / clip)):
            if i % stride == 0:
                yield clip, f


def _face_view(img: np.ndarray, box: np.ndarray, score: float) -> np.ndarray:
    """160x160 view of ``box`` (x1, y1, x2, y2 pixels) with half its width around it, its score written on it."""
    from edgesdk.runtime import fit_image

    x1, y1, x2, y2 = box.astype(int)
    m = max(1, (x2 - x1) // 2)
    c = fit_image(img[max(0, y1 - m):max(1, y2 + m), max(0, x1 - m):max(1, x2 + m)], (160, 160), "stretch")[0]
    cv2.putText(c, f"{score:.2f}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
    return c


def _montage(crops: list, path: Path) -> None:
    crops = crops + [np.zeros((160, 160, 3), np.uint8)] * (-len(crops) % 6)
    if crops:
        cv2.imwrite(str(path), np.vstack([np.hstack(crops[i:i + 6]) for i in range(0, len(crops), 6)]))


def recall(bundle: Path, stride: int, crops_dir: Path | None = None) -> dict:
    """Recall of the float boxes by int8; with ``crops_dir``, montages of the missed float boxes and of the int8
    boxes the float model lacks (missed.png, extra.png) to look at what they are."""
    from edgesdk.runtime.faces import iou_matrix

    ref, q = _thorough(MODEL), _thorough(str(bundle))
    per: dict = {}
    missed_crops: list = []
    extra_crops: list = []
    for name, img in _frames(stride):
        ref.reset()
        q.reset()
        da, dq = ref.detect(img), q.detect(img)
        a, b = da.xyxy, dq.xyxy
        if crops_dir is not None and len(a) + len(b):
            m = iou_matrix(a, b) if len(a) and len(b) else np.zeros((len(a), len(b)))
            missed_crops += [_face_view(img, a[i], da.score[i]) for i in range(len(a)) if m.shape[1] == 0 or m[i].max() < 0.5]
            extra_crops += [_face_view(img, b[j], dq.score[j]) for j in range(len(b)) if m.shape[0] == 0 or m[:, j].max() < 0.5]
        d = per.setdefault(name, {"frames": 0, "float_boxes": 0, "found": 0, "int8_boxes": 0, "int8_extra": 0,
                                  "float_boxes_0.7": 0, "found_0.7": 0, "float_boxes_0.6": 0, "found_0.6": 0,
                                  "missed": []})
        d["frames"] += 1
        d["float_boxes"] += len(a)
        d["int8_boxes"] += len(b)
        d["float_boxes_0.7"] += int((da.score >= 0.7).sum())
        d["float_boxes_0.6"] += int((da.score >= 0.6).sum())
        if len(a) and len(b):
            m = iou_matrix(a, b)
            hit = m.max(1) >= 0.5
            d["found"] += int(hit.sum())
            d["found_0.7"] += int((hit & (da.score >= 0.7)).sum())
            d["found_0.6"] += int((hit & (da.score >= 0.6)).sum())
            d["missed"] += [[round(float(da.score[i]), 3), round(float(a[i, 2] - a[i, 0]), 1), round(float(m[i].max()), 2)]
                            for i in np.flatnonzero(~hit)]
            d["int8_extra"] += int((m.max(0) < 0.5).sum())
        else:
            d["int8_extra"] += len(b) if not len(a) else 0
    if crops_dir is not None:
        crops_dir.mkdir(parents=True, exist_ok=True)
        _montage(missed_crops, crops_dir / "missed.png")
        _montage(extra_crops, crops_dir / "extra.png")
    tot = {k: sum(d[k] for d in per.values()) for k in ("frames", "float_boxes", "found", "int8_boxes", "int8_extra",
                                                          "float_boxes_0.7", "found_0.7", "float_boxes_0.6", "found_0.6")}
    tot["recall"] = round(tot["found"] / max(1, tot["float_boxes"]), 4)
    tot["recall_float_score_0.7"] = round(tot["found_0.7"] / max(1, tot["float_boxes_0.7"]), 4)
    tot["recall_float_score_0.6"] = round(tot["found_0.6"] / max(1, tot["float_boxes_0.6"]), 4)
    tot["missed_float_scores_max"] = max((m[0] for d in per.values() for m in d["missed"]), default=None)
    return {"per_source": per, "total": tot, "stride": stride}


def labelled(bundle: Path) -> dict:
    from edgesdk.runtime.anonymize import build_detectors
    from edgesdk.runtime.faces import iou_matrix

    root = ET.parse(FACES / "training.xml").getroot()
    out = {}
    for name, spec in (("float", MODEL), ("int8", str(bundle))):
        det = build_detectors([spec], still=True, workers=1)
        hits = {0.3: 0, 0.5: 0}
        total = 0
        for image in root.iter("image"):
            truth = np.array([[int(b.get("left")), int(b.get("top")), int(b.get("left")) + int(b.get("width")),
                               int(b.get("top")) + int(b.get("height"))] for b in image.iter("box")], np.float32)
            det.reset()
            boxes = det.detect(cv2.imread(str(FACES / image.get("file")))).xyxy
            total += len(truth)
            if len(boxes):
                best = iou_matrix(truth, boxes).max(1)
                for t in hits:
                    hits[t] += int((best >= t).sum())
        det.close()
        out[name] = {"faces": total, "found_iou_0.3": hits[0.3], "found_iou_0.5": hits[0.5]}
    return out


def _head(clip: Path, frames: int | None, work: Path) -> Path:
    """The clip itself, or its first ``frames`` frames re-written as MJPG (both models then get the same file)."""
    from edgesdk.runtime.sources import video_frames

    if not frames:
        return clip
    out = work / f"head-{clip.stem}.avi"
    w = None
    for i, f in enumerate(video_frames(clip)):
        if i >= frames:
            break
        if w is None:
            w = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (f.shape[1], f.shape[0]))
        w.write(f)
    assert w is not None
    w.release()
    return out


def leak_check(bundle: Path, work: Path, frames: int | None) -> dict:
    import anonymize_fps as af

    out = {}
    clips = {c: _head(VIDEOS / c, frames, work) for c in CLIPS}
    for name, spec in (("float", MODEL), ("int8", str(bundle))):
        for clip, path in clips.items():
            mp4 = work / f"{name}-{Path(clip).stem}.mp4"
            run = af.run_clip(path, "auto", None, 1, mp4, detector=spec)
            out.setdefault(name, {})[clip] = {"fps": run["fps"], "frames": run.get("frames_read"),
                                              **af.leaks(path, mp4)}
    return out


def latency(bundle: Path, runs: int) -> dict:
    from edgesdk.converters import measure_latency
    from edgesdk.runtime.faces import face_model_path

    lat = measure_latency({"int8": bundle / "model.tflite", "float": face_model_path(MODEL)}, threads=1, runs=runs)
    lat["ratio_int8_float"] = round(lat["int8"]["median"] / lat["float"]["median"], 3)
    return lat


def edgetpu(bundle: Path) -> dict:
    from edgesdk.tflite import predict_edgetpu, read_model

    pred = predict_edgetpu(read_model(bundle / "model.tflite"))
    cpu = [p.to_dict() for p in pred.ops if p.target == "cpu"]
    return {"ops": len(pred.ops), "cpu_ops": cpu, "all_mapped_but_io": all(p["op"] in ("QUANTIZE", "DEQUANTIZE") for p in cpu)}


def _every(stride: int) -> str:
    return "every video frame" if stride == 1 else f"every {stride}th video frame"


def render(res: dict) -> str:
    r, lab, lat, tpu = res["recall"]["total"], res["labelled"], res["latency"], res["edgetpu"]
    q = res["convert"]["cpu"]["quantization"]
    thr = res.get("threshold")
    kind = "full range" if res.get("model") == "face-full" else "short range"
    lines = [f"# int8 BlazeFace ({kind}) from MediaPipe's float .tflite", "",
             f"Measured {res['when']} on {res['machine']} (2 CPUs shared with other work; load {res['load']}). "
             f"Command: `{res['command']}`.", "",
             f"- conversion: {res['convert']['cpu']['conversion_seconds']} s in the converter "
             f"({res['convert']['cpu']['wall_seconds']} s with replay, calibration inputs and checks), "
             f"{res['convert']['cpu']['size']['model.tflite']} bytes (float {res['convert']['cpu']['size']['float32 reference']})",
             f"- int8 recipe: calibration {q['calibration']}, {(q.get('weights') or {}).get('rounding', 'nearest')} rounding, "
             f"{(q.get('equalized') or {}).get('pairs', 0)} depthwise -> conv "
             f"pairs equalized, score threshold {thr} chosen on the calibration inputs (float: "
             f"{(q.get('score_threshold') or {}).get('float_threshold')})",
             f"- recall of the float model's boxes by int8 (IoU >= 0.5): **{r['recall'] * 100:.2f}%** "
             f"({r['found']}/{r['float_boxes']} boxes on {r['frames']} frames and photos, "
             f"{_every(res['recall']['stride'])}); int8 boxes the float model lacks: {r['int8_extra']}",
             f"- of the float boxes scoring >= 0.7: **{r['recall_float_score_0.7'] * 100:.2f}%** found "
             f"({r['found_0.7']}/{r['float_boxes_0.7']}); scoring >= 0.6: {r.get('recall_float_score_0.6', 0) * 100:.2f}% "
             f"({r.get('found_0.6')}/{r.get('float_boxes_0.6')}); the highest float score of a missed box: {r['missed_float_scores_max']} "
             "(missed boxes with their float score, width and best IoU are in the JSON)",
             f"- labelled faces (training.xml): float {lab['float']['found_iou_0.3']}/{lab['float']['faces']}, "
             f"int8 {lab['int8']['found_iou_0.3']}/{lab['int8']['faces']} at IoU >= 0.3 "
             f"(IoU >= 0.5: float {lab['float']['found_iou_0.5']}, int8 {lab['int8']['found_iou_0.5']})",
             f"- bare invoke, 1 thread, interleaved, median of {lat['int8']['runs']}: int8 {lat['int8']['median']:.3f} ms, "
             f"float {lat['float']['median']:.3f} ms: **int8/float = {lat['ratio_int8_float']}** (x86 XNNPACK)",
             f"- --edgetpu variant: {tpu['ops']} ops, predicted on the CPU: "
             f"{', '.join(p['op'] for p in tpu['cpu_ops']) or 'none'} (all mapped apart from I/O: {tpu['all_mapped_but_io']})",
             "", "## Per source (recall)", "", "| source | frames | float boxes | found by int8 | int8 boxes | int8 extra |",
             "|---|---:|---:|---:|---:|---:|"]
    for k, d in res["recall"]["per_source"].items():
        lines.append(f"| {k} | {d['frames']} | {d['float_boxes']} | {d['found']} | {d['int8_boxes']} | {d['int8_extra']} |")
    if res.get("leaks"):
        lines += ["", "## Leaks (anonymize defaults; leaked / input faces, IoU >= 0.5 unless noted)", "",
                  f"First {res.get('leak_frames') or 'all'} frames of each clip.", "",
                  "| model | clip | frames | raw | confirmed | sure (score >= 0.9): leaked faces, frames |",
                  "|---|---|---:|---|---|---|"]
        for name, clips in res["leaks"].items():
            for clip, d in clips.items():
                s = d["score_0.9"]
                lines.append(f"| {name} | {clip} | {d['frames']} | {d['raw']['leaked_faces']}/{d['raw']['input_faces']} | "
                             f"{d['confirmed']['leaked_faces']}/{d['confirmed']['input_faces']} | "
                             f"{s['leaked_faces']}/{s['input_faces']}, {len(s['leaked_frames'])} frames |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "convert"))
    p.add_argument("--stride", type=int, default=1, help="use every N-th video frame for the recall")
    p.add_argument("--runs", type=int, default=300, help="latency rounds")
    p.add_argument("--no-leaks", action="store_true", help="skip the (slow) leak check")
    p.add_argument("--crops", metavar="DIR", help="write missed.png / extra.png: the float boxes int8 misses and "
                   "the int8 boxes float lacks, to look at (not committed: frames of the test clips)")
    p.add_argument("--model", choices=("face", "face-full"), default="face", help="short or full range BlazeFace")
    p.add_argument("--leak-frames", type=int, default=None, help="leak check on the first N frames of each clip")
    p.add_argument("--rounding", choices=("gptq", "nearest"), default="gptq", help="the converter's kernel rounding")
    a = p.parse_args(argv)
    global MODEL, ROUNDING
    MODEL, ROUNDING = a.model, a.rounding
    res: dict = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": f"{platform.machine()}, Python {platform.python_version()}",
                 "model": a.model, "load": [round(v, 1) for v in os.getloadavg()], "command": "python benchmarks/convert_face.py " + " ".join(argv or sys.argv[1:])}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cpu, tpu = work / "face-int8", work / "face-int8-edgetpu"
        res["convert"] = {"cpu": convert(cpu, False), "edgetpu": convert(tpu, True)}
        res["edgetpu"] = edgetpu(tpu)
        res["latency"] = latency(cpu, a.runs)
        res["labelled"] = labelled(cpu)
        res["recall"] = recall(cpu, a.stride, Path(a.crops) if a.crops else None)
        res["threshold"] = json.loads((cpu / "manifest.json").read_text())["output"]["params"]["threshold"]
        if not a.no_leaks:
            res["leaks"] = leak_check(cpu, work, a.leak_frames)
            res["leak_frames"] = a.leak_frames
        for k in ("cpu", "edgetpu"):
            res["convert"][k] = {key: res["convert"][k][key] for key in ("conversion_seconds", "wall_seconds", "size", "quantization", "ops")}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = ("convert_face" if a.model == "face" else "convert_face_full") + ("" if a.rounding == "gptq" else f"_{a.rounding}")
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    (out / f"{stem}.md").write_text(render(res))
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
