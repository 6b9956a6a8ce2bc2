"""The Markdown page of ``anonymize_fps.py``'s results (benchmarks/results/anonymize/anonymize_fps.md)."""

from __future__ import annotations

__all__ = ["markdown"]


def _leak_cell(lk: dict, key: str) -> str:
    v = lk.get(key)
    return f"{v['leaked_faces']}/{v['input_faces']} ({v['leak_rate']})" if v else "-"


def markdown(r: dict) -> str:
    lines = [
        "# edgesdk anonymize: throughput, stage times, leak rate and demo coverage",
        "",
        f"Measured {r['when']} on {r['machine']} with {r['cpus']} CPUs shared with other work (load average "
        f"{r['load_average_start'][0]} at the start, {r['load_average_end'][0]} at the end), Python {r['python']}, "
        f"OpenCV {r['opencv']}. Command: `{r['command'].strip()}` (best of the repeats per clip).",
        "",
        f"Bare invoke (median, 1 thread): BlazeFace short range {r['bare_invoke_ms']['face (128x128, 1 thread)']} ms, "
        f"full range {r['bare_invoke_ms']['face-full (192x192, 1 thread)']} ms.",
        "",
        "## End to end (threaded pipeline, file to .mp4)",
        "",
        "Defaults: `edgesdk anonymize CLIP -o out.mp4` (face, tiles auto with sweep 4, 2 tile workers, blur, mask "
        "scale 1.3, hold 5). Stage times are per frame in parallel threads and include waiting for a CPU.",
        "",
        "| clip | size | tiles | workers | frames | FPS | capture ms | detect ms | render ms | write ms | invokes/frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in r["clips"].items():
        for mode, v in entry.items():
            if "fps" not in v:
                continue
            st = v["stage_ms_per_frame"]
            tiles, workers = (p.split("=")[1] for p in mode.split())
            lines.append(f"| {name} | {v['size'][0]}x{v['size'][1]} | {tiles} | {workers} | {v['frames_written']} | "
                         f"{v['fps']} | {st['capture']} | {st['detect']} | {st['render']} | {st['write']} | "
                         f"{v['invokes_per_frame']} |")
    lines += ["", "## Own cost around the detector (single thread, stage by stage, ms per frame)", "",
              "| clip | decode | preprocess | invoke | rest of detection | track | render | encode (mp4v) | invokes/frame | own cost |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in r["clips"].items():
        s = entry["stages_single_thread"]
        lines.append(f"| {name} | {s['decode']} | {s['preprocess']} | {s['invoke']} | {s['detect_other']} | {s['track']} | "
                     f"{s['render']} | {s['encode']} | {s['invokes_per_frame']} | {s['own_cost_ms']} |")
    enc = r.get("encode_ms_per_frame_again_mkv", {})
    if enc:
        lines += ["", "Encoding again.mkv's frames alone, ms per frame: " + ", ".join(f"{k} {v}" for k, v in enc.items()) + "."]
    lines += ["", "## Leaks (IoU >= 0.5 unless noted; leaked / input faces (rate))", "",
              "| clip | tiles | raw | raw, IoU >= 0.3 | confirmed in an adjacent frame | reference score >= 0.9 |",
              "|---|---|---|---|---|---|"]
    for name, entry in r["clips"].items():
        for mode, v in entry.items():
            lk = v.get("leaks") if isinstance(v, dict) else None
            if not lk:
                continue
            lines.append(f"| {name} | {mode.split()[0].split('=')[1]} | {_leak_cell(lk, 'raw')} | {_leak_cell(lk, 'raw_iou_0.3')} | "
                         f"{_leak_cell(lk, 'confirmed')} | {_leak_cell(lk, 'score_0.9')} |")
    lines += ["", "Leaked boxes (frame, x1 y1 x2 y2, reference score), default settings:", ""]
    for name, entry in r["clips"].items():
        v = entry.get("tiles=auto workers=2", {})
        boxes = v.get("leaks", {}).get("raw", {}).get("leaked_boxes", [])
        if boxes:
            lines.append(f"- {name}: " + "; ".join(f"{b[0]}: {' '.join(str(int(x)) for x in b[1])} ({b[2]})" for b in boxes))
    d = r["demo"]
    lines += ["", "## Demo: ground-truth coverage", "",
              f"`edgesdk anonymize demo` defaults, {d['frames']} frames: {d['covered_faces']} of {d['visible_faces']} "
              f"visible faces (>= 30 % of the box in view) covered >= 80 % (recall {d['recall']}, leak rate "
              f"{d['leak_rate']}); frames with every visible face covered: {d['frames_all_covered']} of {d['frames']}; "
              f"missed (frame, face, visible, covered): {d['missed'] or 'none'}. {d['detections']} detections, "
              f"{d['held_boxes']} held boxes, {d['fps']} FPS in memory.", ""]
    for t in r.get("sizes", []):
        lines += [f"## Smallest reliable face: {t['model']} ({t['input']}x{t['input']}, threshold {t['threshold']})", "",
                  "| face width in the input (px) | photo faces found (astronaut, face.jpg x2) | 18 dlib faces, mean |",
                  "|---|---|---|"]
        for row in t["rows"]:
            lines.append(f"| {row['width_px']} | {', '.join(str(v) for v in row['photo_faces'])} | "
                         f"{row['dlib_faces_mean'] if row['dlib_faces_mean'] is not None else '-'} |")
        lines.append("")
    return "\n".join(lines) + "\n"
