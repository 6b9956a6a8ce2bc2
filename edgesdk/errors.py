"""Exception types. Every error the SDK raises on purpose is an :class:`EdgeSDKError` whose message is one
line a user can act on; the CLI prints it without a traceback and exits 1."""

from __future__ import annotations

__all__ = [
    "EdgeSDKError",
    "ModelError",
    "BundleError",
    "DelegateError",
    "InputError",
    "MissingExtraError",
]


class EdgeSDKError(Exception):
    """Base class: a failure with one clear line for the user."""


class ModelError(EdgeSDKError):
    """A model file is missing, unreadable, not a TFLite flatbuffer, or cannot run here."""


class BundleError(EdgeSDKError):
    """A bundle is malformed: missing file, checksum mismatch, unknown schema, unsafe archive member."""


class DelegateError(EdgeSDKError):
    """A hardware delegate (the Edge TPU library) is absent or has no device."""


class InputError(EdgeSDKError, ValueError):
    """Data fed to a model or a command has the wrong shape, dtype or content."""


class MissingExtraError(EdgeSDKError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, what: str = "", *, command: str | None = None) -> None:
        purpose = f" for {what}" if what else ""
        install = command or f"pip install 'edgesdk[{extra}]'"
        super().__init__(f"{module} is needed{purpose} but is not installed: {install}")
        self.module = module
        self.extra = extra
