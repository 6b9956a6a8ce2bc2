"""The score threshold of an int8 BlazeFace-type detector, chosen at conversion so it keeps the float model's boxes.

int8 moves each score logit a little (after equalization and percentile ranges: std ~0.3 logits near the
threshold on the benchmark's tiles), so a face the float model scores just above its threshold may fall just
under it in int8. Both models run on the calibration inputs; the float model's boxes at its own threshold are
the reference, and the int8 threshold is the highest of :data:`STEPS` below the float one (the float one first) at which
the int8 model finds >= ``target`` of them (IoU >= 0.5). The table of every candidate (recall and the int8
boxes the float model lacks, the cost in false positives) goes into the report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["STEPS", "choose_threshold", "pick", "raw_outputs", "threshold_report_lines"]

STEPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)  # candidates: the float model's threshold minus these
TARGET = 0.99


def raw_outputs(model: str | Path | bytes, calib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw (boxes (n, anchors, k), score logits (n, anchors)) of ``model`` on float inputs ``calib``
    (quantized to the model's integer input when it has one; outputs dequantized)."""
    from ..runtime import get_backend

    kw = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    it = get_backend().Interpreter(num_threads=1, **kw)
    it.allocate_tensors()
    inp, outs = it.get_input_details()[0], it.get_output_details()

    def deq(d, v):
        s, z = d.get("quantization", (0.0, 0))
        return (v.astype(np.float32) - z) * s if s else v.astype(np.float32)

    boxes, scores = [], []
    for x in calib:
        s, z = inp.get("quantization", (0.0, 0))
        if s:
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / s + z), info.min, info.max)
        it.set_tensor(inp["index"], x[None].astype(inp["dtype"]))
        it.invoke()
        vals = [deq(d, it.get_tensor(d["index"]))[0] for d in outs]
        boxes.append(next(v for v in vals if v.shape[-1] > 1))
        scores.append(next(v for v in vals if v.shape[-1] == 1)[:, 0])
    return np.stack(boxes), np.stack(scores)


def choose_threshold(float_model: str | Path, int8_model: bytes, calib: np.ndarray, params: dict,
                     target: float = TARGET) -> tuple[float, dict]:
    """(threshold for the int8 model, report table) from both models on ``calib`` ((n, h, w, 3) float32,
    preprocessed). ``params``: the manifest's blazeface params (anchors, threshold, iou_threshold, keypoints)."""
    from ..runtime.decoders.anchors import AnchorOptions, ssd_anchors
    from ..runtime.decoders.boxes import decode_blazeface, iou_matrix

    a = dict(params["anchors"])
    for key in ("strides", "aspect_ratios"):
        a[key] = tuple(a[key])
    anchors = ssd_anchors(AnchorOptions(**a))
    base = float(params.get("threshold", 0.5))
    scale = (float(a["input_size_width"]), float(a["input_size_height"]))
    iou, keypoints = float(params.get("iou_threshold", 0.3)), int(params.get("keypoints", 6))

    def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, threshold: float) -> np.ndarray:
        """(N, 4) boxes (x1, y1, x2, y2), in 0-1 of the model input, decoded from one input's raw outputs."""
        return decode_blazeface(raw_boxes, raw_scores, anchors, scale=scale, threshold=threshold, iou_threshold=iou,
                                num_keypoints=keypoints).xyxy

    fb, fs = raw_outputs(float_model, calib)
    qb, qs = raw_outputs(int8_model, calib)
    ref = [decode(fb[i], fs[i], base) for i in range(len(calib))]
    table = []
    for t in (round(base - d, 4) for d in STEPS if base - d > 0):
        found = extra = 0
        for i, r in enumerate(ref):
            q = decode(qb[i], qs[i], t)
            if len(r) and len(q):
                m = iou_matrix(r, q)
                found += int((m.max(1) >= 0.5).sum())
                extra += int((m.max(0) < 0.5).sum())
            else:
                extra += len(q)
        total = sum(len(r) for r in ref)
        table.append({"threshold": t, "recall": round(found / max(1, total), 4), "float_boxes": total,
                      "found": found, "int8_extra_boxes": extra})
    chosen = pick(table, target)
    if chosen is None:  # no float boxes at all on the calibration inputs: nothing to match, keep the float one
        log.warning("no faces found by the float model on the calibration inputs: int8 keeps its threshold %.2f", base)
        return base, {"float_threshold": base, "target_recall": target, "inputs": len(calib), "candidates": table,
                      "note": "no float boxes on the calibration inputs: float threshold kept"}
    log.info("int8 score threshold %.2f (float %.2f): recall of the float boxes %.3f on %d calibration inputs",
             chosen["threshold"], base, chosen["recall"], len(calib))
    return float(chosen["threshold"]), {"float_threshold": base, "target_recall": target,
                                        "inputs": len(calib), "candidates": table}


def pick(table: list[dict], target: float) -> dict | None:
    """The row to use: the first (highest threshold) reaching ``target`` recall, else the highest threshold with
    the best recall; None when the float model found no boxes."""
    if not table or table[0]["float_boxes"] == 0:
        return None
    best = max(r["recall"] for r in table)
    return next((r for r in table if r["recall"] >= target), next(r for r in table if r["recall"] == best))


def threshold_report_lines(quantization: dict) -> list[str]:
    """report.md lines for the equalization and the chosen score threshold (nothing when neither was done)."""
    lines = []
    eq = quantization.get("equalized") or {}
    if eq.get("pairs"):
        lines.append(f"- {eq['pairs']} depthwise -> conv pairs equalized on {eq.get('inputs')} calibration inputs "
                     f"(largest / median channel range of their activations: {eq.get('median_channel_spread_before')} "
                     f"-> {eq.get('median_channel_spread_after')}, median over the pairs)")
    st = quantization.get("score_threshold")
    chosen = pick(st["candidates"], st["target_recall"]) if st else None
    if st and chosen is None:
        lines.append(f"- score threshold {st['float_threshold']} for int8, as float: {st.get('note', '')}")
    elif st and chosen is not None:
        lines += [f"- score threshold {chosen['threshold']} for int8 (float model: {st['float_threshold']}): the "
                  f"highest at which int8 finds >= {st['target_recall'] * 100:.0f}% of the float model's boxes "
                  f"(IoU >= 0.5) on the {st['inputs']} calibration inputs", "",
                  "| int8 threshold | float boxes found | int8 boxes the float model lacks |", "|---:|---:|---:|"]
        lines += [f"| {r['threshold']} | {r['found']}/{r['float_boxes']} ({r['recall'] * 100:.1f}%) | "
                  f"{r['int8_extra_boxes']} |" for r in st["candidates"]] + [""]
    return lines
