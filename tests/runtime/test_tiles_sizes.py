"""TiledDetector on pictures of different sizes one after the other, without reset() (a folder of photos): the
tiles are planned again and nothing followed in one picture is searched for in the next."""

from __future__ import annotations

import numpy as np
import pytest

from _paths import IMAGES
from edgesdk.errors import MissingExtraError
from edgesdk.runtime import read_image

PARROT = IMAGES / "parrot.jpg"  # 512x929: BlazeFace finds small "faces" that tiles and crops follow
GRACE = IMAGES / "grace_hopper.bmp"  # 512x600: one face


@pytest.fixture(scope="module")
def face():
    from edgesdk.runtime.faces import FaceDetector

    if not (PARROT.is_file() and GRACE.is_file()):
        pytest.skip("needs ../shared/testdata")
    try:
        return FaceDetector("face", threads=1)
    except MissingExtraError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("sweep", [1, 4])
def test_a_new_size_replans_the_tiles(face, sweep):
    from edgesdk.runtime.faces import TiledDetector

    big, small = read_image(PARROT), read_image(GRACE)
    assert big.shape != small.shape
    tiled = TiledDetector(face, "auto", sweep_frames=sweep)
    tiled.detect(big)
    assert tiled.last_tiled
    got = tiled.detect(small)  # crashed: crops around the parrot's faces lay outside this picture
    want = TiledDetector(face, "auto", sweep_frames=sweep).detect(small)
    assert len(got) == len(want) >= 1
    np.testing.assert_allclose(got.xyxy, want.xyxy)
    h, w = small.shape[:2]
    assert np.array_equal(tiled.grid(w, h), tiled.plan(w, h).tiles) and tiled.plan(w, h).width == w
    again = tiled.detect(big)  # and back to the first size
    np.testing.assert_allclose(again.xyxy, TiledDetector(face, "auto", sweep_frames=sweep).detect(big).xyxy)
