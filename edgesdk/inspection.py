"""``inspect_model``: what ``edgesdk inspect`` reports about a .tflite file or bundle (inputs, outputs,
quantization, op counts, Edge TPU compilation and predicted mapping), as data and as text tables."""

from __future__ import annotations

from pathlib import Path

__all__ = ["inspect_model", "inspect_tables"]


def _open(model: str):
    from .bundle import is_bundle, load_bundle
    from .errors import ModelError

    p = Path(model)
    if not p.exists():
        raise ModelError(f"model not found: {p}")
    if p.is_dir() and not is_bundle(p):
        raise ModelError(f"{p} is a folder without manifest.json: give a .tflite file or a bundle")
    if is_bundle(p):
        b = load_bundle(p)
        return b.model_path, b
    return p, None


def _bundle_summary(b) -> dict:
    m = b.manifest
    return {
        "root": str(b.root),
        "name": m.name,
        "task": m.task,
        "schema": m.schema,
        "model": m.model,
        "edgetpu_model": m.edgetpu_model,
        "labels": m.labels,
        "label_count": len(b.labels) if m.labels else 0,
        "input": m.input.to_dict(),
        "output": m.output.to_dict(),
        "created": m.created,
        "versions": m.versions,
        "digest": b.digest,
    }


def inspect_model(model: str) -> dict:
    """Everything `inspect --json` prints, as a dict."""
    from .bundle import describe_decoder
    from .tflite import predict_edgetpu, read_model

    path, bundle = _open(model)
    info = read_model(path)
    out = {"model": str(path), **info.to_dict(), "edgetpu": predict_edgetpu(info).to_dict()}
    out["bundle"] = _bundle_summary(bundle) if bundle is not None else None
    out["decoder"] = describe_decoder(info, bundle.manifest if bundle is not None else None)
    if bundle is not None and bundle.edgetpu_model_path is not None:
        tpu = read_model(bundle.edgetpu_model_path)
        out["bundle_edgetpu_model"] = {
            "path": str(bundle.edgetpu_model_path),
            "size": tpu.size,
            "edgetpu": predict_edgetpu(tpu).to_dict(),
        }
    _runtime_shapes(path, out)
    if bundle is not None and Path(model).is_file():  # a .tar.gz: name files inside it, not our extraction folder
        import json

        out = json.loads(json.dumps(out, default=str).replace(json.dumps(str(bundle.root))[1:-1], str(model)))
    return out


def _runtime_shapes(path: Path, out: dict) -> None:
    """Outputs whose shape the file leaves empty (TFLite_Detection_PostProcess sets them at run time) get the
    shape the interpreter allocates, when an interpreter is installed; ``shape_source`` says where it came from."""
    empty = [t for t in out["outputs"] if not t["shape"]]
    if not empty or out.get("edgetpu_compiled"):
        return
    try:
        from .runtime import get_backend

        it = get_backend().Interpreter(model_path=str(path))
        it.allocate_tensors()
        shapes = {int(d["index"]): [int(v) for v in d["shape"]] for d in it.get_output_details()}
    except Exception:  # noqa: BLE001 - no interpreter, or one that rejects the model: the shapes stay unknown
        shapes = {}
    for t in empty:
        if shapes.get(t["index"]):
            t["shape"], t["shape_source"] = shapes[t["index"]], "interpreter"
        else:
            t["shape_source"] = "set at run time"


def _fmt_shape(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def _fmt_quant(q) -> str:
    if not q:
        return "-"
    if not q["per_channel"]:
        return f"scale {q['scale']:.6g}, zero {q['zero_point']}"
    zp = q["zero_point_min"] if q["zero_point_min"] == q["zero_point_max"] else f"{q['zero_point_min']}..{q['zero_point_max']}"
    return (
        f"per-channel x{q['channels']} (axis {q['quantized_dimension']}): "
        f"scale {q['scale_min']:.3g}..{q['scale_max']:.3g}, zero {zp}"
    )


def _fmt_counts(counts: dict) -> str:
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def inspect_tables(d: dict, show_ops: bool = False) -> tuple[list[str], list[tuple[str, list[str], list[list[str]]]], list[str]]:
    head = [
        f"model     {d['model']}",
        f"size      {d['size'] / 1024:.1f} KiB, schema v{d['schema_version']}"
        + (f", {d['description']!r}" if d["description"] else "")
        + (f", min runtime {d['min_runtime_version']}" if d["min_runtime_version"] else ""),
        f"compiled  {'yes: Edge TPU model (' + str(d['edgetpu']['edgetpu_segments']) + ' edgetpu-custom-op)' if d['edgetpu_compiled'] else 'no (CPU model)'}",
    ]
    if d.get("bundle"):
        b = d["bundle"]
        head.append(
            f"bundle    {b['root']}: task {b['task']}, {b['label_count']} labels, decoder {b['output'].get('decoder')}, "
            f"edgetpu model {b['edgetpu_model'] or 'none'}"
        )
    dec = d.get("decoder") or {}
    if dec.get("decoder"):
        head.append(f"decoder   {dec['decoder']} ({dec['source']}" + (f": {dec['reason']}" if dec.get("reason") else "") + ")")
    elif dec:
        head.append(f"decoder   none: {dec['source']}")
    io_rows = []
    for kind in ("inputs", "outputs"):
        for t in d[kind]:
            shape = _fmt_shape(t["shape"]) if t["shape"] or not t.get("shape_source") else t["shape_source"]
            if t.get("shape_source"):
                shape += f" ({t['shape_source']})" if t["shape"] else ""
            elif t["shape_signature"] != t["shape"]:
                shape += " (sig " + _fmt_shape(["?" if s < 0 else s for s in t["shape_signature"]]) + ")"
            io_rows.append([kind[:-1], str(t["index"]), t["name"], shape, t["dtype"], _fmt_quant(t["quantization"])])
    e = d["edgetpu"]
    op_rows = []
    for op, n in sorted(d["op_counts"].items(), key=lambda kv: (-kv[1], kv[0])):
        tpu, cpu = e["mapped_ops"].get(op, 0), e["cpu_ops"].get(op, 0)
        if d["edgetpu_compiled"]:
            where = "edgetpu" if op == "edgetpu-custom-op" else "cpu"
        else:
            where = "edgetpu" if not cpu else "cpu" if not tpu else f"{tpu} edgetpu / {cpu} cpu"
        op_rows.append([op, str(n), where])
    tables = [
        ("Inputs and outputs", ["", "#", "name", "shape", "dtype", "quantization"], io_rows),
        ("Operators", ["op", "count", "runs on" + ("" if d["edgetpu_compiled"] else " (predicted)")], op_rows),
    ]
    if show_ops:
        rows = [[str(p["index"]), p["op"], p["target"], p["reason"] or ""] for p in e["ops"]]
        tables.append(("Operator placement", ["#", "op", "runs on", "why"], rows))
    tail = [f"custom ops  {', '.join(d['custom_ops']) or 'none'}"]
    if len(d["subgraphs"]) > 1:
        tail.append(f"subgraphs   {len(d['subgraphs'])}: " + ", ".join(f"#{g['index']} {g['operators']} ops" for g in d["subgraphs"]))
    if d["metadata"]:
        tail.append("metadata    " + ", ".join(m["name"] for m in d["metadata"]))
    label = "Edge TPU   " if d["edgetpu_compiled"] else "Edge TPU   (predicted) "
    n_tpu, n_cpu = sum(e["mapped_ops"].values()), sum(e["cpu_ops"].values())
    if d["edgetpu_compiled"]:
        tail.append(f"{label}{n_cpu} op(s) outside the Edge TPU op run on the CPU: {_fmt_counts(e['cpu_ops'])}")
    else:
        tail.append(f"{label}{n_tpu} op(s) map to the Edge TPU, {n_cpu} run on the CPU")
        if e["cpu_ops"]:
            tail.append(f"  on the CPU: {_fmt_counts(e['cpu_ops'])}")
    fu = e["first_unmapped"]
    if fu:
        tail.append(f"  first unmapped: #{fu['index']} {fu['op']}: {fu['reason']}")
    for c in e["caveats"]:
        tail.append(f"  caveat: #{c['index']} {c['note']}")
    if e["note"]:
        tail.append(f"  note: {e['note']}")
    if d.get("bundle_edgetpu_model"):
        bt = d["bundle_edgetpu_model"]
        tail.append(f"bundle Edge TPU model {bt['path']}: CPU ops {_fmt_counts(bt['edgetpu']['cpu_ops'])}")
    return head, tables, tail
