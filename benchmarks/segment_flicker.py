"""Flicker of the background-removal mask on video, with and without temporal smoothing.

    nice .venv/bin/python -m edgesdk.benchmarks.segment_flicker [--out benchmarks/results/segment]

Flicker = mean absolute change of the alpha (0..1, after feathering, as remove-background composes it) between
consecutive frames, over all pixels and over the pixels where either frame's alpha is between 0.02 and 0.98
or changed (the edge, where flicker shows). Scenes:

- still: a photo (grace_hopper.bmp, face.jpg) repeated 90 times, each frame with fresh Gaussian sensor noise
  (sigma 3 grey levels) and JPEG-compressed at quality 85, as a fixed camera sees a still person: every change of
  the alpha is flicker.
- again.mkv (webcam, a person gesturing) and the first 300 frames of one-by-one-person-detection.mp4 (fixed
  camera, people walking): real motion, so part of the change is wanted; reported to show the smoothing cost.

Smoothing: ``TemporalSmoother(w)``: alpha source = w * new + (1 - w) * previous (w = 1: off). Model:
selfie_segmentation_landscape.tflite, feather 3 px (the defaults of remove-background on streams).
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
MODEL = SHARED / "testdata" / "models" / "selfie_segmentation_landscape.tflite"
WEIGHTS = (1.0, 0.7, 0.5, 0.3)


def still_frames(photo: Path, n: int = 90, sigma: float = 3.0, seed: int = 0):
    image = cv2.imread(str(photo))
    assert image is not None, photo
    base = image.astype(np.float32)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        noisy = np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)
        ok, jpg = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 85])
        yield cv2.imdecode(jpg, cv2.IMREAD_COLOR)


def flicker(frames, seg, weight: float, feather: float = 3.0) -> dict:
    from edgesdk.runtime.segment import TemporalSmoother, feathered_alpha, foreground

    sm = TemporalSmoother(weight)
    prev = None
    allpix, edge, n = [], [], 0
    for f in frames:
        a = feathered_alpha(sm(foreground(seg.segment(f), [1])), feather)
        if prev is not None:
            d = np.abs(a - prev)
            band = ((a > 0.02) & (a < 0.98)) | ((prev > 0.02) & (prev < 0.98)) | (d > 0.02)
            allpix.append(float(d.mean()))
            edge.append(float(d[band].mean()) if band.any() else 0.0)
        prev = a
        n += 1
    return {"frames": n, "mean_abs_change": round(float(np.mean(allpix)), 6),
            "mean_abs_change_edge": round(float(np.mean(edge)), 5)}


def main(argv: list[str] | None = None) -> int:
    from edgesdk.runtime.segment import load_segmenter
    from edgesdk.runtime.sources import video_frames

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "segment"))
    args = ap.parse_args(argv)
    if not MODEL.is_file():
        print(f"test data missing: {MODEL}", file=sys.stderr)
        return 1
    seg = load_segmenter(MODEL, threads=1)
    images = SHARED / "testdata" / "images"
    videos = SHARED / "testdata" / "videos"
    scenes = {
        "still:grace_hopper": lambda: still_frames(images / "grace_hopper.bmp"),
        "still:face": lambda: still_frames(images / "face.jpg"),
        "again.mkv": lambda: video_frames(videos / "again.mkv"),
        "one-by-one[:300]": lambda: (f for i, f in zip(range(300), video_frames(videos / "one-by-one-person-detection.mp4"))),
    }
    doc: dict = {"model": MODEL.name, "feather_px": 3.0, "scenes": {}}
    for name, make in scenes.items():
        doc["scenes"][name] = {f"w={w}": flicker(make(), seg, w) for w in WEIGHTS}
        print(name, json.dumps(doc["scenes"][name]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "segment_flicker.json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
