"""The files ``edgesdk bench`` writes besides its table: the JSON document, a Markdown report and a PNG plot,
each written atomically; their folders are checked before anything is measured."""

from __future__ import annotations

import logging
from pathlib import Path

from edgesdk.errors import InputError

from ._report import plot, to_markdown, write_atomic
from ._results import BenchReport

log = logging.getLogger(__name__)

__all__ = ["check_outputs", "error_lines", "write_outputs"]


def check_outputs(**paths: str | None) -> None:
    """InputError naming the option (``markdown=...`` -> --markdown) whose folder does not exist."""
    for what, path in paths.items():
        if path and not Path(path).resolve().parent.is_dir():
            raise InputError(f"--{what} {path}: folder {Path(path).parent} does not exist")


def write_outputs(doc: BenchReport, *, save: str | None = None, markdown: str | None = None,
                  plot_file: str | None = None) -> list[str]:
    """Write the requested files; returns notes for the user (e.g. no plot when no model ran)."""
    notes = []
    if save:
        write_atomic(save, doc.to_json().encode())
    if plot_file:
        if doc.ok.any():
            plot(doc, plot_file)
        else:
            notes.append("no plot: no model ran")
    if markdown:
        md = to_markdown(doc, plot=Path(plot_file).name if plot_file else None)
        write_atomic(markdown, md.encode())
    return notes


def error_lines(doc: BenchReport) -> list[str]:
    """One line per failed model or host of a benchmark report, naming the host and model once."""
    lines = []
    for e in doc.errors:
        host, model, msg = e.host, e.model, e.error
        prefix = "" if host in (None, "local") or msg.startswith(f"{host}:") else f"{host}: "
        if model and model not in msg:
            prefix += f"{model}: "
        lines.append(f"{prefix}{msg}")
    return lines
