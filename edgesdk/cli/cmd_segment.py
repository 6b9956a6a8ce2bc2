"""edgesdk segment MODEL IMAGE...: per-pixel classes; coloured label maps, overlays, index-PNG masks."""

from __future__ import annotations

import argparse

from ._common import add_json, print_json
from ._model_args import add_model_args

ORDER = 45

EXAMPLES = """examples:
  edgesdk segment deeplabv3_mnv2_pascal_quant.tflite photo.jpg --json
  edgesdk segment deeplab.tflite photo.jpg -o overlay.jpg --overlay --mask labels.png
  edgesdk segment selfie_segmentation.tflite a.jpg b.jpg --mask masks/ --classes person
"""


def add_segment_args(p: argparse.ArgumentParser) -> None:
    """Options shared with remove-background: how the model is fed and its map scaled back."""
    p.add_argument("--upscale", choices=("smooth", "nearest"), default="smooth",
                   help="mask to image size: smooth (bilinear on scores, then argmax) or nearest")
    p.add_argument("--keep-aspect", action="store_true",
                   help="pad to the model's aspect (top-left, black) instead of stretching, as Coral's "
                        "--keep_aspect_ratio")


def register(sub) -> None:
    p = sub.add_parser("segment", help="per-pixel classes: label maps, overlays, masks",
                       description="Segment images with DeepLabV3 (Pascal VOC) or MediaPipe selfie models or bundles.",
                       epilog=EXAMPLES)
    add_model_args(p)
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="coloured label map (or overlay with --overlay): an image file (one input) or a folder")
    p.add_argument("--overlay", action="store_true", help="draw the classes over the image into -o")
    p.add_argument("--mask", metavar="FILE.png",
                   help="label map as an 8-bit PNG of class indices at the image's size (a folder for several)")
    p.add_argument("--classes", metavar="A,B", help="only these classes (names or ids) in shares, pictures, masks")
    add_segment_args(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..runtime.segment import load_segmenter, segment_images

    if args.threads is not None and args.threads < 1:
        raise InputError("--threads must be at least 1")
    seg = load_segmenter(args.model, device=args.device, threads=args.threads, labels=args.labels,
                         input_range=args.input_range, upscale=args.upscale, resize="pad" if args.keep_aspect else None)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    rows = segment_images(seg, args.images, output=args.output, mask=args.mask, show_overlay=args.overlay,
                          classes=classes)
    if args.json:
        print_json({**seg.describe(), "classes": list(seg.class_names), "results": rows})
        return 0
    for r in rows:
        outs = [r[k] for k in ("output", "mask") if k in r]
        print(f"{r['image']}: {r['size'][0]}x{r['size'][1]}" + (f" -> {', '.join(outs)}" if outs else ""))
        for name, share in r["shares"].items():
            print(f"  {share * 100:6.2f} %  {name}")
    return 0
