"""Deploy failures: each carries one line a user can act on (the CLI prints it and exits 1)."""

from __future__ import annotations

from ..errors import EdgeSDKError


class DeployError(EdgeSDKError):
    """A deploy, rollback or listing failed on the device; the device's ``current`` was left as it was."""


class SSHError(DeployError):
    """ssh itself failed: unknown host, refused connection, rejected key, host key mismatch, dropped link."""
