"""The Raspberry Pi camera through picamera2 (libcamera). picamera2 is imported only when this source opens."""

from __future__ import annotations

import logging

import numpy as np

from ...errors import InputError, MissingExtraError
from ._live import LiveSource

log = logging.getLogger(__name__)

__all__ = ["PiCameraSource"]


class _PiReader:
    def __init__(self, cam) -> None:
        self.cam = cam

    def read(self) -> np.ndarray | None:
        arr = self.cam.capture_array("main")
        if arr is None:
            return None
        arr = np.asarray(arr)
        # XBGR8888 / RGB888 as picamera2 delivers them are already B, G, R in memory: keep 3 channels
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[:, :, :3]
        return np.ascontiguousarray(arr)

    def close(self) -> None:
        try:
            self.cam.stop()
        finally:
            self.cam.close()


class PiCameraSource(LiveSource):
    """Camera ``camera`` (index) of a Raspberry Pi, ``size`` (width, height) BGR frames at up to ``fps``."""

    def __init__(self, camera: int = 0, *, size: tuple[int, int] = (640, 480), fps: float = 30.0,
                 max_frames: int | None = None) -> None:
        super().__init__(max_frames)
        self.camera = camera
        self.req_size = size
        self.fps = fps
        self.name = f"picamera2:{camera}"

    def _connect(self):
        try:
            from picamera2 import Picamera2  # noqa: PLC0415 - hardware import only when used
        except ImportError:
            raise MissingExtraError("picamera2", "pi", "the Raspberry Pi camera (it installs only on a Raspberry Pi "
                                    "with libcamera; elsewhere use a USB camera index or a video file)") from None
        try:
            info = Picamera2.global_camera_info()
        except Exception:
            info = None
        if info is not None and len(info) <= self.camera:
            raise InputError(f"no Raspberry Pi camera {self.camera} (found {len(info)})")
        try:
            cam = Picamera2(self.camera)
            config = cam.create_video_configuration(
                main={"size": tuple(self.req_size), "format": "RGB888"},
                controls={"FrameRate": float(self.fps)},
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:
            raise InputError(f"cannot start Raspberry Pi camera {self.camera}: {exc}") from None
        return _PiReader(cam)
