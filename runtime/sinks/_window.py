"""An on-screen window (OpenCV highgui) where a display exists."""

from __future__ import annotations

import os

import numpy as np

from ...results import Detections
from ._base import FrameMeta, SinkError

__all__ = ["WindowSink", "display_available"]


def display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink:
    """Shows frames in a window; closing it (or pressing q / Esc) sets ``closed_by_user``."""

    def __init__(self, title: str = "edgesdk anonymize", on_close=None) -> None:
        if not display_available():
            raise SinkError("no display here (DISPLAY is not set): use --serve HOST:PORT to watch the stream instead")
        import cv2

        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise SinkError("this OpenCV build has no GUI support (opencv-python-headless): use --serve instead") from None
        self.title = title
        self.name = f"window:{title}"
        self.closed_by_user = False
        self.on_close = on_close  # called once when the user closes the window (the job stops cleanly)

    def write(self, frame: np.ndarray, detections: Detections | None = None, meta: FrameMeta | None = None) -> None:
        import cv2

        cv2.imshow(self.title, frame)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) and not self.closed_by_user:
            self.closed_by_user = True
            if self.on_close is not None:
                self.on_close()

    def write_events(self, meta: FrameMeta) -> None:
        """Records with no new frame: nothing to show."""

    def close(self) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass
