"""Quiet native libraries: TensorFlow, TFLite/XNNPACK, OpenCV and FFmpeg write chatter to file descriptor 2
that Python's logging cannot reach. Two tools, used at the source:

* :func:`quiet_env` sets the libraries' own log levels in the environment, before they are imported;
* :func:`native_stderr` redirects fd 2 around one native call into a temporary file, then passes real
  problems on to stderr and keeps known chatter at DEBUG level (shown with ``edgesdk -v``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from typing import Iterator

__all__ = ["NOISE", "is_noise", "native_stderr", "quiet_env"]

log = logging.getLogger("edgesdk.native")

# Lines that never help a user: informational or expected-environment messages of the native libraries.
NOISE = re.compile(
    r"^(INFO: |WARNING: All log messages before absl::InitializeLog|[IW]\d{4} |E\d{4} .*(cuInit|cuda)"
    r"|.*(oneDNN custom operations|cuda drivers|TF-TRT Warning|rebuild TensorFlow with the appropriate compiler"
    r"|This TensorFlow binary is optimized|fully_quantize: |input_inference_type: |output_inference_type: "
    r"|Estimated count of arithmetic ops|disabling MLIR crash reproducer|Ignored output_format|Ignored drop_control_dependency"
    r"|absl::InitializeLog|computation placer already registered|Unable to register cu(DNN|FFT|BLAS) factory)"
    r"|\[ ?WARN:\d+@|\[(h264|hevc|mov,mp4|mpeg4|aac) @ 0x)"
)


_LOCK = threading.RLock()  # fd 2 is process-wide: one redirect at a time (models loading in several threads)


def is_noise(line: str) -> bool:
    """True for a native library line that is chatter, not a problem the user must see."""
    return bool(NOISE.match(line.strip()))


def quiet_env(verbose: bool = False) -> None:
    """Set the native libraries' log levels (only where the user has not set them). Call before importing
    TensorFlow or OpenCV. With ``verbose`` nothing is changed, so everything shows."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow C++: errors only
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # no "[ WARN:0@...]" lines
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET: no h264 decode errors per frame
    os.environ.setdefault("OPENCV_VIDEOIO_DEBUG", "0")


@contextlib.contextmanager
def native_stderr() -> Iterator[None]:
    """Redirect file descriptor 2 around native calls; afterwards, lines that are not chatter go to stderr
    and the chatter to the DEBUG log. Does nothing when stderr has no file descriptor (e.g. captured in tests)
    or when the ``edgesdk`` logger is at DEBUG (``-v``): then everything shows as it comes."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd != 2 or logging.getLogger("edgesdk").isEnabledFor(logging.DEBUG):
        yield
        return
    with _LOCK:
        yield from _redirected()


def _redirected() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            for line in text.splitlines():
                if not line.strip():
                    continue
                if is_noise(line):
                    log.debug("%s", line)
                else:
                    sys.stderr.write(line + "\n")
