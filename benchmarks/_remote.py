"""``--remote user@host``: run the same benchmark on a device over SSH with the device's own python3 and
interpreter, and bring its JSON back.

One ssh connection per host (through the SSH layer of ``edgesdk deploy``: the system OpenSSH client, so
~/.ssh/config aliases, keys and known_hosts work as for ``ssh``): a shell line checks that the Python exists,
makes a temporary folder, unpacks a tar streamed on stdin (the self-contained agent ``_agent.py`` with
``_latency.py``, ``_stats.py``, ``_machine.py``, and the model files), runs the agent and removes the folder.
The device needs python3 with numpy and ai-edge-litert or tflite-runtime; it does not need edgesdk.
"""

from __future__ import annotations

import logging
import shlex
import tarfile
from pathlib import Path
from typing import IO, Sequence

from edgesdk.errors import EdgeSDKError

log = logging.getLogger(__name__)

AGENT_FILES = ("_agent.py", "_latency.py", "_stats.py", "_machine.py")
NO_PYTHON_MARK = "edgesdk-bench: no python"


class RemoteError(EdgeSDKError):
    """A host could not run the benchmark at all (unreachable, no Python, no interpreter)."""


def agent_tar(stream: IO[bytes], models: Sequence[tuple[str, Path]]) -> None:
    """Write the agent files and the models (as models/<i>/<file name>) as an uncompressed tar to ``stream``."""
    here = Path(__file__).parent
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in AGENT_FILES:
            _add(tar, here / name, name)
        for arc, (_, path) in zip(remote_paths(models), models):
            _add(tar, Path(path), arc)


def remote_paths(models: Sequence[tuple[str, Path]]) -> list[str]:
    """Where each model lands in the device's temporary folder (its own file name, so messages name it)."""
    return [f"models/{i}/{Path(p).name}" for i, (_, p) in enumerate(models)]


def _add(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    info = tar.gettarinfo(str(path), arcname=arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    with open(path, "rb") as f:
        tar.addfile(info, f)


def remote_command(python: str, paths: Sequence[str], names: Sequence[str], *, device: str, threads: Sequence[int],
                   runs: int | None, seconds: float | None, warmup: int, memory: bool) -> str:
    """The POSIX shell line run on the device."""
    py = shlex.quote(python)
    args = ["bench", *paths, "--names", "/".join(names),
            "--device", device, "--threads", ",".join(map(str, threads)), "--warmup", str(warmup)]
    if runs is not None:
        args += ["--runs", str(runs)]
    if seconds is not None:
        args += ["--seconds", str(seconds)]
    if not memory:
        args.append("--no-memory")
    return (
        f"command -v {py} >/dev/null 2>&1 || {{ echo '{NO_PYTHON_MARK}' >&2; cat >/dev/null; exit 127; }}; "
        'd=$(mktemp -d "${TMPDIR:-/tmp}/edgesdk-bench.XXXXXX") || exit 126; '
        "trap 'rm -rf \"$d\"' EXIT; "
        'tar -xf - -C "$d" || exit 125; '
        f'cd "$d" && PYTHONDONTWRITEBYTECODE=1 {py} _agent.py ' + " ".join(shlex.quote(a) for a in args)
    )


def bench_remote(
    host: str,
    models: Sequence[tuple[str, Path]],
    *,
    python: str = "python3",
    ssh=None,
    device: str = "cpu",
    threads: Sequence[int] = (1,),
    runs: int | None = None,
    seconds: float | None = None,
    warmup: int = 10,
    memory: bool = True,
    timeout: float | None = 3600,
) -> dict:
    """Benchmark ``models`` ((display name, local .tflite path)) on ``host`` ([user@]host or an ssh alias).
    ``ssh``: :class:`edgesdk.deploy._ssh.SSHOptions` (port, identity, config file, -o options).

    Returns the agent's document (``machine``, ``results``), rows tagged with ``host``. Raises RemoteError
    (one line) when the host cannot run it at all."""
    from edgesdk.deploy._errors import SSHError
    from edgesdk.deploy._ssh import SSHOptions, last_json_line, run
    from edgesdk.deploy._target import parse_target

    target = parse_target(host)
    opts = ssh if ssh is not None else SSHOptions()
    cmd = remote_command(python, remote_paths(models), [n.replace("/", "_") for n, _ in models], device=device,
                         threads=threads, runs=runs, seconds=seconds, warmup=warmup, memory=memory)
    try:
        done = run(target, opts, cmd, timeout=timeout, feed=lambda stdin: agent_tar(stdin, models))
    except SSHError as exc:
        raise RemoteError(f"{host}: {exc}") from None
    answer = last_json_line(done.stdout)
    if answer is None:
        err = [ln.strip() for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("INFO:")]
        if NO_PYTHON_MARK in done.stderr or done.returncode == 127:
            raise RemoteError(f"{host}: no Python at {python!r} (install python3 there, or pass --remote-python)")
        raise RemoteError(f"{host}: the benchmark failed: {err[-1] if err else f'exit status {done.returncode}'}")
    if not answer.get("ok"):
        raise RemoteError(f"{host}: {answer.get('error', 'the benchmark failed')}")
    for row, (name, path) in zip(answer["results"], _expand(models, threads)):
        row["host"] = host
        row["path"] = str(path)
        row["model"] = name
    return answer


def _expand(models, threads):
    """Rows come back threads-outer, models-inner (as run_suite makes them)."""
    return [m for _ in threads for m in models]
