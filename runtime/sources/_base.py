"""The Source protocol: a thing that yields frames.

``open()`` checks everything it can (file readable, camera present and free, URL reachable) and raises
InputError with one line before any work starts; iterating yields ``Frame(image, timestamp, index)`` (a named
tuple, so ``for image, ts, i in source`` works); ``close()`` releases the device. Sources are context managers.

live sources (cameras, streams) deliver the latest frame and drop stale ones; file sources deliver every frame.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = ["Frame", "Source", "BaseSource"]


class Frame(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8 BGR
    timestamp: float  # seconds: media time for files, time since open for live sources
    index: int  # type: ignore[assignment]  # 0-based position in the source (gaps where frames were dropped or skipped)


@runtime_checkable
class Source(Protocol):
    name: str
    live: bool
    fps: float | None
    size: tuple[int, int] | None  # (width, height) when known
    total: int | None  # number of frames when known
    skipped: int  # corrupt / unreadable frames skipped
    skipped_names: list[str]  # the files skipped (image folders)
    dropped: int  # stale frames dropped (live sources)
    independent: bool  # frames are unrelated pictures (image files): nothing carries over between them

    def open(self) -> "Source": ...

    def frame_name(self, index: int) -> str | None:
        """The file frame ``index`` came from (image sources), else None."""
        ...

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class BaseSource:
    """Shared plumbing: context manager, counters, ``max_frames``."""

    name = "source"
    live = False
    independent = False

    def __init__(self, max_frames: int | None = None) -> None:
        if max_frames is not None and max_frames < 1:
            raise ValueError("max_frames must be >= 1")
        self.max_frames = max_frames
        self.fps: float | None = None
        self.size: tuple[int, int] | None = None
        self.total: int | None = None
        self.skipped = 0
        self.skipped_names: list[str] = []
        self.dropped = 0
        self._opened = False

    def open(self):
        if not self._opened:
            self._open()
            self._opened = True
            if self.max_frames is not None and self.total is not None:
                self.total = min(self.total, self.max_frames)
            elif self.max_frames is not None and self.total is None and not self.live:
                self.total = self.max_frames
        return self

    def _open(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _frames(self) -> Iterator[Frame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        self.open()
        n = 0
        for frame in self._frames():
            yield frame
            n += 1
            if self.max_frames is not None and n >= self.max_frames:
                break

    def frame_name(self, index: int) -> str | None:
        return None

    def close(self) -> None:
        self._opened = False

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> dict:
        return {"source": self.name, "live": self.live, "fps": self.fps, "size": list(self.size) if self.size else None,
                "frames": self.total}
