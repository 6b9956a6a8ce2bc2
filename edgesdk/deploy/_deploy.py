"""One device: deploy a bundle, roll back, list releases. The workstation verifies the bundle, streams it as
a tar over one ssh connection to the device-side agent (``_remote.py``), which verifies it again against the
manifest and switches ``ROOT/current`` atomically."""

from __future__ import annotations

import base64
import logging
import shlex
import tarfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Callable

from ..bundle import MANIFEST_NAME, SIGNATURE_NAME, Bundle, load_bundle, sha256_file
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
    uploaded_bytes: int = 0
    reused_bytes: int = 0
    signer: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def call_agent(target: Target, ssh: SSHOptions, command: str, *args: object, feed=None, python: str = "python3",
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


class _Counting:
    """A write-only stream wrapper that counts the bytes and reports them (an upload progress)."""

    def __init__(self, stream: IO[bytes], progress: Callable[[int], None] | None) -> None:
        self.stream, self.progress, self.count = stream, progress, 0

    def write(self, data) -> int:
        n = self.stream.write(data)
        self.count += len(data)
        if self.progress:
            self.progress(self.count)
        return n if n is not None else len(data)

    def flush(self) -> None:
        self.stream.flush()


def upload_names(bundle: Bundle, have: set | frozenset = frozenset()) -> list[str]:
    """What goes over the wire: manifest.json, the signature if any, and every file whose sha256 the device
    does not hold yet (the rest it hard-links from earlier releases)."""
    files = [n for n in sorted(bundle.manifest.files) if bundle.manifest.files[n]["sha256"] not in have]
    sig = [SIGNATURE_NAME] if (bundle.root / SIGNATURE_NAME).is_file() else []
    return [MANIFEST_NAME, *sig, *files]


def write_tar(stream: IO[bytes], bundle: Bundle, names: list[str] | None = None) -> None:
    """Stream the bundle's files (manifest first, flat names; default all of them and the signature) as an
    uncompressed tar: models barely compress and a Pi's CPU is better spent elsewhere."""
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in names if names is not None else upload_names(bundle):
            info = tar.gettarinfo(str(bundle.root / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with open(bundle.root / name, "rb") as f:
                tar.addfile(info, f)


def deploy(bundle_path, target: Target, *, ssh: SSHOptions = SSHOptions(), keep: int = DEFAULT_KEEP,
           service: str | None = None, health: HealthCheck = HealthCheck(), python: str = "python3",
           progress: Callable[[int, int], None] | None = None) -> DeployResult:
    """Push a bundle (folder or .tar.gz) to ``target`` and make it current.

    The bundle is verified here first (BundleError for a manifest that does not match its files or an unsafe
    archive). Only the files whose sha256 the device does not already hold are uploaded (into ROOT/.tmp-*); the
    device hard-links the others from earlier releases, verifies every checksum, and, when a policy is
    installed (``edgesdk trust``), the signature; then it moves the folder to ROOT/releases/<id> and switches
    ROOT/current with one rename. The last ``keep`` releases stay. The same bundle again is a no-op
    ("unchanged"). With ``service`` the release is pending until the service is confirmed healthy: if it does
    not come up, or nobody confirms it within ``health.confirm_within`` seconds (the deploying machine gone, a
    reboot), the device switches back to the previous release by itself.
    ``progress(sent_bytes, total_bytes)`` is called while uploading.

    Raises DeployError (SSHError for connection problems) with one line; ``current`` is unchanged then."""
    if keep < 1:
        raise DeployError("--keep must be at least 1")
    if service:
        service = check_service_name(service)
    bundle = load_bundle(bundle_path)
    rid = release_id(bundle)
    state = call_agent(target, ssh, "prepare", target.root, python=python)
    ids = [r["id"] for r in state["releases"]]
    pending = ["--pending", health.confirm_within, "--service", service, "--manager", health.manager] if service else []
    uploaded = 0
    if rid in ids:
        sig = bundle.root / SIGNATURE_NAME  # (the release may be on the device from before it was signed)
        signature = ["--signature-b64", base64.b64encode(sig.read_bytes()).decode()] if sig.is_file() else []
        res = call_agent(target, ssh, "switch", target.root, rid, "--keep", keep, *pending, *signature,
                         python=python)
    else:
        names = upload_names(bundle, set(state.get("have", [])))
        size = sum((bundle.root / n).stat().st_size for n in names)
        counter: list[_Counting] = []

        def feed(stdin: IO[bytes]) -> None:
            counter.append(_Counting(stdin, (lambda n: progress(n, size)) if progress else None))
            write_tar(counter[0], bundle, names)  # type: ignore[arg-type]

        res = call_agent(target, ssh, "install", target.root, "--release", rid,
                         "--manifest-sha256", sha256_file(bundle.root / MANIFEST_NAME), "--size", size,
                         "--keep", keep, *pending, python=python, feed=feed, timeout=None)
        uploaded = counter[0].count if counter else 0
    result = DeployResult(str(target), res["status"], rid, res.get("previous"), res.get("pruned", []),
                          state.get("stale_removed", []), service, uploaded_bytes=uploaded,
                          reused_bytes=int(res.get("reused_bytes", 0)), signer=res.get("signer"))
    if service and result.status == "deployed":
        chk = call_agent(target, ssh, "restart", target.root, *health.agent_args(service, result.previous),
                         python=python, timeout=None, check=False)
        if not chk.get("healthy") or chk.get("rolled_back"):
            raise DeployError(f"{target}: {chk.get('error', 'service check failed')}")
    log.info("%s: %s %s (%d bytes uploaded, %d reused)", target, result.status, rid, uploaded,
             result.reused_bytes)
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
