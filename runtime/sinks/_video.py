"""Video file sink: same size and frame rate as the source, finalized on close (also after Ctrl-C or an
error) so the file plays.

OpenCV's VideoWriter cannot report a full disk, and an MP4 whose index (written at the end) does not fit is
unplayable. So the sink keeps a reserve: before each frame it checks the free space on the output's file
system and stops with SinkError while there is still room to finalize what was written.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from ...results import Detections
from ._base import FrameMeta, SinkError, disk_error

log = logging.getLogger(__name__)

__all__ = ["VideoSink", "VIDEO_FOURCC"]

# container extension -> codecs to try, in order
VIDEO_FOURCC = {
    ".mp4": ("mp4v", "avc1"),
    ".m4v": ("mp4v", "avc1"),
    ".mov": ("mp4v", "avc1"),
    ".mkv": ("mp4v", "XVID", "MJPG"),
    ".avi": ("MJPG", "XVID"),
}


class VideoSink:
    """Writes frames to ``path`` (.mp4, .m4v, .mov, .mkv, .avi) at ``fps``; the size is the first frame's.

    reserve_bytes: free space kept for finalizing (default: 2 MB + room for the index and a few frames).
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = 30.0, *, fourcc: str | None = None,
                 reserve_bytes: int | None = None) -> None:
        self.path = Path(path)
        self.name = f"video:{self.path}"
        ext = self.path.suffix.lower()
        if ext not in VIDEO_FOURCC:
            raise SinkError(f"unsupported video extension {ext or '(none)'} for {self.path}: use {', '.join(VIDEO_FOURCC)}")
        self.codecs = (fourcc,) if fourcc else VIDEO_FOURCC[ext]
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.reserve = reserve_bytes
        self._writer = None
        self.codec: str | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self._max_frame_bytes = 0
        self._closed = False

    def _open(self, w: int, h: int) -> None:
        import cv2

        for codec in self.codecs:
            writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec), self.fps, (w, h))  # type: ignore[attr-defined]
            if writer.isOpened():
                self._writer, self.codec, self.size = writer, codec, (w, h)  # type: ignore[assignment]
                return
            writer.release()
        raise SinkError(f"cannot write {self.path}: no working codec among {', '.join(self.codecs)} in this OpenCV build")

    def _check_space(self, frame: np.ndarray) -> None:
        try:
            size_now = self.path.stat().st_size
        except OSError:
            size_now = 0
        if self.frames:
            per_frame = size_now / self.frames
            self._max_frame_bytes = max(self._max_frame_bytes, int(per_frame * 4))
        else:
            self._max_frame_bytes = frame.nbytes // 4
        reserve = self.reserve if self.reserve is not None else 2_000_000 + 64 * self.frames + 4 * self._max_frame_bytes
        free = shutil.disk_usage(self.path.parent).free
        if free < reserve:
            raise disk_error(OSError(errno.ENOSPC, "No space left on device"), self.path, self.frames)

    def write(self, frame: np.ndarray, detections: Detections | None = None, meta: FrameMeta | None = None) -> None:
        if self._closed:
            raise SinkError(f"{self.path} is closed")
        h, w = frame.shape[:2]
        if self._writer is None:
            try:
                self._check_space(frame)
            except SinkError:
                raise
            self._open(w, h)
        elif (w, h) != self.size:
            import cv2

            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        if self.frames % 8 == 0 or self.reserve is not None:
            self._check_space(frame)
        try:
            self._writer.write(frame)  # type: ignore[attr-defined]
        except OSError as exc:
            raise disk_error(exc, self.path, self.frames) from None
        self.frames += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            log.info("wrote %d frames to %s (%s, %.2f fps)", self.frames, self.path, self.codec, self.fps)
