"""`edgesdk anonymize` end to end: outputs that play, bad inputs (one line, exit 1, nothing written), corrupt
frames, a full disk, Ctrl-C, the MJPEG server with a real HTTP client, streams, the Pi camera and detector bundles."""

from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from _paths import IMAGES, MODELS, REPO, TESTDATA
from _proc import signal_when_written

from edgesdk.cli import main
from edgesdk.runtime.sinks import MjpegServer, parse_hostport
from edgesdk.runtime.sources import PiCameraSource, StreamSource
from edgesdk.testing import install_fake_picamera2

VIDEOS = TESTDATA / "videos"
GIF = VIDEOS / "face-demographics-walking.gif"


def _run(capsys, *argv):
    rc = main(["anonymize", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def _video_info(path: Path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    size = None
    while True:
        ok, im = cap.read()
        if not ok:
            break
        size = (im.shape[1], im.shape[0])
        n += 1
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return n, size, fps


def test_demo_to_mp4_with_events(tmp_path, capsys):
    out, ev = tmp_path / "demo.mp4", tmp_path / "ev.jsonl"
    rc, stdout, err = _run(capsys, "demo", "-o", out, "--events", ev, "--max-frames", 12, "--json")
    assert rc == 0, err
    rep = json.loads(stdout)
    assert rep["ok"] and rep["frames_written"] == 12 and rep["size"] == [640, 480]
    assert set(rep["stage_ms_per_frame"]) == {"capture", "detect", "render", "write"}
    assert _video_info(out) == (12, (640, 480), 30.0)
    lines = [json.loads(line) for line in ev.read_text().splitlines()]
    assert [e["frame"] for e in lines] == list(range(12))
    assert sum(len(e["boxes"]) for e in lines) >= 12  # the astronaut's face, in every frame
    for e in lines:
        assert set(e) <= {"frame", "t", "boxes", "blanked"}
        for b in e["boxes"]:
            assert set(b) <= {"box", "score", "class_id", "label", "track", "held"} and len(b["box"]) == 4


def test_demo_defaults_to_150_frames(capsys, tmp_path):
    rc, stdout, err = _run(capsys, "demo", "--events", tmp_path / "e.jsonl", "--json", "--tiles", "off")
    assert rc == 0, err
    assert json.loads(stdout)["frames_written"] == 150


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".mkv"])
def test_video_keeps_size_and_frame_rate(tmp_path, capsys, ext):
    if not GIF.exists():
        pytest.skip("test data not available")
    out = tmp_path / f"walk{ext}"
    rc, _, err = _run(capsys, GIF, "-o", out, "--max-frames", 6)
    assert rc == 0, err
    n, size, fps = _video_info(out)
    assert (n, size) == (6, (480, 270)) and fps == pytest.approx(12.5, abs=0.05)


def test_image_folder_to_folder_keeps_names(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(IMAGES / "face.jpg", src / "a.jpg")
    shutil.copy(IMAGES / "grace_hopper.bmp", src / "b.bmp")
    (src / "notes.txt").write_text("not an image")
    rc, _, err = _run(capsys, src, "-o", str(tmp_path / "out") + "/", "--mode", "pixelate")
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "b.jpg"]


def test_single_image_to_image(tmp_path, capsys):
    out = tmp_path / "face_anon.png"
    rc, _, err = _run(capsys, IMAGES / "face.jpg", "-o", out, "--mode", "mask", "--feather", "4")
    assert rc == 0, err
    a, b = cv2.imread(str(IMAGES / "face.jpg")), cv2.imread(str(out))
    assert a.shape == b.shape and not np.array_equal(a, b)


def _bad_cases(tmp: Path):
    garbage = tmp / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))
    empty_dir = tmp / "empty"
    empty_dir.mkdir()
    (empty_dir / "readme.txt").write_text("x")
    clip = tmp / "clip.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(3):
        w.write(np.full((48, 64, 3), i * 40, np.uint8))
    w.release()
    return [
        (["missing.mp4", "-o", "o.mp4"], "video not found"),
        ([garbage, "-o", "o.mp4"], "cannot decode"),
        ([empty_dir, "-o", "outdir/"], "no images in"),
        (["/dev/video9", "-o", "o.mp4"], "no camera at /dev/video9"),
        ([clip, "-o", "o.xyz"], "unsupported output extension .xyz"),
        ([clip, "-o", clip], "is the input"),
        ([clip, "-o", "nope/o.mp4"], "does not exist"),
        ([clip, "-o", "o.jpg"], "one image but the source has more frames"),
        ([clip, "--events", "nope/e.jsonl"], "does not exist"),
        (["demo"], "nothing to write"),  # a file source without -o gets <name>_anonymized.<ext> (test_stream_first_hour)
        ([clip, "-o", "o.mp4", "--detector", "nope.tflite"], "detector not found"),
    ]


def test_bad_inputs_fail_cleanly(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, message in _bad_cases(tmp_path):
        before = sorted(p.name for p in tmp_path.rglob("*"))
        rc, out, err = _run(capsys, *argv)
        lines = err.strip().splitlines()
        assert rc == 1, (argv, err)
        assert len(lines) == 1 and lines[0].startswith("edgesdk anonymize: error:") and message in lines[0], (argv, err)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, f"{argv} left files behind"


def test_busy_camera_is_one_clear_line(tmp_path, capsys, monkeypatch):
    """No camera exists here: the device node and its EBUSY answer are simulated at the os level."""
    from edgesdk.runtime.sources import _camera

    real_open = os.open

    class _Node(type(Path())):
        def exists(self):
            return str(self) == "/dev/video7" or super().exists()

    def fake_open(path, flags, *a):
        if str(path) == "/dev/video7":
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_open(path, flags, *a)

    monkeypatch.setattr(_camera, "Path", _Node)
    monkeypatch.setattr(_camera.os, "access", lambda p, m: True if str(p) == "/dev/video7" else os.access(p, m))
    monkeypatch.setattr(_camera.os, "open", fake_open)
    rc, _, err = _run(capsys, "/dev/video7", "-o", tmp_path / "o.mp4")
    assert rc == 1 and err.strip() == "edgesdk anonymize: error: camera /dev/video7 is busy (another program is using it)"
    assert not (tmp_path / "o.mp4").exists()


def test_corrupt_frame_mid_file_is_skipped_and_counted(tmp_path, capsys):
    clip = tmp_path / "c.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(20):
        w.write(np.full((120, 160, 3), i * 10, np.uint8))
    w.release()
    data = bytearray(clip.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    assert len(starts) == 20
    data[starts[10]:starts[10] + 300] = bytes(300)  # wipe frame 10's JPEG header
    clip.write_bytes(bytes(data))
    rc, stdout, err = _run(capsys, clip, "-o", tmp_path / "o.mp4", "--json")
    assert rc == 0, err
    rep = json.loads(stdout)
    assert rep["skipped"] == 1 and rep["frames_written"] == 19
    assert _video_info(tmp_path / "o.mp4")[0] == 19


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_disk_full_stops_with_error_and_leaves_playable_file(tmp_path, capsys):
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "3m"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        out = small / "o.avi"
        rc, stdout, err = _run(capsys, "demo", "-o", out, "--max-frames", 2000, "--tiles", "off")
        assert rc == 1 and "disk full while writing" in err and len(err.strip().splitlines()) == 1, err
        n, size, _ = _video_info(out)
        assert n > 5 and size == (640, 480)
    finally:
        subprocess.run(["umount", str(small)], check=False)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


def test_ctrl_c_finalizes_output_and_exits_0(tmp_path):
    out, ev = tmp_path / "live.mp4", tmp_path / "ev.jsonl"
    rc, stdout, stderr = signal_when_written(
        [sys.executable, "-m", "edgesdk", "anonymize", "demo", "-o", str(out), "--max-frames", "100000",
         "--tiles", "off", "--json", "--events", str(ev)], ev, signal.SIGINT, env=_env())
    assert rc == 0, stderr
    rep = json.loads(stdout)
    assert rep["interrupted"] and rep["frames_written"] > 0
    assert _video_info(out)[0] == rep["frames_written"]
    assert len(ev.read_text().splitlines()) == rep["frames_written"]  # the events file is closed whole too


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_parts(host, port, n, timeout=30.0) -> list[bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.request("GET", "/stream.mjpg")
    resp = conn.getresponse()
    assert resp.status == 200
    ctype = resp.getheader("Content-Type")
    assert ctype.startswith("multipart/x-mixed-replace; boundary=")
    boundary = ctype.split("boundary=")[1].encode()
    parts = []
    while len(parts) < n:
        line = resp.fp.readline()
        if not line:
            break
        if line.strip() != b"--" + boundary:
            continue
        headers = {}
        while True:
            h = resp.fp.readline().strip()
            if not h:
                break
            k, _, v = h.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        assert headers["content-type"] == "image/jpeg"
        parts.append(resp.fp.read(int(headers["content-length"])))
    conn.close()
    return parts


def test_mjpeg_server_page_and_stream_with_real_client(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgesdk", "anonymize", "demo", "--serve", f":{port}", "--max-frames", "100000",
         "--tiles", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )
    try:
        deadline = time.time() + 60
        page = None
        while time.time() < deadline and page is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                time.sleep(0.2)
        assert page is not None and '<img src="/stream.mjpg"' in page
        assert "faces anonymized on the device" in page
        parts = _read_parts("127.0.0.1", port, 3)
        assert len(parts) == 3
        for jpeg in parts:
            im = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert im is not None and im.shape == (480, 640, 3)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/snapshot.jpg", timeout=5).headers["Content-Type"] == "image/jpeg"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert f"serving the anonymized stream at http://127.0.0.1:{port}/" in stderr
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_binds_loopback_unless_told():
    assert parse_hostport(":8080") == ("127.0.0.1", 8080)
    assert parse_hostport("8080") == ("127.0.0.1", 8080)
    assert parse_hostport("0.0.0.0:81") == ("0.0.0.0", 81)
    assert parse_hostport("[::1]:9000") == ("::1", 9000)
    with pytest.raises(ValueError):
        parse_hostport("host:http")


def _feeder(server, stop):
    i = 0
    while not stop.is_set():
        server.write(np.full((96, 128, 3), (i * 7) % 255, np.uint8))
        i += 1
        time.sleep(0.02)


def test_stream_source_reads_mjpeg_and_reopens_after_drop():
    srv = MjpegServer("127.0.0.1", 0)
    port = srv.address[1]
    stop = threading.Event()
    threading.Thread(target=_feeder, args=(srv, stop), daemon=True).start()
    src = StreamSource(f"http://127.0.0.1:{port}/stream.mjpg", open_timeout=5)
    src.open()
    assert src.size == (128, 96)
    it = iter(src)
    got = [next(it) for _ in range(5)]
    # the server goes away and comes back on the same port: the source reopens and continues
    stop.set()
    srv.close()
    srv2 = MjpegServer("127.0.0.1", port)
    stop2 = threading.Event()
    threading.Thread(target=_feeder, args=(srv2, stop2), daemon=True).start()
    try:
        more = [next(it) for _ in range(5)]
        assert src.reopens >= 1 and len(got) + len(more) == 10
    finally:
        src.close()
        stop2.set()
        srv2.close()


def test_unreachable_stream_is_one_line(capsys, tmp_path):
    rc, _, err = _run(capsys, f"http://127.0.0.1:{_free_port()}/x.mjpg", "-o", tmp_path / "o.mp4")
    assert rc == 1 and "cannot open stream" in err and len(err.strip().splitlines()) == 1


def test_picamera_off_a_pi_is_a_clear_error(capsys, tmp_path):
    rc, _, err = _run(capsys, "picamera", "-o", tmp_path / "o.mp4")
    assert rc == 1 and "picamera2 is needed" in err and "edgesdk[pi]" in err


def test_picamera_source_with_fake_picamera2(monkeypatch):
    fake = install_fake_picamera2(monkeypatch)
    src = PiCameraSource(0, size=(320, 240), max_frames=4)
    frames = list(src)
    src.close()
    assert len(frames) == 4 and frames[0].image.shape == (240, 320, 3)
    cam = fake.instances[0]
    assert cam.closed and not cam.started
    with pytest.raises(Exception, match="no Raspberry Pi camera 3"):
        PiCameraSource(3).open()


def test_detector_bundle_with_class_filter(tmp_path, capsys):
    model = MODELS / "ssd_traffic_lstm_quant.tflite"
    if not model.exists():
        pytest.skip("test data not available")
    ev = tmp_path / "e.jsonl"
    rc, _, err = _run(capsys, IMAGES / "grace_hopper.bmp", "-o", tmp_path / "o.jpg", "--detector", model,
                      "--classes", "1", "--threshold", "0.08", "--events", ev)
    assert rc == 0, err
    boxes = json.loads(ev.read_text())["boxes"]
    assert boxes and all(b["class_id"] == 1 and b["label"] == f"{model.name}:1" for b in boxes)
    a, b = cv2.imread(str(IMAGES / "grace_hopper.bmp")), cv2.imread(str(tmp_path / "o.jpg"))
    x1, y1, x2, y2 = (int(v) for v in boxes[0]["box"])
    assert np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2].astype(int)).mean() > 5
    rc, _, err = _run(capsys, IMAGES / "grace_hopper.bmp", "-o", tmp_path / "o2.jpg", "--detector", model, "--classes", "car")
    assert rc == 1 and "class 'car' is not a label" in err
    rc, _, err = _run(capsys, IMAGES / "grace_hopper.bmp", "-o", tmp_path / "o3.jpg", "--classes", "1")
    assert rc == 1 and "--classes selects classes of a detector bundle" in err


def test_help_shows_the_issue_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["anonymize", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--detector", "--mode", "--threshold", "--mask-scale", "--tiles", "--hold-frames", "--events",
                "--serve", "--max-frames", "--device", "--threads", "--json", "(default: 1.3)"):
        assert opt in text, opt
