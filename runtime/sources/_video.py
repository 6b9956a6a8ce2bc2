"""Video files (mp4, mkv, avi, mov, gif, ...) through OpenCV's FFmpeg backend: every frame, in order."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

from ...errors import InputError
from ._base import BaseSource, Frame

log = logging.getLogger(__name__)

__all__ = ["VideoFileSource", "VIDEO_EXTENSIONS", "video_frames"]

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mkv", ".avi", ".mov", ".webm", ".gif", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".mjpeg", ".mjpg", ".h264"}


def check_readable_file(path: Path, what: str = "file") -> None:
    """InputError unless ``path`` is an existing, readable, non-empty regular file."""
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")


class VideoFileSource(BaseSource):
    """Every frame of a video file. A frame that fails to decode in the middle of the file is skipped and
    counted in ``skipped``; ``max_bad_run`` failures in a row end the file."""

    live = False

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None, max_bad_run: int = 25) -> None:
        super().__init__(max_frames)
        self.path = Path(path)
        self.name = str(self.path)
        self.max_bad_run = max_bad_run
        self._cap = None
        self._first = None

    def _open(self) -> None:
        import cv2

        check_readable_file(self.path, "video")
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        ok, first = (cap.read() if cap.isOpened() else (False, None))
        if not ok or first is None:
            cap.release()
            raise InputError(f"cannot decode {self.path} as a video (corrupt or unsupported format)")
        self._cap, self._first = cap, first  # type: ignore[assignment]
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else 30.0
        self.size = (first.shape[1], first.shape[0])
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.total = n if n > 0 else None

    def _frames(self) -> Iterator[Frame]:
        cap, fps = self._cap, self.fps or 30.0
        if cap is None:
            return
        index = 0
        if self._first is not None:
            first, self._first = self._first, None
            yield Frame(first, 0.0, 0)
            index = 1
        bad = 0
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                bad += 1
                if bad >= self.max_bad_run:
                    break
                index += 1
                continue
            if bad:
                # failures followed by a good frame: corrupt frames mid-file, skipped
                self.skipped += bad
                log.warning("%s: skipped %d undecodable frame(s) before frame %d", self.path.name, bad, index)
                bad = 0
            yield Frame(image, index / fps, index)
            index += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        super().close()


def video_frames(path: str | os.PathLike):
    """Every decodable frame of a video file, (H, W, 3) uint8 BGR, in order; the file is closed at the end."""
    with VideoFileSource(path) as src:
        for frame in src:
            yield frame.image
