"""edgesdk detect MODEL IMAGE...: boxes, classes, scores; --annotate draws them."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_json, print_json
from ._model_args import add_model_args, load_from_args

ORDER = 40


def register(sub) -> None:
    p = sub.add_parser("detect", help="boxes, classes and scores for images",
                       description="Detect objects with an SSD (TFLite_Detection_PostProcess) model or bundle.")
    add_model_args(p)
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--threshold", type=float, default=0.5, help="minimum score")
    p.add_argument("--annotate", metavar="OUT", default=None,
                   help="draw the boxes: an image file (one input) or an existing folder (several)")
    add_json(p)
    p.set_defaults(func=run)


def _annotate_targets(out: str, images: list[str]) -> list[Path]:
    from ..errors import InputError
    from ..runtime import IMAGE_SUFFIXES

    o = Path(out)
    if o.is_dir():
        targets = [o / (Path(i).stem + "_detect.jpg") for i in images]
    elif len(images) == 1:
        if o.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"--annotate {out}: unsupported image extension {o.suffix or '(none)'}; use .jpg or .png")
        if not o.parent.is_dir():
            raise InputError(f"--annotate {out}: folder {o.parent} does not exist")
        targets = [o]
    else:
        raise InputError(f"--annotate {out}: with several images, give an existing folder")
    for src, dst in zip(images, targets):
        if Path(src).resolve() == dst.resolve():
            raise InputError(f"--annotate would overwrite the input {src}")
    return targets


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..runtime import draw_detections, read_image, write_image

    if not 0.0 <= args.threshold <= 1.0:
        raise InputError("--threshold must be between 0 and 1")
    targets = _annotate_targets(args.annotate, args.images) if args.annotate else []
    images = [read_image(p) for p in args.images]
    model = load_from_args(args)
    results = []
    for i, (path, image) in enumerate(zip(args.images, images)):
        det = model.detect(image, args.threshold)
        row = {"image": path, "size": [image.shape[1], image.shape[0]], "detections": det.to_dicts(model.labels or None)}
        if targets:
            write_image(targets[i], draw_detections(image, det, model.labels))
            row["annotated"] = str(targets[i])
        results.append(row)
    if args.json:
        print_json({"model": str(model.path), "backend": model.backend.to_dict(), "device": model.device, "results": results})
        return 0
    for r in results:
        print(f"{r['image']}: {len(r['detections'])} detection(s)" + (f" -> {r['annotated']}" if "annotated" in r else ""))
        for d in r["detections"]:
            label = d.get("label", d["class_id"])
            print(f"  {d['score']:.3f}  {label}  box {d['box']}")
    return 0
