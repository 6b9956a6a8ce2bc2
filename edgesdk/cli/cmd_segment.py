"""edgesdk segment MODEL IMAGE...|SOURCE: per-pixel classes; coloured label maps, overlays, index-PNG masks."""

from __future__ import annotations

import argparse

from ._common import add_json, print_json
from ._model_args import add_model_args
from ._segment_args import add_segment_args, class_names, run_stream

ORDER = 45

EXAMPLES = """examples:
  edgesdk segment deeplabv3_mnv2_pascal_quant.tflite photo.jpg --json
  edgesdk segment deeplab.tflite photo.jpg -o overlay.jpg --overlay --mask labels.png
  edgesdk segment selfie_segmentation.tflite a.jpg b.jpg --mask masks/ --classes person
  edgesdk segment deeplab.tflite street.mp4 -o labels.mp4 --overlay    video, camera (0), rtsp://, folder/
"""


def register(sub) -> None:
    p = sub.add_parser("segment", help="per-pixel classes: label maps, overlays, masks",
                       description="Segment images or a stream with DeepLabV3 (Pascal VOC) or MediaPipe selfie models.",
                       epilog=EXAMPLES)
    add_model_args(p)
    p.add_argument("inputs", metavar="IMAGE|SOURCE", nargs="+",
                   help="image files, or one video, camera index, rtsp:// URL, image folder or demo")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="coloured label map (or overlay with --overlay): an image or folder; for a stream a video or folder")
    p.add_argument("--overlay", action="store_true", help="draw the classes over the image into -o")
    p.add_argument("--mask", metavar="FILE.png",
                   help="label map as an 8-bit PNG of class indices at the image's size (a folder for several)")
    p.add_argument("--classes", metavar="A,B", help="only these classes (names or ids) in shares, pictures, masks")
    add_segment_args(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..runtime.segment import SegmentStreamConfig, is_stream, load_segmenter, segment_images

    stream = is_stream(args.inputs)
    if stream and args.mask:
        raise InputError("--mask writes one PNG per image file; for a video, camera or folder use -o (a video or folder)")
    seg = load_segmenter(args.model, device=args.device, threads=args.threads, labels=args.labels,
                         input_range=args.input_range, upscale=args.upscale, resize="pad" if args.keep_aspect else None)
    classes = class_names(args.classes)
    if stream:
        cfg = SegmentStreamConfig(source=args.inputs[0], output=args.output, classes=classes, smooth=args.smooth,
                                  draw="overlay" if args.overlay else "labels", max_frames=args.max_frames)
        report = run_stream(args, seg, cfg)
        if not args.json:
            for name, share in report["shares"].items():
                print(f"  {share * 100:6.2f} %  {name}")
        return 0
    rows = segment_images(seg, args.inputs, output=args.output, mask=args.mask, show_overlay=args.overlay,
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
