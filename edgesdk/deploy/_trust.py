"""A device's signature policy: ``ROOT/allowed_signers`` (OpenSSH format plus ``@revoked`` lines), installed,
shown or removed over ssh, or on every host of an Ansible inventory. With a policy in place the device-side
script refuses every bundle that is not signed by a listed key (see ``edgesdk.bundle`` signing)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..bundle import check_policy
from ..errors import InputError
from ._errors import DeployError
from ._deploy import call_agent
from ._fleet import AGENT_NAME, ansible_playbook_exe, parse_outcome, run_playbook
from ._ssh import SSHOptions
from ._target import Target

log = logging.getLogger(__name__)


@dataclass
class TrustResult:
    """What a device holds now. status: installed | removed | absent | shown | failed."""

    target: str
    status: str
    path: str = ""
    signers: int = 0
    revoked: int = 0
    policy: str | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def trust(target: Target, *, ssh: SSHOptions = SSHOptions(), allowed_signers: str | os.PathLike | None = None,
          show: bool = False, remove: bool = False, python: str = "python3") -> TrustResult:
    """Install ``allowed_signers`` as the device's policy (checked here and on the device, written atomically),
    or ``show`` it, or ``remove`` it. Refused on a device without ssh-keygen (it could not check signatures).
    Raises InputError / SignatureError for a bad policy file, DeployError for the device."""
    if show:
        ans = call_agent(target, ssh, "trust", target.root, "--show", python=python)
        return TrustResult(str(target), "shown", ans["path"], policy=ans.get("policy"))
    if remove:
        ans = call_agent(target, ssh, "trust", target.root, "--remove", python=python)
        return TrustResult(str(target), ans["status"], ans["path"])
    if allowed_signers is None:
        raise InputError("give --allowed-signers FILE, --show or --remove")
    policy = check_policy(allowed_signers)
    data = policy["text"].encode("utf-8")
    ans = call_agent(target, ssh, "trust", target.root, python=python,
                     feed=lambda stdin: stdin.write(data))
    return TrustResult(str(target), ans["status"], ans["path"], ans.get("signers", 0), ans.get("revoked", 0))


def _trust_playbook() -> Path:
    return Path(__file__).with_name("trust.yml")


def trust_fleet(inventory: str | os.PathLike, *, allowed_signers: str | os.PathLike | None = None,
                show: bool = False, remove: bool = False, limit: str | None = None, forks: int | None = None,
                root: str | None = None, ssh_config: str | None = None, python: str | None = None,
                echo: bool = False) -> list[TrustResult]:
    """The same on every host of an Ansible inventory (playbook trust.yml, one report per host)."""
    from ._fleet import FleetResult  # noqa: F401  (same report format)

    inv = Path(inventory)
    if not inv.exists():
        raise InputError(f"inventory not found: {inv}")
    mode = "show" if show else "remove" if remove else "install"
    if mode == "install":
        if allowed_signers is None:
            raise InputError("give --allowed-signers FILE, --show or --remove")
        check_policy(allowed_signers)
    exe = ansible_playbook_exe()
    with tempfile.TemporaryDirectory(prefix="edgesdk-trust-") as tmp:
        tmpd = Path(tmp)
        reports = tmpd / "reports"
        reports.mkdir()
        agent = tmpd / AGENT_NAME
        agent.write_text(Path(__file__).with_name("_remote.py").read_text(encoding="utf-8"), encoding="utf-8")
        extra: dict = {"edgesdk_trust_mode": mode, "edgesdk_agent": str(agent), "edgesdk_report_dir": str(reports)}
        if mode == "install":
            extra["edgesdk_allowed_signers"] = str(Path(allowed_signers).resolve())  # type: ignore[arg-type]
        if root:
            extra["edgesdk_root"] = root
        if python:
            extra["edgesdk_python"] = python
        proc = run_playbook(exe, inv, _trust_playbook(), extra, limit=limit, forks=forks, ssh_config=ssh_config,
                            echo=echo)
        raw = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(reports.glob("*.json"))}
        hosts = parse_outcome(proc.stdout, reports)
    if not hosts:
        tail = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        raise DeployError(f"ansible-playbook ran no host (exit {proc.returncode}): {tail[-1] if tail else 'no output'}")
    out = []
    for h in hosts:
        rep = raw.get(h.host, {})
        out.append(TrustResult(h.host, h.status, rep.get("path", ""), rep.get("signers", 0), rep.get("revoked", 0),
                               rep.get("policy"), h.message))
    return out
