"""Parse ``[user@]host[:/path]`` deploy targets (the ``scp`` form), including ssh config aliases."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError

DEFAULT_ROOT = "edgesdk"  # relative: resolved against the remote user's home folder, like scp

_HOST = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.%]+)\]|(?P<name>[A-Za-z0-9_.%+-]+))$")


@dataclass(frozen=True)
class Target:
    """A device: ``host`` may be an alias from ~/.ssh/config; ``root`` is the deploy folder on the device."""

    host: str
    user: str | None = None
    root: str = DEFAULT_ROOT

    @property
    def destination(self) -> str:
        """What ssh gets as its destination argument."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{user}{host}:{self.root}"


def parse_target(text: str, default_root: str = DEFAULT_ROOT) -> Target:
    """``pi@kitchen:/opt/edgesdk`` -> Target(host="kitchen", user="pi", root="/opt/edgesdk").

    The path is optional (default ``edgesdk`` under the remote home); IPv6 addresses go in brackets
    (``pi@[fd00::2]:/opt/edgesdk``). Raises InputError on anything else."""
    s = text.strip()
    if not s:
        raise InputError("empty deploy target: expected [user@]host[:/path]")
    user = None
    if "@" in s.split("[", 1)[0].split(":", 1)[0]:
        user, s = s.split("@", 1)
        if not user or not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?", user):
            raise InputError(f"bad user name in deploy target {text!r}: expected [user@]host[:/path]")
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise InputError(f"unclosed '[' in deploy target {text!r}")
        host_part, rest = s[: end + 1], s[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InputError(f"bad deploy target {text!r}: expected [user@]host[:/path]")
        path = rest[1:] if rest else ""
    else:
        host_part, _, path = s.partition(":")
    m = _HOST.match(host_part)
    if not m or host_part.startswith("-"):
        raise InputError(f"bad host {host_part!r} in deploy target {text!r}: expected [user@]host[:/path]")
    host = m.group("v6") or m.group("name")
    if "\n" in path or "\0" in path:
        raise InputError(f"bad path in deploy target {text!r}")
    return Target(host=host, user=user, root=path or default_root)
