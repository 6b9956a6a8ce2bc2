"""Arguments every runtime command shares: --device, --threads, --input-range, --labels."""

from __future__ import annotations

import argparse

from ._common import parse_range, positive_int


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a .tflite file or a bundle (folder or .tar.gz)")
    add_device_args(parser)
    parser.add_argument("--labels", default=None, help="labels file (default: the bundle's, or one next to the model)")


def add_device_args(parser: argparse.ArgumentParser) -> None:
    """--device, --threads, --input-range: how a model runs (for commands whose model is optional)."""
    parser.add_argument("--device", default="cpu", help="cpu, edgetpu, usb, usb:N, pci, pci:N or :N")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for XNNPACK (default: all cores; more than the cores are capped)")
    parser.add_argument(
        "--input-range", type=parse_range, default=None, metavar="A,B",
        help="float range the model expects for pixels 0..255 (default: the bundle's, or inferred)",
    )


def load_from_args(args: argparse.Namespace):
    """Model from the shared arguments (imports the runtime only when a command runs)."""
    from ..bundle import InputSpec, read_labels
    from ..errors import InputError
    from ..runtime import load

    import logging
    import os

    cores = os.cpu_count() or 1
    if args.threads is not None and args.threads > cores:
        logging.getLogger("edgesdk").warning("--threads %d capped at the %d core(s) of this machine", args.threads, cores)
        args.threads = cores
    spec = InputSpec.from_range(*args.input_range) if args.input_range else None
    model = load(args.model, device=args.device, threads=args.threads, input_spec=spec)
    if args.labels:
        try:
            model.labels = read_labels(args.labels)
        except OSError as exc:
            raise InputError(f"cannot read labels file {args.labels}: {exc.strerror}") from None
    return model
