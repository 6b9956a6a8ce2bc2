"""Shared fixtures: paths into ../shared/testdata (tests skip cleanly where it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _paths import IMAGES, MODELS, TESTDATA


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """`pytest -m "not slow"` (the quick tier) runs on two cores when pytest-xdist is installed (the `dev` extra):
    as `-n 2`. Any -n given (`-n 0`: one process), --pdb, `-p no:xdist`, another -m or none (the full suite CI
    runs) leave pytest as it is."""
    opt = config.option
    if (getattr(opt, "numprocesses", "absent") is None and getattr(opt, "markexpr", "") == "not slow"
            and not opt.usepdb and not hasattr(config, "workerinput") and (os.cpu_count() or 1) >= 2):
        opt.numprocesses = 2


def pytest_collection_modifyitems(config, items):
    """Without ../shared/testdata at all, every test of a module that names a path in it (``from _paths import
    MODELS``, ``GRACE = IMAGES / ...``) is skipped with the reason, not failed; single missing files skip through
    the fixtures below."""
    if TESTDATA.is_dir():
        return
    root = str(TESTDATA)
    skip = pytest.mark.skip(reason=f"test data not available: {TESTDATA} (see ../shared/README.md)")
    needs: dict[object, bool] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module not in needs:
            needs[module] = module is not None and any(
                isinstance(v, (str, os.PathLike)) and os.fspath(v).startswith(root) for v in vars(module).values())
        if needs[module]:
            item.add_marker(skip)


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


@pytest.fixture(scope="session")
def cifar_small(tmp_path_factory):
    """30 images per class of the 10 CIFAR classes (symlinks), for the training and recipe tests."""
    from _tiny import cifar_subset

    return cifar_subset(tmp_path_factory.mktemp("cifar") / "train", 30)


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory):
    """A tiny conv net for 32x32 CIFAR images, saved as .h5."""
    from _tiny import tiny_net

    path = tmp_path_factory.mktemp("model") / "tiny.h5"
    tiny_net().save(path)
    return path
