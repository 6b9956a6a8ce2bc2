"""The arm64 tier: the device half installed and run in an emulated arm64 Debian root (``_root.py``).

Runs only when asked for (``pytest -m arm64 tests/arm64``, as ``.ci/run`` does): minutes under emulation.
Suites: ``EDGESDK_ARM64_SUITES`` (default ``bookworm``; ``bookworm,trixie`` adds Trixie with Python 3.13).
Skips, with the reason in the summary, when the root cannot be made (no binfmt, no debootstrap, no mirror).
Measurements (install sizes, times under emulation) are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _paths import REPO, TESTDATA

sys.path.insert(0, str(Path(__file__).parent))
from _device import Device  # noqa: E402
from _root import RootUnavailable, ensure_root  # noqa: E402

SUITES = [s for s in os.environ.get("EDGESDK_ARM64_SUITES", "bookworm").split(",") if s]
MEASURED: dict[str, dict] = {}
SKIPPED: dict[str, str] = {}


def _tier_selected(config) -> bool:
    expr = config.getoption("markexpr") or ""
    return "arm64" in expr and "not arm64" not in expr


def pytest_collection_modifyitems(config, items):
    if _tier_selected(config):
        return
    skip = pytest.mark.skip(reason="arm64 tier: run it with `pytest -m arm64 tests/arm64` (emulated, minutes)")
    for item in items:
        if item.get_closest_marker("arm64"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    for suite, why in SKIPPED.items():
        terminalreporter.write_line(f"arm64 tier ({suite}) SKIPPED: {why}", yellow=True, bold=True)
    if MEASURED:
        terminalreporter.write_sep("-", "arm64 measurements (under emulation: times say nothing about a Pi's speed)")
        for suite, values in MEASURED.items():
            terminalreporter.write_line(f"{suite}: {json.dumps(values)}")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built as a release would be (python -m build --wheel)."""
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("edgesdk-*.whl")
    return whl


@pytest.fixture(scope="session", params=SUITES)
def device(request, tmp_path_factory) -> Device:
    """An arm64 root with /proc, /sys, the test data (read-only, /mnt/testdata) and a work folder (/mnt/work,
    holding the wheel) mounted; unmounted at the end of the session."""
    if not TESTDATA.exists():
        pytest.skip(f"test data not available: {TESTDATA}")
    try:
        root = ensure_root(request.param)
    except RootUnavailable as exc:
        SKIPPED[request.param] = str(exc)
        pytest.skip(f"arm64 tier skipped: {exc}")
    wheel = request.getfixturevalue("wheel")
    work = tmp_path_factory.mktemp(f"arm64-{request.param}")
    (work / wheel.name).write_bytes(wheel.read_bytes())
    dev = Device(root, work, request.param, wheel.name, MEASURED.setdefault(request.param, {}))
    dev.mount(TESTDATA)
    request.addfinalizer(dev.unmount)
    return dev
