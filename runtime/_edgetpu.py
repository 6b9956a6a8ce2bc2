"""The Edge TPU: device strings, the delegate library per OS, attached devices.

Device strings (as pycoral's make_interpreter): ``edgetpu`` (any), ``usb`` / ``usb:N`` (N-th USB
Accelerator), ``pci`` / ``pci:N`` (N-th PCIe/M.2 module), ``:N`` (N-th Edge TPU of any kind).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import logging
import os
import platform
import re
from pathlib import Path

from ..errors import DelegateError

log = logging.getLogger(__name__)

LIBRARIES = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
INSTALL_HINT = (
    "install the Edge TPU runtime (Debian/Raspberry Pi OS: `sudo apt-get install libedgetpu1-std` from Coral's apt "
    "repository, see https://coral.ai/software/#debian-packages)"
)
#: USB ids: before the runtime first loads firmware (Global Unichip) and after (Google).
USB_IDS = {("1a6e", "089a"): "usb (unprovisioned)", ("18d1", "9302"): "usb"}
_DEVICE_RE = re.compile(r"^(edgetpu|usb|pci)?(?::(\d+))?$")


def parse_device(device: str) -> tuple[str, str | None]:
    """``"cpu"`` -> ("cpu", None); Edge TPU strings -> ("edgetpu", delegate 'device' option or None).

    Raises ValueError for anything else (the loader turns it into a clear error).
    """
    d = (device or "cpu").strip().lower()
    if d == "cpu":
        return "cpu", None
    m = _DEVICE_RE.match(d)
    if not m or d in ("",):
        raise ValueError(
            f"unknown device {device!r}: use cpu, edgetpu, usb, usb:N, pci, pci:N or :N"
        )
    kind, index = m.group(1), m.group(2)
    if kind in (None, "edgetpu"):
        return "edgetpu", (f":{index}" if index is not None else None)
    return "edgetpu", f"{kind}:{index}" if index is not None else kind


def library_name() -> str:
    """The delegate library's file name on this OS (override with EDGESDK_EDGETPU_LIB)."""
    return os.environ.get("EDGESDK_EDGETPU_LIB") or LIBRARIES.get(platform.system(), LIBRARIES["Linux"])


def find_library() -> str | None:
    """Path or name of an Edge TPU library the dynamic loader can open, or None."""
    name = library_name()
    if os.sep in name:
        return name if Path(name).exists() else None
    try:
        ctypes.CDLL(name)
        return name
    except OSError:
        found = ctypes.util.find_library("edgetpu")
        return found


def list_devices() -> list[dict]:
    """Edge TPUs visible to the OS: USB accelerators (sysfs ids) and PCIe modules (/dev/apex_N)."""
    devices = []
    for dev in sorted(glob.glob("/sys/bus/usb/devices/*")):
        try:
            vid = Path(dev, "idVendor").read_text().strip()
            pid = Path(dev, "idProduct").read_text().strip()
        except OSError:
            continue
        if (vid, pid) in USB_IDS:
            devices.append({"type": "usb", "path": dev, "id": f"{vid}:{pid}", "state": USB_IDS[(vid, pid)]})
    for apex in sorted(glob.glob("/dev/apex_*")):
        devices.append({"type": "pci", "path": apex})
    return devices


def make_delegate(load_delegate, device_option: str | None):
    """Load the Edge TPU delegate through the backend's ``load_delegate``; DelegateError with the fix when
    the library is missing, or present but no Edge TPU answers."""
    lib = find_library()
    if lib is None:
        raise DelegateError(f"the Edge TPU library {library_name()} was not found: {INSTALL_HINT}, or use --device cpu")
    options = {"device": device_option} if device_option else {}
    try:
        return load_delegate(lib, options)
    except (ValueError, RuntimeError, OSError) as exc:
        seen = list_devices()
        where = f" {device_option}" if device_option else ""
        if not seen:
            raise DelegateError(
                f"the Edge TPU library {lib} is installed but no Edge TPU{where} was found "
                "(plug in the USB Accelerator, check `lsusb` for 1a6e:089a or 18d1:9302, or /dev/apex_0 for PCIe)"
            ) from exc
        raise DelegateError(
            f"the Edge TPU library {lib} failed to open device{where or ' (any)'} although {len(seen)} Edge TPU(s) "
            f"are attached ({exc}); the library and the interpreter must come from the same TFLite release"
        ) from exc
