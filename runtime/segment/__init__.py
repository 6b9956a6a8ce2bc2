"""Segmentation on the device: pure decoders for DeepLabV3 and MediaPipe's selfie segmenters, smooth
upscaling to the source's size, the :class:`Segmenter`, pictures of label maps, and background strategies
(transparent, colour, image, blur) behind ``edgesdk segment`` and ``edgesdk remove-background``."""

from ...results import Segmentation
from ._background import (
    COLOR_NAMES,
    Background,
    BlurBackground,
    ReplaceImage,
    SolidColor,
    Transparent,
    feathered_alpha,
    parse_background,
)
from ._decode import DECODERS, SELFIE_CLASSES, SegmentDecodeError, decode_segmentation, infer_decoder
from ._files import foreground_ids, is_stream, plan_outputs, remove_background_images, segment_images
from ._models import DEFAULT_SEGMENTER, MODEL_PATH_ENV, find_model, model_search_path
from ._labels import PASCAL_VOC_CLASSES, segment_labels
from ._render import colorize, index_mask, label_colormap, overlay
from .._preprocess import resize_like_pil
from ._segmenter import RESIZE_MODES, Segmenter, load_segmenter
from ._stages import (
    SHAPES, PersonMaskStage, SegmentStage, TemporalSmoother, foreground, load_person_segmenter, mask_silhouettes,
    person_shapes, tile_grid,
)
from ._streams import SegmentStreamConfig, segment_stream
from ._upscale import UPSCALE_METHODS, full_window, upscale_labels, upscale_probability, upscale_scores

__all__ = [
    "Background",
    "BlurBackground",
    "COLOR_NAMES",
    "DECODERS",
    "DEFAULT_SEGMENTER",
    "MODEL_PATH_ENV",
    "PASCAL_VOC_CLASSES",
    "PersonMaskStage",
    "RESIZE_MODES",
    "ReplaceImage",
    "SELFIE_CLASSES",
    "SHAPES",
    "SegmentDecodeError",
    "Segmentation",
    "SegmentStage",
    "SegmentStreamConfig",
    "Segmenter",
    "SolidColor",
    "TemporalSmoother",
    "Transparent",
    "UPSCALE_METHODS",
    "colorize",
    "decode_segmentation",
    "feathered_alpha",
    "find_model",
    "foreground",
    "foreground_ids",
    "full_window",
    "index_mask",
    "infer_decoder",
    "is_stream",
    "label_colormap",
    "load_person_segmenter",
    "load_segmenter",
    "mask_silhouettes",
    "model_search_path",
    "overlay",
    "parse_background",
    "person_shapes",
    "plan_outputs",
    "remove_background_images",
    "resize_like_pil",
    "segment_stream",
    "segment_images",
    "segment_labels",
    "tile_grid",
    "upscale_labels",
    "upscale_probability",
    "upscale_scores",
]
