"""Run commands on a device through the system OpenSSH client, so ~/.ssh/config (aliases, ports, users,
IdentityFile, ProxyJump), agents and known_hosts work exactly as they do for ``ssh``.

Host-key checking stays on: we never pass ``StrictHostKeyChecking=no``. ``BatchMode=yes`` makes ssh fail
instead of prompting (deploys run unattended); ``accept_new_host_key`` opts into ``accept-new``.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import IO, Callable

from ._errors import SSHError
from ._target import Target

log = logging.getLogger(__name__)

SSH_CONFIG_ENV = "EDGESDK_SSH_CONFIG"


@dataclass(frozen=True)
class SSHOptions:
    """How to reach a device. Everything left ``None`` comes from the user's ssh configuration.

    config: an ssh config file (``ssh -F``); defaults to $EDGESDK_SSH_CONFIG, else ssh's own (~/.ssh/config).
    options: extra ``-o Key=Value`` strings. program: the ssh executable.
    """

    port: int | None = None
    identity: str | None = None
    config: str | None = None
    options: tuple[str, ...] = ()
    connect_timeout: int = 10
    accept_new_host_key: bool = False
    program: str = "ssh"
    env: dict = field(default_factory=dict)

    def resolved_config(self) -> str | None:
        return self.config or os.environ.get(SSH_CONFIG_ENV) or None


def ssh_argv(target: Target, opts: SSHOptions, remote_command: str) -> list[str]:
    """The ssh command line that runs ``remote_command`` (a shell string) on the device."""
    prog = shutil.which(opts.program) or opts.program
    argv = [prog]
    cfg = opts.resolved_config()
    if cfg:
        argv += ["-F", str(cfg)]
    if opts.port:
        argv += ["-p", str(int(opts.port))]
    if opts.identity:
        argv += ["-i", str(opts.identity)]
    argv += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(opts.connect_timeout)}",
             "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
    if opts.accept_new_host_key:
        argv += ["-o", "StrictHostKeyChecking=accept-new"]
    for o in opts.options:
        argv += ["-o", o]
    argv += ["--", target.destination, remote_command]
    return argv


# (substring of ssh's stderr, message). Order matters: the host-key warning also says "verification failed".
_SSH_ERRORS: list[tuple[str, str]] = [
    ("REMOTE HOST IDENTIFICATION HAS CHANGED",
     "host key of {host} does NOT match the one in known_hosts (device reinstalled, or someone in between); "
     "if you trust the new key, remove the old one with: ssh-keygen -R {host}"),
    ("Could not resolve hostname", "unknown host {host}: cannot resolve it (check the name, or the Host alias "
     "in your ssh config)"),
    ("Name or service not known", "unknown host {host}: cannot resolve it (check the name, or the Host alias "
     "in your ssh config)"),
    ("Connection refused", "connection refused by {host}{port}: is sshd running there, on that port?"),
    ("Connection timed out", "connection to {host}{port} timed out: is the device on and reachable?"),
    ("No route to host", "no route to {host}: is the device on this network?"),
    ("Permission denied", "{user}@{host} refused our key (Permission denied): check --identity / IdentityFile "
     "and the device's ~/.ssh/authorized_keys"),
    ("Too many authentication failures", "{user}@{host} refused our keys (too many authentication failures): "
     "pass the right one with --identity"),
    ("host key is known", "host key of {host} is not in known_hosts: connect once with `ssh {dest}` to check "
     "and accept it, or pass --accept-new-host-key"),
    ("Host key verification failed", "host key of {host} could not be verified against known_hosts: connect "
     "once with `ssh {dest}` to check it, or pass --accept-new-host-key"),
    ("Connection closed", "connection to {host} closed by the device"),
    ("Connection reset", "connection to {host} was reset"),
    ("Broken pipe", "connection to {host} dropped (broken pipe)"),
]


def describe_ssh_failure(stderr: str, target: Target, opts: SSHOptions, uploading: bool = False) -> str:
    """One line for an ssh exit status 255, from ssh's stderr."""
    for needle, msg in _SSH_ERRORS:
        if needle in stderr:
            return msg.format(host=target.host, user=target.user or "the user", dest=target.destination,
                              port=f" port {opts.port}" if opts.port else "")
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("Warning: Permanently")]
    why = lines[-1] if lines else "exit status 255"
    if uploading:
        return (f"upload to {target.destination} was interrupted ({why}: the link or the device-side process "
                f"ended); current release unchanged")
    return f"ssh to {target.destination} failed: {why}"


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run(target: Target, opts: SSHOptions, remote_command: str, *, timeout: float | None = 120,
        feed: Callable[[IO[bytes]], None] | None = None) -> Completed:
    """Run ``remote_command`` on the device. ``feed(stdin)`` streams data to it (an upload).

    Raises SSHError when ssh itself failed (exit 255); the remote command's own exit status is returned."""
    argv = ssh_argv(target, opts, remote_command)
    log.debug("ssh: %s", " ".join(shlex.quote(a) for a in argv[:-1]) + " <remote script>")
    env = {**os.environ, **opts.env}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                                    stdout=out, stderr=err, env=env)
        except FileNotFoundError:
            raise SSHError(f"the OpenSSH client ({opts.program}) is not installed: apt install openssh-client") from None
        fed_error = None
        if feed and proc.stdin is not None:
            try:
                assert proc.stdin is not None
                feed(proc.stdin)
                proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError, OSError) as exc:
                fed_error = exc
                try:
                    proc.stdin.close()  # type: ignore[union-attr]
                except OSError:
                    pass
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise SSHError(f"{target.destination} did not answer within {timeout:g} s") from None
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if code == 255:
        raise SSHError(describe_ssh_failure(stderr, target, opts, uploading=feed is not None))
    if fed_error is not None and code == 0:
        raise SSHError(f"upload to {target.destination} broke off ({fed_error})")
    return Completed(code, stdout, stderr)


def last_json_line(stdout: str) -> dict | None:
    """The JSON object a remote script printed last (its answer), or None when the last '{' line is not JSON."""
    import json

    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None
