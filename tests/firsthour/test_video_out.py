"""Issue 18, videos people can use: H.264 in MP4 through ffmpeg, the source's audio kept (or dropped with
--no-audio), --codec / --crf, OpenCV as the fallback."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess

import cv2
import pytest

from _paths import TESTDATA

pytestmark = pytest.mark.skipif(not shutil.which("ffmpeg") or not shutil.which("ffprobe"),
                                reason="needs Debian's ffmpeg (apt install ffmpeg)")

VIDEO = TESTDATA / "videos" / "one-by-one-person-detection.mp4"


FFPROBE = shutil.which("ffprobe") or "ffprobe"


def probe(path) -> dict:
    out = subprocess.run([FFPROBE, "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    streams = json.loads(out)["streams"]
    return {s["codec_type"]: s for s in streams}


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory):
    """40 frames of the shared video plus a generated 440 Hz tone, made with ffmpeg."""
    if not VIDEO.exists():
        pytest.skip(f"test data not available: {VIDEO}")
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(VIDEO), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100:duration=5", "-map", "0:v", "-map", "1:a", "-t", "4",
                    "-c:v", "libx264", "-c:a", "aac", str(out)], check=True)
    streams = probe(out)
    assert float(streams["audio"]["duration"]) > 3.9 and int(streams["video"]["nb_read_frames"]) == 40
    return out


def _copy(src, sink, limit=None) -> int:
    cap = cv2.VideoCapture(str(src))
    n = 0
    while limit is None or n < limit:
        ok, frame = cap.read()
        if not ok:
            break
        sink.write(frame)
        n += 1
    cap.release()
    sink.close()
    return n


def test_h264_with_the_sources_audio(clip_with_audio, tmp_path):
    from edgesdk.runtime.sinks import VideoSink

    out = tmp_path / "out.mp4"
    n = _copy(clip_with_audio, VideoSink(out, 10.0, audio_from=clip_with_audio))
    streams = probe(out)
    assert streams["video"]["codec_name"] == "h264"
    assert int(streams["video"]["nb_read_frames"]) == n == 40
    assert streams["audio"]["codec_name"] == "aac"
    assert float(streams["audio"]["duration"]) == pytest.approx(4.0, abs=0.1)  # cut to the video's 40 frames at 10 fps
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary files left


def test_no_audio_codec_and_crf(clip_with_audio, tmp_path):
    from edgesdk.runtime.sinks import VideoSink

    small, big = tmp_path / "small.mp4", tmp_path / "big.mp4"
    _copy(clip_with_audio, VideoSink(small, 10.0, crf=40))
    _copy(clip_with_audio, VideoSink(big, 10.0, crf=18))
    assert "audio" not in probe(small) and small.stat().st_size < big.stat().st_size
    hevc = tmp_path / "h.mkv"
    _copy(clip_with_audio, VideoSink(hevc, 10.0, codec="mpeg4", audio_from=clip_with_audio), limit=5)
    s = probe(hevc)
    assert s["video"]["codec_name"] == "mpeg4" and int(s["video"]["nb_read_frames"]) == 5 and "audio" in s


def test_opencv_fallback_said_once(clip_with_audio, tmp_path, monkeypatch, caplog):
    from edgesdk.runtime.sinks import _video

    monkeypatch.setattr(_video, "_warned_fallback", False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("EDGESDK_FFMPEG", raising=False)
    for i in range(2):
        _copy(clip_with_audio, _video.VideoSink(tmp_path / f"o{i}.mp4", 10.0, audio_from=clip_with_audio), limit=3)
    assert caplog.text.count("ffmpeg not found") == 1
    assert probe(tmp_path / "o0.mp4")["video"]["codec_name"] == "mpeg4"


def test_shared_video_arguments():
    from edgesdk.cli._common import add_video_args, video_options

    p = argparse.ArgumentParser()
    add_video_args(p)
    args = p.parse_args(["--codec", "hevc", "--crf", "30"])
    assert video_options(args, str(VIDEO)) == {"codec": "hevc", "crf": 30, "encoder": "auto", "audio_from": str(VIDEO)}
    assert video_options(p.parse_args(["--no-audio"]), str(VIDEO))["audio_from"] is None
    assert video_options(args, "0")["audio_from"] is None  # a camera has no file to take audio from
    with pytest.raises(SystemExit):
        p.parse_args(["--crf", "52"])
