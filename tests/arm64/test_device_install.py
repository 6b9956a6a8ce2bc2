"""The device half on emulated arm64 Debian, installed the README's two ways, each running the README's device
commands: doctor, inspect, classify, detect, anonymize (checked for leaks on the host), bench.

Order matters within this module: the missing-OpenCV case runs on the base install before that venv gets the
``opencv`` extra."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from _device import DATA, WORK

pytestmark = pytest.mark.arm64

MODELS = f"{DATA}/models"
CLASSIFIER = f"{MODELS}/mobilenet_v2_1.0_224_quant.tflite"
SSD = f"{MODELS}/ssd_mobilenet_v1_coco_quant.tflite"


def test_base_install_without_opencv_says_how_to_get_it(device):
    """A plain venv with `pip install edgesdk` has no cv2: doctor names the extra, a command fails with one line."""
    v = device.venv("base")
    doc = device.edgesdk(v, "doctor")
    assert "missing : OpenCV (cv2): not installed (images, video, cameras): pip install 'edgesdk[opencv]'" in doc.stdout
    assert "Linux aarch64" in doc.stdout and "venv: plain" in doc.stdout
    r = device.edgesdk(v, "classify", CLASSIFIER, f"{DATA}/images/grace_hopper.bmp", check=False)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "edgesdk classify: error: OpenCV (cv2) is needed for images and video but is not installed: "
        "pip install 'edgesdk[opencv]'"]
    # a model's own facts need no OpenCV
    info = json.loads(device.edgesdk(v, "inspect", "--json", CLASSIFIER).stdout)
    assert info["edgetpu"]["compiled"] is False


def test_system_site_venv_keeps_apt_numpy_and_opencv(device):
    """Raspberry Pi OS's way: no second numpy or OpenCV lands in the venv; apt's are the ones imported."""
    v = device.venv("system")
    own = device.sh(f"ls {WORK}/{v}/lib/python3*/site-packages").stdout.lower()
    assert "numpy" not in own and "opencv" not in own and "cv2" not in own and "tensorflow" not in own
    r = device.python(v, "import cv2, numpy, edgesdk.runtime; print(cv2.__file__); print(numpy.__file__); "
                         "print(cv2.__version__, numpy.__version__)")
    cv2_file, np_file, versions = r.stdout.split("\n")[:3]
    assert cv2_file.startswith("/usr/lib/python3/dist-packages/"), cv2_file
    assert np_file.startswith("/usr/lib/python3/dist-packages/numpy/"), np_file
    device.measured["apt_opencv_numpy"] = versions
    doc = device.edgesdk(v, "doctor")
    assert "venv: system-site-packages" in doc.stdout and "missing :" not in doc.stdout, doc.stdout
    assert "ai_edge_litert" in doc.stdout


@pytest.mark.parametrize("kind", ["system", "plain"])
def test_classify_detect(device, kind):
    v = device.venv(kind)
    out = json.loads(device.edgesdk(v, "classify", "--json", CLASSIFIER, f"{DATA}/images/grace_hopper.bmp").stdout)
    top = out["results"][0]["classes"][0]
    assert top["label"] == "military uniform", out
    det = json.loads(device.edgesdk(v, "detect", "--json", SSD, f"{DATA}/images/kite_and_cold.jpg").stdout)
    classes = [d["class_id"] for d in det["results"][0]["detections"]]
    assert classes.count(0) >= 2 and 37 in classes, classes  # people (COCO 0) and kites (37)


@pytest.mark.parametrize("kind", ["system", "plain"])
def test_anonymize_covers_every_face(device, kind):
    """A few frames of again.mkv anonymized on the device; on the host, the project's leak check finds the face
    in every input frame and never in the output."""
    import cv2

    from _paths import TESTDATA
    from edgesdk.runtime.anonymize import count_leaks, thorough_face_detector

    v = device.venv(kind)
    frames = 6
    out = f"{WORK}/anon-{kind}"
    t0 = time.monotonic()
    r = device.edgesdk(v, "anonymize", f"{DATA}/videos/again.mkv", "-o", f"{out}/", "--max-frames", str(frames))
    device.measured[f"anonymize_{frames}_frames_s_{kind}"] = round(time.monotonic() - t0, 1)
    written = sorted(device.host(out).iterdir())
    assert len(written) == frames, (r.stdout, r.stderr, written)
    cap = cv2.VideoCapture(str(TESTDATA / "videos" / "again.mkv"))
    inputs = [cap.read()[1] for _ in range(frames)]
    cap.release()
    outputs = [cv2.imread(str(p)) for p in written]
    assert all(o is not None and o.shape == i.shape for i, o in zip(inputs, outputs))
    rep = count_leaks(zip(inputs, outputs), reference=thorough_face_detector(threshold=0.9), match_iou=0.5)
    assert rep.input_faces == frames  # the person's face, in every frame
    assert rep.leaked_faces == 0, rep.to_dict()
    assert not np.array_equal(inputs[0], outputs[0])


def test_bench_and_timings(device):
    v = device.venv("system")
    rep = json.loads(device.edgesdk(v, "bench", "--json", "--runs", "3", "--warmup", "1", "--threads", "1",
                                    CLASSIFIER).stdout)
    text = json.dumps(rep)
    assert "aarch64" in text, text[:2000]
    # For the record (emulation: says nothing about a Pi's speed): import time and the first frame.
    code = ("import time; t0 = time.perf_counter(); import edgesdk.runtime as r; t1 = time.perf_counter(); "
            f"m = r.load('{CLASSIFIER}', threads=1); top = m.classify(r.read_image('{DATA}/images/grace_hopper.bmp')); "
            "t2 = time.perf_counter(); print(round(t1 - t0, 2), round(t2 - t1, 2))")
    imp, first = device.python(v, code).stdout.split()
    device.measured["import_edgesdk_runtime_s"] = float(imp)
    device.measured["first_frame_classify_s"] = float(first)
