"""The one stream pipeline of the device side, and one library entry point per job.

    source -> detector -> tracker -> frame stage -> sinks        (Pipeline: one thread per stage, bounded queues)

``anonymize(AnonymizeConfig)`` masks faces (and other classes); ``detect_stream(DetectConfig)`` tracks objects,
draws them and reports events. A job is a Detector, a Tracker and a FrameStage plus sinks opened with
``open_sink`` from output specs (see ``_protocols``).

Adding a job (the extension point): write a FrameStage with ``name``, ``apply(frame: StreamFrame)`` (act on
``frame.image`` in place, add ``frame.events`` / ``frame.counts``), ``fail(frame)`` (what to write when the
detector or ``apply`` raised: blank it to fail closed, or pass it on) and ``finish(frame)`` (the stream ended:
the last records, e.g. an "end" per track in ``frame.ended``); choose a Detector (``ModelDetector``, the
anonymize detectors, or ``NullDetector`` when the stage runs its own model) and a Tracker (``ByteTracker``,
the anonymize ``IoUTracker``, or ``NoTracker``); then, in the job's entry point, list the outputs with
``job_outputs``, open the source and the sinks (``open_sinks``) before any work and call
``run_reported(Pipeline(source, detector, tracker, stage, sinks), stop, report)``, as ``anonymize`` and
``detect_stream`` do.
"""

from ._bytetrack import ByteTracker, NoTracker
from ._classify import ClassifierDetector, ClassifyConfig, ClassifyStage, classify_stream
from ._control import (
    StreamInfo, StreamOptions, cap_threads, config_from_dict, run_reported, start_source, stop_on_signals,
)
from ._detect import DetectConfig, detect_stream
from ._detect_stage import DetectStage, SnapshotWriter
from ._model_detector import ModelDetector, NullDetector, class_aware_nms, model_task, resolve_classes
from ._zones import Line, Zone, ZoneCounter, parse_line, parse_zone
from ._outputs import (
    EventsOutput, FileOutput, MqttOutput, OutputSpec, ServeOutput, SnapshotsOutput, TrackEventsOutput, WindowOutput,
    check_output_paths, default_output, job_outputs, open_outputs, open_sink, open_sinks,
    plan_output,
)
from ._pacing import Looped, Paced, pace
from ._pipeline import STAGES, Pipeline, RunError, RunSummary
from ._stills import annotate_targets, detect_images
from ._protocols import Detector, FrameStage, Sink, Source, StreamFrame, Tracked, Tracker

__all__ = [
    "ByteTracker",
    "ClassifierDetector",
    "ClassifyConfig",
    "ClassifyStage",
    "DetectConfig",
    "DetectStage",
    "Detector",
    "EventsOutput",
    "FileOutput",
    "FrameStage",
    "Line",
    "Looped",
    "ModelDetector",
    "NoTracker",
    "NullDetector",
    "MqttOutput",
    "OutputSpec",
    "Paced",
    "Pipeline",
    "RunError",
    "RunSummary",
    "STAGES",
    "ServeOutput",
    "Sink",
    "SnapshotWriter",
    "SnapshotsOutput",
    "Source",
    "StreamFrame",
    "StreamInfo",
    "StreamOptions",
    "TrackEventsOutput",
    "Tracked",
    "Tracker",
    "WindowOutput",
    "Zone",
    "ZoneCounter",
    "annotate_targets",
    "cap_threads",
    "check_output_paths",
    "config_from_dict",
    "default_output",
    "class_aware_nms",
    "classify_stream",
    "detect_images",
    "detect_stream",
    "model_task",
    "job_outputs",
    "open_outputs",
    "open_sink",
    "open_sinks",
    "pace",
    "parse_line",
    "parse_zone",
    "plan_output",
    "resolve_classes",
    "run_reported",
    "start_source",
    "stop_on_signals",
]
