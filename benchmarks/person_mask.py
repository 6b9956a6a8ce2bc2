"""Benchmark of `edgesdk anonymize --person-mask`: leaks and speed on the far-people clip.

    nice .venv/bin/python -m edgesdk.benchmarks.person_mask [--clip PATH] [--out benchmarks/results/segment]

Runs, one after the other on the same clip (FPS: noisy on a shared machine; compare the ratios of one run):
  faces                    the default job (BlazeFace + tiles, blur): the baseline
  faces+MODE/SHAPE         --person-mask selfie_segmentation_landscape.tflite --mode MODE --person-shape SHAPE
  faces+deeplab-solid/box  --person-mask deeplabv3_mnv2_dm05_pascal_quant.tflite --mode solid (its person class)
Speed: FPS_RUNS alternated --fps-rounds times on the first --fps-frames frames (the machine is shared: the
ratio of medians is the number to read).

Leaks: the project's leak check (runtime/anonymize/_leaks.py, as benchmarks/anonymize_fps.py uses it): input
faces = thorough BlazeFace (every tile, every frame) on the source; a leak = one found again in the output by
the same detector at threshold 0.3 with IoU >= 0.5 ("raw", the 252/964 figure of the faces-only job); also
IoU >= 0.3. Reported: leaked faces and leaked frames.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
MODELS = SHARED / "testdata" / "models"
CLIP = SHARED / "testdata" / "videos" / "one-by-one-person-detection.mp4"

SELFIE = str(MODELS / "selfie_segmentation_landscape.tflite")
DEEPLAB = str(MODELS / "deeplabv3_mnv2_dm05_pascal_quant.tflite")
RUNS: dict[str, dict[str, Any]] = {
    "faces": {},
    "faces+solid/box": {"person_mask": SELFIE, "mode": "solid"},
    "faces+solid/hull": {"person_mask": SELFIE, "mode": "solid", "person_shape": "hull"},
    "faces+solid/silhouette": {"person_mask": SELFIE, "mode": "solid", "person_shape": "silhouette"},
    "faces+blur/box": {"person_mask": SELFIE, "mode": "blur"},
    "faces+pixelate/box": {"person_mask": SELFIE, "mode": "pixelate"},
    "faces+deeplab-solid/box": {"person_mask": DEEPLAB, "mode": "solid"},
}
FPS_RUNS = ("faces", "faces+solid/box")


def _load() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def main(argv: list[str] | None = None) -> int:
    from edgesdk.runtime.anonymize import leak_report, thorough_face_detector
    from edgesdk.runtime.sources import video_frames
    from edgesdk.runtime.anonymize import AnonymizeConfig, anonymize
    from edgesdk.results import Detections

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default=str(CLIP))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "segment"))
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--fps-rounds", type=int, default=3)
    ap.add_argument("--fps-frames", type=int, default=400)
    args = ap.parse_args(argv)
    clip = Path(args.clip)
    if not clip.is_file():
        print(f"clip missing: {clip}", file=sys.stderr)
        return 1
    reference, probe = thorough_face_detector(), thorough_face_detector(threshold=0.3)
    faces = []
    for frame in video_frames(clip):
        reference.reset()
        faces.append(reference.detect(frame))
    doc: dict = {"clip": clip.name, "frames": len(faces), "input_faces": int(sum(len(f) for f in faces)), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.runs.split(","):
            out = Path(tmp) / f"{name.replace('/', '_')}.mp4"
            load0 = _load()
            t0 = time.perf_counter()
            rep = anonymize(AnonymizeConfig(source=str(clip), output=str(out), **RUNS[name]), handle_signals=False)
            wall = time.perf_counter() - t0
            found = []
            for f, g in zip(faces, video_frames(out)):
                probe.reset()
                found.append((f, probe.detect(g) if len(f) else Detections.empty()))
            raw, loose = leak_report(found, match_iou=0.5), leak_report(found, match_iou=0.3)
            doc["runs"][name] = {
                "settings": RUNS[name], "fps": rep["fps"], "wall_s": round(wall, 2), "load_before": load0,
                "stage_ms_per_frame": rep["stage_ms_per_frame"], "blanked": rep["blanked"],
                "person_mask": rep.get("person_mask"),
                "leaks_iou_0.5": {"faces": raw.leaked_faces, "of": raw.input_faces, "frames": len(raw.leaked_frames),
                                  "boxes": raw.to_dict()["leaked_boxes"]},
                "leaks_iou_0.3": {"faces": loose.leaked_faces, "of": loose.input_faces,
                                  "frames": len(loose.leaked_frames)},
            }
            print(name, json.dumps({k: v for k, v in doc["runs"][name].items() if k not in ("person_mask",)}), flush=True)
        fps: dict = {k: [] for k in FPS_RUNS}
        for _ in range(args.fps_rounds):
            for name in FPS_RUNS:
                rep = anonymize(AnonymizeConfig(source=str(clip), output=str(Path(tmp) / "fps.mp4"),
                                                max_frames=args.fps_frames, **RUNS[name]), handle_signals=False)
                fps[name].append(rep["fps"])
        med = {k: statistics.median(v) for k, v in fps.items()}
        doc["fps"] = {"frames": args.fps_frames, "rounds": fps, "median": med, "load_after": _load(),
                      "ratio_person_mask_to_faces": round(med[FPS_RUNS[1]] / med[FPS_RUNS[0]], 3)}
        print("fps", json.dumps(doc["fps"]), flush=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "person_mask.json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
