"""Measurement: latency percentiles, throughput, memory, size and accuracy of TFLite models, side by side,
here or on a device over SSH (``edgesdk bench``).

``benchmark(models, ...)`` returns a ``BenchReport`` (rows with numpy columns; ``to_json()``: the versioned
document); ``print_table``, ``to_markdown`` and ``plot`` render it; ``compare(old, new, threshold)`` finds regressions. ``measure`` is the interleaved timing loop.
"""

from ._bench import benchmark
from ._compare import Change, compare
from ._latency import Opened, PhaseTimer, measure, run_suite
from ._machine import machine_facts
from ._outputs import check_outputs, error_lines, write_outputs
from ._report import SCHEMA, add_ratios, plain_table, plot, print_table, read_document, to_markdown, write_atomic
from ._results import BenchError, BenchReport
from ._stats import percentile, summarize

__all__ = [
    "SCHEMA",
    "BenchError",
    "BenchReport",
    "Change",
    "Opened",
    "PhaseTimer",
    "add_ratios",
    "check_outputs",
    "benchmark",
    "compare",
    "error_lines",
    "machine_facts",
    "measure",
    "percentile",
    "plain_table",
    "plot",
    "print_table",
    "read_document",
    "run_suite",
    "summarize",
    "to_markdown",
    "write_atomic",
    "write_outputs",
]
