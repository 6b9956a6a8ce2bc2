"""The benchmark as one self-contained program for a device (or a fresh local process).

Copied to the device next to ``_latency.py``, ``_stats.py`` and ``_machine.py`` and run with the device's own
``python3``; it needs numpy and a TFLite interpreter (ai_edge_litert, tflite_runtime or tensorflow.lite) and
nothing from edgesdk. Commands::

    python3 _agent.py bench MODEL... [--device D] [--threads 1,2] [--runs N | --seconds S] [--warmup N] [--memory]
    python3 _agent.py memory MODEL [--device D] [--threads N] [--runs N]

Both print one JSON object on stdout. ``bench`` exits 0 when it could run at all (failing models are rows with
``status: failed``), 3 with ``{"ok": false, "error": ...}`` when nothing can run (no numpy, no interpreter).

Peak memory (``memory``): the process imports numpy and the interpreter, reads its resident set size
(baseline), loads the model, runs it ``runs`` times, then reads the peak resident set size (VmHWM on Linux,
``ru_maxrss`` elsewhere).
Each model is measured in a fresh process so peaks never mix.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

if __package__:
    from ._latency import Opened, one_line, run_suite
    from ._machine import machine_facts
else:  # run as a plain script on a device
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _latency import Opened, one_line, run_suite  # type: ignore[no-redef]
    from _machine import machine_facts  # type: ignore[no-redef]

SCHEMA = "edgesdk.bench/1"
BACKENDS = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite", "tensorflow.lite", "tensorflow"),
)
EDGETPU_LIBS = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "win32": "edgetpu.dll"}
EXIT_CANNOT_RUN = 3


class AgentError(Exception):
    """A failure with one line for the user."""


def get_backend():
    """(name, version, Interpreter, load_delegate) of the first importable interpreter."""
    wanted = os.environ.get("EDGESDK_BACKEND")
    tried = []
    for name, module, dist in BACKENDS:
        if wanted and wanted != name:
            continue
        try:
            import importlib

            mod = importlib.import_module(module)
        except Exception as exc:  # ImportError, or a broken install raising something else
            tried.append(f"{name}: {one_line(exc)}")
            continue
        if name == "tensorflow.lite":
            import tensorflow as tf

            return name, tf.__version__, mod.Interpreter, mod.experimental.load_delegate
        try:
            from importlib import metadata

            version = metadata.version(dist)
        except Exception:
            version = "unknown"
        return name, version, mod.Interpreter, mod.load_delegate
    try:
        import numpy  # noqa: F401

        why = ""
    except ImportError:
        why = " (numpy is missing too)"
    raise AgentError(
        f"no TFLite interpreter for {sys.executable}{why}: pip install ai-edge-litert "
        "(or tflite-runtime on older Raspberry Pi / Coral images)"
    )


def parse_device(device: str):
    d = (device or "cpu").strip().lower()
    if d == "cpu":
        return None
    if d == "edgetpu":
        return {}
    if d.startswith((":", "usb", "pci")):
        return {"device": d}
    raise AgentError(f"unknown device {device!r}: use cpu, edgetpu, usb, usb:N, pci, pci:N or :N")


def check_model(path: str, on_cpu: bool) -> None:
    p = Path(path)
    if not p.is_file():
        raise AgentError(f"{p.name}: no such file")
    with open(p, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise AgentError(f"{p.name} is not a TFLite model (no TFL3 flatbuffer identifier)")
    if on_cpu and b"edgetpu-custom-op" in p.read_bytes():
        raise AgentError(f"{p.name} was compiled for the Edge TPU: pass --device edgetpu, or use the CPU model")


def open_interpreter(path: str, threads: int, device: str = "cpu"):
    """A raw interpreter with tensors allocated; AgentError with one line on any failure."""
    import numpy as np  # noqa: F401  (fails clearly through get_backend when absent)

    name, version, Interpreter, load_delegate = get_backend()
    options = parse_device(device)
    check_model(path, on_cpu=options is None)
    delegates = []
    if options is not None:
        lib = os.environ.get("EDGESDK_EDGETPU_LIB") or EDGETPU_LIBS.get(sys.platform, "libedgetpu.so.1")
        try:
            delegates.append(load_delegate(lib, options))
        except Exception as exc:
            raise AgentError(f"Edge TPU {device} unavailable ({lib}): {one_line(exc)}") from None
    try:
        interp = Interpreter(model_path=str(path), num_threads=int(threads), experimental_delegates=delegates or None)
        interp.allocate_tensors()
    except Exception as exc:
        if "edgetpu-custom-op" in str(exc):
            raise AgentError(f"{Path(path).name} was compiled for the Edge TPU: pass --device edgetpu") from None
        raise AgentError(f"{Path(path).name}: the interpreter rejected the model: {one_line(exc)}") from None
    info = {"backend": {"name": name, "version": version}, "delegate": "edgetpu" if delegates else "cpu"}
    return interp, info


def preset_inputs(interp, seed: int = 0) -> list[dict]:
    """Fill every input once with random values of its dtype; returns the input descriptions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    described = []
    for d in interp.get_input_details():
        dt = np.dtype(d["dtype"])
        shape = tuple(int(v) for v in d["shape"])
        if np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            arr = rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dt)
        elif dt == np.bool_:
            arr = np.zeros(shape, dt)
        else:
            arr = rng.uniform(-1, 1, size=shape).astype(dt)
        interp.set_tensor(d["index"], arr)
        described.append({"name": d["name"], "shape": list(shape), "dtype": dt.name})
    return described


def open_raw(device: str):
    def opener(path: str, threads: int) -> Opened:
        interp, info = open_interpreter(path, threads, device)
        info["inputs"] = preset_inputs(interp)
        info["device"] = device
        return Opened(invoke=interp.invoke, info=info)

    return opener


# --- memory ------------------------------------------------------------------------------------------------------
def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_kb() -> int:
    """Peak resident set size of this process in KiB. On Linux VmHWM, which belongs to this program's own
    address space: ``ru_maxrss`` would not do, Linux carries it over from the parent across fork + exec."""
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


def memory_probe(path: str, threads: int, device: str, runs: int) -> dict:
    """Run in a fresh process: baseline RSS after imports, then peak RSS after loading and ``runs`` invokes."""
    get_backend()
    import numpy  # noqa: F401

    base = _status_kb("VmRSS") or _peak_kb()
    interp, _ = open_interpreter(path, threads, device)
    preset_inputs(interp)
    for _ in range(max(1, runs)):
        interp.invoke()
    peak = _peak_kb()
    return {
        "peak_rss_mb": round(peak / 1024, 1),
        "baseline_rss_mb": round(base / 1024, 1),
        "model_rss_mb": round((peak - base) / 1024, 1),
        "method": f"fresh process, peak RSS (VmHWM) after load + {runs} invokes; baseline = RSS after importing "
                  "numpy and the interpreter",
    }


def measure_memory(path: str, threads: int, device: str = "cpu", runs: int = 10, python: str | None = None,
                   timeout: float = 300) -> dict:
    """Peak RSS of one model, measured in a fresh process running this file. AgentError on failure."""
    argv = [python or sys.executable, os.path.abspath(__file__), "memory", str(path), "--threads", str(threads),
            "--device", device, "--runs", str(runs)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise AgentError(f"memory probe of {Path(path).name} took over {timeout:g} s") from None
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        err = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise AgentError(f"memory probe of {Path(path).name} failed: {err[-1] if err else done.returncode}") from None
    if not answer.get("ok"):
        raise AgentError(answer.get("error", "memory probe failed"))
    return answer["memory"]


# --- commands ------------------------------------------------------------------------------------------------------
def parse_threads(text: str) -> list[int]:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"threads: expected N or N,M,..., got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"threads must be >= 1, got {text!r}")
    return values


def bench(models: list[str], *, device: str = "cpu", threads=(1,), runs=None, seconds=None, warmup=10,
          memory: bool = True, names: list[str] | None = None) -> dict:
    """Benchmark raw invoke of ``models`` here; the document the workstation merges into its report."""
    get_backend()  # nothing can run without one: fail the whole host with one line
    names = names or [Path(m).name for m in models]
    rows = run_suite(list(zip(names, models)), open_raw(device), threads=threads, runs=runs, seconds=seconds,
                     warmup=warmup)
    if memory:
        top = max(threads)
        measured: dict = {}
        for row in rows:
            if row["status"] != "ok":
                continue
            if row["path"] not in measured:
                try:
                    measured[row["path"]] = measure_memory(row["path"], top, device)
                except AgentError as exc:
                    measured[row["path"]] = {"error": str(exc)}
            row["memory"] = {**measured[row["path"]], "threads": top}
    for row in rows:
        row["device"] = device
    return {"ok": True, "schema": SCHEMA, "machine": machine_facts(), "results": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="_agent.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("models", nargs="+")
    b.add_argument("--names", help="display names, separated by '/'", default=None)
    b.add_argument("--device", default="cpu")
    b.add_argument("--threads", type=parse_threads, default=[1])
    b.add_argument("--runs", type=int, default=None)
    b.add_argument("--seconds", type=float, default=None)
    b.add_argument("--warmup", type=int, default=10)
    b.add_argument("--no-memory", action="store_true")
    m = sub.add_parser("memory")
    m.add_argument("model")
    m.add_argument("--device", default="cpu")
    m.add_argument("--threads", type=int, default=1)
    m.add_argument("--runs", type=int, default=10)
    args = p.parse_args(argv)
    try:
        if args.cmd == "memory":
            answer = {"ok": True, "memory": memory_probe(args.model, args.threads, args.device, args.runs)}
        else:
            answer = bench(args.models, device=args.device, threads=args.threads, runs=args.runs,
                           seconds=args.seconds, warmup=args.warmup, memory=not args.no_memory,
                           names=args.names.split("/") if args.names else None)
    except AgentError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return EXIT_CANNOT_RUN
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
