"""Face detection on the device: MediaPipe's BlazeFace (short and full range) with pure decoders, weighted NMS
and a tiled mode for small faces; MediaPipe's person detector on the same machinery."""

from ._bundle import is_face_bundle
from ..decoders.anchors import FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, AnchorOptions, ssd_anchors
from ..decoders.boxes import class_nms, decode_blazeface, decode_boxes, iou_matrix, nms, sigmoid_scores, weighted_nms
from ._detector import FACE_MODELS, BlazeFaceConfig, FaceDetector, face_model_path
from ._person import PersonDetector, person_config
from ._tiles import TiledDetector, TilePlan, merge_detections, padded_input, parse_tiles, tile_plan

__all__ = [
    "AnchorOptions",
    "BlazeFaceConfig",
    "FACE_MODELS",
    "FULL_RANGE_ANCHORS",
    "FaceDetector",
    "PersonDetector",
    "SHORT_RANGE_ANCHORS",
    "TilePlan",
    "TiledDetector",
    "class_nms",
    "decode_blazeface",
    "decode_boxes",
    "face_model_path",
    "iou_matrix",
    "is_face_bundle",
    "merge_detections",
    "nms",
    "padded_input",
    "parse_tiles",
    "person_config",
    "sigmoid_scores",
    "ssd_anchors",
    "tile_plan",
    "weighted_nms",
]
