"""Frame sources behind one small protocol (``Source``): video files, images, image folders, V4L2/USB
cameras, RTSP/HTTP streams, the Raspberry Pi camera (picamera2) and a built-in ``demo``."""

from ._base import BaseSource, Frame, Source
from ._camera import CameraSource, list_cameras, parse_camera
from ._demo import DemoSource, demo_photo
from ._images import IMAGE_EXTENSIONS, ImageFolderSource, ImageSource, read_image
from ._live import LatestFrameGrabber, LiveSource
from ._open import DEMO_FRAMES, default_source, open_source
from ._picamera import PiCameraSource
from ._stream import StreamSource, is_url
from ._video import VIDEO_EXTENSIONS, VideoFileSource, video_frames

__all__ = [
    "BaseSource",
    "CameraSource",
    "DEMO_FRAMES",
    "DemoSource",
    "Frame",
    "IMAGE_EXTENSIONS",
    "ImageFolderSource",
    "ImageSource",
    "LatestFrameGrabber",
    "LiveSource",
    "PiCameraSource",
    "Source",
    "StreamSource",
    "VIDEO_EXTENSIONS",
    "VideoFileSource",
    "video_frames",
    "default_source",
    "demo_photo",
    "is_url",
    "list_cameras",
    "open_source",
    "parse_camera",
    "read_image",
]
