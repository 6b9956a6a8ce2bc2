"""Run the current release as a systemd service: the unit text, installing it, and the health check that a
deploy with ``--service`` uses to decide whether to keep a release or roll back.

The restart / wait-until-healthy / roll-back loop itself runs ON the device (``_remote.restart``), so a slow
link never makes a healthy service look dead; this module holds its settings and the unit file side.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ._errors import DeployError

log = logging.getLogger(__name__)

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,200}$")


@dataclass(frozen=True)
class HealthCheck:
    """After a restart the service must be active (``MANAGER is-active NAME`` exits 0) and ``command`` (a shell
    line run on the device, e.g. ``curl -fsS http://127.0.0.1:8080/``) must pass, for ``settle`` seconds in a
    row, within ``timeout`` seconds; otherwise the deploy switches back to the previous release.

    manager: the service manager command, ``systemctl`` (``sudo systemctl`` for a non-root deploy user,
    ``systemctl --user`` for a user unit); anything that understands ``restart NAME`` and ``is-active NAME``.
    """

    manager: str = "systemctl"
    timeout: float = 30.0
    settle: float = 3.0
    interval: float = 0.5
    command: str | None = None
    confirm: float | None = None

    @property
    def confirm_within(self) -> float:
        """Seconds the device waits for the release to be confirmed healthy before it rolls back by itself
        (default: twice the timeout plus the settle time plus 30 s)."""
        return self.confirm if self.confirm is not None else 2 * self.timeout + self.settle + 30

    def agent_args(self, name: str, previous: str | None) -> list[str]:
        args = [name, "--manager", self.manager, "--timeout", str(self.timeout), "--settle", str(self.settle),
                "--interval", str(self.interval)]
        if self.command:
            args += ["--health-cmd", self.command]
        if previous:
            args += ["--previous", previous]
        return args


def check_service_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InputError(f"bad service name {name!r}: use letters, digits, '-', '_', '.' (e.g. edgesdk-anonymize)")
    return name.removesuffix(".service")


def _systemd_quote(arg: str) -> str:
    """Quote one ExecStart argument for systemd (its own rules: double quotes, %% and $$ escapes)."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not re.search(r"[\s\"'\\;]", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_args(bundle: str, *, command: str = "anonymize", source: str | None = None, out: str | None = None,
              extra: tuple[str, ...] | list[str] = (), python: str | None = None) -> list[str]:
    """The runtime command the service runs: ``python -m edgesdk anonymize SOURCE --detector BUNDLE -o OUT``
    (other commands take the bundle as their MODEL argument)."""
    argv = [python or sys.executable, "-m", "edgesdk", command]
    if command == "anonymize":
        if source:
            argv.append(source)
        argv += ["--detector", bundle]
    else:
        argv.append(bundle)
        if source:
            argv.append(source)
    if out:
        argv += ["-o", out]
    return argv + list(extra)


def device_root_of(bundle: str) -> str | None:
    """ROOT when ``bundle`` is a deploy folder's ``ROOT/current`` symlink, else None."""
    return os.path.dirname(bundle) if os.path.basename(os.path.normpath(bundle)) == "current" else None


def unit_text(name: str, argv: list[str], *, user: str | None = None, workdir: str | None = None,
              description: str | None = None, restart_sec: float = 2, device_root: str | None = None) -> str:
    """A systemd service unit that runs ``argv`` and restarts it when it fails.

    With ``device_root`` (the deploy folder whose ``current`` the service runs): every start first runs the
    device-side boot check (``ROOT/.edgesdk-agent.py boot-check``: a release still pending confirmation after a
    reboot, or past its deadline, is rolled back before the service reads it), and when ROOT/allowed_signers
    exists the runtime gets ``EDGESDK_ALLOWED_SIGNERS`` so it loads only signed bundles."""
    name = check_service_name(name)
    what = argv[3] if len(argv) > 3 else "runtime"
    lines = [
        "# Written by `edgesdk service install`. The bundle path is the `current` symlink, so a deploy",
        "# (`edgesdk deploy BUNDLE host:ROOT --service NAME`) only has to restart this service.",
        "[Unit]",
        f"Description={description or f'edgesdk {what} ({name})'}",
        "Wants=network-online.target",
        "After=network-online.target",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=simple",
    ]
    if user:
        lines.append(f"User={user}")
    if workdir:
        if "\n" in workdir:
            raise InputError(f"bad working folder {workdir!r}")
        lines.append(f"WorkingDirectory={workdir.replace('%', '%%')}")  # a path setting: unquoted, % escaped
    lines.append("Environment=PYTHONUNBUFFERED=1")
    if device_root:
        policy = os.path.join(device_root, "allowed_signers")
        if os.path.isfile(policy):
            lines.append("Environment=" + _systemd_quote(f"EDGESDK_ALLOWED_SIGNERS={policy}"))
        agent = os.path.join(device_root, ".edgesdk-agent.py")  # written by deploy --service
        lines.append("ExecStartPre=-" + " ".join(_systemd_quote(a) for a in [argv[0], agent, "boot-check",
                                                                             device_root]))
    lines += [
        "ExecStart=" + " ".join(_systemd_quote(a) for a in argv),
        "Restart=on-failure",
        f"RestartSec={restart_sec:g}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def systemd_running() -> bool:
    """True when this machine booted with systemd (what sd_booted() checks)."""
    return Path("/run/systemd/system").is_dir()


@dataclass(frozen=True)
class Installed:
    path: Path
    enabled: bool
    hint: str


def install_unit(name: str, text: str, *, unit_file: str | os.PathLike | None = None,
                 systemctl: str | None = None) -> Installed:
    """Write the unit file atomically and, where systemd runs (or ``systemctl`` is given), reload and enable
    it (``enable --now``, then ``restart`` so an updated unit takes effect). Without systemd the file is
    written where told (default ./NAME.service) and ``hint`` says how to enable it on the device."""
    name = check_service_name(name)
    use_systemd = systemctl is not None or systemd_running()
    path = Path(unit_file) if unit_file else (SYSTEM_UNIT_DIR if use_systemd else Path.cwd()) / f"{name}.service"
    if path.is_dir():
        path = path / f"{name}.service"
    if not path.parent.is_dir():
        raise InputError(f"cannot write the unit file: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DeployError(f"cannot write the unit file {path}: {exc.strerror}") from None
    if not use_systemd:
        hint = (f"systemd is not running here: copy {path} to /etc/systemd/system/{name}.service on the device, "
                f"then run: sudo systemctl daemon-reload && sudo systemctl enable --now {name}")
        return Installed(path, False, hint)
    mgr = shlex.split(systemctl or "systemctl")
    for step in (["daemon-reload"], ["enable", "--now", name], ["restart", name]):
        p = subprocess.run(mgr + step, capture_output=True, text=True)
        if p.returncode != 0:
            why = (p.stderr or p.stdout).strip().splitlines()
            raise DeployError(f"{' '.join(mgr + step)} failed: {why[-1] if why else f'exit {p.returncode}'}")
    return Installed(path, True, f"enabled and started {name}; logs: journalctl -u {name} -f")
