"""Video file sink: same size and frame rate as the source, finalized on close (also after Ctrl-C or an
error) so the file plays.

Encoder: H.264 through the system's ``ffmpeg`` binary by default (browsers play it; the source's audio can be
kept), else OpenCV's VideoWriter (MPEG-4 Part 2, no audio; said once in a warning). The binary rather than
PyAV: it is an apt package on Raspberry Pi OS and Debian (Raspberry Pi's build has the hardware encoders),
the encoder runs in its own process beside the Python pipeline, and it adds no 36 MB wheel with a second copy
of the FFmpeg libraries (measured in benchmarks/video_writers.py).

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
from typing import Any

import numpy as np

from ...results import Detections
from ._base import FrameMeta, SinkError, disk_error
from ._ffmpeg import CODECS, FfmpegWriter, find_ffmpeg

log = logging.getLogger(__name__)

__all__ = ["VideoSink", "VIDEO_FOURCC", "VIDEO_CODECS", "ENCODERS"]

VIDEO_CODECS = tuple(CODECS)
ENCODERS = ("auto", "ffmpeg", "opencv")
_warned_fallback = False

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
    codec: ``h264`` (default), ``hevc``, ``vp9``, ``mpeg4`` or ``mjpeg`` (through ffmpeg); crf: quality for
    h264/hevc/vp9, 0 (lossless) .. 51 (worst), 23 by default; audio_from: the source file, whose first audio
    track is kept (cut to the video's length); encoder: ``auto`` (ffmpeg when installed, else OpenCV),
    ``ffmpeg`` or ``opencv``. ``fourcc`` forces OpenCV with that codec.
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = 30.0, *, fourcc: str | None = None,
                 reserve_bytes: int | None = None, codec: str = "h264", crf: int = 23,
                 audio_from: str | os.PathLike | None = None, encoder: str = "auto") -> None:
        self.path = Path(path)
        self.name = f"video:{self.path}"
        ext = self.path.suffix.lower()
        if ext not in VIDEO_FOURCC:
            raise SinkError(f"unsupported video extension {ext or '(none)'} for {self.path}: use {', '.join(VIDEO_FOURCC)}")
        if codec not in CODECS:
            raise SinkError(f"unknown codec {codec!r}: use one of {', '.join(CODECS)}")
        if not 0 <= int(crf) <= 51:
            raise SinkError(f"crf must be 0..51, got {crf}")
        if encoder not in ENCODERS:
            raise SinkError(f"unknown encoder {encoder!r}: use one of {', '.join(ENCODERS)}")
        self.ffmpeg = None if fourcc or encoder == "opencv" else find_ffmpeg()
        if encoder == "ffmpeg" and self.ffmpeg is None:
            raise SinkError("ffmpeg is not installed (sudo apt install ffmpeg)")
        self.video_codec, self.crf, self.audio_from = codec, int(crf), audio_from
        if self.ffmpeg is None and not fourcc and encoder == "auto":
            _fallback_warning(codec, audio_from)
        self.codecs = (fourcc,) if fourcc else VIDEO_FOURCC[ext]
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.reserve = reserve_bytes
        self._writer: Any = None  # FfmpegWriter or cv2.VideoWriter
        self.codec: str | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self._max_frame_bytes = 0
        self._closed = False

    def _open(self, w: int, h: int) -> None:
        if self.ffmpeg is not None:
            self._writer = FfmpegWriter(self.ffmpeg, self.path, self.fps, (w, h), codec=self.video_codec,
                                        crf=self.crf, audio_from=self.audio_from)
            self.codec, self.size = self.video_codec, (w, h)
            return
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

    def write_events(self, meta: FrameMeta) -> None:
        """Records with no new frame: nothing to write (pixels only)."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            writer, self._writer = self._writer, None
            if isinstance(writer, FfmpegWriter):
                writer.close()
            else:
                writer.release()
            log.info("wrote %d frames to %s (%s, %.2f fps)", self.frames, self.path, self.codec, self.fps)


def _fallback_warning(codec: str, audio_from) -> None:
    global _warned_fallback
    if _warned_fallback:
        return
    _warned_fallback = True
    lost = " and without the source's audio" if audio_from else ""
    log.warning("ffmpeg not found: writing MPEG-4 Part 2 with OpenCV instead of %s%s (browsers may not play it; "
                "sudo apt install ffmpeg)", codec, lost)
