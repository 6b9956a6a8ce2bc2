"""``segment_stream(segmenter, config)``: segmentation and background replacement on the one stream pipeline
(video files, cameras, RTSP, image folders): source -> (no detector) -> SegmentStage -> sinks."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ...errors import InputError
from ...results import Detections
from ..stream import (
    FileOutput, OutputSpec, Pipeline, ServeOutput, StreamInfo, Tracked, WindowOutput, check_output_paths,
    open_sink, plan_output, run_reported,
)
from ._background import Transparent, parse_background
from ._files import foreground_ids
from ._segmenter import Segmenter
from ._stages import SegmentStage

__all__ = ["SegmentStreamConfig", "segment_stream"]


class _NoDetector:
    """The pipeline's detector slot for jobs that find no boxes: segmentation runs in the frame stage."""

    name = "none"
    labels: Sequence[str] = ()

    def detect(self, image: np.ndarray) -> Detections:
        return Detections.empty()

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class _NoTracker:
    def track(self, detections: Detections, index: int) -> Tracked:
        return Tracked(detections, np.zeros(len(detections), bool))

    def reset(self) -> None:
        pass

    def finish(self) -> Detections:
        return Detections.empty()


@dataclass(frozen=True)
class SegmentStreamConfig:
    """source: SOURCE as ``open_source`` takes it. output / serve / show: where to write (at least one).
    draw: ``overlay`` | ``labels`` (segment) or ``background`` (remove-background, with ``replace``: a colour,
    an image or ``blur``; transparent needs image files). classes: names (remove-background: default person).
    smooth: EMA weight of the newest frame's foreground (1.0: off). feather: alpha edge in px."""

    source: str
    output: str | None = None
    serve: tuple[str, int] | None = None
    show: bool = False
    draw: str = "overlay"
    replace: str = "blur"
    classes: tuple[str, ...] | None = None
    smooth: float = 0.5
    feather: float = 3.0
    max_frames: int | None = None

    def outputs(self, on_close: Callable[[], None]) -> list[OutputSpec]:
        specs: list[OutputSpec] = []
        if self.output:
            specs.append(FileOutput(self.output))
        if self.serve:
            specs.append(ServeOutput(self.serve[0], self.serve[1], title="edgesdk segment"))
        if self.show:
            specs.append(WindowOutput("edgesdk segment", on_close))
        return specs


def segment_stream(
    segmenter: Segmenter, config: SegmentStreamConfig, *, stop: threading.Event | None = None,
    handle_signals: bool = True, on_start: Callable[[StreamInfo], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> dict:
    """Run segmentation over a stream; returns the report (JSON-ready). Checks everything before any work
    (InputError with one line); raises RunError (``.report`` set) when the source or a sink stopped the run."""
    from ..sinks import MjpegServer
    from ..sources import open_source

    stop = stop or threading.Event()
    specs = config.outputs(stop.set)
    if not specs:
        raise InputError("nothing to write: give -o OUT (a video or a folder), --serve HOST:PORT or --show")
    background = None
    if config.draw == "background":
        background = parse_background(config.replace)
        if isinstance(background, Transparent):
            raise InputError("a transparent background needs image files (RGBA PNG); for a video, camera or folder "
                             "pass --replace COLOR|IMAGE|blur")
    ids = foreground_ids(segmenter, config.classes, default=("person",) if config.draw == "background" else ())
    source = open_source(config.source, max_frames=config.max_frames)
    check_output_paths(specs, config.source)
    source.open()
    sinks = []
    try:
        plan_output(config.output, config.source, source.total)
        for spec in specs:
            sinks.append(open_sink(spec, source, config.source))
    except BaseException:
        for s in sinks:
            s.close()
        source.close()
        raise
    stage = SegmentStage(segmenter, draw=config.draw, background=background, classes=ids, smooth=config.smooth,
                         feather=config.feather, independent=source.independent)
    url = next((s.url for s in sinks if isinstance(s, MjpegServer)), None)
    if on_start is not None:
        on_start(StreamInfo(source.name, None if source.live else source.total, source.live,
                            tuple(s.name for s in sinks), url))
    pipe = Pipeline(source, _NoDetector(), _NoTracker(), stage, sinks, on_frame=on_frame)

    def report(summary) -> dict:
        d = summary.to_dict()
        ms = d["stage_ms_per_frame"]
        ms["segment"] = ms.pop("render")
        for k in ("detect", "track"):
            ms.pop(k, None)
        for k in ("detections", "held_boxes"):
            d.pop(k, None)
        return {"source": source.name, "size": list(source.size) if source.size else None, "source_fps": source.fps,
                **segmenter.describe(), "draw": config.draw,
                "background": background.describe() if background is not None else None,
                "smooth": stage.smoother.weight, "shares": stage.shares(), "outputs": [s.name for s in sinks],
                **{k: v for k, v in d.items() if k != "source"}}

    return run_reported(pipe, stop, report, handle_signals)
