"""edgesdk classify MODEL IMAGE...: top-k labels and scores."""

from __future__ import annotations

import argparse

from ._common import add_json, positive_int, print_json, probability
from ._model_args import add_model_args, load_from_args

ORDER = 30


def register(sub) -> None:
    p = sub.add_parser("classify", help="top-k labels and scores for images",
                       description="Classify images with a TFLite classifier or bundle.")
    add_model_args(p)
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("-k", "--top-k", type=positive_int, default=5, help="how many classes to show")
    p.add_argument("--threshold", type=probability, default=0.0, help="hide classes scoring below this (0..1)")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..runtime import read_image

    if args.top_k < 1:
        raise InputError("--top-k must be at least 1")
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
