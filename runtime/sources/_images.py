"""Still images: one file, or every image in a folder (sorted by name)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ...errors import InputError
from .._images import IMAGE_SUFFIXES, read_image
from ._base import BaseSource, Frame
from ._video import check_readable_file

log = logging.getLogger(__name__)

__all__ = ["ImageSource", "ImageFolderSource", "IMAGE_EXTENSIONS", "read_image"]

IMAGE_EXTENSIONS = IMAGE_SUFFIXES  # the SDK's one list (edgesdk.runtime.IMAGE_SUFFIXES)


def _read_or_none(path: Path) -> np.ndarray | None:
    try:
        return read_image(path)
    except InputError:
        return None


class ImageSource(BaseSource):
    """One image file: one frame."""

    independent = True  # frames are unrelated pictures: no tracking across them

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None) -> None:
        super().__init__(max_frames)
        self.path = Path(path)
        self.name = str(self.path)
        self._image: np.ndarray | None = None

    def _open(self) -> None:
        check_readable_file(self.path, "image")
        image = read_image(self.path)
        self._image = image
        self.size = (image.shape[1], image.shape[0])
        self.total = 1

    def _frames(self) -> Iterator[Frame]:
        if self._image is not None:
            yield Frame(self._image, 0.0, 0)

    def frame_name(self, index: int) -> str | None:
        return self.path.name


class ImageFolderSource(BaseSource):
    """Every image in a folder (not recursive), in name order. Files that fail to decode are skipped and
    counted in ``skipped``."""

    independent = True  # frames are unrelated pictures: no tracking across them

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None, fps: float = 1.0) -> None:
        super().__init__(max_frames)
        self.path = Path(path)
        self.name = str(self.path)
        self.fps = fps
        self.files: list[Path] = []

    def _open(self) -> None:
        if not self.path.is_dir():
            raise InputError(f"folder not found: {self.path}")
        if not os.access(self.path, os.R_OK | os.X_OK):
            raise InputError(f"cannot read folder {self.path}: permission denied")
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not self.files:
            raise InputError(f"no images in {self.path} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.total = len(self.files)
        first = None
        for p in self.files[:5]:
            first = _read_or_none(p)
            if first is not None:
                break
        if first is not None:
            self.size = (first.shape[1], first.shape[0])

    def _frames(self) -> Iterator[Frame]:
        for i, p in enumerate(self.files):
            image = _read_or_none(p)
            if image is None:
                self.skipped += 1
                self.skipped_names.append(p.name)
                log.warning("skipped %s: not a readable image", p)
                continue
            yield Frame(image, i / (self.fps or 1.0), i)

    def frame_name(self, index: int) -> str | None:
        return self.files[index].name if 0 <= index < len(self.files) else None
