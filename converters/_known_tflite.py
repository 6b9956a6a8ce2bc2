"""What a float ``.tflite`` from MediaPipe needs to stay decodable after quantization: task, decoder, anchors.

MediaPipe's flatbuffers carry no usable metadata, so a model is recognised by its tensor shapes. Each entry
holds the input the model expects (MediaPipe's ImageToTensorCalculator settings from its graphs) and the
manifest's output spec (decoder name and its parameters: SSD anchor options for the detectors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..bundle import InputSpec, OutputSpec
from ._strategies import Calibration, Percentile

__all__ = ["KnownModel", "identify"]


@dataclass(frozen=True)
class KnownModel:
    """One recognised model family. ``input`` (h, w); ``outputs`` the output shapes without the batch."""

    name: str
    task: str
    decoder: str
    input_hw: tuple[int, int]
    outputs: tuple[tuple[int, ...], ...]
    range: tuple[float, float]
    resize: str
    params: dict = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    # (output shape without batch, c): the convolutions producing it are clipped to [-c, c] (score logits: int8
    # steps of 0.125 instead of 3; see _tflite_graph.rebuild_tflite)
    clip_outputs: tuple[tuple[tuple[int, ...], float], ...] = ()
    # activation ranges used when --calibration is not given (measured best for the model: convert_face.py;
    # None: MinMax)
    calibration: Calibration | None = None

    def input_spec(self) -> InputSpec:
        return InputSpec.from_range(*self.range, color="RGB", resize=self.resize)

    def output_spec(self) -> OutputSpec:
        return OutputSpec(decoder=self.decoder, params=dict(self.params))

    def output_clips(self, output_shapes: list[tuple[int, ...]]) -> dict[int, float]:
        """{output position: c} of the outputs (shapes with batch, in the model's order) to clip to [-c, c]."""
        return {i: c for shape, c in self.clip_outputs for i, o in enumerate(output_shapes) if tuple(o[1:]) == shape}


def _anchors(w: int, h: int, strides: tuple[int, ...], interpolated: float) -> dict:
    """SsdAnchorsCalculatorOptions as runtime.faces.AnchorOptions takes them."""
    return {"input_size_width": w, "input_size_height": h, "strides": list(strides), "min_scale": 0.1484375,
            "max_scale": 0.75, "anchor_offset_x": 0.5, "anchor_offset_y": 0.5, "aspect_ratios": [1.0],
            "interpolated_scale_aspect_ratio": interpolated, "fixed_anchor_size": True}


_KNOWN = (
    KnownModel("face_detection_short_range", "face", "blazeface", (128, 128), ((896, 16), (896, 1)), (-1.0, 1.0),
               "letterbox", {"anchors": _anchors(128, 128, (8, 16, 16, 16), 1.0), "threshold": 0.5,
                             "iou_threshold": 0.3, "keypoints": 6, "model": "face"}, ("face",), (((896, 1), 16.0),), Percentile()),
    KnownModel("face_detection_full_range", "face", "blazeface", (192, 192), ((2304, 16), (2304, 1)), (-1.0, 1.0),
               "letterbox", {"anchors": _anchors(192, 192, (4,), 0.0), "threshold": 0.6, "iou_threshold": 0.3,
                             "keypoints": 6, "model": "face-full"}, ("face",), (((2304, 1), 16.0),), Percentile()),
    # pose_detection.pbtxt: 224x224, [-1, 1], letterbox; 5 layers of strides 8, 16, 32, 32, 32; 4 keypoints
    KnownModel("pose_detection", "detect", "blazeface", (224, 224), ((2254, 12), (2254, 1)), (-1.0, 1.0), "letterbox",
               {"anchors": _anchors(224, 224, (8, 16, 32, 32, 32), 1.0), "threshold": 0.5, "iou_threshold": 0.3,
                "keypoints": 4}, ("person",), (((2254, 1), 16.0),)),
    # selfie_segmentation.pbtxt: [0, 1], stretched; one channel: probability of a person per pixel
    KnownModel("selfie_segmentation", "segment", "mediapipe-selfie", (256, 256), ((256, 256, 1),), (0.0, 1.0),
               "stretch", {"classes": ["background", "person"], "threshold": 0.5}, ("background", "person")),
    KnownModel("selfie_segmentation_landscape", "segment", "mediapipe-selfie", (144, 256), ((144, 256, 1),),
               (0.0, 1.0), "stretch", {"classes": ["background", "person"], "threshold": 0.5},
               ("background", "person")),
)


def identify(input_shape: tuple[int, ...], output_shapes: list[tuple[int, ...]]) -> KnownModel | None:
    """The known model whose input (1, h, w, 3) and outputs (with batch) match, in any output order, else None."""
    if len(input_shape) != 4 or input_shape[3] != 3:
        return None
    outs = sorted(tuple(s[1:]) for s in output_shapes)
    for k in _KNOWN:
        if tuple(input_shape[1:3]) == k.input_hw and outs == sorted(k.outputs):
            return k
    return None

