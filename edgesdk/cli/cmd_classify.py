"""edgesdk classify MODEL IMAGE... | SOURCE: top-k labels and scores for images; on a video, camera, stream or
folder: top-k per frame and an event when the top label changes."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_json, positive_int, print_json, probability, progress
from ._model_args import add_model_args, load_from_args

ORDER = 30


def register(sub) -> None:
    p = sub.add_parser("classify", help="top-k labels and scores for images or a stream",
                       description="Classify images, or every frame of a video, camera or stream, with a TFLite "
                                   "classifier or bundle.")
    add_model_args(p)
    p.add_argument("images", metavar="IMAGE|SOURCE", nargs="+",
                   help="image files, or one SOURCE as anonymize takes it (video, folder, camera, URL, demo)")
    p.add_argument("-k", "--top-k", type=positive_int, default=5, help="how many classes to show")
    p.add_argument("--threshold", type=probability, default=0.0, help="hide classes scoring below this (0..1)")
    p.add_argument("--events", metavar="FILE.jsonl", help="stream: top-k per frame and top-label changes")
    p.add_argument("-o", "--output", metavar="OUT", help="stream: video (or folder) with the top labels drawn")
    p.add_argument("--settle", type=positive_int, default=3, metavar="N",
                   help="stream: frames a new top label must hold to count as a change")
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N", help="stream: stop after N frames")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..runtime import IMAGE_SUFFIXES, read_image

    if args.top_k < 1:
        raise InputError("--top-k must be at least 1")
    if not all(Path(i).suffix.lower() in IMAGE_SUFFIXES for i in args.images) or args.events or args.output:
        return _run_stream(args)
    images = [read_image(p) for p in args.images]  # every image checked before any work
    model = load_from_args(args)
    results = []
    for path, image in zip(args.images, images):
        results.append({"image": path, "classes": model.classify(image, args.top_k, args.threshold).to_dicts()})
    if args.json:
        print_json({"model": str(model.path), "backend": model.backend.to_dict(), "device": model.device, "results": results})
        return 0
    for r in results:
        print(r["image"])
        for c in r["classes"]:
            print(f"  {c['score']:.4f}  {c['label']}  ({c['class_id']})")
    return 0


def _run_stream(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..runtime.stream import ClassifyConfig, classify_stream

    if len(args.images) > 1:
        raise InputError("give one SOURCE (several images: put them in a folder)")
    cfg = ClassifyConfig(model=args.model, source=args.images[0], labels=args.labels, output=args.output,
                         events=args.events, top_k=args.top_k, threshold=args.threshold, settle=args.settle,
                         max_frames=args.max_frames, device=args.device, threads=args.threads)
    with progress("classify", None) as bar:
        report = classify_stream(cfg, on_start=lambda info: bar.update(total=info.total),
                                 on_frame=lambda n: bar.advance(1))
    if args.json:
        print_json({**report, "ok": True})
        return 0
    print(f"{report['frames_written']} frames from {report['source']} ({report['fps']:.1f} FPS): top label "
          f"{report['top_label']}, {report['changes']} change(s); frames per top label {report['frames_per_top_label']}")
    return 0
