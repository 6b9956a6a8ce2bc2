"""The wheel installs into a fresh virtual environment without TensorFlow, and imports stay light and fast."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from _paths import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True, capture_output=True, text=True,
    )
    (whl,) = out.glob("edgesdk-*.whl")
    return whl


def test_wheel_maps_folders_under_edgesdk(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"edgesdk"}  # no top-level runtime/ converters/ benchmarks/
    for pkg in ("edgesdk/runtime/__init__.py", "edgesdk/converters/__init__.py", "edgesdk/benchmarks/__init__.py",
                "edgesdk/converters/recipes/__init__.py", "edgesdk/py.typed"):
        assert pkg in names
    # every folder with an __init__.py under the mapped roots is in the wheel (setup.py lists them)
    for root, name in (("edgesdk", "edgesdk"), ("runtime", "edgesdk/runtime"), ("converters", "edgesdk/converters"),
                       ("benchmarks", "edgesdk/benchmarks")):
        for init in (REPO / root).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                assert f"{name}/{init.relative_to(REPO / root).as_posix()}" in names


@pytest.mark.slow
def test_fresh_venv_without_tensorflow(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True, text=True)
    code = (
        "import sys, time; t = time.perf_counter(); import edgesdk, edgesdk.runtime; dt = time.perf_counter() - t;"
        "import importlib.util as u;"
        "print(edgesdk.runtime.__file__); print('tensorflow' in sys.modules, u.find_spec('tensorflow') is None);"
        "print(dt)"
    )
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    path, flags, dt = r.stdout.split("\n")[:3]
    assert str(env_dir) in path  # imported from the installed wheel, not the source tree
    assert flags == "False True"  # tensorflow neither imported nor installed
    assert float(dt) < 2.0  # the fast-import budget is checked in the test below; this one just catches disasters
    r = subprocess.run([str(env_dir / "bin" / "edgesdk"), "doctor", "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_import_is_fast_and_light():
    code = (
        "import sys, time; t = time.perf_counter(); import edgesdk, edgesdk.runtime; "
        "print(time.perf_counter() - t); print(sorted(m for m in ('tensorflow', 'tf_keras', 'picamera2', 'matplotlib') if m in sys.modules))"
    )
    times = []
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        dt, mods = r.stdout.splitlines()
        assert mods == "[]"
        times.append(float(dt))
    assert min(times) < 0.5, times
