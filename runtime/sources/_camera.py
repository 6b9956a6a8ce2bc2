"""V4L2 / USB cameras through OpenCV, by index (``0``) or device path (``/dev/video0``)."""

from __future__ import annotations

import errno
import glob
import logging
import os
from pathlib import Path

from ...errors import InputError
from ._live import CaptureReader, LiveSource

log = logging.getLogger(__name__)

__all__ = ["CameraSource", "list_cameras", "parse_camera"]


def parse_camera(spec: str | int) -> tuple[int, str] | None:
    """'0' / 0 / '/dev/video0' -> (0, '/dev/video0'); anything else -> None."""
    if isinstance(spec, int):
        return spec, f"/dev/video{spec}"
    s = str(spec)
    if s.isdigit():
        return int(s), f"/dev/video{s}"
    if s.startswith("/dev/video") and s[len("/dev/video"):].isdigit():
        return int(s[len("/dev/video"):]), s
    return None


def list_cameras() -> list[str]:
    """V4L2 capture device nodes present on this machine, e.g. ['/dev/video0']."""
    return sorted(glob.glob("/dev/video[0-9]*"), key=lambda p: int(p[len("/dev/video"):]))


class CameraSource(LiveSource):
    """A V4L2 camera. Absent device, permission problems and a device busy in another program are reported
    at ``open()``; a camera that drops while running is reopened with backoff."""

    def __init__(self, device: str | int = 0, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None, max_frames: int | None = None) -> None:
        super().__init__(max_frames)
        parsed = parse_camera(device)
        if parsed is None:
            raise InputError(f"not a camera: {device!r} (use an index like 0 or /dev/videoN)")
        self.index, self.device = parsed
        self.name = self.device
        self.req = (width, height, fps)

    def _check_node(self) -> None:
        p = Path(self.device)
        if not p.exists():
            present = list_cameras()
            hint = f"cameras here: {', '.join(present)}" if present else "no camera is attached to this machine"
            raise InputError(f"no camera at {self.device} ({hint})")
        if not os.access(p, os.R_OK | os.W_OK):
            raise InputError(f"cannot open {self.device}: permission denied (add yourself to the 'video' group)")
        try:
            fd = os.open(self.device, os.O_RDWR | os.O_NONBLOCK)
            os.close(fd)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise InputError(f"camera {self.device} is busy (another program is using it)") from None
            raise InputError(f"cannot open {self.device}: {exc.strerror}") from None

    def _connect(self):
        import cv2

        self._check_node()
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise InputError(f"camera {self.device} cannot be opened (busy, or not a capture device)")
        w, h, fps = self.req
        if w:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, w)
        if h:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        got = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(got) if got and 0 < got < 1000 else (fps or 30.0)
        return CaptureReader(cap)
