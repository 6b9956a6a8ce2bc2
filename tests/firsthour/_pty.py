"""Run the edgesdk console script on a pseudo-terminal of a given size (what a user's terminal does)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

EDGESDK = Path(sys.executable).with_name("edgesdk")


def run_on_pty(argv: list[str], columns: int, rows: int = 50, env: dict | None = None, timeout: float = 300,
               cwd: str | None = None, exe: list[str] | None = None) -> tuple[int, str]:
    """(exit code, everything written to the terminal: stdout and stderr, with \\r\\n as the tty writes it)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**os.environ, "COLUMNS": str(columns), "LINES": str(rows), "TERM": "xterm-256color", **(env or {})}
    full_env.pop("NO_COLOR", None) if env is None or "NO_COLOR" not in env else None
    p = subprocess.Popen([*(exe or [str(EDGESDK)]), *argv], stdin=slave, stdout=slave, stderr=slave, env=full_env, cwd=cwd,
                         close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = p.wait(timeout=timeout)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")
