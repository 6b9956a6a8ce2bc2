"""Shared fixtures: paths into ../shared/testdata (tests skip cleanly where it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from _paths import IMAGES, MODELS, REPO, SHARED, TESTDATA  # noqa: F401  (re-exported for fixtures below)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data not available: {path}")
    return path


@pytest.fixture(scope="session")
def testdata() -> Path:
    return _need(TESTDATA)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return _need(MODELS)


@pytest.fixture(scope="session")
def images_dir() -> Path:
    return _need(IMAGES)


@pytest.fixture(scope="session")
def mobilenet_v2_quant() -> Path:
    return _need(MODELS / "mobilenet_v2_1.0_224_quant.tflite")


@pytest.fixture(scope="session")
def ssd_model() -> Path:
    return _need(MODELS / "ssd_traffic_lstm_quant.tflite")


@pytest.fixture(scope="session")
def grace_hopper() -> Path:
    return _need(IMAGES / "grace_hopper.bmp")
