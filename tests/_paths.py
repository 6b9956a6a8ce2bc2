"""Paths into ../shared/testdata, importable from any test (``from _paths import MODELS``).

Kept out of conftest.py: several folders have a conftest.py, and ``from conftest import ...`` would pick
whichever pytest imported last."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESDK_SHARED", REPO.parent / "shared"))
TESTDATA = SHARED / "testdata"
MODELS = TESTDATA / "models"
IMAGES = TESTDATA / "images"
