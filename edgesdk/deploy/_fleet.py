"""Many devices: run the shipped Ansible playbook (``playbook.yml``, package data) with ``ansible-playbook``
and collect a per-host summary. Ansible does the parallel SSH, inventories, groups, limits and forks; each
host runs the same device-side agent as ``edgesdk deploy`` to one device."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..bundle import MANIFEST_NAME, SIGNATURE_NAME, load_bundle, pack, sha256_file
from ..errors import InputError, MissingExtraError
from ._deploy import DEFAULT_KEEP, release_id
from ._errors import DeployError
from ._service import HealthCheck, check_service_name

log = logging.getLogger(__name__)

AGENT_NAME = "edgesdk_agent.py"
_RECAP = re.compile(r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=\d+\s+unreachable=(?P<unreachable>\d+)\s+"
                    r"failed=(?P<failed>\d+)", re.M)
_UNREACHABLE = re.compile(r"^fatal: \[(?P<host>[^\]]+)\]: UNREACHABLE! => (?P<json>\{.*\})\s*$", re.M)


def playbook_path() -> Path:
    return Path(__file__).with_name("playbook.yml")


def playbook_text() -> str:
    return playbook_path().read_text(encoding="utf-8")


def write_playbook(out_dir: str | os.PathLike) -> list[Path]:
    """Write playbook.yml and the device-side agent it runs (edgesdk_agent.py) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [(out / "playbook.yml", playbook_text()),
             (out / AGENT_NAME, Path(__file__).with_name("_remote.py").read_text(encoding="utf-8"))]
    for path, text in files:
        path.write_text(text, encoding="utf-8")
    return [p for p, _ in files]


def ansible_playbook_exe() -> str:
    """ansible-playbook from this Python's environment (next to sys.executable), else from PATH."""
    local = Path(sys.executable).parent / "ansible-playbook"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("ansible-playbook")
    if found:
        return found
    raise MissingExtraError("ansible-core", "fleet", "fleet deploys with --inventory")


@dataclass
class FleetResult:
    """One host. status: deployed | unchanged | rolled back | failed."""

    host: str
    status: str
    release: str | None = None
    previous: str | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def run_playbook(exe: str, inventory, playbook: Path, extra: dict, *, limit: str | None = None,
                 forks: int | None = None, ssh_config=None, extra_args=None,
                 echo: bool = False) -> subprocess.CompletedProcess:
    """``ansible-playbook`` (``exe``) on ``inventory`` with the extra variables ``extra`` (JSON), quiet and
    uncoloured, its output (stdout and stderr joined) captured and, with ``echo``, copied to stderr."""
    argv = [exe, "-i", str(inventory), str(playbook), "-e", json.dumps(extra)]
    if limit:
        argv += ["--limit", limit]
    if forks:
        argv += ["--forks", str(forks)]
    if ssh_config:
        argv += ["--ssh-common-args", f"-F {ssh_config}"]
    argv += list(extra_args or [])
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_SYSTEM_WARNINGS": "0"}
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
    env.setdefault("ANSIBLE_STDOUT_CALLBACK", "default")
    log.debug("running %s", " ".join(argv))
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if echo:
        sys.stderr.write(proc.stdout)
    return proc


def parse_outcome(stdout: str, report_dir: Path) -> list[FleetResult]:
    """Per-host results from the report files the playbook wrote, plus the PLAY RECAP for hosts that never
    got that far (unreachable)."""
    results: dict[str, FleetResult] = {}
    unreachable_msg = {}
    for m in _UNREACHABLE.finditer(stdout):
        try:
            unreachable_msg[m["host"]] = json.loads(m["json"]).get("msg", "unreachable")
        except ValueError:
            unreachable_msg[m["host"]] = "unreachable"
    for path in sorted(report_dir.glob("*.json")):
        rep = json.loads(path.read_text(encoding="utf-8"))
        results[path.stem] = FleetResult(path.stem, rep.get("status", "failed"), rep.get("release"),
                                         rep.get("previous"), rep.get("error") or "")
    for m in _RECAP.finditer(stdout):
        host = m["host"]
        if host not in results:
            msg = unreachable_msg.get(host, "unreachable" if int(m["unreachable"]) else "failed before deploying")
            results[host] = FleetResult(host, "failed", message=" ".join(str(msg).split()))
    return [results[h] for h in sorted(results)]


def deploy_fleet(bundle_path, inventory: str | os.PathLike, *, limit: str | None = None, forks: int | None = None,
                 keep: int = DEFAULT_KEEP, root: str | None = None, service: str | None = None,
                 health: HealthCheck = HealthCheck(), ssh_config: str | None = None,
                 extra_args: list[str] | None = None, python: str | None = None,
                 echo: bool = False) -> tuple[list[FleetResult], str]:
    """Deploy a bundle to every host of an Ansible inventory. Returns (per-host results, ansible's output).

    ``root`` overrides every host's ``edgesdk_root``; ``ssh_config`` is passed to ssh as ``-F``."""
    inv = Path(inventory)
    if not inv.exists():
        raise InputError(f"inventory not found: {inv}")
    if keep < 1:
        raise DeployError("--keep must be at least 1")
    if forks is not None and forks < 1:
        raise InputError("--forks must be at least 1")
    exe = ansible_playbook_exe()
    bundle = load_bundle(bundle_path)
    with tempfile.TemporaryDirectory(prefix="edgesdk-fleet-") as tmp:
        tmpd = Path(tmp)
        archive = pack(bundle.root, tmpd / "bundle.tar.gz")
        reports = tmpd / "reports"
        reports.mkdir()
        agent = tmpd / AGENT_NAME
        shutil.copyfile(Path(__file__).with_name("_remote.py"), agent)
        extra = {
            "edgesdk_bundle": str(archive),
            "edgesdk_release": release_id(bundle),
            "edgesdk_manifest_sha256": sha256_file(bundle.root / MANIFEST_NAME),
            "edgesdk_keep": keep,
            "edgesdk_agent": str(agent),
            "edgesdk_report_dir": str(reports),
        }
        sig = bundle.root / SIGNATURE_NAME
        if sig.is_file():
            extra["edgesdk_signature_b64"] = base64.b64encode(sig.read_bytes()).decode()
        if root:
            extra["edgesdk_root"] = root
        if python:
            extra["edgesdk_python"] = python
        if service:
            extra.update(edgesdk_service=check_service_name(service), edgesdk_service_manager=health.manager,
                         edgesdk_health_timeout=health.timeout, edgesdk_health_settle=health.settle,
                         edgesdk_confirm_within=health.confirm_within)
            if health.command:
                extra["edgesdk_health_cmd"] = health.command
        proc = run_playbook(exe, inv, playbook_path(), extra, limit=limit, forks=forks, ssh_config=ssh_config,
                            extra_args=extra_args, echo=echo)
        results = parse_outcome(proc.stdout, reports)
    if not results:
        tail = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        raise DeployError(f"ansible-playbook ran no host (exit {proc.returncode}): "
                          f"{tail[-1] if tail else 'no output'}")
    return results, proc.stdout
