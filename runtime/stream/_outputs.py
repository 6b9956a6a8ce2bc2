"""``open_sink(spec, source)``, beside ``open_source``: an output spec -> a Sink, and the checks on output paths
that run before any work (an output that is the input, a missing folder, an unknown extension). Every job lists
its outputs with ``job_outputs`` and opens them with ``open_sinks``.

Specs are small frozen dataclasses, one per kind of output:
``FileOutput`` (video, image or image folder, by the path), ``EventsOutput`` (anonymize's per-frame JSONL),
``TrackEventsOutput`` (detect's frame and track records), ``SnapshotsOutput`` (a JPEG per new track),
``ServeOutput`` (live page), ``WindowOutput`` (on-screen), ``MqttOutput`` (MQTT broker).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ...errors import InputError
from ..sinks import (
    IMAGE_OUT_EXTENSIONS, VIDEO_FOURCC, EventsSink, ImageFileSink, ImageFolderSink, MjpegServer, MqttSink,
    TrackEventsSink, VideoSink, WindowSink, parse_mqtt_url,
)
from ._protocols import Sink, Source

log = logging.getLogger(__name__)

__all__ = [
    "EventsOutput", "FileOutput", "MqttOutput", "OutputSpec", "ServeOutput", "SnapshotsOutput", "TrackEventsOutput",
    "WindowOutput", "check_output_paths", "default_output", "job_outputs", "open_outputs", "open_sink", "open_sinks",
    "plan_output", "same_file",
]


@dataclass(frozen=True)
class FileOutput:
    """-o: a video (.mp4 .mkv .avi .mov .m4v), one image (one-image source) or a folder (ends in / or exists).
    Videos: ``codec`` / ``crf`` / ``encoder`` as VideoSink takes them; ``audio_from``: the file whose audio track
    to keep (None: no audio)."""

    path: str
    codec: str = "h264"
    crf: int = 23
    encoder: str = "auto"
    audio_from: str | None = None


@dataclass(frozen=True)
class EventsOutput:
    """Anonymize's JSONL: one line per frame with the masked boxes (never pixels)."""

    path: str


@dataclass(frozen=True)
class TrackEventsOutput:
    """Detect's JSONL: frame records and track records (new, end, enter, leave, cross)."""

    path: str


@dataclass(frozen=True)
class SnapshotsOutput:
    """A folder getting one JPEG per new track, cropped to its box (written by detect's frame stage, before it
    draws on the frame; ``check_output_paths`` checks it)."""

    folder: str


@dataclass(frozen=True)
class ServeOutput:
    """A live page at http://HOST:PORT/ (loopback unless told otherwise); ``caption``: a line under the title
    (what the page shows, e.g. the model's name)."""

    host: str
    port: int
    title: str = "edgesdk"
    caption: str = ""


@dataclass(frozen=True)
class WindowOutput:
    """An on-screen window; closing it calls ``on_close`` (the job stops cleanly)."""

    title: str = "edgesdk"
    on_close: Callable[[], None] | None = None


@dataclass(frozen=True)
class MqttOutput:
    """Events and retained counts to an MQTT broker: ``mqtt://HOST[:PORT]/PREFIX``."""

    url: str
    user: str | None = None
    password_file: str | None = None


OutputSpec = FileOutput | EventsOutput | TrackEventsOutput | SnapshotsOutput | ServeOutput | WindowOutput | MqttOutput


def job_outputs(title: str, *, output: FileOutput | None = None, reports: Sequence[OutputSpec] = (),
                serve: tuple[str, int] | None = None, caption: str = "", show: bool = False,
                on_close: Callable[[], None] | None = None) -> list[OutputSpec]:
    """A stream job's outputs in one order: -o (``output``), the job's reports (events, snapshots, MQTT), the
    live page at ``serve`` (titled ``title``, ``caption`` under it), a window (``show``; closing it calls
    ``on_close``)."""
    specs: list[OutputSpec] = [output] if output is not None else []
    specs += reports
    if serve:
        specs.append(ServeOutput(serve[0], serve[1], title=title, caption=caption))
    if show:
        specs.append(WindowOutput(title, on_close))
    return specs


def same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def default_output(source_spec: str | None, suffix: str = "_anonymized") -> str | None:
    """Where a job writes when no output is given (deface's rule): ``<name><suffix>.<ext>`` next to a video or
    image file (``.mp4`` when the extension cannot be written), ``<name><suffix>/`` beside a folder; None for
    cameras, streams and the demo."""
    if source_spec is None:
        return None
    p = Path(source_spec)
    if p.is_dir():
        return str(p.resolve().with_name(p.resolve().name + suffix)) + os.sep
    if not p.is_file():
        return None
    ext = p.suffix.lower() if p.suffix.lower() in VIDEO_FOURCC or p.suffix.lower() in IMAGE_OUT_EXTENSIONS else ".mp4"
    return str(p.with_name(p.stem + suffix + ext))


def plan_output(out: str | None, source_spec: str | None, total: int | None) -> tuple[str, Path] | None:
    """Validate -o before any work: ('video' | 'image' | 'folder', path) or None. Raises InputError.
    total: the source's number of frames when known (one image may only be written from a one-frame source)."""
    if out is None:
        return None
    p = Path(out)
    if source_spec is not None and Path(source_spec).exists() and same_file(Path(source_spec), p):
        raise InputError(f"output {out} is the input: choose another path")
    is_folder = out.endswith(("/", os.sep)) or p.is_dir()
    if is_folder:
        if source_spec is not None and Path(source_spec).is_dir() and same_file(Path(source_spec), p):
            raise InputError(f"output folder {out} is the input folder: choose another")
        if not p.parent.is_dir():
            raise InputError(f"output folder {p.parent} does not exist")
        if p.exists() and not os.access(p, os.W_OK):
            raise InputError(f"cannot write to {p}: permission denied")
        return "folder", p
    ext = p.suffix.lower()
    if not p.parent.is_dir():
        raise InputError(f"output folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK):
        raise InputError(f"cannot write to {p.parent}: permission denied")
    if ext in VIDEO_FOURCC:
        return "video", p
    if ext in IMAGE_OUT_EXTENSIONS:
        if total != 1:
            raise InputError(f"{out} is one image but the source has more frames: write to a video or a folder (end it with /)")
        return "image", p
    known = ", ".join(sorted(VIDEO_FOURCC)) + ", " + ", ".join(sorted(IMAGE_OUT_EXTENSIONS))
    raise InputError(f"unsupported output extension {ext or '(none)'} for {out}: use {known}, or a folder ending in /")


def check_output_paths(specs: list[OutputSpec], source_spec: str | None) -> None:
    """Checks that need no open source: an events file that is the input or -o, a missing folder, a snapshots
    folder that cannot be written. Raises InputError."""
    outputs = [Path(s.path) for s in specs if isinstance(s, FileOutput)]
    src = Path(source_spec) if source_spec is not None else None
    for s in specs:
        if isinstance(s, (EventsOutput, TrackEventsOutput)):
            ev = Path(s.path)
            if any(same_file(ev, o) for o in outputs):
                raise InputError("--events and -o are the same file")
            if src is not None and src.exists() and same_file(src, ev):
                raise InputError(f"events file {ev} is the input: choose another path")
            if not ev.parent.is_dir():
                raise InputError(f"output folder {ev.parent} does not exist")
        elif isinstance(s, MqttOutput):
            parse_mqtt_url(s.url)  # a malformed URL is an InputError before the model loads
            if s.password_file is not None and not s.user:
                raise InputError("--mqtt-password-file needs --mqtt-user")
            if s.password_file is not None and not Path(s.password_file).is_file():
                raise InputError(f"MQTT password file not found: {s.password_file}")
        elif isinstance(s, SnapshotsOutput):
            f = Path(s.folder)
            target = f if f.exists() else f.parent
            if f.exists() and not f.is_dir():
                raise InputError(f"snapshots folder {f} is a file")
            if not target.is_dir():
                raise InputError(f"snapshots folder {f}: {target} does not exist")
            if not os.access(target, os.W_OK | os.X_OK):
                raise InputError(f"cannot write snapshots to {f}: permission denied")


def open_sink(spec: OutputSpec, source: Source, source_spec: str | None = None) -> Sink:
    """An output spec -> an open Sink, for an opened ``source`` (its frame rate, size, frame count and frame
    names). Raises InputError / SinkError with one line."""
    if isinstance(spec, FileOutput):
        plan = plan_output(spec.path, source_spec, source.total)
        assert plan is not None
        kind, path = plan
        if kind == "video":
            return VideoSink(path, source.fps or 30.0, codec=spec.codec, crf=spec.crf, encoder=spec.encoder,
                             audio_from=spec.audio_from)
        if kind == "image":
            return ImageFileSink(path)
        names = (lambda i: Path(source.frame_name(i) or f"frame_{i:06d}").stem) if source.independent else None
        return ImageFolderSink(path, names=names)
    if isinstance(spec, EventsOutput):
        return EventsSink(spec.path)
    if isinstance(spec, TrackEventsOutput):
        return TrackEventsSink(spec.path)
    if isinstance(spec, SnapshotsOutput):
        raise TypeError("snapshots are written by the detect stage, not by a sink")
    if isinstance(spec, ServeOutput):
        return MjpegServer(spec.host, spec.port, title=spec.title, caption=spec.caption)
    if isinstance(spec, WindowOutput):
        return WindowSink(spec.title, on_close=spec.on_close)
    if isinstance(spec, MqttOutput):  # connects now: a broker that refuses is a SinkError before any frame
        return MqttSink(spec.url, username=spec.user, password_file=spec.password_file)
    raise TypeError(f"unknown output spec {spec!r}")


def open_sinks(specs: Sequence[OutputSpec], source: Source, source_spec: str | None = None) -> list[Sink]:
    """A Sink per spec (``open_sink``; not snapshots, which the detect stage writes), the network ones (MQTT,
    live page) first: a broker that refuses or a port in use fails before any file is created. When one fails,
    those already open are closed and its error is raised."""
    sinks: list[Sink] = []
    try:
        for spec in sorted(specs, key=lambda s: not isinstance(s, (MqttOutput, ServeOutput))):
            if not isinstance(spec, SnapshotsOutput):
                sinks.append(open_sink(spec, source, source_spec))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def open_outputs(source: Source, specs: Sequence[OutputSpec], source_spec: str | None = None) -> list[Sink]:
    """``source.open()``, then ``open_sinks``; when a sink fails, the source is closed again (for a job with
    nothing else to set up once the source is open)."""
    source.open()
    try:
        return open_sinks(specs, source, source_spec)
    except BaseException:
        source.close()
        raise
