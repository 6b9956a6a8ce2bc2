"""``edgesdk eval MODEL --data DIR``: top-1/top-5 accuracy of a Keras or TFLite model on a labelled folder."""

from __future__ import annotations

import argparse

from ._common import add_json, parse_range, positive_int, print_json, progress

ORDER = 52


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="top-1/top-5 accuracy of a Keras or TFLite model (or bundle) on a labelled image folder",
        description=(
            "Accuracy on labelled images: one folder per class (class k is the k-th folder in sorted order, or the "
            "line of the folder name in --labels), or ImageNet-style <wnid>_*.JPEG files with --wnids (class = line "
            "of the wnid; a model with one extra output, e.g. ImageNet's 1001 with background at 0, is shifted by "
            "one). Keras models (.h5, .keras, SavedModel) need the 'convert' extra; .tflite files and bundles run "
            "on the edgesdk runtime, fed exactly as on the device."
        ),
    )
    p.add_argument("model", metavar="MODEL", help=".tflite file, bundle, or Keras model")
    p.add_argument("--data", metavar="DIR", required=True, help="labelled image folder")
    p.add_argument("--labels", metavar="FILE", help="labels file mapping class folder names to output indices")
    p.add_argument("--wnids", metavar="FILE", help="ImageNet wnid list (one per line) for <wnid>_*.JPEG files "
                                                  "(default: imagenet_wnids.txt in DIR or next to the model)")
    p.add_argument("--input-range", type=parse_range, metavar="A,B", help="override the input value range")
    p.add_argument("--resize", choices=("crop", "stretch", "letterbox"), default=None,
                   help="override how images are fitted (default: the bundle's, else crop)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="evaluate a seeded sample of N images (default: all)")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..converters import evaluate

    with progress("evaluating", None) as bar:
        res = evaluate(args.model, args.data, labels=args.labels, wnids=args.wnids, input_range=args.input_range,
                       resize=args.resize, limit=args.limit, on_image=lambda: bar.advance(),
                       on_total=lambda n: bar.update(total=n))
    if args.json:
        print_json(res.to_dict())
    else:
        skipped = f" ({len(res.skipped)} unreadable skipped)" if res.skipped else ""
        print(f"{res.model} ({res.kind}): top-1 {res.top1 * 100:.2f}%  top-5 {res.top5 * 100:.2f}%  on {res.n} images"
              + skipped)
    return 0
