"""``detect_stream(config)``: the detect job on the stream pipeline (what ``edgesdk detect MODEL SOURCE`` calls):
detector -> ByteTrack -> events, zones, lines, snapshots, drawing -> video / images, JSONL, live page, MQTT."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Callable

from ...errors import InputError
from ._control import StreamInfo, StreamOptions, cap_threads, run_reported, start_source
from ._outputs import (
    FileOutput, MqttOutput, OutputSpec, ServeOutput, SnapshotsOutput, TrackEventsOutput, WindowOutput,
    check_output_paths, job_outputs, open_sinks, plan_output,
)
from ._pipeline import Pipeline
from ._zones import parse_line, parse_zone

__all__ = ["DetectConfig", "detect_stream"]


@dataclass(frozen=True)
class DetectConfig(StreamOptions):
    """Everything ``detect_stream`` needs; checked before any work. The run options (max_frames, device,
    threads, realtime, loop, video codec / crf / encoder, audio_from) are StreamOptions' (keyword-only).

    model: .tflite or bundle; labels: a labels file replacing the model's; input_range: float range the model
    expects for pixels 0..255 (default: the bundle's, or inferred). source: as ``open_source`` takes it.
    output / events / snapshots / serve / mqtt / show: outputs (none: only the summary).
    classes: label names or ids to keep; threshold: score that starts a track (lower scores down to
    ``low_threshold``, default 0.6 x threshold, only continue tracks); min_area: px^2 of the source frame;
    nms_iou: class-aware NMS; tiles: (rows, cols) of overlapping tiles also searched (small objects). zones / lines: ``NAME:x,y;x,y;...`` / ``NAME:x1,y1,x2,y2`` in pixels or 0-1.
    min_hits: detections in a row that confirm a track; max_misses: frames a track may be missed before it ends.
    """

    job = "detect"
    model: str
    source: str | None = None
    labels: str | None = None
    input_range: tuple[float, float] | None = None
    output: str | None = None
    events: str | None = None
    snapshots: str | None = None
    serve: tuple[str, int] | None = None
    mqtt: str | None = None
    mqtt_user: str | None = None
    mqtt_password_file: str | None = None
    show: bool = False
    classes: tuple[str, ...] | None = None
    threshold: float = 0.5
    low_threshold: float | None = None
    min_area: float = 0.0
    nms_iou: float = 0.5
    tiles: tuple[int, int] | None = None
    zones: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    min_hits: int = 3
    max_misses: int = 30

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise InputError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.min_hits < 1 or self.max_misses < 0:
            raise InputError("min_hits must be >= 1 and max_misses >= 0")
        if (self.mqtt_user or self.mqtt_password_file) and not self.mqtt:
            raise InputError("an MQTT user or password file needs an MQTT URL (mqtt)")

    def outputs(self, on_close: Callable[[], None]) -> list[OutputSpec]:
        reports: list[OutputSpec] = []
        if self.events:
            reports.append(TrackEventsOutput(self.events))
        if self.snapshots:
            reports.append(SnapshotsOutput(self.snapshots))
        if self.mqtt:
            reports.append(MqttOutput(self.mqtt, self.mqtt_user, self.mqtt_password_file))
        return job_outputs("edgesdk detect", output=self.video_output(self.output), reports=reports, serve=self.serve,
                           caption=str(self.model).rstrip("/").rsplit("/", 1)[-1], show=self.show, on_close=on_close)


def detect_stream(
    config: DetectConfig, *, stop: threading.Event | None = None, handle_signals: bool = True,
    on_start: Callable[[StreamInfo], None] | None = None, on_frame: Callable[[int], None] | None = None,
) -> dict:
    """Run the detect job; returns its report (JSON-ready dict: frames, per-class counts, tracks, zone and line
    counts, per-stage ms). Same contract as ``anonymize``: InputError / SinkError before any work, RunError
    (``.report`` set) when a run stopped on an error, outputs always finalized."""
    from ...bundle import InputSpec, read_labels
    from .. import load
    from ..sinks import MqttSink
    from ..sources import open_source
    from ._bytetrack import ByteTracker, NoTracker
    from ._detect_stage import DetectStage, SnapshotWriter
    from ._model_detector import ModelDetector, check_detector, resolve_classes

    stop = stop or threading.Event()
    zones = [parse_zone(z) for z in config.zones]
    lines = [parse_line(ln) for ln in config.lines]
    names = [z.name for z in zones] + [ln.name for ln in lines]
    if len(set(names)) != len(names):
        raise InputError("zone and line names must differ from each other")
    specs = config.outputs(stop.set)
    source = open_source(config.source, max_frames=None if config.loop else config.max_frames)
    check_output_paths(specs, config.source)
    in_spec = InputSpec.from_range(*config.input_range) if config.input_range else None
    model = load(config.model, config.device, cap_threads(config.threads), input_spec=in_spec)
    name = str(config.model).rstrip("/").rsplit("/", 1)[-1]
    check_detector(model, name)
    if config.labels:
        try:
            model.labels = read_labels(config.labels)
        except OSError as exc:
            raise InputError(f"cannot read labels file {config.labels}: {exc.strerror}") from None
    keep = resolve_classes(config.classes, model.labels, name)
    source.open()
    try:
        size = source.size
        if size is not None:
            zones = [z.resolved(*size) for z in zones]
            lines = [ln.resolved(*size) for ln in lines]
        elif zones or lines:
            raise InputError(f"the frame size of {source.name} is not known before the first frame: cannot place zones")
        plan_output(config.output, config.source, source.total)
        still = source.independent
        low = config.threshold if still else (config.low_threshold or round(0.6 * config.threshold, 3))
        detector = ModelDetector(model, threshold=low, keep=keep, min_area=config.min_area, nms_iou=config.nms_iou,
                                 name=name, tiles=config.tiles)
        detector.warm_up(size or (300, 300))
        tracker = NoTracker() if still else ByteTracker(config.threshold, config.min_hits, config.max_misses)
        snaps = SnapshotWriter(config.snapshots) if config.snapshots else None
        sinks = open_sinks(specs, source, config.source)
    except BaseException:
        source.close()
        raise
    draw = any(isinstance(s, (FileOutput, ServeOutput, WindowOutput)) for s in specs)
    stage = DetectStage(detector.labels, zones=zones, lines=lines, draw=draw, snapshots=snaps)
    run_source = start_source(source, sinks, config, on_start)
    pipe = Pipeline(run_source, detector, tracker, stage, sinks, on_frame=on_frame)

    def report(summary) -> dict:
        d = summary.to_dict()
        d.pop("held_boxes", None)
        d.pop("blanked", None)
        return {
            "model": name, "source": source.name, "size": list(size) if size else None, "source_fps": source.fps,
            "threshold": config.threshold, "low_threshold": low,
            "classes": [detector.labels[i] if i < len(detector.labels) else str(i) for i in keep.tolist()] if keep is not None else None,
            "tracking": None if still else {"min_hits": config.min_hits, "max_misses": config.max_misses},
            "detections_per_class": dict(stage.detections), "tracks_per_class": dict(stage.tracks),
            "tracks": None if still else sum(stage.tracks.values()),
            "frames_with_detections": stage.frames_with_detections,
            "zones": {z.name: [list(p) for p in z.points] for z in zones},
            "lines": {ln.name: [list(ln.a), list(ln.b)] for ln in lines},
            "counts": stage.counter.counts(), "snapshots": snaps.written if snaps else None,
            "outputs": [s.name for s in sinks] + ([f"snapshots:{config.snapshots}"] if snaps else []),
            "skipped_files": list(source.skipped_names),
            "mqtt": next((asdict(s.stats()) for s in sinks if isinstance(s, MqttSink)), None),
            **{k: v for k, v in d.items() if k != "source"},
        }

    return run_reported(pipe, stop, report, handle_signals)
