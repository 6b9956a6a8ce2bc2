"""Writing the conversion result: a bundle (manifest, model, labels) plus report.json and report.md, atomically."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..bundle import Bundle, InputSpec, Manifest, OutputSpec, write_bundle
from ._report import render_report_md, report_json

log = logging.getLogger(__name__)

__all__ = ["export_bundle"]


def export_bundle(
    out_dir: str | os.PathLike,
    model: bytes | str | os.PathLike,
    *,
    input_spec: InputSpec,
    output: OutputSpec,
    report: dict,
    labels: list[str] | None = None,
    edgetpu_model: bytes | str | os.PathLike | None = None,
    task: str = "classify",
    name: str = "",
    source: dict | None = None,
    versions: dict | None = None,
    overwrite: bool = False,
    extra_files: dict | None = None,
) -> Bundle:
    """Write the bundle folder ``out_dir`` with report.json and report.md (all or nothing)."""
    files: dict = {"model.tflite": model}
    if edgetpu_model is not None:
        files["model_edgetpu.tflite"] = edgetpu_model
    if labels:
        files["labels.txt"] = ("\n".join(labels) + "\n").encode()
    files["report.json"] = report_json(report).encode()
    files["report.md"] = render_report_md(report).encode()
    files.update(extra_files or {})
    manifest = Manifest(
        task=task, model="model.tflite", edgetpu_model="model_edgetpu.tflite" if edgetpu_model is not None else None,
        labels="labels.txt" if labels else None, input=input_spec, output=output, name=name,
        source=source or {}, versions=versions or {},
    )
    return write_bundle(Path(out_dir), manifest, files, overwrite=overwrite)
