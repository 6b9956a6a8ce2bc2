"""Model: one loaded TFLite model with its interpreter, tensors, input pipeline and decoders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..bundle import Bundle, InputSpec, OutputSpec
from ..errors import InputError, ModelError
from ..results import Classifications, Detections
from ._backends import Backend
from ._preprocess import Preprocessor, Transform
from ._tensors import TensorSpec
from .decoders import decode_classification

if TYPE_CHECKING:
    from .decoders.detect import DetectionDecoder

log = logging.getLogger(__name__)

_KINDS = {"classify": "classification", "detect": "detection", "segment": "segmentation", "face": "face detection"}
_COMMANDS = {"detect": "detect", "face": "anonymize"}


class Model:
    """A TFLite model ready to run. Build it with :func:`edgesdk.runtime.load`.

    ``inputs`` / ``outputs``: TensorSpec per tensor. ``invoke`` runs raw tensors; ``run`` feeds a BGR uint8
    image through the model's input pipeline (``preprocess``) and returns dequantized float32 outputs;
    ``classify`` and ``detect`` decode them.
    """

    def __init__(
        self,
        interpreter,
        *,
        path: Path,
        backend: Backend,
        device: str,
        delegate: object | None,
        threads: int | None,
        input_spec: InputSpec,
        output_spec: OutputSpec,
        labels: Sequence[str] = (),
        bundle: Bundle | None = None,
        task: str | None = None,
    ) -> None:
        self.interpreter = interpreter
        self.path = path
        self.backend = backend
        self.device = device
        self.delegate = delegate
        self.threads = threads
        self.input_spec = input_spec
        self.output_spec = output_spec
        self.labels = list(labels)
        self.bundle = bundle
        self.task = task
        self.inputs = [TensorSpec.from_details(d) for d in interpreter.get_input_details()]
        self.outputs = [TensorSpec.from_details(d) for d in interpreter.get_output_details()]
        self._image_input = self._find_image_input()
        self._pre: Preprocessor | None = None
        self._detector: DetectionDecoder | None = None
        # Inputs other than the image (e.g. an LSTM's state) are fed zeros: the real value 0.
        self._others = {
            t.index: t.quantize(np.zeros(t.shape, np.float32)) for i, t in enumerate(self.inputs) if i != self._image_input
        }

    # --- description -------------------------------------------------------------------------------------------
    def _find_image_input(self) -> int:
        for i, t in enumerate(self.inputs):
            if len(t.shape) == 4 and t.shape[0] == 1 and t.shape[3] in (1, 3):
                return i
        return 0

    @property
    def image_input(self) -> TensorSpec:
        return self.inputs[self._image_input]

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the image input in pixels."""
        s = self.image_input.shape
        return (int(s[2]), int(s[1])) if len(s) == 4 else (0, 0)

    def __repr__(self) -> str:
        return f"Model({self.path.name}, device={self.device}, backend={self.backend.name} {self.backend.version})"

    def require_task(self, task: str) -> None:
        """Raise ModelError when the model is known to do something other than ``task``."""
        if self.task is None or self.task == task:
            return
        what = _KINDS.get(self.task, self.task)
        hint = f"; use `edgesdk {_COMMANDS[self.task]}`" if self.task in _COMMANDS else ""
        raise ModelError(f"{self.path.name} is a {what} model, not a {_KINDS.get(task, task)} model{hint}")

    # --- running -----------------------------------------------------------------------------------------------
    def invoke(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """Set every input from ``arrays`` (exact shape and dtype), invoke, return the raw outputs (copies)."""
        if len(arrays) != len(self.inputs):
            raise InputError(f"{self.path.name} takes {len(self.inputs)} input(s), got {len(arrays)}")
        it = self.interpreter
        for spec, arr in zip(self.inputs, arrays):
            self._check(spec, arr)
            it.set_tensor(spec.index, arr)
        it.invoke()
        return [it.get_tensor(o.index) for o in self.outputs]

    @staticmethod
    def _check(spec: TensorSpec, arr: np.ndarray) -> None:
        if not isinstance(arr, np.ndarray):
            raise InputError(f"input {spec.name!r} expects a numpy array, got {type(arr).__name__}")
        if tuple(arr.shape) != spec.shape or arr.dtype != spec.dtype:
            raise InputError(
                f"input {spec.name!r} expects shape {spec.shape} {spec.dtype.name}, got {tuple(arr.shape)} "
                f"{arr.dtype.name}" + (" (use Model.run(image) to resize and convert an image)" if len(spec.shape) == 4 else "")
            )

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        """BGR uint8 image (H, W, 3) -> (input tensor (1, h, w, c) in the model's dtype, Transform).
        The returned tensor is a buffer reused by the next call."""
        if self._pre is None:
            self._pre = Preprocessor(self.image_input, self.input_spec)
        return self._pre(image)

    def invoke_image(self, image: np.ndarray) -> tuple[list[np.ndarray], Transform]:
        """Preprocess ``image`` and invoke; returns (raw outputs, Transform)."""
        tensor, tf = self.preprocess(image)
        it = self.interpreter
        it.set_tensor(self.image_input.index, tensor)
        for idx, value in self._others.items():
            it.set_tensor(idx, value)
        it.invoke()
        return [it.get_tensor(o.index) for o in self.outputs], tf

    def run(self, image: np.ndarray) -> list[np.ndarray]:
        """Preprocess, invoke, and return every output dequantized to float32."""
        raw, _ = self.invoke_image(image)
        return [spec.dequantize(r) for spec, r in zip(self.outputs, raw)]

    def classify(self, image: np.ndarray, top_k: int = 5, threshold: float = 0.0) -> Classifications:
        """Top-k classes of one BGR image.

        Raises ModelError for a model whose task is not classification (detection, segmentation, faces)."""
        self.require_task("classify")
        raw, _ = self.invoke_image(image)
        scores = self.outputs[0].dequantize(raw[0])
        # logits get a softmax; a graph ending in SOFTMAX/LOGISTIC already gives probabilities
        activation = "softmax" if self.output_spec.decoder == "logits" else "none"
        return decode_classification(
            scores, top_k, activation=activation, label_offset=self.output_spec.label_offset,
            labels=self.labels, threshold=threshold,
        )

    @property
    def detection_decoder(self) -> DetectionDecoder:
        """The decoder ``detect`` uses: the one the bundle's manifest names (or the loader recognised for a bare
        .tflite), built once. Raises ModelError when the model is not a detector or its outputs do not fit."""
        if self._detector is None:
            from .decoders.detect import detection_decoder  # loaded on first use: keeps the runtime import light

            try:
                self._detector = detection_decoder(self.output_spec, self.outputs, self.input_size)
            except ValueError as exc:
                task = f"a {self.task} model" if self.task else "not a detection model"
                raise ModelError(f"{self.path.name} is {task}: {exc}; `detect` needs a detection model") from None
        return self._detector

    def detect(self, image: np.ndarray, threshold: float = 0.5) -> Detections:
        """Boxes in the image's pixel coordinates, decoded by :attr:`detection_decoder` (SSD post-process,
        YOLO v5 / v8, BlazeFace, MediaPipe person)."""
        decoder = self.detection_decoder
        raw, tf = self.invoke_image(image)
        det = decoder(raw, threshold)
        if self.output_spec.label_offset:
            det = type(det)(det.xyxy, det.score, det.class_id + self.output_spec.label_offset, det.keypoints, det.normalized)
        return tf.to_source(det)
