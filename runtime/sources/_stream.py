"""Network streams (RTSP, HTTP MJPEG / HLS, ...) through OpenCV's FFmpeg backend, latest frame first,
reopened with backoff when the stream drops."""

from __future__ import annotations

import logging
import os
import re

from ...errors import InputError
from ._live import CaptureReader, LiveSource

log = logging.getLogger(__name__)

__all__ = ["StreamSource", "is_url"]

_URL = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp|srt)://", re.IGNORECASE)


def is_url(spec: str) -> bool:
    return bool(_URL.match(str(spec)))


def _redact(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", url)


class StreamSource(LiveSource):
    """An RTSP/HTTP stream. ``open()`` fails with one line when the URL cannot be opened within
    ``open_timeout`` seconds; later drops are reopened with backoff (for ``reopen_timeout`` seconds at most,
    None = forever)."""

    def __init__(self, url: str, *, max_frames: int | None = None, open_timeout: float = 10.0,
                 reopen_timeout: float | None = None, tcp: bool = True) -> None:
        super().__init__(max_frames)
        if not is_url(url):
            raise InputError(f"not a stream URL: {url!r}")
        self.url = url
        self.name = _redact(url)
        self.open_timeout = open_timeout
        self.reopen_timeout = reopen_timeout
        self.tcp = tcp

    def _connect(self):
        import cv2

        if self.tcp and self.url.lower().startswith("rtsp"):
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        ms = int(self.open_timeout * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise InputError(f"cannot open stream {self.name} (unreachable, wrong URL or unsupported format)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        return CaptureReader(cap)
