"""edgesdk bundle MODEL -o OUT: pack a .tflite model with everything the runtime needs."""

from __future__ import annotations

import argparse

from ._common import add_json, parse_range, print_json

ORDER = 90


def register(sub) -> None:
    p = sub.add_parser("bundle", help="pack a model, labels and input/output description into a bundle",
                       description="Write a bundle folder (or .tar.gz when OUT ends with .tar.gz) with manifest.json, "
                                   "model.tflite, model_edgetpu.tflite when the _edgetpu twin sits next to the model, "
                                   "labels.txt and the sha256 of every file.")
    p.add_argument("model", metavar="MODEL", help="a .tflite file (not Edge TPU-compiled)")
    p.add_argument("-o", "--out", required=True, help="bundle folder (new or empty) or .tar.gz file")
    p.add_argument("--labels", default=None, help="labels file, one per line")
    p.add_argument("--task", choices=["classify", "detect", "face", "segment"], default=None,
                   help="what the model does (default: inferred from its outputs)")
    p.add_argument("--input-range", type=parse_range, default=None, metavar="A,B",
                   help="float range the model expects for pixels 0..255, e.g. -1,1 or 0,1 or 0,255 "
                        "(default: raw pixels for integer inputs, -1,1 for float)")
    p.add_argument("--color", choices=["RGB", "BGR", "GRAY"], default="RGB", help="channel order the model expects")
    p.add_argument("--resize", choices=["stretch", "letterbox", "crop"], default="stretch",
                   help="how images are fitted to the input size")
    p.add_argument("--label-offset", type=int, default=0, help="added to class ids before looking up labels")
    p.add_argument("--edgetpu-model", default=None, help="the Edge TPU-compiled twin to include")
    p.add_argument("--sign", metavar="KEY", default=None,
                   help="sign manifest.json with this OpenSSH key (ssh-keygen -Y sign, namespace edgesdk-bundle); "
                        "a .pub file signs through ssh-agent")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bundle import make_bundle, sign_bundle, signing_key

    if args.sign:
        signing_key(args.sign)  # a bad key fails before anything is written
    b = make_bundle(args.model, args.out, labels=args.labels, task=args.task, input_range=args.input_range,
                    color=args.color, resize=args.resize, edgetpu_model=args.edgetpu_model,
                    label_offset=args.label_offset)
    if args.sign:
        sign_bundle(args.out, args.sign)
    if args.json:
        print_json({"bundle": args.out, "digest": b.digest, "manifest": b.manifest.to_dict()})
    else:
        files = ", ".join(f"{n} ({m['size']} B)" for n, m in b.manifest.files.items())
        signed = f", signed with {args.sign}" if args.sign else ""
        print(f"wrote {args.out}: task {b.manifest.task}, {files}{signed}")
    return 0
