"""Source wrappers for demos and live pages: ``Paced`` delivers a file's frames at its frame rate (as a camera
would, so a live page plays at the right speed), ``Looped`` starts the file again at its end."""

from __future__ import annotations

import time
from typing import Iterator

from ..sources import Frame, Source

__all__ = ["Looped", "Paced", "pace"]


class _Wrapper:
    """Delegates the Source protocol to an opened ``inner`` source; counters are copied when it is closed."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.name = inner.name
        self.live = inner.live
        self.independent = inner.independent
        self.fps = inner.fps
        self.size = inner.size
        self.total: int | None = inner.total
        self.skipped = 0
        self.skipped_names: list[str] = []
        self.dropped = 0

    def open(self) -> Source:
        self.inner.open()
        return self

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.inner)

    def frame_name(self, index: int) -> str | None:
        return self.inner.frame_name(index)

    def close(self) -> None:
        self.skipped, self.dropped = self.inner.skipped, self.inner.dropped
        self.skipped_names = list(self.inner.skipped_names)
        self.inner.close()


class Paced(_Wrapper):
    """Frames no faster than their timestamps (``speed`` x real time). The result is live: when processing falls
    behind, the pipeline drops the oldest waiting frame instead of slowing down the clock."""

    def __init__(self, inner: Source, speed: float = 1.0) -> None:
        super().__init__(inner)
        self.speed = speed
        self.live = True
        self.total = None  # a live source: no progress total, frames may be dropped

    def __iter__(self) -> Iterator[Frame]:
        t0 = time.monotonic()
        first: float | None = None
        for f in self.inner:
            first = f.timestamp if first is None else first
            wait = (f.timestamp - first) / self.speed - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            yield f


class Looped(_Wrapper):
    """The inner source again and again (indices and timestamps keep growing), until the pipeline stops or
    ``max_frames`` frames were delivered in all."""

    def __init__(self, inner: Source, max_frames: int | None = None) -> None:
        super().__init__(inner)
        self.rounds = 0
        self.max_frames = max_frames
        self.total = max_frames

    def __iter__(self) -> Iterator[Frame]:
        offset_i, offset_t, n = 0, 0.0, 0
        while True:
            last = None
            for f in self.inner:
                last = f
                yield Frame(f.image, f.timestamp + offset_t, f.index + offset_i)
                n += 1
                if self.max_frames is not None and n >= self.max_frames:
                    return
            if last is None:
                return  # an empty source would loop forever
            self.rounds += 1
            step = 1.0 / self.inner.fps if self.inner.fps else 0.0
            offset_i += last.index + 1
            offset_t += last.timestamp + step
            self.inner.close()
            self.inner.open()


def pace(source: Source, *, realtime: bool | None, loop: bool, serving: bool, max_frames: int | None = None) -> Source:
    """The source as a job runs it: looped (``max_frames`` in all) when ``loop``, paced to its frame rate when
    ``realtime`` (None: when ``serving`` a live page). Live sources (cameras, streams) are returned as they are."""
    if source.live:
        return source
    out: Source = Looped(source, max_frames) if loop else source
    if realtime or (realtime is None and serving):
        out = Paced(out)
    return out
