"""Image sinks: one file per frame in a folder, or a single image file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...results import Detections
from .._images import IMAGE_SUFFIXES
from ._base import FrameMeta, SinkError, disk_error

__all__ = ["ImageFolderSink", "ImageFileSink", "IMAGE_OUT_EXTENSIONS"]

IMAGE_OUT_EXTENSIONS = set(IMAGE_SUFFIXES) - {".ppm", ".pgm", ".pnm"}  # the SDK's list, less the netpbm types


def _write(path: Path, frame: np.ndarray, params: list[int], written: int) -> None:
    import cv2

    ok, buf = cv2.imencode(path.suffix, frame, params)
    if not ok:
        raise SinkError(f"cannot encode {path.suffix} image")
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(buf.tobytes())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise disk_error(exc, path, written, "images") from None


class ImageFolderSink:
    """``folder/<stem>.jpg`` per frame: the source file's name for image folders, else ``frame_000123``.
    The folder is created if its parent exists."""

    def __init__(self, folder: str | os.PathLike, ext: str = ".jpg", *, names=None, quality: int = 95) -> None:
        self.folder = Path(folder)
        self.name = f"images:{self.folder}"
        self.ext = ext if ext.startswith(".") else "." + ext
        self.names = names  # callable index -> stem, or None
        self.params = [1, quality] if self.ext in (".jpg", ".jpeg") else []  # cv2.IMWRITE_JPEG_QUALITY == 1
        self.frames = 0
        if not self.folder.parent.is_dir():
            raise SinkError(f"output folder {self.folder.parent} does not exist")
        self.folder.mkdir(exist_ok=True)

    def write(self, frame: np.ndarray, detections: Detections | None = None, meta: FrameMeta | None = None) -> None:
        index = meta.index if meta is not None else self.frames
        stem = self.names(index) if self.names else f"frame_{index:06d}"
        _write(self.folder / f"{stem}{self.ext}", frame, self.params, self.frames)
        self.frames += 1

    def write_events(self, meta: FrameMeta) -> None:
        """Records with no new frame: nothing to write (pixels only)."""

    def close(self) -> None:
        pass


class ImageFileSink:
    """One image file (for a one-image source); written atomically."""

    def __init__(self, path: str | os.PathLike, quality: int = 95) -> None:
        self.path = Path(path)
        self.name = f"image:{self.path}"
        if self.path.suffix.lower() not in IMAGE_OUT_EXTENSIONS:
            raise SinkError(f"unsupported image extension {self.path.suffix} for {self.path}")
        self.params = [1, quality] if self.path.suffix.lower() in (".jpg", ".jpeg") else []
        self.frames = 0

    def write(self, frame: np.ndarray, detections: Detections | None = None, meta: FrameMeta | None = None) -> None:
        if self.frames:
            raise SinkError(f"{self.path} holds one image but the source has more frames: write to a folder or a video")
        _write(self.path, frame, self.params, 0)
        self.frames += 1

    def write_events(self, meta: FrameMeta) -> None:
        """Records with no new frame: nothing to write (pixels only)."""

    def close(self) -> None:
        pass
