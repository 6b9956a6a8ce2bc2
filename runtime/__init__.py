"""The device side: run TFLite models with XNNPACK or the Edge TPU. Never imports TensorFlow.

``load(model, device="cpu", threads=None)`` is the one entry point to hardware; everything else takes the
:class:`Model` it returns.
"""

from ..results import Classifications, Detections
from ._backends import Backend, available_backends, get_backend
from ._edgetpu import find_library as find_edgetpu_library
from ._edgetpu import library_name as edgetpu_library_name
from ._edgetpu import list_devices as list_edgetpu_devices
from ._edgetpu import parse_device
from ._images import IMAGE_SUFFIXES, draw_detections, is_truncated, read_image, write_image
from ._loader import load
from ._model import Model
from ._preprocess import (
    Preprocessor,
    Transform,
    fit_image,
    image_preprocessor,
    model_pixels,
    normalize,
    padded_input,
    pixel_table,
)
from ._tensors import TensorSpec
from .decoders import decode_classification, decode_ssd, softmax, ssd_output_order

__all__ = [
    "Backend",
    "IMAGE_SUFFIXES",
    "Classifications",
    "Detections",
    "Model",
    "Preprocessor",
    "TensorSpec",
    "Transform",
    "available_backends",
    "decode_classification",
    "decode_ssd",
    "draw_detections",
    "edgetpu_library_name",
    "fit_image",
    "find_edgetpu_library",
    "get_backend",
    "image_preprocessor",
    "list_edgetpu_devices",
    "load",
    "model_pixels",
    "normalize",
    "padded_input",
    "parse_device",
    "is_truncated",
    "pixel_table",
    "read_image",
    "softmax",
    "ssd_output_order",
    "write_image",
]
