"""Which output decoder a detection model needs, recognised ONCE from its tensors (never guessed per frame).

``recognize_decoder(inputs, outputs, custom_ops)`` is a pure function over the .tflite reader's tensor
descriptions. It answers only when the layout is unambiguous, else None (then a bundle must say it):

| decoder | recognised by |
|---|---|
| ``ssd`` | the ``TFLite_Detection_PostProcess`` custom op (SSD MobileNet, EfficientDet-Lite exports) |
| ``yolo-v8`` | one output (1, 4 + C, N) with N = the candidates of strides 8, 16, 32 at the input size (v8, v11) |
| ``yolo-v5`` | one output (1, 3N, 5 + C), the same N with 3 anchors per cell |
| ``blazeface`` | outputs (1, A, 16) and (1, A, 1) with A the anchors of a known BlazeFace input size (128: 896, 192: 2304) |
| ``mediapipe-person`` | outputs (1, 2254, 12) and (1, 2254, 1) at 224x224 (``pose_detection.tflite``) |

The answer carries the manifest's OutputSpec (decoder and params) and, where the family fixes it, how to
feed the model (YOLO: RGB in [0, 1], letterboxed; MediaPipe: RGB in [-1, 1], letterboxed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Sequence

from ._manifest import InputSpec, OutputSpec

__all__ = ["ANCHOR_PRESETS", "DETECT_DECODERS", "AnchorPreset", "DecoderChoice", "describe_decoder", "recognize_decoder",
           "recognize_model", "with_recognized_decoder", "yolo_candidates"]

SSD_OP = "TFLite_Detection_PostProcess"
DETECT_DECODERS = ("ssd", "yolo-v5", "yolo-v8", "blazeface", "mediapipe-person")
YOLO_STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class AnchorPreset:
    """A MediaPipe SSD detector: its decoder, input size, anchor count and SsdAnchorsCalculator options (the
    fields of ``edgesdk.runtime.faces.AnchorOptions``; tests check both agree)."""

    name: str
    decoder: str
    task: str
    num_anchors: int
    num_keypoints: int
    anchors: dict[str, Any]
    threshold: float = 0.5
    iou_threshold: float = 0.3

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.anchors["input_size_width"]), int(self.anchors["input_size_height"])


def _anchors(size: int, strides: tuple[int, ...], interpolated: float) -> dict[str, Any]:
    return {"input_size_width": size, "input_size_height": size, "strides": list(strides), "num_layers": len(strides),
            "min_scale": 0.1484375, "max_scale": 0.75, "anchor_offset_x": 0.5, "anchor_offset_y": 0.5,
            "aspect_ratios": [1.0], "reduce_boxes_in_lowest_layer": False,
            "interpolated_scale_aspect_ratio": interpolated, "fixed_anchor_size": True}


ANCHOR_PRESETS = (
    AnchorPreset("face short range", "blazeface", "face", 896, 6, _anchors(128, (8, 16, 16, 16), 1.0)),
    AnchorPreset("face full range", "blazeface", "face", 2304, 6, _anchors(192, (4,), 0.0), threshold=0.6),
    AnchorPreset("person (pose_detection)", "mediapipe-person", "detect", 2254, 4, _anchors(224, (8, 16, 32, 32, 32), 1.0)),
)


@dataclass(frozen=True)
class DecoderChoice:
    """What recognition decided: the task, the manifest's output spec, how to feed the model (None: the
    default for the input dtype) and one line saying why."""

    task: str
    output: OutputSpec
    input: InputSpec | None = None
    reason: str = ""
    details: dict = field(default_factory=dict)


def yolo_candidates(width: int, height: int) -> int:
    """Boxes an anchor-free YOLO head (v8/v11) predicts at this input size: one per cell at strides 8, 16, 32."""
    return sum(-(-width // s) * -(-height // s) for s in YOLO_STRIDES)


def _image_size(inputs: Sequence) -> tuple[int, int] | None:
    for t in inputs:
        s = tuple(t.shape)
        if len(s) == 4 and s[0] == 1 and s[3] in (1, 3):
            return int(s[2]), int(s[1])
    return None


def _yolo(out, size: tuple[int, int]) -> DecoderChoice | None:
    s = tuple(out.shape)
    if len(s) != 3 or s[0] != 1:
        return None
    n = yolo_candidates(*size)
    feed = InputSpec.from_range(0.0, 1.0, color="RGB", resize="letterbox")
    params = {"normalized": True, "iou_threshold": 0.45, "max_detections": 300}
    if s[2] == n and s[1] >= 5:
        c = s[1] - 4
        return DecoderChoice("detect", OutputSpec("yolo-v8", params={**params, "classes": c}), feed,
                             f"YOLO v8/v11 head: output 1x{s[1]}x{n} = {c} classes x {n} boxes at {size[0]}x{size[1]}")
    if s[1] == 3 * n and s[2] >= 6:
        c = s[2] - 5
        return DecoderChoice("detect", OutputSpec("yolo-v5", params={**params, "classes": c}), feed,
                             f"YOLOv5 head: output 1x{3 * n}x{s[2]} = {3 * n} boxes x (5 + {c} classes) at {size[0]}x{size[1]}")
    return None


def _anchor_model(outputs: Sequence, size: tuple[int, int]) -> DecoderChoice | None:
    if len(outputs) != 2:
        return None
    shapes = [tuple(o.shape) for o in outputs]
    if not all(len(s) == 3 and s[0] == 1 for s in shapes):
        return None
    for p in ANCHOR_PRESETS:
        want = {(1, p.num_anchors, 4 + 2 * p.num_keypoints), (1, p.num_anchors, 1)}
        if set(shapes) == want and size == p.input_size:
            feed = InputSpec.from_range(-1.0, 1.0, color="RGB", resize="letterbox")
            params = {"anchors": copy.deepcopy(p.anchors), "num_keypoints": p.num_keypoints, "threshold": p.threshold,
                      "iou_threshold": p.iou_threshold}
            return DecoderChoice(p.task, OutputSpec(p.decoder, params=params), feed,
                                 f"MediaPipe {p.name}: {p.num_anchors} anchors x (box + {p.num_keypoints} keypoints) and scores")
    return None


def recognize_decoder(inputs: Sequence, outputs: Sequence, custom_ops: Sequence[str] = ()) -> DecoderChoice | None:
    """inputs / outputs: tensor descriptions with ``shape`` (the reader's TensorInfo, or anything alike);
    custom_ops: the model's custom op names. Returns the decoder when the layout is unambiguous, else None."""
    if SSD_OP in custom_ops:
        return DecoderChoice("detect", OutputSpec("ssd"), None, f"{SSD_OP} op: boxes, classes, scores, count")
    size = _image_size(inputs)
    if size is None:
        return None
    if len(outputs) == 1:
        return _yolo(outputs[0], size)
    return _anchor_model(outputs, size)


def recognize_model(info) -> DecoderChoice | None:
    """:func:`recognize_decoder` over a ModelInfo from ``edgesdk.tflite.read_model``."""
    return recognize_decoder(info.inputs, info.outputs, info.custom_ops)


def with_recognized_decoder(manifest, info, *, keep_input: bool = False):
    """``manifest`` with the recognised decoder (and, unless ``keep_input``, the family's input feeding) when
    recognition agrees with its task (detect / face); else unchanged. Used by ``make_bundle``."""
    import dataclasses

    choice = recognize_model(info)
    if choice is None or manifest.task != choice.task:
        return manifest
    output = dataclasses.replace(choice.output, label_offset=manifest.output.label_offset)
    feed = manifest.input if keep_input or choice.input is None else choice.input
    return manifest.replace(output=output, input=feed)


def describe_decoder(info, manifest=None) -> dict:
    """What ``inspect`` shows: the decoder the runtime will use for this model, from the bundle's ``manifest``
    when there is one, else recognised once from the outputs (``decoder`` None when nothing is recognised)."""
    if manifest is not None:
        o = manifest.output
        return {"decoder": o.decoder, "params": o.params, "task": manifest.task, "source": "bundle manifest"}
    choice = recognize_model(info)
    if choice is None:
        return {"decoder": None, "source": "not recognised from the outputs (a detector needs a bundle saying its decoder)"}
    return {"decoder": choice.output.decoder, "params": choice.output.params, "task": choice.task,
            "input": choice.input.to_dict() if choice.input else None, "source": "recognised from the outputs",
            "reason": choice.reason}
