import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from _tiny import CIFAR, cifar_subset, tiny_net  # noqa: E402

if not CIFAR.is_dir():
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def cifar_small(tmp_path_factory):
    """30 images per class of the 10 CIFAR classes (symlinks)."""
    return cifar_subset(tmp_path_factory.mktemp("cifar") / "train", 30)


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.h5"
    tiny_net().save(path)
    return path
