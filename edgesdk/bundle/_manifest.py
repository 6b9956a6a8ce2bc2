"""The bundle manifest: a versioned JSON description of everything the runtime needs to feed and read a model."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import BundleError

SCHEMA = "edgesdk.bundle/1"
SUPPORTED_SCHEMAS = (SCHEMA,)
MANIFEST_NAME = "manifest.json"
TASKS = ("classify", "detect", "face", "segment")
COLORS = ("RGB", "BGR", "GRAY")
RESIZES = ("stretch", "letterbox", "crop")


def _reject_unknown(cls, data: Mapping[str, Any], where: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise BundleError(f"{where}: unknown key(s) {', '.join(unknown)}")


@dataclass(frozen=True)
class InputSpec:
    """How to turn a uint8 image into the model's input.

    Pixel p (0..255, after colour conversion and resize) becomes the float value (p - mean) / std per channel,
    which is then quantized with the input tensor's own scale and zero point if the tensor is integer.
    ``mean`` and ``std`` have 1 or 3 entries. ``range`` is the resulting float range, kept for people to read.
    ``raw`` feeds the pixels unchanged (the Coral convention for uint8 models whose quantization already
    describes the range).
    """

    color: str = "RGB"
    resize: str = "stretch"
    mean: tuple[float, ...] = (127.5,)
    std: tuple[float, ...] = (127.5,)
    range: tuple[float, float] | None = (-1.0, 1.0)
    raw: bool = False

    def __post_init__(self) -> None:
        if self.color not in COLORS:
            raise BundleError(f"input.color must be one of {COLORS}, got {self.color!r}")
        if self.resize not in RESIZES:
            raise BundleError(f"input.resize must be one of {RESIZES}, got {self.resize!r}")
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.range is not None:
            object.__setattr__(self, "range", tuple(float(v) for v in self.range))
        if len(self.mean) not in (1, 3) or len(self.std) not in (1, 3) or any(s == 0 for s in self.std):
            raise BundleError("input.mean and input.std need 1 or 3 entries and std must not be 0")

    @classmethod
    def from_range(cls, lo: float, hi: float, **kw) -> "InputSpec":
        """Pixels 0..255 mapped linearly onto [lo, hi]."""
        if not lo < hi:
            raise BundleError(f"input range [{lo}, {hi}] is empty")
        std = 255.0 / (hi - lo)
        return cls(mean=(-lo * std,), std=(std,), range=(lo, hi), **kw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "InputSpec":
        _reject_unknown(cls, data, "manifest input")
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class OutputSpec:
    """How to read the model's outputs.

    decoder: ``logits`` | ``softmax`` | ``probabilities`` (classification: the output holds logits, a
    softmax's or a sigmoid's probabilities, decided from the graph's final op), ``ssd`` (TFLite_Detection_PostProcess: boxes, classes,
    scores, count), ``blazeface`` / ``mediapipe-person`` (raw boxes and scores + anchors), ``yolo-v5`` /
    ``yolo-v8`` (Ultralytics heads), ``segment`` (per-pixel class map). Detector params: see bundle/_decoders.py.
    Segmentation: ``segment`` (per-pixel output, decoder inferred from its shape) or one of ``deeplab-argmax``
    (1xHxW class indices), ``deeplab-logits`` (1xHxWxC class scores), ``mediapipe-selfie`` (1xHxWx1 person probability).
    label_offset: add to a class index before looking it up in labels (e.g. -1 when index 0 is background
    and labels.txt omits it). params: decoder-specific settings (anchor options, score sigmoid, ...).
    """

    decoder: str = "logits"
    label_offset: int = 0
    params: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "OutputSpec":
        _reject_unknown(cls, data, "manifest output")
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Manifest:
    """manifest.json. ``files`` maps each file name in the bundle to {"sha256": hex, "size": bytes}."""

    task: str
    model: str = "model.tflite"
    edgetpu_model: str | None = None
    labels: str | None = None
    input: InputSpec = field(default_factory=InputSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    files: dict = field(default_factory=dict)
    name: str = ""
    created: str = ""
    versions: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        if self.schema not in SUPPORTED_SCHEMAS:
            raise BundleError(
                f"unknown bundle schema {self.schema!r}; this edgesdk reads {', '.join(SUPPORTED_SCHEMAS)} (upgrade edgesdk?)"
            )
        if self.task not in TASKS:
            raise BundleError(f"manifest task must be one of {TASKS}, got {self.task!r}")
        for name in (self.model, self.edgetpu_model, self.labels, *self.files):
            if name is not None and not _is_plain_name(name):
                raise BundleError(f"manifest names an unsafe path {name!r}")
        if not self.created:
            object.__setattr__(self, "created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Manifest":
        if not isinstance(data, Mapping):
            raise BundleError("manifest.json must hold a JSON object")
        if "schema" not in data:
            raise BundleError("manifest.json has no 'schema' key: not an edgesdk bundle")
        _reject_unknown(cls, data, "manifest")
        data = dict(data)
        data["input"] = InputSpec.from_dict(data.get("input", {}))
        data["output"] = OutputSpec.from_dict(data.get("output", {}))
        try:
            return cls(**data)
        except TypeError as exc:
            raise BundleError(f"manifest: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise BundleError(f"manifest.json is not valid JSON: {exc}") from None

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["input"] = self.input.to_dict()
        d["output"] = self.output.to_dict()
        return {"schema": d.pop("schema"), **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    def replace(self, **changes) -> "Manifest":
        return dataclasses.replace(self, **changes)


def _is_plain_name(name: str) -> bool:
    """A file name inside the bundle folder: relative, no '..', no backslashes or drive letters."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name:
        return False
    parts = name.split("/")
    return all(p not in ("", ".", "..") for p in parts)
