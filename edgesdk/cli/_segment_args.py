"""Arguments shared by segment, remove-background and anonymize's --person-mask."""

from __future__ import annotations

import argparse

from ._common import positive_int, print_json, progress, unit_float


def _weight(text: str) -> float:
    return 1.0 if text.strip() in ("1", "1.0", "off") else unit_float(text)


def add_segment_args(p: argparse.ArgumentParser) -> None:
    """How the model is fed, its map scaled back, and streams (segment, remove-background)."""
    p.add_argument("--upscale", choices=("smooth", "nearest"), default="smooth",
                   help="mask to image size: smooth (bilinear on scores, then argmax) or nearest")
    p.add_argument("--keep-aspect", action="store_true",
                   help="pad to the model's aspect (top-left, black) instead of stretching, as Coral's "
                        "--keep_aspect_ratio")
    p.add_argument("--smooth", type=_weight, default=0.5, metavar="W",
                   help="videos: weight of the newest frame in the mask's moving average (off or 1: no smoothing)")
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N", help="streams: stop after N frames")


def class_names(text: str | None) -> tuple[str, ...] | None:
    """--classes A,B -> ("A", "B"); None when not given."""
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else None


def run_stream(args: argparse.Namespace, segmenter, config) -> dict:
    """segment / remove-background on a video, camera or folder (``segment_stream``) with a progress bar;
    prints the report (``--json``) or its first line, and returns it."""
    from ..runtime.segment import segment_stream

    with progress(args.command, None) as bar:
        report = segment_stream(segmenter, config, on_start=lambda i: bar.update(total=i.total),
                                on_frame=lambda n: bar.advance(1))
    if args.json:
        print_json(report)
    else:
        print(f"{report['frames_written']} frames from {report['source']} ({report['fps']:.1f} FPS) -> "
              f"{', '.join(report['outputs'])}")
    return report


def add_person_mask_args(p: argparse.ArgumentParser) -> None:
    """anonymize --person-mask [MODEL] --person-shape box|hull|silhouette."""
    p.add_argument("--person-mask", nargs="?", const="", default=None, metavar="MODEL",
                   help="also mask every person found by a segmentation model, with --mode (default model: "
                        "selfie_segmentation.tflite on the search path of `remove-background --help`; "
                        "or a DeepLabV3 Pascal model: its person class); put it after SOURCE")
    p.add_argument("--person-shape", choices=("box", "hull", "silhouette"), default="box",
                   help="with --person-mask: what is masked per person: its bounding box, convex hull or exact "
                        "silhouette (a black silhouette keeps a head's outline, which face detectors still find)")
