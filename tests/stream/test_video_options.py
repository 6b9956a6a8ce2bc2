"""detect and anonymize write H.264 with the source's audio (--no-audio drops it; --codec / --crf passed on),
on a clip made here from a shared video plus a generated tone (Debian's ffmpeg)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from _paths import MODELS, TESTDATA

from edgesdk.cli import main

pytestmark = pytest.mark.skipif(not shutil.which("ffmpeg") or not shutil.which("ffprobe"),
                                reason="needs Debian's ffmpeg (apt install ffmpeg)")

VIDEO = TESTDATA / "videos" / "one-by-one-person-detection.mp4"
SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"


def probe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """30 frames (3 s at 10 FPS) of the shared video plus a 440 Hz tone."""
    if not VIDEO.exists():
        pytest.skip(f"test data not available: {VIDEO}")
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(VIDEO), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100:duration=5", "-map", "0:v", "-map", "1:a", "-t", "3",
                    "-c:v", "libx264", "-c:a", "aac", str(out)], check=True)
    return out


def _run(capsys, *argv) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    return rc, err


@pytest.mark.parametrize("cmd", [["detect", SSD], ["anonymize"]], ids=["detect", "anonymize"])
def test_h264_keeps_the_audio_and_no_audio_drops_it(clip, tmp_path, capsys, cmd):
    out, mute = tmp_path / "out.mp4", tmp_path / "mute.mp4"
    rc, err = _run(capsys, *cmd, clip, "-o", out, "--tiles", "off" if cmd == ["anonymize"] else "1x1")
    assert rc == 0, err
    s = probe(out)
    assert s["video"]["codec_name"] == "h264" and int(s["video"]["nb_read_frames"]) == 30
    assert s["audio"]["codec_name"] == "aac" and float(s["audio"]["duration"]) == pytest.approx(3.0, abs=0.1)
    rc, err = _run(capsys, *cmd, clip, "-o", mute, "--no-audio", "--codec", "hevc", "--crf", "30")
    assert rc == 0, err
    s = probe(mute)
    assert "audio" not in s and s["video"]["codec_name"] == "hevc" and int(s["video"]["nb_read_frames"]) == 30


def test_crf_reaches_the_encoder(clip, tmp_path, capsys):
    small, big = tmp_path / "small.mp4", tmp_path / "big.mp4"
    assert _run(capsys, "anonymize", clip, "-o", small, "--crf", "45", "--tiles", "off")[0] == 0
    assert _run(capsys, "anonymize", clip, "-o", big, "--crf", "15", "--tiles", "off")[0] == 0
    assert small.stat().st_size < big.stat().st_size / 2


@pytest.mark.parametrize("cmd", [["detect", SSD], ["anonymize", "--tiles", "off"]], ids=["detect", "anonymize"])
def test_a_source_without_audio_is_not_remuxed(tmp_path, capsys, monkeypatch, cmd):
    """The shared clip has no audio track: the video goes straight to -o, with no second ffmpeg pass (every
    ffmpeg call is logged by a wrapper around the real binary)."""
    if not VIDEO.exists():
        pytest.skip(f"test data not available: {VIDEO}")
    assert "audio" not in probe(VIDEO)
    calls, wrapper = tmp_path / "calls.txt", tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\nexec "{shutil.which("ffmpeg")}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("EDGESDK_FFMPEG", str(wrapper))
    out = tmp_path / "out.mp4"
    rc, err = _run(capsys, cmd[0], *cmd[1:], VIDEO, "--max-frames", 20, "-o", out)
    assert rc == 0, err
    s = probe(out)
    assert "audio" not in s and int(s["video"]["nb_read_frames"]) == 20
    encodes = [c for c in calls.read_text().splitlines() if "rawvideo" in c]
    remuxes = [c for c in calls.read_text().splitlines() if "-c:v copy" in c]
    assert len(encodes) == 1 and str(out) in encodes[0] and remuxes == [], calls.read_text()
