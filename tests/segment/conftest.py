"""Segmentation fixtures: the shared test models (skip cleanly where ../shared/testdata is absent)."""

from __future__ import annotations

import pytest

from _paths import IMAGES, MODELS


def _need(path):
    if not path.exists():
        pytest.skip(f"test data not available: {path}")
    return path


@pytest.fixture(scope="session")
def deeplab():
    return _need(MODELS / "deeplabv3_mnv2_dm05_pascal_quant.tflite")


@pytest.fixture(scope="session")
def selfie():
    return _need(MODELS / "selfie_segmentation.tflite")


@pytest.fixture(scope="session")
def landscape():
    return _need(MODELS / "selfie_segmentation_landscape.tflite")


@pytest.fixture(scope="session")
def hopper():
    return _need(IMAGES / "grace_hopper.bmp")


@pytest.fixture(scope="session")
def pets():
    return _need(IMAGES / "pets.jpg")
