"""Sinks behind one small protocol (``Sink``): video file, image folder or file, JSONL events, an MJPEG HTTP
server (with a live page), MQTT and an on-screen window."""

from ._base import FrameMeta, Sink, SinkError
from ._events import EventsSink
from ._images import IMAGE_OUT_EXTENSIONS, ImageFileSink, ImageFolderSink
from ._mjpeg import MjpegServer, parse_hostport
from ._mqtt import DEFAULT_QUEUE_SIZE as MQTT_QUEUE_SIZE
from ._mqtt import MqttSink, MqttStats, MqttTarget, parse_mqtt_url, read_password_file
from ._video import ENCODERS, VIDEO_CODECS, VIDEO_FOURCC, VideoSink
from ._track_events import TrackEventsSink
from ._window import WindowSink, display_available

__all__ = [
    "ENCODERS",
    "EventsSink",
    "FrameMeta",
    "IMAGE_OUT_EXTENSIONS",
    "ImageFileSink",
    "ImageFolderSink",
    "MjpegServer",
    "MQTT_QUEUE_SIZE",
    "MqttSink",
    "MqttStats",
    "MqttTarget",
    "Sink",
    "SinkError",
    "VIDEO_CODECS",
    "TrackEventsSink",
    "VIDEO_FOURCC",
    "VideoSink",
    "WindowSink",
    "display_available",
    "parse_hostport",
    "parse_mqtt_url",
    "read_password_file",
]
