"""The threaded anonymization pipeline: capture -> detect -> render -> write, with bounded queues.

Guarantees (fail closed):
- A frame reaches a sink only after the detect stage ran on that very frame and the render stage masked every
  box found (plus the boxes the tracker holds). There is no path from capture to a sink that skips them.
- If the detector raises on a frame, that frame is blanked (all black) before it goes on; after
  ``max_detect_errors`` failures in a row the run stops with an error.
- If rendering raises, the frame is blanked.
- Live sources never queue up: when detection cannot keep up, the oldest waiting frame is dropped (counted
  in ``dropped``), never passed on unmasked.
- Stopping (``stop`` event, e.g. Ctrl-C) ends capture; the frames already read are finished and written, and
  every sink is closed (a video file is finalized and plays). A sink error stops the run the same way and is
  raised after the sinks are closed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ...errors import EdgeSDKError
from ...results import Detections
from ..sinks import FrameMeta, SinkError
from ._strategies import Anonymizer
from ._tracker import IoUTracker

log = logging.getLogger(__name__)

__all__ = ["AnonymizePipeline", "Renderer", "RunSummary"]

_END = object()


class Renderer:
    """Enlarges boxes by ``mask_scale`` and applies the anonymizer in place."""

    def __init__(self, anonymizer: Anonymizer, mask_scale: float = 1.3) -> None:
        if mask_scale < 1.0:
            raise ValueError("mask_scale must be >= 1.0 (it enlarges boxes)")
        self.anonymizer = anonymizer
        self.mask_scale = float(mask_scale)

    def boxes(self, det: Detections, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """(masked boxes (n, 4) float pixels, feather margins (n,))."""
        if not len(det):
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        big = det.expand(self.mask_scale).clip(width, height)
        wh = det.xyxy[:, 2:] - det.xyxy[:, :2]
        margins = np.maximum(0.0, wh.min(axis=1) * (self.mask_scale - 1.0) / 2.0)
        return big.xyxy, margins

    def __call__(self, frame: np.ndarray, det: Detections) -> np.ndarray:
        """Mask ``det`` in ``frame`` (in place); returns the int boxes covered."""
        h, w = frame.shape[:2]
        boxes, margins = self.boxes(det, w, h)
        return self.anonymizer.apply(frame, boxes, margins)


@dataclass
class RunSummary:
    source: str
    frames_read: int = 0
    frames_written: int = 0
    dropped: int = 0  # live frames dropped because detection could not keep up (or by the source)
    skipped: int = 0  # corrupt frames skipped by the source
    blanked: int = 0  # frames blanked because the detector or renderer failed
    detections: int = 0
    held_boxes: int = 0
    tiled_frames: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=lambda: {"capture": 0.0, "detect": 0.0, "render": 0.0, "write": 0.0})
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames_written / self.seconds if self.seconds > 0 else 0.0

    def stage_ms(self) -> dict:
        n = {"capture": self.frames_read, "detect": self.frames_read, "render": self.frames_read, "write": self.frames_written}
        return {k: round(v * 1000.0 / n[k], 3) if n[k] else 0.0 for k, v in self.stage_seconds.items()}

    def to_dict(self) -> dict:
        return {
            "source": self.source, "frames_read": self.frames_read, "frames_written": self.frames_written,
            "dropped": self.dropped, "skipped": self.skipped, "blanked": self.blanked, "detections": self.detections,
            "held_boxes": self.held_boxes, "tiled_frames": self.tiled_frames, "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3), "fps": round(self.fps, 2), "stage_ms_per_frame": self.stage_ms(),
            "error": self.error,
        }


class AnonymizePipeline:
    """source -> detector -> tracker -> renderer -> sinks, one thread per stage (writing in the caller's).

    detector: anything with ``detect(image) -> Detections`` in pixels (and optionally ``labels``).
    live: drop the oldest queued frame when detection falls behind (default: the source's ``live``).
    on_frame: called after each written frame with the number written so far.
    """

    def __init__(
        self, source, detector, anonymizer: Anonymizer, sinks: Sequence, *, hold_frames: int = 5,
        mask_scale: float = 1.3, live: bool | None = None, queue_size: int = 4, max_detect_errors: int = 30,
        on_frame: Callable[[int], None] | None = None,
    ) -> None:
        self.source = source
        self.detector = detector
        self.renderer = Renderer(anonymizer, mask_scale)
        self.tracker = IoUTracker(hold_frames)
        self.sinks = list(sinks)
        self.live = bool(getattr(source, "live", False)) if live is None else live
        self.queue_size = max(1, queue_size)
        self.max_detect_errors = max_detect_errors
        self.on_frame = on_frame
        self.labels = list(getattr(detector, "labels", []) or [])

    # --- stages ---------------------------------------------------------------------------------------------
    def _put(self, q: queue.Queue, item, abort: threading.Event) -> bool:
        while not abort.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    @staticmethod
    def _items(q: queue.Queue, abort: threading.Event):
        """Items from ``q`` until the end marker, or until ``abort`` is set."""
        while not abort.is_set():
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item

    def _capture(self, q: queue.Queue, stop: threading.Event, abort: threading.Event, s: RunSummary) -> None:
        it = iter(self.source)
        try:
            while not stop.is_set() and not abort.is_set():
                t0 = time.perf_counter()
                try:
                    frame = next(it)
                except StopIteration:
                    break
                s.stage_seconds["capture"] += time.perf_counter() - t0
                s.frames_read += 1
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

    def _detect(self, qin: queue.Queue, qout: queue.Queue, abort: threading.Event, s: RunSummary) -> None:
        errors = 0
        tiled = getattr(self.detector, "detectors", [self.detector])
        independent = bool(getattr(self.source, "independent", False))
        for image, ts, index in self._items(qin, abort):
            t0 = time.perf_counter()
            blanked = False
            if independent:
                # unrelated pictures: nothing carries over from the previous one
                self.tracker.reset()
                if hasattr(self.detector, "reset"):
                    self.detector.reset()
            try:
                det = self.detector.detect(image)
                errors = 0
            except Exception as exc:
                errors += 1
                blanked = True
                det = Detections.empty()
                log.error("detector failed on frame %d (%s): frame blanked", index, exc)
                if errors >= self.max_detect_errors:
                    s.error = f"the detector failed on {errors} frames in a row: {exc}"
                    abort.set()
            boxes, ids = self.tracker.update(det)
            held = np.zeros(len(boxes), bool)
            held[len(det):] = True
            s.detections += len(det)
            s.held_boxes += int(held.sum())
            if any(getattr(d, "last_tiled", False) for d in tiled):
                s.tiled_frames += 1
            s.stage_seconds["detect"] += time.perf_counter() - t0
            if not self._put(qout, (image, ts, index, boxes, ids, held, blanked), abort):
                break
        self._put(qout, _END, abort)

    def _render(self, qin: queue.Queue, qout: queue.Queue, abort: threading.Event, s: RunSummary) -> None:
        for image, ts, index, boxes, ids, held, blanked in self._items(qin, abort):
            t0 = time.perf_counter()
            if blanked:
                image[...] = 0
            else:
                try:
                    self.renderer(image, boxes)
                except Exception as exc:
                    log.error("rendering failed on frame %d (%s): frame blanked", index, exc)
                    image[...] = 0
                    blanked = True
            if blanked:
                s.blanked += 1
            s.stage_seconds["render"] += time.perf_counter() - t0
            meta = FrameMeta(index, ts, ids, held, blanked, self.labels)
            if not self._put(qout, (image, boxes, meta), abort):
                break
        self._put(qout, _END, abort)

    # --- run ------------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """Process the source until it ends, ``stop`` is set or an error occurs. Sinks are always closed.
        Raises the first sink / source / detector error (an EdgeSDKError) after closing."""
        stop = stop or threading.Event()
        abort = threading.Event()
        s = RunSummary(source=getattr(self.source, "name", "source"))
        q1: queue.Queue = queue.Queue(self.queue_size)
        q2: queue.Queue = queue.Queue(self.queue_size)
        q3: queue.Queue = queue.Queue(self.queue_size)
        threads = [
            threading.Thread(target=self._capture, args=(q1, stop, abort, s), name="capture", daemon=True),
            threading.Thread(target=self._detect, args=(q1, q2, abort, s), name="detect", daemon=True),
            threading.Thread(target=self._render, args=(q2, q3, abort, s), name="render", daemon=True),
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
                image, boxes, meta = item
                t0 = time.perf_counter()
                try:
                    for sink in self.sinks:
                        sink.write(image, boxes, meta)
                        if getattr(sink, "closed_by_user", False):
                            stop.set()
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
                    close_error = close_error or f"closing {getattr(sink, 'name', sink)} failed: {exc}"
            try:
                self.source.close()
            except Exception:
                pass
        s.interrupted = s.interrupted or (user_stop and s.error is None and self._stopped_early(s))
        s.skipped = int(getattr(self.source, "skipped", 0))
        s.dropped += int(getattr(self.source, "dropped", 0))
        if s.error or close_error:
            raise _RunError(s.error or close_error or "", s)
        return s

    def _stopped_early(self, s: RunSummary) -> bool:
        total = getattr(self.source, "total", None)
        return total is None or s.frames_read < total


class _RunError(EdgeSDKError):
    """An error that stopped the run; ``summary`` holds what was done."""

    def __init__(self, message: str, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary
