"""Edge TPU compilation: run Google's ``edgetpu_compiler`` where it is installed and parse what it reports.

The compiler exists only for x86-64 Debian-family Linux. Its stdout (and the ``<name>_edgetpu.log`` it writes)
carry a summary (on-chip/off-chip memory, number of Edge TPU subgraphs, total operations) and a table of
operators with counts and a status such as "Mapped to Edge TPU" or "More than one subgraph is not supported".
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import EdgeSDKError, InputError, ModelError
from ._report import mapping_summary, render_report_md

log = logging.getLogger(__name__)

__all__ = ["CompileLog", "CompileReport", "CompileResult", "INSTALL_HINT", "compile_model", "find_compiler",
           "parse_compiler_log", "run_compiler", "predict_mapping"]

COMPILER = "edgetpu_compiler"
INSTALL_HINT = (
    "edgetpu_compiler is not installed (Coral ships it only for x86-64 Debian/Ubuntu): "
    "curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo gpg --dearmor -o /usr/share/keyrings/coral-edgetpu.gpg && "
    "echo 'deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt coral-edgetpu-stable main' "
    "| sudo tee /etc/apt/sources.list.d/coral-edgetpu.list && sudo apt-get update && sudo apt-get install edgetpu-compiler"
)
MAPPED = "Mapped to Edge TPU"

_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1000, "MB": 1000**2, "GB": 1000**3}
_SIZE = r"([0-9.]+)\s*(B|KiB|MiB|GiB|KB|MB|GB)"
_FIELDS = {
    "on_chip_used_bytes": re.compile(r"On-chip memory used for caching model parameters:\s*" + _SIZE),
    "on_chip_remaining_bytes": re.compile(r"On-chip memory remaining for caching model parameters:\s*" + _SIZE),
    "off_chip_used_bytes": re.compile(r"Off-chip memory used for streaming uncached model parameters:\s*" + _SIZE),
}
_INTS = {
    "subgraphs": re.compile(r"Number of Edge TPU subgraphs:\s*(\d+)"),
    "total_ops": re.compile(r"Total number of operations:\s*(\d+)"),
    "edgetpu_ops": re.compile(r"Number of operations that will run on Edge TPU:\s*(\d+)"),
    "cpu_ops": re.compile(r"Number of operations that will run on CPU:\s*(\d+)"),
    "compile_ms": re.compile(r"Model compiled successfully in\s*(\d+)\s*ms"),
}
_VERSION = re.compile(r"Edge TPU Compiler version\s+(\S+)")
_INPUT = re.compile(r"^Input(?: model)?:\s*(.+?)\s*$", re.M)
_OUTPUT = re.compile(r"^Output(?: model)?:\s*(.+?)\s*$", re.M)
_TABLE_HEAD = re.compile(r"^Operator\s+Count\s+Status\s*$")
_ROW = re.compile(r"^(\S+)\s+(\d+)\s{2,}(\S.*?)\s*$")


@dataclass
class OperatorStatus:
    op: str
    count: int
    status: str

    @property
    def mapped(self) -> bool:
        return self.status.startswith(MAPPED)


@dataclass
class CompileLog:
    """What one compiler run reported (fields are None where the text did not say)."""

    version: str | None = None
    input_model: str | None = None
    output_model: str | None = None
    compile_ms: int | None = None
    on_chip_used_bytes: int | None = None
    on_chip_remaining_bytes: int | None = None
    off_chip_used_bytes: int | None = None
    subgraphs: int | None = None
    total_ops: int | None = None
    edgetpu_ops: int | None = None
    cpu_ops: int | None = None
    operators: list[OperatorStatus] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.compile_ms is not None and not self.errors

    @property
    def first_unmapped(self) -> dict | None:
        """The first table row not mapped to the Edge TPU (op and reason), in the compiler's order."""
        row = next((r for r in self.operators if not r.mapped), None)
        return None if row is None else {"op": row.op, "status": row.status}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["operators"] = [dict(asdict(r), mapped=r.mapped) for r in self.operators]
        d["success"] = self.success
        d["first_unmapped"] = self.first_unmapped
        return d


def _size(m: re.Match) -> int:
    return int(round(float(m.group(1)) * _UNITS[m.group(2)]))


def parse_compiler_log(text: str) -> CompileLog:
    """Parse edgetpu_compiler output (stdout, with or without ``-s``, or its ``_edgetpu.log`` file).

    When every op maps the compiler prints no "will run on" lines: the Edge TPU count is then the total and
    the CPU count 0; when only the table is present the counts are summed from it."""
    out = CompileLog()
    if m := _VERSION.search(text):
        out.version = m.group(1)
    if m := _INPUT.search(text):
        out.input_model = m.group(1)
    if m := _OUTPUT.search(text):
        out.output_model = m.group(1)
    for key, rx in _FIELDS.items():
        if m := rx.search(text):
            setattr(out, key, _size(m))
    for key, rx in _INTS.items():
        if m := rx.search(text):
            setattr(out, key, int(m.group(1)))
    in_table = False
    for line in text.splitlines():
        if _TABLE_HEAD.match(line.strip()):
            in_table = True
            continue
        if in_table:
            if not line.strip():
                continue
            if m := _ROW.match(line.strip()):
                out.operators.append(OperatorStatus(m.group(1), int(m.group(2)), m.group(3)))
            else:
                in_table = False
    for line in text.splitlines():
        low = line.strip().lower()
        if low.startswith(("error", "internal compiler error", "compilation failed")) or "invalid model" in low:
            out.errors.append(line.strip())
    if out.operators:
        mapped = sum(r.count for r in out.operators if r.mapped)
        cpu = sum(r.count for r in out.operators if not r.mapped)
        out.edgetpu_ops = mapped if out.edgetpu_ops is None else out.edgetpu_ops
        out.cpu_ops = cpu if out.cpu_ops is None else out.cpu_ops
        if out.total_ops is None:
            out.total_ops = mapped + cpu
    if out.total_ops is not None and out.edgetpu_ops is None and out.compile_ms is not None:
        out.edgetpu_ops, out.cpu_ops = out.total_ops, 0
    return out


def find_compiler() -> str | None:
    return shutil.which(COMPILER)


@dataclass
class CompileResult:
    log: CompileLog
    outputs: list[Path]
    log_files: list[Path]
    stdout: str


def run_compiler(model: str | os.PathLike, out_dir: str | os.PathLike, *, num_segments: int | None = None,
                 timeout: float = 600.0, compiler: str | None = None) -> CompileResult:
    """Run edgetpu_compiler on ``model`` writing into ``out_dir``; raise EdgeSDKError with the compiler's own
    message when it fails."""
    exe = compiler or find_compiler()
    if exe is None:
        raise EdgeSDKError(INSTALL_HINT)
    model = Path(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "-s", "-o", str(out)]
    if num_segments and num_segments > 1:
        cmd += ["-n", str(num_segments)]
    cmd.append(str(model))
    log.info("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise EdgeSDKError(f"edgetpu_compiler did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise EdgeSDKError(f"cannot run {exe}: {exc.strerror or exc}") from None
    text = proc.stdout + ("\n" + proc.stderr if proc.stderr else "")
    parsed = parse_compiler_log(text)
    stem = model.stem
    outputs = sorted(out.glob(f"{stem}*_edgetpu.tflite"))
    logs = sorted(out.glob(f"{stem}*_edgetpu.log"))
    if not parsed.operators and logs:  # without -s support: the table is in the log file
        file_log = parse_compiler_log(logs[0].read_text(errors="replace"))
        parsed.operators = file_log.operators
        parsed = parse_compiler_log(text + "\n" + logs[0].read_text(errors="replace"))
    if proc.returncode != 0 or not outputs:
        failed = [e for e in parsed.errors if "failed:" in e.lower()]
        why = (failed or parsed.errors)[0] if parsed.errors else (text.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise EdgeSDKError(f"edgetpu_compiler failed on {model.name}: {why}")
    return CompileResult(parsed, outputs, logs, text)


@dataclass(frozen=True, eq=False)
class CompileReport:
    """What ``compile_model`` did to ``model`` (a .tflite file or a bundle).

    predicted: the predicted Edge TPU mapping (edgesdk.tflite's predictor, as a dict; None if it failed);
    compiled: whether edgetpu_compiler ran; note: why it did not (how to install it, or --predict-only);
    compiler: what the compiler reported; bundle: the bundle written (None: a .tflite file); outputs: the files
    written (the Edge TPU model(s), and the logs next to a .tflite file). ``to_dict()``: ``--json``'s document.
    """

    model: str
    predicted: dict | None
    compiled: bool = False
    note: str | None = None
    compiler: CompileLog | None = None
    bundle: str | None = None
    outputs: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d: dict = {"model": self.model, "predicted": self.predicted, "compiled": self.compiled}
        if self.note is not None:
            d["note"] = self.note
        if self.compiler is not None:
            d["compiler"] = self.compiler.to_dict()
        if self.bundle is not None:
            d["bundle"] = self.bundle
        if self.compiled:
            d["outputs"] = list(self.outputs)
        return d

    def summary(self) -> tuple[list[str], list[str]]:
        """What ``edgesdk compile`` prints: (lines for stdout, notes for stderr: the note when nothing compiled)."""
        lines: list[str] = []
        if self.predicted:
            lines.append(f"predicted: {mapping_summary(self.predicted)}")
        if not self.compiled or self.compiler is None:
            return lines, [self.note or "not compiled"]
        c = self.compiler
        lines.append(f"edgetpu_compiler {c.version}: {c.edgetpu_ops} of {c.total_ops} ops on the Edge TPU, "
                     f"{c.subgraphs} subgraph(s); on-chip {c.on_chip_used_bytes} B used, "
                     f"{c.on_chip_remaining_bytes} B free; off-chip {c.off_chip_used_bytes} B")
        lines += [f"  {row.op:<28} {row.count:>5}  {row.status}" for row in c.operators]
        lines += [f"wrote {path}" for path in self.outputs]
        return lines, []


def predict_mapping(model: str | os.PathLike) -> dict | None:
    """The predicted Edge TPU mapping of a .tflite file (edgesdk.tflite's predictor), or None if it fails."""
    from ..tflite import predict_edgetpu, read_model

    try:
        return predict_edgetpu(read_model(model)).to_dict()
    except (ModelError, InputError):
        raise
    except Exception as exc:  # noqa: BLE001 - a prediction failure must not lose the conversion
        log.warning("Edge TPU prediction failed: %s", exc)
        return None


def compile_model(model: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                  num_segments: int | None = None, compiler: str | None = None, predict_only: bool = False) -> CompileReport:
    """Compile a .tflite file or a bundle's model for the Edge TPU.

    A bundle gets ``model_edgetpu.tflite`` and the compiler's report added (rewritten atomically, in place or
    into ``out_dir``); a .tflite file gets ``<name>_edgetpu.tflite`` and its log in ``out_dir`` (default: next
    to it). Without the compiler nothing is written: the report holds the predicted mapping and how to install
    the compiler (``compiled`` is False). ``predict_only`` never runs the compiler.
    Raises InputError for a model that is already compiled for the Edge TPU (unless ``predict_only``)."""
    import json
    from dataclasses import replace

    from ..bundle import is_bundle, load_bundle
    from ..tflite import check_tflite_file

    src = Path(model)
    if not src.exists():
        raise ModelError(f"model not found: {src}")
    bundle = load_bundle(src) if (src.is_dir() or is_bundle(src)) and not src.suffix == ".tflite" else None
    tflite = bundle.model_path if bundle else src
    check_tflite_file(tflite)
    if num_segments is not None and num_segments < 1:
        raise InputError(f"--num-segments must be at least 1, got {num_segments}")
    report = CompileReport(str(src), predict_mapping(tflite))
    if predict_only:
        return replace(report, note="predicted only (--predict-only): the compiler was not run")
    if (report.predicted or {}).get("compiled"):
        raise InputError(f"{tflite.name} is already compiled for the Edge TPU: compile the CPU model it was made from")
    exe = compiler or find_compiler()
    if exe is None:
        log.info(INSTALL_HINT)
        return replace(report, note=INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="edgesdk-compile-") as tmp:
        staged = Path(tmp) / "in" / ("model.tflite" if bundle else tflite.name)
        staged.parent.mkdir()
        shutil.copyfile(tflite, staged)
        res = run_compiler(staged, Path(tmp) / "out", num_segments=num_segments, compiler=exe)
        report = replace(report, compiled=True, compiler=res.log)
        if res.log.cpu_ops:
            log.warning("edgetpu_compiler left %d op(s) on the CPU (first: %s)", res.log.cpu_ops, res.log.first_unmapped)
        if bundle is not None:
            files = {name: bundle.root / name for name in bundle.manifest.files}
            old = json.loads((bundle.root / "report.json").read_text()) if "report.json" in files else {}
            old.setdefault("edgetpu", {})["compiler"] = res.log.to_dict()
            files["report.json"] = (json.dumps(old, indent=2) + "\n").encode()
            files["report.md"] = render_report_md(old).encode()
            manifest = bundle.manifest
            if len(res.outputs) == 1:
                files["model_edgetpu.tflite"] = res.outputs[0]
                manifest = manifest.replace(edgetpu_model="model_edgetpu.tflite")
            else:  # pipelined segments: kept side by side, the manifest's single Edge TPU model stays unset
                for p in res.outputs:
                    files[p.name] = p
            for p in res.log_files:
                files[p.name.replace("model_", "compile_", 1) if p.name.startswith("model_") else p.name] = p
            from ..bundle import write_bundle

            dest = Path(out_dir) if out_dir else bundle.root
            write_bundle(dest, manifest, files, overwrite=dest.resolve() == bundle.root.resolve())
            return replace(report, bundle=str(dest),
                           outputs=tuple(str(dest / n) for n in files if n.endswith("_edgetpu.tflite")))
        else:
            dest = Path(out_dir) if out_dir else tflite.parent
            dest.mkdir(parents=True, exist_ok=True)
            written = []
            for p in res.outputs + res.log_files:
                target = dest / p.name
                tmp_target = target.with_name(f".{target.name}.tmp")
                shutil.copyfile(p, tmp_target)
                tmp_target.replace(target)
                written.append(str(target))
            return replace(report, outputs=tuple(written))
