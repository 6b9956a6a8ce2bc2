"""The one stream pipeline of the device side, and one library entry point per job.

    source -> detector -> tracker -> frame stage -> sinks        (Pipeline: one thread per stage, bounded queues)

``anonymize(AnonymizeConfig)`` masks faces (and other classes); ``detect_stream(DetectConfig)`` tracks objects,
draws them and reports events. A job is a Detector, a Tracker and a FrameStage (the extension point: what the
job does to a tracked frame) plus sinks opened with ``open_sink`` from output specs. See ``_protocols``.
"""

from ._anonymize import AnonymizeConfig, anonymize
from ._control import StreamInfo, stop_on_signals
from ._outputs import (
    EventsOutput, FileOutput, MqttOutput, OutputSpec, ServeOutput, SnapshotsOutput, TrackEventsOutput, WindowOutput,
    check_output_paths, open_sink, plan_output,
)
from ._pipeline import STAGES, Pipeline, RunError, RunSummary
from ._protocols import Detector, FrameStage, Sink, Source, StreamFrame, Tracked, Tracker

__all__ = [
    "AnonymizeConfig",
    "Detector",
    "EventsOutput",
    "FileOutput",
    "FrameStage",
    "MqttOutput",
    "OutputSpec",
    "Pipeline",
    "RunError",
    "RunSummary",
    "STAGES",
    "ServeOutput",
    "Sink",
    "SnapshotsOutput",
    "Source",
    "StreamFrame",
    "StreamInfo",
    "TrackEventsOutput",
    "Tracked",
    "Tracker",
    "WindowOutput",
    "anonymize",
    "check_output_paths",
    "open_sink",
    "plan_output",
    "stop_on_signals",
]
