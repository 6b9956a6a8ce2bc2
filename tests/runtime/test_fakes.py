"""The fakes edgesdk.testing ships for applications: a fake interpreter wrapped as a runtime Model, fed by the
fake camera. An application's classify loop runs on them without a model file or hardware."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.bundle import InputSpec, OutputSpec
from edgesdk.errors import InputError
from edgesdk.testing import FakeCamera, FakeInterpreter, fake_model


def _brightness_classifier() -> FakeInterpreter:
    """(1, 8, 8, 3) uint8 -> 3 logits: dark, medium, bright, from the mean pixel value."""

    def compute(inputs: list[np.ndarray]) -> list[np.ndarray]:
        m = float(inputs[0].mean())
        return [np.array([[-abs(m - 30), -abs(m - 128), -abs(m - 220)]], np.float32)]

    return FakeInterpreter([("image", (1, 8, 8, 3), np.uint8, (0.0, 0))],
                           [("logits", (1, 3), np.float32, (0.0, 0))], compute)


def test_fake_model_classifies_through_the_real_preprocessing():
    interp = _brightness_classifier()
    model = fake_model(interp, labels=["dark", "medium", "bright"],
                       input_spec=InputSpec(raw=True, range=None), output_spec=OutputSpec(decoder="logits"))
    assert model.input_size == (8, 8)
    for value, label in ((20, "dark"), (120, "medium"), (240, "bright")):
        image = np.full((48, 64, 3), value, np.uint8)  # resized to 8x8 by the runtime's preprocessing
        top = model.classify(image, top_k=1)
        assert top.label(0) == label
    assert interp.invocations == 3
    with pytest.raises(InputError, match="expects shape"):
        model.invoke(np.zeros((1, 4, 4, 3), np.uint8))


def test_fake_camera_frames_drive_the_fake_model():
    model = fake_model(_brightness_classifier(), labels=["dark", "medium", "bright"],
                       input_spec=InputSpec(raw=True, range=None))
    with FakeCamera(size=(64, 48), fps=100, max_frames=5) as cam:
        frames = list(cam)
    assert len(frames) == 5
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(b.index > a.index and b.timestamp > a.timestamp for a, b in zip(frames, frames[1:]))
    results = [model.classify(f.image, top_k=1) for f in frames]
    assert all(len(r) == 1 and r.label(0) in ("dark", "medium", "bright") for r in results)
