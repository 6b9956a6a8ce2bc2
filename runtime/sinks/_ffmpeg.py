"""H.264 (or another codec) through the system's ``ffmpeg`` binary: raw BGR frames on its stdin, the encoder
in its own process (so it uses a core the Python pipeline does not), the source's audio muxed in at the end.

Why the binary and not PyAV: see ``VideoSink``; measured in benchmarks/video_writers.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ._base import SinkError

log = logging.getLogger(__name__)

__all__ = ["CODECS", "FfmpegWriter", "find_ffmpeg"]

# --codec name -> ffmpeg encoder; crf applies to the x264/x265/vp9 encoders
CODECS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "mpeg4": "mpeg4", "mjpeg": "mjpeg"}
_CRF = {"libx264", "libx265", "libvpx-vp9"}


# source formats that carry no audio track
NO_AUDIO = frozenset({".gif", ".apng", ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


def _grow_pipe(stream, size: int) -> None:
    """Let the pipe to ffmpeg hold ``size`` bytes (two frames) where Linux allows it (``F_SETPIPE_SZ``, capped by
    /proc/sys/fs/pipe-max-size): the pipeline does not wait for each frame while ffmpeg starts or catches up."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), min(size, 1 << 20))
    except (ImportError, OSError, ValueError, AttributeError):
        pass


def _probe_audio(exe: str, source) -> subprocess.Popen | None:
    """``ffprobe`` listing the audio streams of ``source``, started now and read at close (it runs beside the
    encoder); None without ffprobe."""
    probe = Path(exe).with_name("ffprobe")
    found = str(probe) if os.access(probe, os.X_OK) else shutil.which("ffprobe")
    if not found:
        return None
    try:
        return subprocess.Popen([found, "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
                                 "-of", "csv=p=0", str(source)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return None


def _has_audio(probe: subprocess.Popen | None) -> bool:
    """False only when the probe finished and listed no audio stream; anything unsure keeps the audio mux."""
    if probe is None:
        return True
    try:
        out, _ = probe.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        return True
    return probe.returncode != 0 or bool(out.strip())


def _end(probe: subprocess.Popen | None) -> None:
    if probe is not None and probe.poll() is None:
        probe.kill()
        probe.wait()
    if probe is not None and probe.stdout is not None:
        probe.stdout.close()


def find_ffmpeg() -> str | None:
    """Path of the ffmpeg binary (``EDGESDK_FFMPEG`` or PATH), or None."""
    exe = os.environ.get("EDGESDK_FFMPEG") or shutil.which("ffmpeg")
    return exe if exe and os.access(exe, os.X_OK) else None


def _tail(path: Path, n: int = 3) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return "; ".join(lines[-n:])


class FfmpegWriter:
    """Encodes (h, w, 3) uint8 BGR frames of one size to ``path`` with ``ffmpeg``.

    codec: a key of CODECS; crf: quality (0 best .. 51 worst; 23 is x264's default) for x264/x265/vp9;
    audio_from: a media file whose first audio track is copied in (re-encoded to AAC) and cut to the video's
    length; a source with no audio track (told by ffprobe, run beside the encoder) is not remuxed: the encoded file
    is moved to ``path``.
    """

    def __init__(self, exe: str, path: Path, fps: float, size: tuple[int, int], *, codec: str = "h264",
                 crf: int = 23, audio_from: str | os.PathLike | None = None) -> None:
        if codec not in CODECS:
            raise SinkError(f"unknown codec {codec!r}: use one of {', '.join(CODECS)}")
        self.exe, self.path, self.fps, self.size = exe, path, fps, size
        if audio_from is not None and Path(audio_from).suffix.lower() in NO_AUDIO:
            audio_from = None  # nothing to copy: skip the second ffmpeg run that would find no audio track
        self.codec, self.crf, self.audio_from = codec, crf, audio_from
        self.frames = 0
        self._dir = Path(tempfile.mkdtemp(prefix=".edgesdk-video-", dir=path.parent))
        self._video = self._dir / f"video{path.suffix}" if audio_from else path
        self._log = self._dir / "ffmpeg.log"
        enc = CODECS[codec]
        w, h = size
        cmd = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
               "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-", "-an", "-c:v", enc]
        if enc in _CRF:
            cmd += ["-crf", str(crf)]
        if enc == "libx264":
            cmd += ["-preset", "veryfast"]
        if enc in ("libx264", "libx265", "mpeg4", "libvpx-vp9"):
            cmd += ["-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        if path.suffix.lower() in (".mp4", ".m4v", ".mov"):
            cmd += ["-movflags", "+faststart"]
            if enc == "libx265":
                cmd += ["-tag:v", "hvc1"]
        cmd.append(str(self._video))
        self._probe = _probe_audio(exe, audio_from) if audio_from else None
        with open(self._log, "wb") as errlog:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errlog)
        _grow_pipe(self._proc.stdin, 3 * w * h * 2)

    def write(self, frame: np.ndarray) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            self._proc.wait()
            raise SinkError(f"cannot write {self.path}: ffmpeg stopped: {_tail(self._log) or 'no message'}") from None
        self.frames += 1

    def close(self) -> None:
        """Finish the file (and add the audio); raises SinkError when ffmpeg failed. Temporary files go."""
        try:
            if self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                except BrokenPipeError:
                    pass
            if self._proc.wait() != 0:
                raise SinkError(f"cannot write {self.path}: ffmpeg failed: {_tail(self._log) or 'no message'}")
            if self.audio_from:
                if _has_audio(self._probe):
                    self._mux_audio()
                else:  # the source has no audio track: the video is the file
                    os.replace(self._video, self.path)
        finally:
            _end(self._probe)
            shutil.rmtree(self._dir, ignore_errors=True)

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()
        _end(self._probe)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _mux_audio(self) -> None:
        """Video stream copied as is, the source's first audio track (if any) cut to the video's duration."""
        duration = self.frames / self.fps
        tmp = self._dir / f"muxed{self.path.suffix}"
        cmd = [self.exe, "-hide_banner", "-loglevel", "error", "-y", "-i", str(self._video), "-i", str(self.audio_from),
               "-map", "0:v:0", "-map", "1:a:0?", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
               "-t", f"{duration:.6f}"]
        if self.path.suffix.lower() in (".mp4", ".m4v", ".mov"):
            cmd += ["-movflags", "+faststart"]
        cmd.append(str(tmp))
        with open(self._log, "ab") as errlog:
            code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=errlog).returncode
        if code != 0:
            log.warning("could not copy the audio of %s (%s): the video has none", self.audio_from, _tail(self._log))
            os.replace(self._video, self.path)
            return
        os.replace(tmp, self.path)
