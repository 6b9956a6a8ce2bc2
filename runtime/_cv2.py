"""OpenCV, imported in one place: the real ``cv2``, or, where it is not installed, a stand-in whose first use
raises the one-line error naming the install command (``pip install 'edgesdk[opencv]'``, or apt's python3-opencv in
a ``--system-site-packages`` venv). So ``import edgesdk.runtime`` works without OpenCV (``edgesdk doctor`` reports
it) and fails clearly only where an image is touched."""

from __future__ import annotations

from typing import Any

from ..install import opencv_missing


class _MissingCV2:
    """Stands in for cv2 when it is missing; any attribute raises MissingExtraError."""

    def __getattr__(self, name: str) -> Any:
        raise opencv_missing()


try:
    import cv2
except ImportError:
    cv2 = _MissingCV2()  # type: ignore[assignment]

__all__ = ["cv2"]
