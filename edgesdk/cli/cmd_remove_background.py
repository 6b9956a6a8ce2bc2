"""edgesdk remove-background IMAGE...|SOURCE -o OUT: transparent (RGBA PNG) or replaced backgrounds."""

from __future__ import annotations

import argparse

from ._common import add_json, print_json
from ._model_args import add_device_args
from ._segment_args import add_segment_args, class_names, run_stream

ORDER = 46

EXAMPLES = """examples:
  edgesdk remove-background portrait.jpg -o cutout.png               RGBA PNG, alpha from the person mask
  edgesdk remove-background a.jpg b.jpg -o out/ --replace "#00ff00"  green screen
  edgesdk remove-background call.jpg -o out.jpg --replace beach.jpg  (resized to fit, said once)
  edgesdk remove-background call.mp4 -o out.mp4 --replace blur      videos, cameras, folders: default blur

model: --model, else selfie_segmentation.tflite (MediaPipe, Apache 2.0; not shipped with edgesdk) looked up in
$EDGESDK_MODEL_PATH, ./models, ~/.local/share/edgesdk/models, ../shared/testdata/models (dev checkout).
"""


def register(sub) -> None:
    p = sub.add_parser("remove-background", help="transparent or replaced backgrounds behind people",
                       description=__doc__, epilog=EXAMPLES)
    p.add_argument("inputs", metavar="IMAGE|SOURCE", nargs="+",
                   help="image files, or one video, camera index, rtsp:// URL, image folder or demo")
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="an image file (one input) or a folder; transparent output must be .png; streams: a video or folder")
    p.add_argument("--model", default=None, help="segmentation .tflite or bundle (default: selfie_segmentation.tflite)")
    p.add_argument("--replace", default=None, metavar="transparent|COLOR|IMAGE|blur",
                   help="what goes behind: transparent (RGBA), a colour (name, #RRGGBB, R,G,B), an image, or blur "
                        "(default: transparent for images, blur for streams)")
    p.add_argument("--feather", type=float, default=3.0, metavar="PX", help="soft edge width in pixels (0: hard)")
    p.add_argument("--classes", metavar="A,B", default=None, help="foreground classes (default: person)")
    add_device_args(p)
    add_segment_args(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..runtime.segment import (
        SegmentStreamConfig, find_model, is_stream, load_segmenter, parse_background, remove_background_images,
    )

    if args.feather < 0:
        raise InputError("--feather must be >= 0")
    stream = is_stream(args.inputs)
    replace = args.replace or ("blur" if stream else "transparent")
    background = parse_background(replace)
    seg = load_segmenter(find_model(args.model), device=args.device, threads=args.threads,
                         input_range=args.input_range, upscale=args.upscale,
                         resize="pad" if args.keep_aspect else None)
    classes = class_names(args.classes)
    if stream:
        cfg = SegmentStreamConfig(source=args.inputs[0], output=args.output, draw="background", replace=replace,
                                  classes=classes, smooth=args.smooth, feather=args.feather, max_frames=args.max_frames)
        run_stream(args, seg, cfg)
        return 0
    rows = remove_background_images(seg, args.inputs, args.output, background, feather=args.feather, classes=classes)
    if args.json:
        print_json({**seg.describe(), "background": background.describe(), "results": rows})
        return 0
    for r in rows:
        print(f"{r['image']} -> {r['output']} (foreground {r['foreground_share'] * 100:.1f} %)")
    return 0
