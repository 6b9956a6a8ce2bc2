"""Latest-frame semantics for live sources, and reopening with backoff when a device or stream drops.

A background thread reads as fast as the device delivers and keeps only the newest frame; the consumer gets
the newest frame it has not seen yet, so a slow consumer drops stale frames instead of falling behind.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator, Protocol

import numpy as np

from ._base import BaseSource, Frame

log = logging.getLogger(__name__)

__all__ = ["CaptureReader", "Reader", "LatestFrameGrabber", "LiveSource"]


class CaptureReader:
    """Adapts a cv2.VideoCapture to the reader interface the grabber uses: read() -> frame | None, close()."""

    def __init__(self, cap) -> None:
        self.cap = cap

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        self.cap.release()


class Reader(Protocol):
    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class LatestFrameGrabber:
    """Runs ``reader.read()`` in a thread; ``get()`` returns the newest unseen frame.

    When ``read`` fails (returns None or raises) the reader is closed and ``reopen()`` is called after a
    backoff that doubles from ``backoff`` to ``max_backoff`` seconds, until it succeeds or ``stop()``;
    ``reopen_timeout`` (seconds without a frame, None = forever) ends the stream instead.
    """

    def __init__(
        self, reader: Reader, reopen: Callable[[], Reader], *, name: str = "live", backoff: float = 0.2,
        max_backoff: float = 5.0, reopen_timeout: float | None = None,
    ) -> None:
        self._reader: Reader | None = reader
        self._reopen = reopen
        self.name = name
        self.backoff, self.max_backoff, self.reopen_timeout = backoff, max_backoff, reopen_timeout
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._seen = 0
        self._stopped = threading.Event()
        self._ended = False
        self.reopens = 0
        self.dropped = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._loop, name=f"grab-{name}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        delay = self.backoff
        lost_since: float | None = None
        while not self._stopped.is_set():
            frame = None
            if self._reader is not None:
                try:
                    frame = self._reader.read()
                except Exception as exc:  # a driver error is a dropped stream, not a crash
                    log.debug("%s: read failed: %s", self.name, exc)
                    frame = None
            if frame is not None:
                delay, lost_since = self.backoff, None
                with self._cond:
                    if self._seq > self._seen:
                        self.dropped += 1
                    self._frame = frame
                    self._seq += 1
                    self._cond.notify_all()
                continue
            # lost: close, back off, reopen
            now = time.monotonic()
            lost_since = lost_since or now
            if self.reopen_timeout is not None and now - lost_since > self.reopen_timeout:
                self.error = f"{self.name}: no frames for {self.reopen_timeout:.0f} s, giving up"
                break
            if self._reader is not None:
                log.warning("%s: stream dropped; reopening (backoff %.1f s)", self.name, delay)
                try:
                    self._reader.close()
                except Exception:
                    pass
                self._reader = None
            if self._stopped.wait(delay):
                break
            delay = min(self.max_backoff, delay * 2)
            try:
                self._reader = self._reopen()
                self.reopens += 1
                log.warning("%s: reopened", self.name)
            except Exception as exc:
                log.debug("%s: reopen failed: %s", self.name, exc)
                self._reader = None
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> np.ndarray | None:
        """Newest frame not returned before; None when the grabber stopped or ``timeout`` passed."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._seq > self._seen or self._ended or self._stopped.is_set(), timeout)
            if not ok or self._seq <= self._seen:
                return None
            self._seen = self._seq
            return self._frame

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:
                pass
            self._reader = None


class LiveSource(BaseSource):
    """Base for cameras and streams: subclasses implement ``_connect() -> Reader`` (raising InputError with
    one line when the device is absent or busy); iteration hands out the latest frames."""

    live = True
    reopen_timeout: float | None = None

    def __init__(self, max_frames: int | None = None) -> None:
        super().__init__(max_frames)
        self._grabber: LatestFrameGrabber | None = None
        self._first: np.ndarray | None = None
        self._t0 = 0.0
        self._reopens = 0

    def _connect(self) -> Reader:  # pragma: no cover - abstract
        raise NotImplementedError

    def _open(self) -> None:
        reader = self._connect()
        first = reader.read()
        if first is None:
            reader.close()
            from ...errors import InputError

            raise InputError(f"{self.name} opened but delivers no frames (busy, or not a video device?)")
        self.size = (first.shape[1], first.shape[0])
        self._first = first
        self._t0 = time.monotonic()
        self._grabber = LatestFrameGrabber(reader, self._connect, name=self.name, reopen_timeout=self.reopen_timeout)

    def _frames(self) -> Iterator[Frame]:
        index = 0
        if self._first is not None:
            yield Frame(self._first, 0.0, 0)
            self._first = None
            index = 1
        g = self._grabber
        while g is not None:
            image = g.get(timeout=1.0)
            if image is None:
                if g._ended:
                    if g.error:
                        log.error("%s", g.error)
                    break
                continue
            self.dropped = g.dropped
            yield Frame(image, time.monotonic() - self._t0, index + g.dropped)
            index += 1

    @property
    def reopens(self) -> int:
        return self._grabber.reopens if self._grabber else self._reopens

    def close(self) -> None:
        if self._grabber is not None:
            self.dropped = self._grabber.dropped
            self._reopens = self._grabber.reopens
            self._grabber.stop()
            self._grabber = None
        super().close()
