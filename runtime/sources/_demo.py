"""``demo``: a built-in source that needs no camera and nothing beyond the package.

A virtual camera pans and zooms over a bundled public-domain photo: NASA's portrait of astronaut Eileen
Collins (as shipped by scikit-image as ``astronaut``; "No known copyright restrictions, released into the
public domain"), placed twice side by side (the second mirrored and smaller) so there are two faces at
different sizes. Frames are deterministic: frame i is the same on every machine.
"""

from __future__ import annotations

import importlib.resources
import math
from typing import Iterator

import numpy as np

from ...errors import InputError
from ._base import BaseSource, Frame

__all__ = ["CANVAS_FACES", "DemoSource", "demo_photo"]

PHOTO = "astronaut.jpg"

# Ground truth for tests and benchmarks: the face boxes (x1, y1, x2, y2, pixel edges) in the demo canvas (the
# 512 x 512 photo, then its mirror at 2/3 size to its right, vertically centred). The first is BlazeFace short
# range's box on the photo itself (score 0.92, checked by eye: eyebrows to chin, cheek to cheek); the second is
# the same box put through the mirror and the 2/3 resize.
_FACE = (178.35, 80.91, 271.76, 174.32)
_S = 341 / 512
CANVAS_FACES = np.array([
    _FACE,
    (512 + (512 - _FACE[2]) * _S, 85 + _FACE[1] * _S, 512 + (512 - _FACE[0]) * _S, 85 + _FACE[3] * _S),
], np.float32)


def demo_photo() -> np.ndarray:
    """The bundled photo as a BGR uint8 array (512 x 512)."""
    import cv2

    data = importlib.resources.files(__package__).joinpath(PHOTO).read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # pragma: no cover - packaging error
        raise InputError(f"the demo photo {PHOTO} is missing from the installed package")
    return image


class DemoSource(BaseSource):
    """``frames`` frames of ``size`` (width, height) at ``fps``: a camera moving and zooming over the photo."""

    name = "demo"
    live = False

    def __init__(self, frames: int = 150, size: tuple[int, int] = (640, 480), fps: float = 30.0,
                 max_frames: int | None = None) -> None:
        super().__init__(max_frames if max_frames is not None else frames)
        self.frames = frames if max_frames is None else max_frames
        self.out_size = (int(size[0]), int(size[1]))
        self.fps = fps
        self._canvas: np.ndarray | None = None

    def _open(self) -> None:
        import cv2

        photo = demo_photo()
        h, w = photo.shape[:2]
        small = cv2.resize(cv2.flip(photo, 1), (w * 2 // 3, h * 2 // 3), interpolation=cv2.INTER_AREA)
        canvas = np.full((h, w + small.shape[1], 3), 40, np.uint8)
        canvas[:, :w] = photo
        y0 = (h - small.shape[0]) // 2
        canvas[y0:y0 + small.shape[0], w:] = small
        self._canvas = canvas
        self.size = self.out_size
        self.total = self.frames

    def matrix(self, i: int) -> np.ndarray:
        """The (2, 3) affine that maps canvas pixels to frame ``i``'s pixels (what ``frame`` warps with)."""
        if self._canvas is None:
            self.open()
        assert self._canvas is not None
        ch, cw = self._canvas.shape[:2]
        ow, oh = self.out_size
        t = i / max(1, self.frames - 1)
        zoom = 1.0 + 0.6 * (0.5 - 0.5 * math.cos(2 * math.pi * t))  # 1.0 -> 1.6 -> 1.0
        # the view (in canvas pixels) keeps the output's aspect ratio and fits the canvas height at zoom 1
        vh = ch / zoom
        vw = vh * ow / oh
        cx = vw / 2 + (cw - vw) * (0.5 - 0.5 * math.cos(math.pi * t))  # pan left -> right
        cy = ch / 2 + (ch - vh) / 2 * 0.6 * math.sin(2 * math.pi * t)
        s = ow / vw
        return np.array([[s, 0, ow / 2 - s * cx], [0, s, oh / 2 - s * cy]], np.float32)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (deterministic)."""
        import cv2

        m = self.matrix(i)
        ow, oh = self.out_size
        return cv2.warpAffine(self._canvas, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,  # type: ignore[arg-type]
                              borderValue=(40, 40, 40))

    def face_boxes(self, i: int) -> np.ndarray:
        """Ground truth: the (2, 4) float32 boxes x1, y1, x2, y2 of the photo's two faces in frame ``i``'s pixels
        (not clipped: a box may reach beyond the frame). See ``CANVAS_FACES``."""
        m = self.matrix(i).astype(np.float64)
        b = CANVAS_FACES.astype(np.float64)
        # pixel edges: a canvas edge at e (pixel centres at integers) lands at s * (e - 0.5) + t + 0.5
        x = (b[:, [0, 2]] - 0.5) * m[0, 0] + m[0, 2] + 0.5
        y = (b[:, [1, 3]] - 0.5) * m[1, 1] + m[1, 2] + 0.5
        return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1).astype(np.float32)

    def _frames(self) -> Iterator[Frame]:
        for i in range(self.frames):
            yield Frame(self.frame(i), i / self.fps, i)  # type: ignore[operator]
