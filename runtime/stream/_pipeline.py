"""The one stream pipeline: capture -> detect + track -> frame stage -> write, one thread per stage (writing in
the caller's), bounded queues between them.

Guarantees (fail closed, whatever the job):
- A frame reaches a sink only after the detector ran on that very frame, the tracker saw the result and the
  frame stage acted on it. There is no path from capture to a sink that skips them.
- If the detector raises on a frame, the frame stage's ``fail`` decides what is written (anonymize: a black
  frame); after ``max_detect_errors`` failures in a row the run stops with an error. Same if the stage raises.
- Live sources never queue up: when detection cannot keep up, the oldest waiting frame is dropped (counted in
  ``dropped``), never passed on unprocessed.
- Stopping (``stop`` event, e.g. Ctrl-C) ends capture; the frames already read are finished and written, and
  every sink is closed (a video file is finalized and plays).
- Unless an error stopped it, a run ends with the finish step (see _protocols): the tracks still live end and
  their records reach every sink (``write_events``) before the sinks are closed. A sink error stops the run the same way and is
  raised after the sinks are closed (a RunError carrying the summary of what was done).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from ...errors import EdgeSDKError
from ...results import Detections
from ..sinks import SinkError
from ._protocols import Detector, FrameStage, Sink, Source, StreamFrame, Tracker

log = logging.getLogger(__name__)

__all__ = ["Pipeline", "RunError", "RunSummary", "STAGES"]

STAGES = ("capture", "detect", "track", "render", "write")
_END = object()


@dataclass
class RunSummary:
    """What a run did. ``stage_seconds``: wall time spent in each stage (threads run in parallel)."""

    source: str
    frames_read: int = 0
    frames_written: int = 0
    dropped: int = 0  # live frames dropped because detection could not keep up (or by the source)
    skipped: int = 0  # corrupt frames skipped by the source
    blanked: int = 0  # frames blanked because the detector or the stage failed (fail-closed stages)
    failed: int = 0  # frames on which the detector or the stage raised
    detections: int = 0  # boxes the detector returned
    held_boxes: int = 0  # boxes the tracker kept from earlier frames
    interrupted: bool = False
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames_written / self.seconds if self.seconds > 0 else 0.0

    def stage_ms(self, stages: Sequence[str] = STAGES) -> dict:
        """ms per frame of each stage in ``stages`` (``write`` per written frame, the others per frame read)."""
        out = {}
        for k in stages:
            n = self.frames_written if k == "write" else self.frames_read
            out[k] = round(self.stage_seconds[k] * 1000.0 / n, 3) if n else 0.0
        return out

    def to_dict(self) -> dict:
        return {
            "source": self.source, "frames_read": self.frames_read, "frames_written": self.frames_written,
            "dropped": self.dropped, "skipped": self.skipped, "blanked": self.blanked, "detections": self.detections,
            "held_boxes": self.held_boxes, "interrupted": self.interrupted, "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2), "stage_ms_per_frame": self.stage_ms(), "error": self.error,
        }


class RunError(EdgeSDKError):
    """An error that stopped the run; ``summary`` holds what was done."""

    def __init__(self, message: str, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary
        self.report: dict | None = None  # the job's report so far, when a job entry point raised it
        self.reports: list[dict] = []  # several inputs: the finished inputs' reports, then this one's


class Pipeline:
    """source -> detector -> tracker -> stage -> sinks.

    live: drop the oldest queued frame when detection falls behind (default: ``source.live``).
    on_frame: called after each written frame with the number written so far.
    """

    def __init__(
        self, source: Source, detector: Detector, tracker: Tracker, stage: FrameStage, sinks: Sequence[Sink], *,
        live: bool | None = None, queue_size: int = 4, max_detect_errors: int = 30,
        on_frame: Callable[[int], None] | None = None,
    ) -> None:
        self.source = source
        self.detector = detector
        self.tracker = tracker
        self.stage = stage
        self.sinks = list(sinks)
        self.live = source.live if live is None else live
        self.queue_size = max(1, queue_size)
        self.max_detect_errors = max_detect_errors
        self.on_frame = on_frame
        self.labels = list(detector.labels)

    # --- queues ---------------------------------------------------------------------------------------------
    @staticmethod
    def _put(q: queue.Queue, item, abort: threading.Event) -> bool:
        while not abort.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    @staticmethod
    def _items(q: queue.Queue, abort: threading.Event) -> Iterator:
        """Items from ``q`` until the end marker, or until ``abort`` is set."""
        while not abort.is_set():
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item

    # --- stages ---------------------------------------------------------------------------------------------
    def _capture(self, q: queue.Queue, stop: threading.Event, abort: threading.Event, s: RunSummary) -> None:
        it = iter(self.source)
        try:
            while not stop.is_set() and not abort.is_set():
                t0 = time.perf_counter()
                try:
                    image, ts, index = next(it)
                except StopIteration:
                    break
                s.stage_seconds["capture"] += time.perf_counter() - t0
                s.frames_read += 1
                frame = StreamFrame(image, index, ts, self.source.frame_name(index))
                if self.live:
                    while True:
                        try:
                            q.put_nowait(frame)
                            break
                        except queue.Full:
                            try:
                                q.get_nowait()  # drop the oldest waiting frame: never pass it on
                                s.dropped += 1
                            except queue.Empty:
                                pass
                elif not self._put(q, frame, abort):
                    break
        except Exception as exc:  # a source failing mid-run ends the run with its message
            s.error = s.error or (str(exc) if isinstance(exc, EdgeSDKError) else f"source failed: {type(exc).__name__}: {exc}")
            abort.set()
        finally:
            self._put(q, _END, abort)

    def _fail_count(self, errors: int, what: str, exc: Exception, abort: threading.Event, s: RunSummary) -> None:
        if errors >= self.max_detect_errors:
            s.error = s.error or f"the {what} failed on {errors} frames in a row: {exc}"
            abort.set()

    def _detect(self, qin: queue.Queue, qout: queue.Queue, abort: threading.Event, s: RunSummary) -> None:
        errors = 0
        independent = self.source.independent
        last: StreamFrame | None = None
        for frame in self._items(qin, abort):
            last = frame
            t0 = time.perf_counter()
            if independent:  # unrelated pictures: nothing carries over from the previous one
                self.tracker.reset()
                self.detector.reset()
            try:
                det = self.detector.detect(frame.image)
                errors = 0
            except Exception as exc:
                errors += 1
                frame.failed = True
                det = Detections.empty()
                log.error("detector failed on frame %d (%s)", frame.index, exc)
                self._fail_count(errors, "detector", exc, abort, s)
            t1 = time.perf_counter()
            tracked = self.tracker.track(det, frame.index)
            frame.found = len(det)
            frame.detections, frame.held = tracked.detections, tracked.held
            frame.started, frame.ended = tracked.started, tracked.ended
            s.detections += len(det)
            s.held_boxes += int(tracked.held.sum())
            t2 = time.perf_counter()
            s.stage_seconds["detect"] += t1 - t0
            s.stage_seconds["track"] += t2 - t1
            if not self._put(qout, frame, abort):
                break
        if last is not None and not abort.is_set():  # the stream ended: the tracks still live end
            try:
                ended = self.tracker.finish()
                self._put(qout, StreamFrame(np.zeros((0, 0, 3), np.uint8), last.index, last.timestamp,
                                            last.source_name, ended=ended, final=True), abort)
            except Exception as exc:  # every frame is on its way: the run still ends well
                log.error("the tracker failed at the end of the stream (%s)", exc)
        self._put(qout, _END, abort)

    def _render(self, qin: queue.Queue, qout: queue.Queue, abort: threading.Event, s: RunSummary) -> None:
        errors = 0
        for frame in self._items(qin, abort):
            t0 = time.perf_counter()
            if frame.final:
                try:
                    self.stage.finish(frame)
                except Exception as exc:  # every frame is written already: the run still ends well
                    log.error("%s failed at the end of the stream (%s)", self.stage.name, exc)
                    frame.events.clear()
            elif frame.failed:
                self.stage.fail(frame)
            else:
                try:
                    self.stage.apply(frame)
                    errors = 0
                except Exception as exc:
                    errors += 1
                    log.error("%s failed on frame %d (%s)", self.stage.name, frame.index, exc)
                    frame.failed = True
                    self.stage.fail(frame)
                    self._fail_count(errors, self.stage.name, exc, abort, s)
            s.failed += frame.failed
            s.blanked += frame.blanked
            s.stage_seconds["render"] += time.perf_counter() - t0
            if not self._put(qout, frame, abort):
                break
        self._put(qout, _END, abort)

    # --- run ------------------------------------------------------------------------------------------------
    @staticmethod
    def _guarded(target: Callable, abort: threading.Event, s: RunSummary) -> Callable:
        """``target`` for a stage thread: an exception it does not handle (a tracker's bug) stops the run with
        its message instead of leaving the other stages waiting for ever."""

        def run(*args) -> None:
            try:
                target(*args)
            except Exception as exc:
                s.error = s.error or f"the {threading.current_thread().name} stage failed: {type(exc).__name__}: {exc}"
                abort.set()

        return run

    def _write(self, frame: StreamFrame) -> bool:
        """Hand ``frame`` to every sink; False for the final record (no frame written)."""
        meta = frame.meta(self.labels)
        if frame.final:
            for sink in self.sinks:
                sink.write_events(meta)
            return False
        for sink in self.sinks:
            sink.write(frame.image, frame.detections, meta)
        return True

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """Process the source until it ends, ``stop`` is set or an error occurs. Sinks and the source are always
        closed. Raises RunError (an EdgeSDKError, with the summary) for a sink / source / detector error."""
        stop = stop or threading.Event()
        abort = threading.Event()
        s = RunSummary(source=self.source.name)
        q1: queue.Queue = queue.Queue(self.queue_size)
        q2: queue.Queue = queue.Queue(self.queue_size)
        q3: queue.Queue = queue.Queue(self.queue_size)
        threads = [
            threading.Thread(target=self._guarded(self._capture, abort, s), args=(q1, stop, abort, s), name="capture",
                             daemon=True),
            threading.Thread(target=self._guarded(self._detect, abort, s), args=(q1, q2, abort, s), name="detect",
                             daemon=True),
            threading.Thread(target=self._guarded(self._render, abort, s), args=(q2, q3, abort, s), name="render",
                             daemon=True),
        ]
        t_start = time.perf_counter()
        for t in threads:
            t.start()
        try:
            while True:
                try:
                    item = q3.get(timeout=0.1)
                except queue.Empty:
                    if abort.is_set():
                        break
                    continue
                if item is _END:
                    break
                t0 = time.perf_counter()
                try:
                    if not self._write(item):
                        continue
                except (SinkError, EdgeSDKError) as exc:
                    s.error = str(exc)
                    abort.set()
                    break
                except OSError as exc:
                    s.error = f"writing failed: {exc}"
                    abort.set()
                    break
                s.stage_seconds["write"] += time.perf_counter() - t0
                s.frames_written += 1
                if self.on_frame is not None:
                    self.on_frame(s.frames_written)
        except KeyboardInterrupt:
            stop.set()
            s.interrupted = True
        finally:
            user_stop = stop.is_set()
            stop.set()
            for t in threads:
                t.join(timeout=10)
            s.seconds = time.perf_counter() - t_start
            close_error = None
            for sink in self.sinks:
                try:
                    sink.close()
                except Exception as exc:  # keep closing the others
                    close_error = close_error or f"closing {sink.name} failed: {exc}"
            try:
                self.source.close()
            except Exception:
                pass
        total = self.source.total
        stopped_early = total is None or s.frames_read < total
        s.interrupted = s.interrupted or (user_stop and s.error is None and stopped_early)
        s.skipped = int(self.source.skipped)
        s.dropped += int(self.source.dropped)
        if s.error or close_error:
            raise RunError(s.error or close_error or "", s)
        return s
