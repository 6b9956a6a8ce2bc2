"""Stopping a CLI run by a signal once it works, importable from any test (``from _proc import signal_when_written``)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def signal_when_written(argv: list[str], watch: Path, sig: int, *, env: dict | None = None,
                        timeout: float = 60.0) -> tuple[int, str, str]:
    """Start ``argv``, wait until ``watch`` has its first bytes (an events file: flushed every 30 frames, so
    frames are flowing; a video's size is no sign, its muxer buffers 256 KiB first), send ``sig``; returns
    (exit code, stdout, stderr). The process is killed if it outlives the test."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and (not watch.exists() or watch.stat().st_size == 0):
            time.sleep(0.05)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stdout, stderr
