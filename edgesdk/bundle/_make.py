"""Make a bundle from a .tflite file: infer what can be inferred, take the rest from the caller."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import BundleError
from ._io import Bundle, pack, write_bundle
from ._manifest import InputSpec, Manifest, OutputSpec

log = logging.getLogger(__name__)


def infer_task(info) -> str:
    """classify / detect / segment from a ModelInfo's outputs and ops (face must be said explicitly)."""
    if "TFLite_Detection_PostProcess" in info.custom_ops:
        return "detect"
    outs = info.outputs
    if len(outs) == 1 and len(outs[0].shape) == 2:
        return "classify"
    if len(outs) == 1 and len(outs[0].shape) in (3, 4) and min(outs[0].shape[1:3]) > 1:
        return "segment"
    raise BundleError("cannot tell the task from the model's outputs: pass --task classify|detect|face|segment")


def default_input_spec(info, color: str = "RGB", resize: str = "stretch") -> InputSpec:
    """Integer inputs: raw pixels (their quantization holds the range); float inputs: [-1, 1]."""
    t = info.inputs[0]
    if t.dtype in ("UINT8", "INT8"):
        return InputSpec(raw=True, range=None, color=color, resize=resize)
    return InputSpec.from_range(-1.0, 1.0, color=color, resize=resize)


_DECODERS = {"classify": "logits", "detect": "ssd", "face": "blazeface", "segment": "segment"}


def make_bundle(
    model: str | os.PathLike,
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    task: str | None = None,
    input_range: tuple[float, float] | None = None,
    color: str = "RGB",
    resize: str = "stretch",
    input_spec: InputSpec | None = None,
    edgetpu_model: str | os.PathLike | None = None,
    label_offset: int = 0,
    name: str = "",
) -> Bundle:
    """Write a bundle folder, or a .tar.gz when ``out`` ends with .tar.gz/.tgz, for ``model``.

    The input description is ``input_spec`` when given, else pixels mapped onto ``input_range`` (or the
    default for the input dtype) with ``color`` order and ``resize`` policy.
    The Edge TPU twin ``<stem>_edgetpu.tflite`` next to the model is added when ``edgetpu_model`` is not given.
    """
    from ..tflite import check_tflite_file, read_model

    src = check_tflite_file(model)
    info = read_model(src)
    if info.is_edgetpu_compiled:
        raise BundleError(f"{src.name} is Edge TPU-compiled: bundle the CPU model and pass this one as --edgetpu-model")
    task = task or infer_task(info)
    files: dict[str, str | os.PathLike | bytes] = {"model.tflite": src}
    twin = Path(edgetpu_model) if edgetpu_model else src.with_name(src.stem + "_edgetpu.tflite")
    etpu_name = None
    if edgetpu_model or twin.exists():
        check_tflite_file(twin)
        if not read_model(twin).is_edgetpu_compiled:
            raise BundleError(f"{twin} is not compiled for the Edge TPU (no edgetpu-custom-op)")
        files["model_edgetpu.tflite"] = twin
        etpu_name = "model_edgetpu.tflite"
        log.info("adding Edge TPU model %s", twin)
    if labels is not None:
        if not Path(labels).is_file():
            raise BundleError(f"labels file not found: {labels}")
        files["labels.txt"] = labels
    manifest = Manifest(
        task=task,
        edgetpu_model=etpu_name,
        labels="labels.txt" if labels is not None else None,
        input=input_spec
        or (InputSpec.from_range(*input_range, color=color, resize=resize) if input_range else None)
        or default_input_spec(info, color, resize),
        output=OutputSpec(decoder=_DECODERS[task], label_offset=label_offset),
        name=name or src.stem,
        source={"model": src.name, "sha256_of": "model.tflite"},
    )
    target = Path(out)
    if target.name.endswith((".tar.gz", ".tgz")):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="edgesdk-bundle-") as tmp:
            b = write_bundle(Path(tmp) / "bundle", manifest, files)
            pack(b.root, target)
        from ._io import load_bundle

        return load_bundle(target)
    return write_bundle(target, manifest, files)
