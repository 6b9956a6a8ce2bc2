"""Facts about the machine a benchmark ran on. Standard library only (also copied to devices): nothing here
imports numpy or an interpreter; versions come from package metadata."""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path

#: distributions whose versions matter for a TFLite benchmark
PACKAGES = ("ai-edge-litert", "tflite-runtime", "tensorflow", "numpy", "opencv-python-headless", "edgesdk")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    """'Intel(R) Xeon(R) ...' on x86, 'Raspberry Pi 4 Model B Rev 1.4' or the core type on ARM."""
    info = _read("/proc/cpuinfo")
    board = _read("/proc/device-tree/model").strip("\x00\n ")
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        for line in info.splitlines():
            if line.split(":")[0].strip() == key and ":" in line:
                value = line.split(":", 1)[1].strip()
                if value:
                    return f"{value} ({board})" if board and board not in value else value
    if sys.platform == "darwin":
        import subprocess

        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5).stdout.strip() or platform.machine()
        except (OSError, subprocess.SubprocessError):
            pass
    return board or platform.processor() or platform.machine()


def os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return f"{platform.system()} {platform.release()}"


def memory_total_mb() -> float | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def package_versions(names=PACKAGES) -> dict:
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
        except Exception:  # broken metadata must not break a benchmark
            pass
    return out


def machine_facts() -> dict:
    """CPU model, cores (total and usable by this process), OS, kernel, Python, memory, package versions."""
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "os": os_name(),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "memory_mb": memory_total_mb(),
        "loadavg": load,
        "packages": package_versions(),
    }
