"""Writing the conversion result: a bundle (manifest, model, labels) plus report.json and report.md, atomically."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..bundle import Bundle, InputSpec, Manifest, OutputSpec, write_bundle

log = logging.getLogger(__name__)

__all__ = ["export_bundle", "render_report_md"]


def _fmt(v, nd=2):
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return "-" if v is None else str(v)


def render_report_md(report: dict) -> str:
    """A short human-readable version of report.json."""
    q = report.get("quantization", {})
    lines = [f"# Conversion report: {report.get('name', '')}", ""]
    lines += [f"- source: `{report.get('source', {}).get('model', '')}` ({report.get('source', {}).get('flavor', '')})",
              f"- quantization: {q.get('mode')} (I/O {q.get('io')}, calibration {q.get('calibration')}, "
              f"{q.get('calib_images', 0)} images)",
              f"- input: {json.dumps(report.get('input', {}))} (range from {report.get('input_range_source')})",
              f"- conversion time: {_fmt(report.get('conversion_seconds'), 1)} s"]
    src = report.get("source", {})
    if src.get("flavor") == "tflite":
        lines += [f"- float .tflite replayed in TensorFlow (recognised as {src.get('recognised_as') or 'an unknown model'}); "
                  f"largest output difference to the original: {src.get('replay_max_abs_diff', 0):.2g}",
                  f"- calibration inputs: {q.get('calib_inputs')} (whole photos and crops of them), spanning "
                  f"{(q.get('input_coverage') or 0) * 100:.0f}% of the input range"]
    lines.append("")
    size = report.get("size", {})
    if size:
        lines += ["## Size", "", "| file | bytes |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in size.items()] + [""]
    lat = report.get("latency_ms", {})
    if lat:
        lines += ["## CPU latency (XNNPACK, ms)", "", "| model | threads | median | p90 | runs |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v.get('threads')} | {_fmt(v.get('median'))} | {_fmt(v.get('p90'))} | {v.get('runs')} |"
                  for k, v in lat.items()] + [""]
    acc = report.get("accuracy", {})
    if acc:
        lines += ["## Accuracy", "", f"on `{acc.get('data')}` ({acc.get('n')} images)", "",
                  "| model | top-1 | top-5 |", "|---|---:|---:|"]
        for k in ("keras", "tflite"):
            if k in acc:
                lines.append(f"| {k} | {acc[k]['top1'] * 100:.2f}% | {acc[k]['top5'] * 100:.2f}% |")
        if "agreement" in acc:
            lines += ["", f"top-1 agreement TFLite vs Keras: {acc['agreement'] * 100:.2f}%"]
        lines.append("")
    ops = report.get("ops", {})
    if ops:
        lines += ["## Operators", "", ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())), ""]
    et = report.get("edgetpu", {})
    if et:
        lines += ["## Edge TPU", ""]
        pred = et.get("predicted")
        if pred:
            from ._compile import op_total

            lines.append(f"- predicted: {op_total(pred.get('mapped_ops'))} ops mapped, {op_total(pred.get('cpu_ops'))} on the CPU"
                         + (f"; first op left on the CPU: {pred.get('first_unmapped')}" if pred.get("first_unmapped") else ""))
        comp = et.get("compiler")
        if comp:
            lines.append(f"- edgetpu_compiler {comp.get('version')}: {comp.get('edgetpu_ops')} of {comp.get('total_ops')} ops "
                         f"on the Edge TPU, {comp.get('subgraphs')} subgraph(s), on-chip {comp.get('on_chip_used_bytes')} B, "
                         f"off-chip {comp.get('off_chip_used_bytes')} B")
        if et.get("note"):
            lines.append(f"- {et['note']}")
        lines.append("")
    warnings = report.get("warnings", [])
    if warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in warnings] + [""]
    return "\n".join(lines)


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
    files["report.json"] = (json.dumps(report, indent=2, default=_json_default) + "\n").encode()
    files["report.md"] = render_report_md(report).encode()
    files.update(extra_files or {})
    manifest = Manifest(
        task=task, model="model.tflite", edgetpu_model="model_edgetpu.tflite" if edgetpu_model is not None else None,
        labels="labels.txt" if labels else None, input=input_spec, output=output, name=name,
        source=source or {}, versions=versions or {},
    )
    return write_bundle(Path(out_dir), manifest, files, overwrite=overwrite)


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
