"""``classify_stream(config)``: a classifier on a stream (what ``edgesdk classify MODEL SOURCE`` calls): the top-k
classes of every frame, and an event when the top label changes.

The classifier is the pipeline's Detector: its top-k rows are Detections with whole-frame boxes (no tracker);
``ClassifyStage`` turns them into records and draws the top label.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ...errors import InputError
from ...results import Detections
from ._bytetrack import NoTracker
from ._control import StreamInfo, run_reported
from ._outputs import FileOutput, TrackEventsOutput, check_output_paths, job_outputs, open_outputs
from ._pipeline import Pipeline
from ._protocols import StreamFrame

__all__ = ["ClassifyConfig", "ClassifierDetector", "ClassifyStage", "classify_stream"]


class ClassifierDetector:
    """Detector protocol over a classification ``Model``: the top ``k`` classes (score >= threshold) as rows with
    the whole frame as their box, best first."""

    def __init__(self, model, top_k: int = 5, threshold: float = 0.0) -> None:
        self.model, self.top_k, self.threshold = model, top_k, threshold
        self.name = model.path.name
        self.labels: list[str] = list(model.labels)

        out = model.outputs[0]
        # decided once per model, not per frame: a quantized output spanning [0, 1] holds probabilities already
        probs = model.output_spec.decoder == "softmax"
        if out.quantized:
            lo, hi = (float(v) for v in out.dequantize(np.array([np.iinfo(out.dtype).min, np.iinfo(out.dtype).max])))
            probs = probs or (lo >= 0.0 and abs(hi - 1.0) < 0.01)
        self.activation = "none" if probs else "auto"

    def detect(self, image: np.ndarray) -> Detections:
        from ..decoders import decode_classification

        scores = self.model.run(image)[0]
        c = decode_classification(scores, self.top_k, activation=self.activation,
                                  label_offset=self.model.output_spec.label_offset, labels=self.labels,
                                  threshold=self.threshold)
        h, w = image.shape[:2]
        boxes = np.tile(np.array([[0, 0, w, h]], np.float32), (len(c), 1))
        return Detections(boxes, c.score, c.class_id)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class ClassifyStage:
    """FrameStage: a ``{"type": "classes", "frame", "time", "classes": [{"label", "class_id", "score"}]}`` record
    per frame and a ``{"type": "change", "frame", "time", "label", "class_id", "score", "previous"}`` record when
    the top label changes and holds for ``settle`` frames in a row (one odd frame is no change)."""

    name = "classify"

    def __init__(self, labels: list[str], settle: int = 3, draw: bool = True) -> None:
        self.labels, self.settle, self.draw = labels, max(1, settle), draw
        self.top: int | None = None
        self._candidate: int | None = None
        self._count = 0
        self.changes = 0
        self.frames_per_label: dict[str, int] = {}

    def _name(self, cid: int) -> str:
        return self.labels[cid] if 0 <= cid < len(self.labels) and self.labels[cid] else str(cid)

    def apply(self, frame: StreamFrame) -> None:
        det = frame.detections
        frame.detections = Detections.empty()  # no boxes: the records carry the classes
        t = round(float(frame.timestamp), 4)
        rows = [{"label": self._name(int(c)), "class_id": int(c), "score": round(float(s), 4)}
                for c, s in zip(det.class_id, det.score)]
        frame.events.append({"type": "classes", "frame": int(frame.index), "time": t, "classes": rows})
        if not rows:
            return
        cid, label, score = int(det.class_id[0]), self._name(int(det.class_id[0])), round(float(det.score[0]), 4)
        self.frames_per_label[label] = self.frames_per_label.get(label, 0) + 1
        if cid == self.top:
            self._candidate, self._count = None, 0
        else:
            self._count = self._count + 1 if cid == self._candidate else 1
            self._candidate = cid
            if self._count >= self.settle or self.top is None:
                prev = None if self.top is None else self._name(self.top)
                self.top, self._candidate, self._count = cid, None, 0
                self.changes += 1
                frame.events.append({"type": "change", "frame": int(frame.index), "time": t, "label": label,
                                     "class_id": cid, "score": score, "previous": prev})
        frame.counts[label] = 1
        if self.draw:
            text = ", ".join(f"{r['label']} {r['score']:.2f}" for r in rows[:3])
            cv2.rectangle(frame.image, (0, 0), (frame.image.shape[1], 24), (0, 0, 0), -1)
            cv2.putText(frame.image, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)

    def fail(self, frame: StreamFrame) -> None:
        frame.detections = Detections.empty()

    def finish(self, frame: StreamFrame) -> None:
        """Classification keeps no tracks: nothing to end."""


@dataclass(frozen=True)
class ClassifyConfig:
    """model, labels (file), source as ``open_source`` takes it; output: annotated video / images; events: JSONL
    records; top_k, threshold: classes reported per frame; settle: frames a new top label must hold."""

    model: str
    source: str | None = None
    labels: str | None = None
    output: str | None = None
    events: str | None = None
    top_k: int = 5
    threshold: float = 0.0
    settle: int = 3
    max_frames: int | None = None
    device: str = "cpu"
    threads: int | None = None


def classify_stream(config: ClassifyConfig, *, stop: threading.Event | None = None, handle_signals: bool = True,
                    on_start: Callable[[StreamInfo], None] | None = None,
                    on_frame: Callable[[int], None] | None = None) -> dict:
    """Run the classify job on a stream; returns its report (frames, changes, frames per top label, stage ms)."""
    from ...bundle import read_labels
    from .. import load
    from ..sources import open_source
    from ._model_detector import model_task

    stop = stop or threading.Event()
    specs = job_outputs("edgesdk classify", output=FileOutput(config.output) if config.output else None,
                        reports=[TrackEventsOutput(config.events)] if config.events else [])
    source = open_source(config.source, max_frames=config.max_frames)
    check_output_paths(specs, config.source)
    model = load(config.model, config.device, config.threads)
    task = model_task(model)
    if task not in (None, "classify"):
        raise InputError(f"{model.path.name} is a {task} model, not a classifier: use edgesdk {task}")
    if config.labels:
        try:
            model.labels = read_labels(config.labels)
        except OSError as exc:
            raise InputError(f"cannot read labels file {config.labels}: {exc.strerror}") from None
    sinks = open_outputs(source, specs, config.source)
    detector = ClassifierDetector(model, config.top_k, config.threshold)
    stage = ClassifyStage(detector.labels, config.settle, draw=bool(config.output))
    if on_start is not None:
        on_start(StreamInfo(source.name, None if source.live else source.total, source.live, tuple(s.name for s in sinks)))
    pipe = Pipeline(source, detector, NoTracker(), stage, sinks, on_frame=on_frame)

    def report(summary) -> dict:
        d = summary.to_dict()
        for k in ("held_boxes", "blanked", "detections"):
            d.pop(k, None)
        return {"model": model.path.name, "source": source.name, "top_k": config.top_k, "changes": stage.changes,
                "top_label": None if stage.top is None else stage._name(stage.top),
                "frames_per_top_label": stage.frames_per_label, "outputs": [s.name for s in sinks],
                **{k: v for k, v in d.items() if k != "source"}}

    return run_reported(pipe, stop, report, handle_signals)
