"""``open_source(spec)``: the CLI's SOURCE argument -> a Source (not yet opened)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ...errors import InputError
from ._base import BaseSource
from ._camera import CameraSource, list_cameras, parse_camera
from ._demo import DemoSource
from ._images import IMAGE_EXTENSIONS, ImageFolderSource, ImageSource
from ._picamera import PiCameraSource
from ._stream import StreamSource, is_url
from ._video import VideoFileSource

log = logging.getLogger(__name__)

__all__ = ["open_source", "default_source", "DEMO_FRAMES"]

DEMO_FRAMES = 150


def default_source() -> str:
    """The first camera when one is present, else ``demo``."""
    cams = list_cameras()
    return cams[0] if cams else "demo"


def open_source(spec: str | os.PathLike | None, *, max_frames: int | None = None) -> BaseSource:
    """SOURCE -> Source:

    ``demo``; a camera index (``0``) or ``/dev/videoN``; ``picam`` / ``picamera`` / ``picamera:N`` (Raspberry
    Pi camera); an ``rtsp://`` / ``http(s)://`` URL; a folder of images; an image file; anything else is
    read as a video file. None -> the first camera, else ``demo``.
    """
    if spec is None:
        spec = default_source()
        log.info("no SOURCE given: using %s", spec)
    s = os.fspath(spec)
    if s == "demo":
        return DemoSource(frames=max_frames or DEMO_FRAMES)
    if s in ("picam", "picamera", "picamera2") or s.startswith(("picam:", "picamera:")):
        _, _, n = s.partition(":")
        if n and not n.isdigit():
            raise InputError(f"bad Pi camera {s!r}: use picamera or picamera:N")
        return PiCameraSource(int(n or 0), max_frames=max_frames)
    if is_url(s):
        return StreamSource(s, max_frames=max_frames)
    if parse_camera(s) is not None:
        return CameraSource(s, max_frames=max_frames)
    p = Path(s)
    if p.is_dir():
        return ImageFolderSource(p, max_frames=max_frames)
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageSource(p, max_frames=max_frames)
    return VideoFileSource(p, max_frames=max_frames)
