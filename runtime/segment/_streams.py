"""``segment_stream(segmenter, config)``: segmentation and background replacement on the one stream pipeline
(video files, cameras, RTSP, image folders): source -> (no detector) -> SegmentStage -> sinks."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from ...errors import InputError
from ..stream import (
    FileOutput, NoTracker, NullDetector, OutputSpec, Pipeline, StreamInfo, check_output_paths, job_outputs,
    open_outputs, run_reported,
)
from ._background import Transparent, parse_background
from ._files import foreground_ids
from ._segmenter import Segmenter
from ._stages import SegmentStage

__all__ = ["SegmentStreamConfig", "segment_stream"]


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
        return job_outputs("edgesdk segment", output=FileOutput(self.output) if self.output else None,
                           serve=self.serve, show=self.show, on_close=on_close)


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
    sinks = open_outputs(source, specs, config.source)
    stage = SegmentStage(segmenter, draw=config.draw, background=background, classes=ids, smooth=config.smooth,
                         feather=config.feather, independent=source.independent)
    url = next((s.url for s in sinks if isinstance(s, MjpegServer)), None)
    if on_start is not None:
        on_start(StreamInfo(source.name, None if source.live else source.total, source.live,
                            tuple(s.name for s in sinks), url))
    pipe = Pipeline(source, NullDetector(), NoTracker(), stage, sinks, on_frame=on_frame)

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
