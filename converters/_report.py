"""Conversion reports: report.json and its short Markdown version report.md, written into bundles by
``export_bundle`` and ``compile_model``. A leaf module (no imports from the rest of converters)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["mapping_summary", "op_total", "render_report_md", "render_steps_md", "report_json"]


def op_total(value) -> int:
    """An op count that may be given as a number or as {op: count} (the predictor's form)."""
    if isinstance(value, dict):
        return int(sum(value.values()))
    return int(value or 0)


def report_json(report: dict) -> str:
    """report.json's text: indented JSON; numpy scalars, paths and objects with ``to_dict()`` converted."""
    return json.dumps(report, indent=2, default=_json_default) + "\n"


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
    w = q.get("weights") or {}
    if w:
        lines.append(f"- int8 weights: {w.get('rounding')} rounding, bias correction on {w.get('bias_correction_layers', 0)} "
                     f"layers{', cross-layer equalization' if w.get('equalize') else ''}")
    src = report.get("source", {})
    if src.get("flavor") == "tflite":
        lines += [f"- float .tflite replayed in TensorFlow (recognised as {src.get('recognised_as') or 'an unknown model'}); "
                  f"largest output difference to the original: {src.get('replay_max_abs_diff', 0):.2g}",
                  f"- calibration inputs: {q.get('calib_inputs')} (whole photos and crops of them), spanning "
                  f"{(q.get('input_coverage') or 0) * 100:.0f}% of the input range"]
        from ._face_threshold import threshold_report_lines

        lines += threshold_report_lines(q)
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
        gone = acc.get("skipped") or []
        note = f"; {len(gone)} unreadable skipped: {', '.join(Path(q).name for q in gone)}" if gone else ""
        lines += ["## Accuracy", "", f"on `{acc.get('data')}` ({acc.get('n')} images{note})", "",
                  "| model | top-1 | top-5 |", "|---|---:|---:|"]
        for k in ("keras", "tflite"):
            if k in acc:
                lines.append(f"| {k} | {acc[k]['top1'] * 100:.2f}% | {acc[k]['top5'] * 100:.2f}% |")
        if "agreement" in acc:
            lines += ["", f"top-1 agreement TFLite vs Keras: {acc['agreement'] * 100:.2f}%"]
            if acc.get("tied_disagreements"):
                lines[-1] += (f" ({acc['tied_disagreements']} of the disagreements are ties of TFLite's top score, "
                              "steps of 1/256 for an integer softmax, that include Keras's class)")
        lines.append("")
    ops = report.get("ops", {})
    if ops:
        lines += ["## Operators", "", ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())), ""]
    et = report.get("edgetpu", {})
    if et:
        lines += ["## Edge TPU", ""]
        pred = et.get("predicted")
        if pred:
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


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def mapping_summary(pred: dict) -> str:
    """One line for a predicted mapping (``predict_mapping``'s dict): ops on the Edge TPU and on the CPU, and
    where the CPU part starts and why; for an already compiled model, what the file holds."""
    if pred.get("compiled"):
        return f"already compiled for the Edge TPU ({pred.get('note') or 'edgetpu-custom-op'})"
    mapped, cpu = op_total(pred.get("mapped_ops")), op_total(pred.get("cpu_ops"))
    text = f"{mapped} op(s) on the Edge TPU, {cpu} on the CPU"
    first = pred.get("first_unmapped")
    if isinstance(first, dict) and first.get("op"):
        text += f", from op #{first.get('index')} {first['op']}" + (f": {first['reason']}" if first.get("reason") else "")
    elif cpu:
        text += " (" + ", ".join(f"{op} x{n}" for op, n in sorted(dict(pred.get("cpu_ops") or {}).items())) + ")"
    return text


def render_steps_md(rows: list[dict]) -> str:
    """The per-step table of a recipe report (Markdown)."""
    head = ("| step | kind | top-1 (held-out) | file | bytes | gzip bytes | sparsity (conv) | latency ms (median) | "
            "s/epoch |\n|---|---|---:|---|---:|---:|---:|---:|---:|")
    out = [head]
    for r in rows:
        acc = "-" if r.get("top1") is None else f"{r['top1'] * 100:.2f}%"
        sp = "-" if r.get("sparsity_conv") is None else f"{r['sparsity_conv'] * 100:.1f}%"
        lat = "-" if r.get("latency_ms") is None else f"{r['latency_ms']:.2f}"
        spe = "-" if not r.get("seconds_per_epoch") else f"{np.mean(r['seconds_per_epoch']):.0f}"
        out.append(f"| {r['step']} | {r['kind']} | {acc} | {r.get('file', '-')} | {r.get('bytes', '-')} | "
                   f"{r.get('gzip_bytes', '-')} | {sp} | {lat} | {spe} |")
    return "\n".join(out) + "\n"
