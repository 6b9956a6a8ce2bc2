"""One device: deploy a bundle, roll back, list releases. The workstation verifies the bundle, streams it as
a tar over one ssh connection to the device-side agent (``_remote.py``), which verifies it again against the
manifest and switches ``ROOT/current`` atomically."""

from __future__ import annotations

import logging
import shlex
import tarfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO

from ..bundle import MANIFEST_NAME, Bundle, load_bundle, sha256_file
from ._errors import DeployError
from ._service import HealthCheck, check_service_name
from ._ssh import SSHOptions, last_json_line, run
from ._target import Target

log = logging.getLogger(__name__)

RELEASE_ID_LEN = 16
DEFAULT_KEEP = 3


@lru_cache(maxsize=1)
def agent_source() -> str:
    """The device-side script, sent as ``python3 -c SOURCE``."""
    return Path(__file__).with_name("_remote.py").read_text(encoding="utf-8")


def release_id(bundle: Bundle) -> str:
    """A release is named by the first 16 hex digits of the bundle digest (same files -> same release)."""
    return bundle.digest[:RELEASE_ID_LEN]


@dataclass
class DeployResult:
    """What happened on one device. status: deployed | unchanged | rolled back | failed."""

    target: str
    status: str
    release: str | None = None
    previous: str | None = None
    pruned: list = field(default_factory=list)
    stale_removed: list = field(default_factory=list)
    service: str | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def call_agent(target: Target, ssh: SSHOptions, command: str, *args: str | int, feed=None, python: str = "python3",
               timeout: float | None = 300, check: bool = True) -> dict:
    """Run one agent command on the device and return its JSON answer (DeployError when it says ok: false)."""
    remote = " ".join([shlex.quote(python), "-c", shlex.quote(agent_source()), command,
                       *(shlex.quote(str(a)) for a in args)])
    done = run(target, ssh, remote, timeout=timeout, feed=feed)
    answer = last_json_line(done.stdout)
    if answer is None:
        err = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        if done.returncode == 127 or (err and "not found" in err[-1] and python in err[-1]):
            raise DeployError(f"{python} not found on {target.destination}: the device needs Python 3.7+ "
                              f"(or pass --remote-python)")
        raise DeployError(f"{command} on {target} failed: {err[-1] if err else f'exit {done.returncode}'}")
    if check and not answer.get("ok"):
        cur = answer.get("current")
        raise DeployError(f"{target}: {answer.get('error', 'failed')}"
                          + (f" (current is still {cur})" if cur and command in ("install", "switch") else ""))
    return answer


def write_tar(stream: IO[bytes], bundle: Bundle) -> None:
    """Stream the bundle's files (manifest first, flat names) as an uncompressed tar: models barely compress
    and a Pi's CPU is better spent elsewhere."""
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in [MANIFEST_NAME, *sorted(bundle.manifest.files)]:
            info = tar.gettarinfo(str(bundle.root / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with open(bundle.root / name, "rb") as f:
                tar.addfile(info, f)


def deploy(bundle_path, target: Target, *, ssh: SSHOptions = SSHOptions(), keep: int = DEFAULT_KEEP,
           service: str | None = None, health: HealthCheck = HealthCheck(), python: str = "python3") -> DeployResult:
    """Push a bundle (folder or .tar.gz) to ``target`` and make it current.

    The bundle is verified here first (BundleError for a manifest that does not match its files or an unsafe
    archive), then uploaded into ROOT/.tmp-*, verified again on the device, moved to ROOT/releases/<id> and
    ROOT/current is switched with one rename. The last ``keep`` releases stay. The same bundle again is a
    no-op ("unchanged"). With ``service`` the service is restarted and, if it does not stay healthy, the
    previous release is switched back (DeployError saying so).

    Raises DeployError (SSHError for connection problems) with one line; ``current`` is unchanged then."""
    if keep < 1:
        raise DeployError("--keep must be at least 1")
    if service:
        service = check_service_name(service)
    bundle = load_bundle(bundle_path)
    rid = release_id(bundle)
    state = call_agent(target, ssh, "prepare", target.root, python=python)
    ids = [r["id"] for r in state["releases"]]
    if rid in ids:
        res = call_agent(target, ssh, "switch", target.root, rid, "--keep", keep, python=python)
    else:
        size = sum(int(m.get("size", 0)) for m in bundle.manifest.files.values())
        size += (bundle.root / MANIFEST_NAME).stat().st_size
        res = call_agent(target, ssh, "install", target.root, "--release", rid,
                         "--manifest-sha256", sha256_file(bundle.root / MANIFEST_NAME), "--size", size,
                         "--keep", keep, python=python, feed=lambda stdin: write_tar(stdin, bundle), timeout=None)
    result = DeployResult(str(target), res["status"], rid, res.get("previous"), res.get("pruned", []),
                          state.get("stale_removed", []), service)
    if service and result.status == "deployed":
        chk = call_agent(target, ssh, "restart", target.root, *health.agent_args(service, result.previous),
                         python=python, timeout=None, check=False)
        if not chk.get("healthy") or chk.get("rolled_back"):
            raise DeployError(f"{target}: {chk.get('error', 'service check failed')}")
    log.info("%s: %s %s", target, result.status, rid)
    return result


def rollback(target: Target, *, ssh: SSHOptions = SSHOptions(), to: str | None = None, service: str | None = None,
             health: HealthCheck = HealthCheck(), python: str = "python3") -> DeployResult:
    """Switch ``current`` back to the release deployed before it (or to release ``to``); with ``service``,
    restart it and check it comes up (no automatic roll-forward)."""
    args = ["--to", to] if to else []
    res = call_agent(target, ssh, "rollback", target.root, *args, python=python)
    if service:
        service = check_service_name(service)
        chk = call_agent(target, ssh, "restart", target.root, *health.agent_args(service, None), python=python,
                         timeout=None, check=False)
        if not chk.get("healthy"):
            raise DeployError(f"{target}: rolled back to {res['release']} but {chk.get('error')}")
    return DeployResult(str(target), res["status"], res["release"], res.get("previous"), service=service)


def releases(target: Target, *, ssh: SSHOptions = SSHOptions(), python: str = "python3") -> dict:
    """``{"root", "current", "releases": [{id, name, task, deployed, size, current}], "free"}``, newest first."""
    return call_agent(target, ssh, "status", target.root, python=python)
