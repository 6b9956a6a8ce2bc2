"""``anonymize(config)``: the anonymize job on the stream pipeline (what ``edgesdk anonymize`` calls)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ...errors import InputError
from ..stream import (
    EventsOutput, OutputSpec, StreamInfo, StreamOptions, cap_threads, check_output_paths, default_output,
    job_outputs, open_sinks, plan_output, run_reported, start_source,
)

__all__ = ["AnonymizeConfig", "anonymize", "summary_text"]


@dataclass(frozen=True)
class AnonymizeConfig(StreamOptions):
    """Everything ``anonymize`` needs. Paths are checked before any work. The run options (max_frames, device,
    threads (here: per model, default 1), realtime, loop, video options, audio_from) are StreamOptions'.

    source: SOURCE as ``open_source`` takes it (None: first camera, else demo).
    output / events / serve / show: where to write (none: ``<name>_anonymized.<ext>`` next to a file source, or
    ``<name>_anonymized/`` beside a folder; an existing one only with ``force``; cameras need one).
    detectors: ``face`` | ``face-full`` | bundle paths; classes: one list per bundle (or one for all).
    mode: blur | pixelate | solid | mask; feather: soft edge in px; mask_scale: box growth (1.0-4.0).
    tiles: auto | off | (rows, cols); sweep: frames the auto tiles are spread over; hold_frames: frames a lost
    box stays masked; threads: per model (default 1); device: cpu | edgetpu (bundles).
    """

    job = "anonymize"
    source: str | None = None
    output: str | None = None
    events: str | None = None
    serve: tuple[str, int] | None = None
    show: bool = False
    detectors: tuple[str, ...] = ("face",)
    classes: tuple[tuple[str, ...], ...] | None = None
    mode: str = "blur"
    feather: int = 0
    threshold: float | None = None
    mask_scale: float = 1.3
    tiles: str | tuple[int, int] = "auto"
    sweep: int = 4
    hold_frames: int = 5
    person_mask: str | None = None  # also mask every person's silhouette: "" default selfie model, or a MODEL
    person_shape: str = "box"  # box | hull | silhouette (edgesdk.runtime.segment.person_shapes)
    force: bool = False  # overwrite the default output (<name>_anonymized.<ext>) when it exists

    def __post_init__(self) -> None:
        if not 1.0 <= self.mask_scale <= 4.0:
            raise InputError(f"mask scale must be between 1.0 and 4.0, got {self.mask_scale}")

    def outputs(self, on_close: Callable[[], None]) -> list[OutputSpec]:
        faces = all(d in ("face", "face-full") for d in self.detectors)
        what = "faces" if faces else ", ".join(str(d).rstrip("/").rsplit("/", 1)[-1] for d in self.detectors)
        return job_outputs("edgesdk anonymize", output=self.video_output(self.output), reports=[EventsOutput(self.events)] if self.events else [],
                           serve=self.serve, caption=f"{what} anonymized on the device", show=self.show,
                           on_close=on_close)


def anonymize(
    config: AnonymizeConfig, *, stop: threading.Event | None = None, handle_signals: bool = True,
    on_start: Callable[[StreamInfo], None] | None = None, on_frame: Callable[[int], None] | None = None,
) -> dict:
    """Run the anonymize job; returns its report (JSON-ready dict).

    Everything that can be checked is checked before any work (InputError / SinkError with one line, nothing
    written). stop: set it to finish the frames in flight and finalize the outputs (also on SIGINT / SIGTERM
    when ``handle_signals``). Raises RunError (``.report`` holds the report so far) when a source, detector or
    sink error stopped the run; the outputs are closed and what was written is kept.
    """
    from ._detectors import build_detectors
    from ._pipeline import AnonymizePipeline
    from ._strategies import make_anonymizer
    from ..sources import open_source

    stop = stop or threading.Event()
    if not config.outputs(stop.set):
        out = default_output(config.source)
        if out is None:
            raise InputError("nothing to write: give -o OUT, --events FILE, --serve HOST:PORT or --show")
        if Path(out).exists() and not config.force:
            raise InputError(f"{out} exists: give --force to overwrite it, or -o OUT")
        config = replace(config, output=out)
    config = replace(config, threads=cap_threads(config.threads))
    specs = config.outputs(stop.set)
    source = open_source(config.source, max_frames=None if config.loop else config.max_frames)
    check_output_paths(specs, config.source)
    source.open()
    detector = None
    try:
        plan_output(config.output, config.source, source.total)
        detector = build_detectors(
            list(config.detectors), classes=[list(c) for c in config.classes] if config.classes else None,
            threshold=config.threshold, tiles=config.tiles, device=config.device,
            threads=config.threads if config.threads is not None else 1, sweep_frames=config.sweep,
            still=source.independent,
        )
        mode = make_anonymizer(config.mode, config.feather)
        person = None
        if config.person_mask is not None:
            from ..segment import load_person_segmenter

            person = load_person_segmenter(config.person_mask or None, device=config.device,
                                           threads=config.threads if config.threads is not None else 1)
        sinks = open_sinks(specs, source, config.source)
    except BaseException:
        if detector is not None:
            detector.close()
        source.close()
        raise
    run_source = start_source(source, sinks, config, on_start)
    person_stage = None
    if person is not None:
        from ._pipeline import MaskStage, Renderer
        from ..segment import PersonMaskStage

        person_stage = PersonMaskStage(MaskStage(Renderer(mode, config.mask_scale)), person[0], mode, person[1],
                                       shape=config.person_shape)
    pipe = AnonymizePipeline(run_source, detector, mode, sinks, hold_frames=config.hold_frames,
                             mask_scale=config.mask_scale, on_frame=on_frame, stage=person_stage)

    def report(summary) -> dict:
        d = summary.to_dict()
        ms = d["stage_ms_per_frame"]
        ms["detect"] = round(ms["detect"] + ms.pop("track"), 3)  # tracking is part of detection here
        return {
            "source": source.name, "size": list(source.size) if source.size else None, "source_fps": source.fps,
            "detectors": detector.name, "labels": detector.label_names(), "anonymizer": mode.describe(),
            "mask_scale": config.mask_scale, "hold_frames": config.hold_frames,
            "tiles": config.tiles if isinstance(config.tiles, str) else f"{config.tiles[0]}x{config.tiles[1]}",
            "outputs": [s.name for s in sinks], "tiled_frames": detector.tiled_frames,
            "skipped_files": list(source.skipped_names),
            **({"person_mask": person_stage.describe()} if person_stage is not None else {}),
            **{k: v for k, v in d.items() if k != "source"},
        }

    try:
        return run_reported(pipe, stop, report, handle_signals)
    finally:
        detector.close()



def summary_text(r: dict) -> str:
    """The few lines ``edgesdk anonymize`` prints for one report of ``anonymize``."""
    st = r["stage_ms_per_frame"]
    lines = [
        f"{r['frames_written']} frames from {r['source']} in {r['seconds']:.2f} s ({r['fps']:.1f} FPS), "
        f"{r['detections']} detections, {r['held_boxes']} held boxes",
        f"  per frame: capture {st['capture']:.2f} ms, detect {st['detect']:.2f} ms, render {st['render']:.2f} ms, "
        f"write {st['write']:.2f} ms",
    ]
    extra = [f"{k} {r[k]}" for k in ("skipped", "dropped", "blanked") if r.get(k)]
    if r.get("skipped_files"):
        extra[0] += f" ({', '.join(r['skipped_files'])})"
    if r.get("interrupted"):
        extra.append("stopped early (interrupted), outputs finalized")
    if extra:
        lines.append("  " + ", ".join(extra))
    lines += [f"  -> {o}" for o in r["outputs"]]
    return "\n".join(lines)
