"""Reports of a benchmark document: terminal table (rich on a terminal, plain text in a pipe), JSON, Markdown,
and a PNG plot (matplotlib, headless Agg backend)."""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Sequence

from edgesdk.errors import InputError

from ._latency import DEFAULT_RUNS
from ._results import BenchError, BenchReport

SCHEMA = "edgesdk.bench/1"

INTERLEAVE_NOTE = (
    "Models (and thread counts) were measured interleaved, round by round, in one process: whatever else runs on "
    "the machine slows all of them alike, so the ratios are fair even when the absolute numbers move."
)


# --- document --------------------------------------------------------------------------------------------------
def add_ratios(rows: list[dict]) -> None:
    """``ratio_p50``: each row's p50 over the p50 of the first model that ran, per (host, device, threads)."""
    first: dict[tuple, float] = {}
    for r in rows:
        p50 = (r.get("latency_ms") or {}).get("p50")
        if r.get("status") != "ok" or not p50:
            r["ratio_p50"] = None
            continue
        key = (r.get("host"), r.get("device"), r.get("threads"))
        base = first.setdefault(key, p50)
        r["ratio_p50"] = p50 / base


def make_document(rows: list[dict], machines: dict, settings: dict, errors: list[dict],
                  command: str = "") -> BenchReport:
    """The report of measured ``rows`` (with ``ratio_p50`` added), stamped with the time (UTC)."""
    import datetime

    add_ratios(rows)
    return BenchReport(
        schema=SCHEMA,
        created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        command=command,
        settings=settings,
        machines=machines,
        results=tuple(rows),
        errors=tuple(BenchError(e.get("host"), e.get("model"), e["error"]) for e in errors),
    )


def read_document(path: str | Path) -> BenchReport:
    """A JSON written by ``edgesdk bench --json``; InputError with one line for anything else."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {p}: {(exc.strerror or 'error').lower()}") from None
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{p} is not a benchmark JSON (not valid JSON text)") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if not isinstance(schema, str) or not schema.startswith("edgesdk.bench/"):
        raise InputError(f"{p} is not an `edgesdk bench --json` file (schema {schema!r})")
    if schema != SCHEMA:
        raise InputError(f"{p} has schema {schema}; this edgesdk reads {SCHEMA}")
    try:
        return BenchReport.from_dict(doc)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise InputError(f"{p} is not an `edgesdk bench --json` file (its results or errors are malformed)") from None


def _publish(tmp: str, path: Path) -> None:
    """chmod the temporary file as a plain open() would have made it (mkstemp makes 0600), then rename."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: a failed run never leaves half a file."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise InputError(f"cannot write {p}: folder {p.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        _publish(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- table -------------------------------------------------------------------------------------------------------
def _f(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def _mb(b) -> str:
    return "-" if b is None else f"{b / 1e6:.2f}"


def table_rows(doc: BenchReport) -> tuple[list[str], list[list[str]], list[bool]]:
    """(header, cells, failed flags) shared by every table format."""
    rows = doc.results
    hosts = {r.get("host") for r in rows}
    pipeline = any(r.get("pipeline_ms") for r in rows)
    accuracy = any(r.get("accuracy") for r in rows)
    header = (["host"] if len(hosts) > 1 else []) + ["model", "thr", "p50 ms", "p90", "p99", "mean±std", "x first",
                                                        "inf/s", "load ms", "1st ms"]
    if pipeline:
        header += ["app p50 ms", "pre/inv/post"]
    header += ["peak MB", "size MB", "gzip MB"]
    if accuracy:
        header += ["top-1", "top-5"]
    cells, failed = [], []
    for r in rows:
        row = [str(r.get("host"))] if len(hosts) > 1 else []
        row += [str(r.get("model")), str(r.get("threads", "-"))]
        if r.get("status") != "ok":
            width = len(header) - len(row)
            row += [f"FAILED: {r.get('error')}"] + [""] * (width - 1)
            cells.append(row)
            failed.append(True)
            continue
        lat = r.get("latency_ms") or {}
        row += [_f(lat.get("p50")), _f(lat.get("p90")), _f(lat.get("p99")),
                f"{_f(lat.get('mean'))}±{_f(lat.get('std'))}",
                "-" if r.get("ratio_p50") is None else f"{r['ratio_p50']:.2f}",
                _f(r.get("throughput_ips"), 1), _f(r.get("load_ms"), 1), _f(r.get("first_invoke_ms"), 1)]
        if pipeline:
            p = r.get("pipeline_ms") or {}
            row += [_f((p.get("total") or {}).get("p50")),
                    "/".join(_f((p.get(k) or {}).get("p50")) for k in ("pre", "invoke", "post")) if p else "-"]
        mem = r.get("memory") or {}
        row += [_f(mem.get("peak_rss_mb"), 1) if "error" not in mem else "err", _mb(r.get("size_bytes")),
                _mb(r.get("gzip_bytes"))]
        if accuracy:
            a = r.get("accuracy") or {}
            row += ["-" if a.get("top1") is None else f"{100 * a['top1']:.1f}%",
                    "-" if a.get("top5") is None else f"{100 * a['top5']:.1f}%"]
        cells.append(row)
        failed.append(False)
    return header, cells, failed


def plain_table(doc: BenchReport) -> str:
    header, cells, failed = table_rows(doc)
    ncols = len(header)
    widths = [len(h) for h in header]
    for row, bad in zip(cells, failed):
        for i, c in enumerate(row):
            if bad and c.startswith("FAILED"):
                continue  # a failure message may run past the columns
            widths[i] = max(widths[i], len(c))
    right = {i for i, h in enumerate(header) if h not in ("host", "model", "pre/inv/post")}
    lines = []

    def fmt(row, bad=False):
        out = []
        for i, c in enumerate(row[:ncols]):
            if bad and c.startswith("FAILED"):
                out.append(c)
                break
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines.append(fmt(header))
    lines.append("  ".join("-" * w for w in widths))
    for row, bad in zip(cells, failed):
        lines.append(fmt(row, bad))
    return "\n".join(lines)


def narrow_table(doc: BenchReport, width: int = 80) -> str:
    """The table as one block per row for terminals narrower than the table: a title line (host, model,
    threads) then ``name value`` pairs wrapped to ``width`` columns (model names wrap too)."""
    import textwrap

    header, cells, failed = table_rows(doc)
    first = 3 if header[0] == "host" else 2
    out: list[str] = []
    for row, bad in zip(cells, failed):
        title = " ".join(row[:first - 1]) + f"  ({row[first - 1]} thread{'s' if row[first - 1] != '1' else ''})"
        out += textwrap.wrap(title, width, break_on_hyphens=False) or [""]
        if bad:
            out += textwrap.wrap(row[first], width, initial_indent="  ", subsequent_indent="    ")
            continue
        pairs = [f"{h} {c}" for h, c in zip(header[first:], row[first:])]
        line = " "
        for pair in pairs:
            if len(line) + 2 + len(pair) > width and line.strip():
                out.append(line.rstrip())
                line = " "
            line += " " + pair + " "
        if line.strip():
            out.append(line.rstrip())
    return "\n".join(out)


def print_table(doc: BenchReport, file: IO[str], rich: bool | None = None, width: int | None = None) -> None:
    """Rich table when ``file`` is a terminal (or rich=True), plain aligned text otherwise; on a terminal
    narrower than the table (or ``width``), one block per model (:func:`narrow_table`)."""
    tty = hasattr(file, "isatty") and file.isatty()
    if rich is None:
        rich = tty
    if width is None and tty:
        import shutil

        width = shutil.get_terminal_size().columns
    plain = plain_table(doc)
    natural = max(len(line) for line in plain.splitlines())
    ncols = len(table_rows(doc)[0])
    if width is not None and natural + (3 * ncols + 1 if rich else 0) > width:
        file.write(narrow_table(doc, width) + "\n")
        return
    if not rich:
        file.write(plain + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    header, cells, failed = table_rows(doc)
    t = Table(show_lines=False)
    for h in header:
        t.add_column(h, justify="left" if h in ("host", "model", "pre/inv/post") else "right",
                     no_wrap=h not in ("model",))
    for row, bad in zip(cells, failed):
        if bad:
            t.add_row(*row, style="red")
        else:
            t.add_row(*row)
    Console(file=file).print(t)


def settings_line(doc: BenchReport) -> str:
    s = doc.settings
    how = f"{s['seconds']} s per model" if s.get("seconds") else f"{s.get('runs') or DEFAULT_RUNS} runs"
    return (f"device {s.get('device')}, threads {','.join(map(str, s.get('threads', [])))}, {how} after "
            f"{s.get('warmup')} warm-up runs" + (", with --pipeline" if s.get("pipeline") else ""))


# --- Markdown ----------------------------------------------------------------------------------------------------
def to_markdown(doc: BenchReport, title: str = "Benchmark", plot: str | None = None, notes: Sequence[str] = ()) -> str:
    header, cells, failed = table_rows(doc)
    out = [f"# {title}", ""]
    out.append(f"Measured {doc.created} with `{doc.command or 'edgesdk bench'}`.")
    out.append("")
    for host, m in doc.machines.items():
        pk = m.get("packages", {})
        backend = ", ".join(f"{k} {v}" for k, v in pk.items() if k in ("ai-edge-litert", "tflite-runtime"))
        out.append(f"- **{host}**: {m.get('cpu')}, {m.get('cores')} cores ({m.get('cores_usable')} usable), "
                   f"{m.get('os')}, {m.get('python')}, {backend or 'no interpreter package metadata'}, "
                   f"load average at the start {m.get('loadavg')}")
    out.append(f"- Settings: {settings_line(doc)}.")
    out.append(f"- {INTERLEAVE_NOTE}")
    out.append("- `p50`..`mean±std`: raw `interpreter.invoke()` latency in ms with inputs set once; `x first`: p50 as "
               "a ratio to the first model; `inf/s`: 1000/mean (one stream); `load ms`: `edgesdk.runtime.load()`; "
               "`1st ms`: the first invoke (XNNPACK packs weights then); `peak MB`: peak resident memory of a fresh "
               "process that imported numpy + the interpreter, loaded the model and ran it 10 times.")
    if any(r.get("pipeline_ms") for r in doc.results):
        out.append("- `app p50 ms`: what an application sees per frame (pre-processing of a 640x480 BGR frame, "
                   "invoke, decoding), with the p50 of each phase in `pre/inv/post`.")
    out.extend(f"- {n}" for n in notes)
    out.append("")
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---" if h in ("host", "model", "pre/inv/post") else "---:" for h in header) + "|")
    for row, bad in zip(cells, failed):
        row = [c.replace("|", "\\|") for c in row]
        if bad:
            row = [c for c in row if c != ""]
            row += [""] * (len(header) - len(row))
        out.append("| " + " | ".join(row) + " |")
    if doc.errors:
        out += ["", "Failures:", ""]
        out += [f"- {e.host}: {e.model or '(host)'}: {e.error}" for e in doc.errors]
    if plot:
        out += ["", f"![latency distribution per model]({plot})"]
    return "\n".join(out) + "\n"


# --- plot --------------------------------------------------------------------------------------------------------
def plot(doc: BenchReport, path: str | Path) -> None:
    """Latency distribution per model (box plot of every timed invoke) and, when accuracy is known,
    latency (p50) vs top-1 accuracy. Headless (Agg)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from edgesdk.errors import MissingExtraError

        raise MissingExtraError("matplotlib", "bench", "--plot") from None
    rows = [r for r in doc.results if r.get("status") == "ok" and r.get("samples_ms")]
    if not rows:
        raise InputError("nothing to plot: no model ran")
    hosts = {r.get("host") for r in rows}
    acc = [r for r in rows if (r.get("accuracy") or {}).get("top1") is not None]
    ncols = 2 if acc else 1
    fig, axes = plt.subplots(1, ncols, figsize=(7 * ncols, max(3.5, 0.45 * len(rows) + 1.8)), squeeze=False)
    ax = axes[0][0]
    labels = [(f"{r['host']}: " if len(hosts) > 1 else "") + f"{r['model']} ({r['threads']}t)" for r in rows]
    ax.boxplot([r["samples_ms"] for r in rows], vert=False, showfliers=True, flierprops={"markersize": 2})
    ax.set_yticks(range(1, len(rows) + 1), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("invoke latency, ms (log scale)")
    ax.set_title("Latency distribution per model")
    ax.grid(axis="x", which="both", alpha=0.3)
    if acc:
        ax2 = axes[0][1]
        best: dict[tuple, dict] = {}  # one point per (host, model): its fastest thread count
        for r in acc:
            k = (r.get("host"), r["model"])
            if k not in best or r["latency_ms"]["p50"] < best[k]["latency_ms"]["p50"]:
                best[k] = r
        xmax = max(r["latency_ms"]["p50"] for r in best.values())
        for (host, model), r in best.items():
            x, y = r["latency_ms"]["p50"], 100 * r["accuracy"]["top1"]
            ax2.scatter([x], [y])
            name = model.removesuffix(".tflite") + (f" @ {host}" if len(hosts) > 1 else "")
            right = x == xmax and len(best) > 1  # the slowest model's label goes left, inside the axes
            ax2.annotate(f"{name} ({r['threads']}t)", (x, y), fontsize=7, xytext=(-4 if right else 4, 4),
                         textcoords="offset points", ha="right" if right else "left")
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax2.set_xscale("log")
        ax2.xaxis.set_major_formatter(ScalarFormatter())
        ax2.xaxis.set_minor_formatter(NullFormatter())
        ax2.margins(x=0.35, y=0.12)
        ax2.set_xlabel("p50 latency, ms (log scale)")
        ax2.set_ylabel(f"top-1 accuracy, % (n={acc[0]['accuracy']['n']})")
        ax2.set_title("Latency vs accuracy")
        ax2.grid(alpha=0.3)
    fig.suptitle(settings_line(doc), fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110)
    finally:
        plt.close(fig)
    write_atomic(path, buf.getvalue())
