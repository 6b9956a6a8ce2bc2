"""Segmentation benchmark: mask edge quality of the upscalers, and agreement with Coral's example code.

    .venv/bin/python -m edgesdk.benchmarks.segment_upscale [--out benchmarks/results/segment]

1. Edge quality (smooth vs nearest upscaling), two measurable set-ups on every image of ../shared/testdata/images:

   a. DeepLabV3 (deeplabv3_mnv2_dm05_pascal_quant): the graph computes 33x33x21 logits, resizes them bilinearly
      (align_corners) to 513x513 and takes ARG_MAX. Read through the interpreter's debug option experimental_preserve_all_tensors
      (benchmark only: it keeps every intermediate tensor), the 33x33 logits give a higher-resolution reference:
      logits bilinear straight to the source size, then argmax. Compared with it: the runtime's path (the 513x513
      label map -> source size) by nearest neighbour and by the smooth one-hot vote, and the 33x33 argmax by
      nearest (what a 33x33 label map would give).
   b. Selfie segmenter (selfie_segmentation, 256x256 probability): reference = the model's own 256x256 map,
      thresholded; a 64x64 map (the probability area-averaged 4x) is upscaled back to 256 by nearest on the
      labels, and by bilinear on the probability then threshold.
   Reported: pixel agreement with the reference, over all pixels and within 3 px of the reference's class
   boundaries (where upscaling matters), and the boundary length ratio (mask perimeter / reference perimeter:
   a staircase makes it longer than 1).

2. Agreement with Coral: pycoral's examples/semantic_segmentation.py resizes the image with PIL's ANTIALIAS
   (Lanczos) to the model input (stretched; or, with --keep_aspect_ratio, scaled into the top-left corner over
   zero padding), sets the uint8 RGB tensor, invokes, takes the (argmax) label map and crops the padding. That
   procedure is reproduced here with PIL and the same interpreter, and its label map (scaled to the source size
   by nearest neighbour) compared pixel by pixel with `Segmenter.segment` (CPU) with resize="stretch" (the
   default, = Coral's default) and resize="pad" (= --keep_aspect_ratio; `edgesdk segment --keep-aspect`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
MODELS = SHARED / "testdata" / "models"
IMAGES = sorted((SHARED / "testdata" / "images").glob("*"))
DEEPLAB = MODELS / "deeplabv3_mnv2_dm05_pascal_quant.tflite"
SELFIE = MODELS / "selfie_segmentation.tflite"


def _band(ref: np.ndarray, px: int = 3) -> np.ndarray:
    """Pixels within ``px`` of a class change in ``ref``."""
    edge = np.zeros(ref.shape, np.uint8)
    edge[:, 1:] |= (ref[:, 1:] != ref[:, :-1]).astype(np.uint8)
    edge[1:, :] |= (ref[1:, :] != ref[:-1, :]).astype(np.uint8)
    return cv2.dilate(edge, np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def _perimeter(labels: np.ndarray) -> float:
    """Total boundary length (px) of all classes but 0, from OpenCV contours (arc length, chain approx none)."""
    total = 0.0
    for c in np.unique(labels):
        if c == 0:
            continue
        cs, _ = cv2.findContours((labels == c).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        total += sum(cv2.arcLength(k, True) for k in cs)
    return total


def _score(ref: np.ndarray, got: np.ndarray) -> dict:
    band = _band(ref)
    pr = _perimeter(ref)
    return {"agree": round(float((ref == got).mean()), 5),
            "agree_boundary_band": round(float((ref == got)[band].mean()), 5) if band.any() else None,
            "perimeter_ratio": round(_perimeter(got) / pr, 4) if pr else None}


def _align_corners(n: int, w: int, h: int) -> tuple[float, float, float, float]:
    """Window that makes the upscaler map corner pixel centres onto corner pixel centres (TF's
    align_corners=True, which this DeepLab graph's RESIZE_BILINEAR uses: checked, 99.6 % of its 513x513 labels
    are reproduced from the 33x33 logits this way, 98.2 % with half-pixel centres)."""
    ax, ay = (n - 1) / (w - 1), (n - 1) / (h - 1)
    x0, y0 = 0.5 - 0.5 * ax, 0.5 - 0.5 * ay
    return x0, y0, x0 + w * ax, y0 + h * ay


def deeplab_edges() -> list[dict]:
    from ai_edge_litert.interpreter import Interpreter

    from edgesdk.runtime.segment import full_window, upscale_labels, upscale_scores

    it = Interpreter(str(DEEPLAB), experimental_preserve_all_tensors=True, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    det = {d["name"]: d for d in it.get_tensor_details()}
    logits_d = det["ResizeBilinear_1"]  # 1x33x33x21, the last tensor before the in-graph upsampling
    out_d = it.get_output_details()[0]
    rows = []
    for path in IMAGES:
        img = cv2.imread(str(path))
        assert img is not None, path
        h, w = img.shape[:2]
        x = cv2.cvtColor(cv2.resize(img, (513, 513), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        q = it.get_tensor(logits_d["index"])[0].astype(np.float32)
        scale, zp = logits_d["quantization"]
        logits = (q - zp) * scale
        lab513 = it.get_tensor(out_d["index"])[0].astype(np.int32)
        win33 = _align_corners(33, w, h)
        ref = upscale_scores(logits, win33, (w, h), "smooth")
        row: dict = {"image": path.name, "size": [w, h]}
        for name, got in (
            ("label513_nearest", upscale_labels(lab513, full_window(lab513.shape), (w, h), "nearest")),
            ("label513_smooth", upscale_labels(lab513, full_window(lab513.shape), (w, h), "smooth")),
            ("label33_nearest", upscale_labels(np.argmax(logits, -1), win33, (w, h), "nearest")),
            ("label33_smooth", upscale_labels(np.argmax(logits, -1), win33, (w, h), "smooth")),
        ):
            row[name] = _score(ref, got)
        rows.append(row)
    return rows


def selfie_edges() -> list[dict]:
    from edgesdk.runtime.segment import full_window, load_segmenter, upscale_probability

    seg = load_segmenter(SELFIE, threads=1)
    rows = []
    for path in IMAGES:
        img = cv2.imread(str(path))
        assert img is not None, path
        prob, _ = seg.infer(img)
        ref = (prob >= 0.5).astype(np.int32)
        small = cv2.resize(prob, (64, 64), interpolation=cv2.INTER_AREA)
        win = full_window(small.shape)
        nearest = (upscale_probability(small, win, (256, 256), "nearest") >= 0.5).astype(np.int32)
        smooth = (upscale_probability(small, win, (256, 256), "smooth") >= 0.5).astype(np.int32)
        rows.append({"image": path.name, "person_share": round(float(ref.mean()), 4),
                     "nearest": _score(ref, nearest), "smooth": _score(ref, smooth)})
    return rows


def coral_reference(model: Path, path: Path, keep_aspect: bool) -> np.ndarray:
    """pycoral's semantic_segmentation.py procedure (PIL resize, uint8 RGB in, argmax, crop), CPU interpreter."""
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    it = Interpreter(str(model), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    _, ih, iw, _ = d["shape"]
    img = Image.open(path).convert("RGB")
    tensor = np.zeros((ih, iw, 3), np.uint8)
    if keep_aspect:
        s = min(iw / img.size[0], ih / img.size[1])
        nw, nh = int(img.size[0] * s), int(img.size[1] * s)
        tensor[:nh, :nw] = np.asarray(img.resize((nw, nh), Image.Resampling.LANCZOS))
    else:
        nw, nh = iw, ih
        tensor[:] = np.asarray(img.resize((iw, ih), Image.Resampling.LANCZOS))
    it.set_tensor(d["index"], tensor[None])
    it.invoke()
    out = it.get_tensor(it.get_output_details()[0]["index"])[0]
    if out.ndim == 3 and out.shape[-1] > 1:
        out = np.argmax(out, axis=-1)
    return np.asarray(out).reshape(out.shape[:2])[:nh, :nw].astype(np.int32)


def coral_agreement() -> list[dict]:
    """Our label map (each resize mode x upscaler) vs Coral's, both ways of Coral's example."""
    from edgesdk.runtime.segment import load_segmenter

    refs = {p.name: {k: coral_reference(DEEPLAB, p, k) for k in (False, True)} for p in IMAGES}
    rows = []
    for resize in ("stretch", "pad"):
        for upscale in ("smooth", "nearest"):
            seg = load_segmenter(DEEPLAB, threads=1, upscale=upscale, resize=resize)
            for path in IMAGES:
                img = cv2.imread(str(path))
                assert img is not None, path
                h, w = img.shape[:2]
                ours = seg.segment(img).label_map
                row: dict = {"image": path.name, "resize": resize, "upscale": upscale}
                for keep in (False, True):
                    ref = cv2.resize(refs[path.name][keep].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
                    row["coral_keep_aspect" if keep else "coral_default"] = round(float((ref == ours).mean()), 5)
                rows.append(row)
    return rows


def _mean(rows: list[dict], key: str, sub: str) -> float:
    vals = [r[key][sub] for r in rows if r[key][sub] is not None]
    return round(float(np.mean(vals)), 5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "segment"))
    args = ap.parse_args(argv)
    if not DEEPLAB.is_file():
        print(f"test data missing: {DEEPLAB}", file=sys.stderr)
        return 1
    doc: dict = {"deeplab_edges": deeplab_edges(), "selfie_edges": selfie_edges(), "coral_agreement": coral_agreement()}
    dl, sf = doc["deeplab_edges"], doc["selfie_edges"]
    keys = ("label513_nearest", "label513_smooth", "label33_nearest", "label33_smooth")
    doc["summary"] = {
        "deeplab": {k: {s: _mean(dl, k, s) for s in ("agree", "agree_boundary_band", "perimeter_ratio")} for k in keys},
        "selfie": {k: {s: _mean(sf, k, s) for s in ("agree", "agree_boundary_band", "perimeter_ratio")}
                   for k in ("nearest", "smooth")},
        "coral": {f"{rs}/{u}": {m: {"mean": round(float(np.mean(v := [r[m] for r in doc["coral_agreement"]
                                                                          if (r["resize"], r["upscale"]) == (rs, u)])), 5),
                                    "min": round(float(np.min(v)), 5)}
                                for m in ("coral_default", "coral_keep_aspect")}
                  for rs in ("stretch", "pad") for u in ("smooth", "nearest")},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "segment_upscale.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
