"""Sinks behind one small protocol (``Sink``): video file, image folder or file, JSONL events, an MJPEG HTTP
server and an on-screen window."""

from ._base import FrameMeta, Sink, SinkError
from ._events import EventsSink
from ._images import IMAGE_OUT_EXTENSIONS, ImageFileSink, ImageFolderSink
from ._mjpeg import MjpegServer, parse_hostport
from ._track_events import TrackEventsSink
from ._video import VIDEO_FOURCC, VideoSink
from ._window import WindowSink, display_available

__all__ = [
    "EventsSink",
    "FrameMeta",
    "IMAGE_OUT_EXTENSIONS",
    "ImageFileSink",
    "ImageFolderSink",
    "MjpegServer",
    "Sink",
    "SinkError",
    "TrackEventsSink",
    "VIDEO_FOURCC",
    "VideoSink",
    "WindowSink",
    "display_available",
    "parse_hostport",
]
