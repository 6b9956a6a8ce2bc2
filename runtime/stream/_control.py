"""Run control shared by the jobs: the run options every stream job's config has (``StreamOptions``), Ctrl-C /
SIGTERM finish the frames in flight and finalize the outputs, and the ``StreamInfo`` a job hands its caller once
everything is open (for progress bars and messages)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Iterator, TypeVar

from ._outputs import FileOutput

if TYPE_CHECKING:
    from ._pipeline import Pipeline, RunSummary

log = logging.getLogger(__name__)

__all__ = ["StreamInfo", "StreamOptions", "cap_threads", "config_from_dict", "run_reported", "stop_on_signals"]


_Config = TypeVar("_Config", bound="StreamOptions")


@dataclass(frozen=True, kw_only=True)
class StreamOptions:
    """The run options of the jobs that take anonymize's run flags (anonymize, detect), keyword-only.

    max_frames: stop after N frames; device / threads: where and on how many threads the model runs;
    realtime: pace a file source to its frame rate (None: when serving a live page); loop: start a file source
    again at its end (demos); codec / crf / encoder: the video output as VideoSink takes them; audio_from: keep
    this file's audio track in the video output (usually the source).
    """

    job: ClassVar[str] = "stream"  # the job's name in messages

    max_frames: int | None = None
    device: str = "cpu"
    threads: int | None = None
    realtime: bool | None = None
    loop: bool = False
    codec: str = "h264"
    crf: int = 23
    encoder: str = "auto"
    audio_from: str | None = None

    @classmethod
    def from_dict(cls: type[_Config], d: dict) -> _Config:
        """The config from a dict (a recipe, a service file); unknown keys are refused."""
        return config_from_dict(cls, d, cls.job)

    def video_output(self, path: str | None) -> FileOutput | None:
        """-o ``path`` with these video options (None when no path)."""
        return FileOutput(path, self.codec, self.crf, self.encoder, self.audio_from) if path else None


@dataclass(frozen=True)
class StreamInfo:
    """What a job opened: the source's name, frame count (None for live sources), live or not, output names,
    and the live page's URL when serving."""

    source: str
    total: int | None
    live: bool
    outputs: tuple[str, ...]
    url: str | None = None


def start_source(source, sinks, config: StreamOptions, on_start: Callable[[StreamInfo], None] | None):
    """``source`` paced, looped and cut as ``config`` says (``pace``; realtime by default when a live page
    serves), announced to ``on_start`` with the opened
    ``sinks`` (and the live page's URL when one serves); returns the source the pipeline reads."""
    from ..sinks import MjpegServer
    from ._pacing import pace

    url = next((s.url for s in sinks if isinstance(s, MjpegServer)), None)
    run_source = pace(source, realtime=config.realtime, loop=config.loop, serving=url is not None,
                      max_frames=config.max_frames)
    if on_start is not None:
        on_start(StreamInfo(source.name, None if run_source.live else run_source.total, run_source.live,
                            tuple(s.name for s in sinks), url))
    return run_source


def cap_threads(threads: int | None) -> int | None:
    """Interpreter threads capped at the machine's cores (more only slow the pipeline's own threads), with a
    warning when capped, as bench and classify do."""
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        log.warning("--threads %d capped at the %d core(s) of this machine", threads, cores)
        return cores
    return threads


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside: SIGINT / SIGTERM set ``stop`` (the pipeline finishes the frames read and closes the sinks);
    a second signal raises KeyboardInterrupt. Only in the main thread (elsewhere it does nothing)."""

    def _on_signal(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.warning("stopping: finishing the current frame and closing the outputs (again to abort)")

    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, _on_signal)
    try:
        yield stop
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def run_reported(pipe: Pipeline, stop: threading.Event, report: Callable[[RunSummary], dict],
                 handle_signals: bool = True) -> dict:
    """Run ``pipe`` until its source ends or ``stop`` is set (SIGINT / SIGTERM too with ``handle_signals``) and
    return ``report(summary)``, the job's JSON-ready summary. A failed run raises its RunError carrying
    ``report`` of what was done. Every stream job ends this way."""
    from ._pipeline import RunError

    with stop_on_signals(stop) if handle_signals else contextlib.nullcontext():
        try:
            summary = pipe.run(stop)
        except RunError as exc:
            exc.report = report(exc.summary)
            raise
    return report(summary)


def config_from_dict(cls, d: dict, job: str):
    """``cls(**d)`` for a job's config dataclass, refusing unknown keys with one line (InputError)."""
    from dataclasses import fields

    from ...errors import InputError

    unknown = sorted(set(d) - {f.name for f in fields(cls)})
    if unknown:
        raise InputError(f"unknown {job} setting(s): {', '.join(unknown)}")
    return cls(**d)
