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
    """The shared clip has no audio track: one encode, no second ffmpeg pass (every ffmpeg call is logged by a
    wrapper around the real binary)."""
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
    assert len(encodes) == 1 and remuxes == [], calls.read_text()


def test_no_audio_mux_for_a_gif_source(tmp_path):
    """A source format without audio (GIF) skips the second ffmpeg run that would look for an audio track."""
    import numpy as np

    from edgesdk.runtime.sinks._ffmpeg import FfmpegWriter, find_ffmpeg

    gif = TESTDATA / "videos" / "face-demographics-walking.gif"
    w = FfmpegWriter(find_ffmpeg(), tmp_path / "o.mp4", 10.0, (64, 48), audio_from=gif)
    assert w.audio_from is None
    for _ in range(3):
        w.write(np.zeros((48, 64, 3), np.uint8))
    w.close()
    assert probe(tmp_path / "o.mp4")["video"]["nb_read_frames"] == "3"
    kept = FfmpegWriter(find_ffmpeg(), tmp_path / "p.mp4", 10.0, (64, 48), audio_from=VIDEO)
    assert kept.audio_from == VIDEO  # a video may have audio: muxed at the end as before
    kept.abort()


def test_no_audio_mux_for_a_video_without_audio(tmp_path, clip):
    """ffprobe (run beside the encoder) finds no audio track in the source: the encoded video is the file, no second
    ffmpeg run; a source with audio is still muxed."""
    import numpy as np

    from edgesdk.runtime.sinks._ffmpeg import FfmpegWriter, find_ffmpeg

    silent = VIDEO  # the shared clip has no audio track
    w = FfmpegWriter(find_ffmpeg(), tmp_path / "o.mp4", 10.0, (64, 48), audio_from=silent)
    w._mux_audio = lambda: pytest.fail("muxed a source without audio")  # type: ignore[method-assign]
    for _ in range(3):
        w.write(np.zeros((48, 64, 3), np.uint8))
    w.close()
    assert set(probe(tmp_path / "o.mp4")) == {"video"} and not list(tmp_path.glob(".edgesdk-video-*"))
    w = FfmpegWriter(find_ffmpeg(), tmp_path / "t.mp4", 10.0, (64, 48), audio_from=clip)
    for _ in range(3):
        w.write(np.zeros((48, 64, 3), np.uint8))
    w.close()
    assert set(probe(tmp_path / "t.mp4")) == {"video", "audio"}
