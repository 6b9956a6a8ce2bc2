"""What ``convert()`` and ``run_recipe()`` return: a ``ConvertReport`` (the bundle written and what its report
says), with the per-step rows of a recipe as a ``StepTable`` of numpy columns. ``to_dict()`` is report.json's
content (what ``edgesdk convert --json`` prints). ``compile_model()``'s ``CompileReport`` lives in ``_compile``."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._report import mapping_summary, render_steps_md

__all__ = ["ConvertAccuracy", "ConvertReport", "ModelLatency", "StepTable"]


def _frozen(values, dtype) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _num(v) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True, eq=False)
class StepTable:
    """A recipe's report after every step, one row per step (n steps), as numpy columns.

    step, kind: (n,) str; top1: (n,) float64 held-out top-1 in [0, 1]; bytes, gzip_bytes: (n,) int64 size of the
    step's .tflite in bytes (-1: none); sparsity_conv: (n,) float64 share of zero conv weights; latency_ms: (n,)
    float64 median CPU latency in ms; seconds: (n,) float64 wall time of the step. NaN: not measured.
    ``rows`` holds the rows as report.json has them (with each kind's ``details``).
    """

    rows: tuple[Mapping[str, Any], ...]

    def __len__(self) -> int:
        return len(self.rows)

    def _col(self, key: str, dtype=np.float64, missing: Any = None) -> np.ndarray:
        if dtype is np.float64:
            return _frozen([_num(r.get(key)) for r in self.rows], np.float64)
        return _frozen([missing if r.get(key) is None else r.get(key) for r in self.rows], dtype)

    @property
    def step(self) -> np.ndarray:
        return self._col("step", object, "")

    @property
    def kind(self) -> np.ndarray:
        return self._col("kind", object, "")

    @property
    def top1(self) -> np.ndarray:
        return self._col("top1")

    @property
    def bytes(self) -> np.ndarray:
        return self._col("bytes", np.int64, -1)

    @property
    def gzip_bytes(self) -> np.ndarray:
        return self._col("gzip_bytes", np.int64, -1)

    @property
    def sparsity_conv(self) -> np.ndarray:
        return self._col("sparsity_conv")

    @property
    def latency_ms(self) -> np.ndarray:
        return self._col("latency_ms")

    @property
    def seconds(self) -> np.ndarray:
        return self._col("seconds")

    def to_list(self) -> list[dict]:
        """The rows as report.json's ``steps``."""
        return copy.deepcopy([dict(r) for r in self.rows])

    def to_markdown(self) -> str:
        """The per-step table of report.md."""
        return render_steps_md([dict(r) for r in self.rows])


@dataclass(frozen=True)
class ModelLatency:
    """CPU latency of one model of a conversion (``model``: "model.tflite", "float32 reference", ...), in ms."""

    model: str
    median_ms: float
    p90_ms: float
    runs: int
    threads: int


@dataclass(frozen=True)
class ConvertAccuracy:
    """Keras vs TFLite on ``--eval-data``: top-1 agreement of the two in [0, 1] over ``n`` images, and top-1 /
    top-5 accuracy of each (None without labels); ``skipped``: unreadable images left out; ``tied_disagreements``:
    disagreements where TFLite's top score is a tie that includes Keras's class (``_evaluate.tied_disagreements``)."""

    data: str
    n: int
    agreement: float
    skipped: tuple[str, ...] = ()
    keras_top1: float | None = None
    keras_top5: float | None = None
    tflite_top1: float | None = None
    tflite_top5: float | None = None
    tied_disagreements: int = 0


@dataclass(frozen=True, eq=False)
class ConvertReport:
    """The bundle ``out`` a conversion or a recipe wrote, and its report.

    quantize: "none" | "dynamic" | "float16" | "int8"; io: "float" | "int8" | "uint8" (None: not said, a recipe);
    model_bytes: size of model.tflite in bytes; conversion_seconds: the converter's wall time in s (None: a
    recipe); edgetpu_predicted: the predicted Edge TPU mapping (edgesdk.tflite's predictor, as a dict) or None;
    steps: a recipe's rows after every step (None: a single conversion); ``report``: report.json's content.
    """

    out: Path
    name: str
    quantize: str
    io: str | None
    model_bytes: int
    conversion_seconds: float | None
    latency: tuple[ModelLatency, ...]
    accuracy: ConvertAccuracy | None
    edgetpu_predicted: Mapping[str, Any] | None
    warnings: tuple[str, ...]
    steps: StepTable | None
    report: Mapping[str, Any]

    @classmethod
    def from_report(cls, report: Mapping[str, Any], out: str | Path) -> ConvertReport:
        """The typed view of a report (report.json's content) of the bundle ``out``."""
        q = report.get("quantization") or {}
        lat = tuple(ModelLatency(k, _num(v.get("median")), _num(v.get("p90")), int(v.get("runs") or 0),
                                 int(v.get("threads") or 1)) for k, v in (report.get("latency_ms") or {}).items())
        acc = report.get("accuracy")
        accuracy = None
        if acc:
            tops = {f"{w}_{k}": acc[w][k] if w in acc else None for w in ("keras", "tflite") for k in ("top1", "top5")}
            accuracy = ConvertAccuracy(
                str(acc.get("data")), int(acc.get("n") or 0), float(acc.get("agreement") or 0.0),
                tuple(acc.get("skipped") or ()), **tops, tied_disagreements=int(acc.get("tied_disagreements") or 0))
        steps = report.get("steps")
        return cls(out=Path(out), name=str(report.get("name", "")), quantize=str(q.get("mode")), io=q.get("io"),
                   model_bytes=int((report.get("size") or {}).get("model.tflite") or 0),
                   conversion_seconds=report.get("conversion_seconds"), latency=lat, accuracy=accuracy,
                   edgetpu_predicted=(report.get("edgetpu") or {}).get("predicted"),
                   warnings=tuple(report.get("warnings") or ()),
                   steps=None if steps is None else StepTable(tuple(steps)), report=report)

    def to_dict(self) -> dict:
        """report.json's content (a copy)."""
        return copy.deepcopy(dict(self.report))

    def summary(self) -> tuple[list[str], list[str]]:
        """What ``edgesdk convert`` prints about a single conversion: (lines for stdout, warnings for stderr)."""
        lines = [f"wrote {self.out}: {self.quantize} ({self.io} I/O), {self.model_bytes} bytes, "
                 f"converted in {self.conversion_seconds or 0.0:.1f} s"]
        for m in self.latency:
            lines.append(f"  CPU latency {m.model}: {m.median_ms:.2f} ms (1 thread, median of {m.runs})")
        acc = self.accuracy
        if acc:
            line = f"  agreement with Keras: {acc.agreement * 100:.2f}% on {acc.n} images"
            if acc.skipped:
                line += f" ({len(acc.skipped)} unreadable skipped)"
            if acc.keras_top1 is not None and acc.tflite_top1 is not None:
                line += f"; top-1 Keras {acc.keras_top1 * 100:.2f}%, TFLite {acc.tflite_top1 * 100:.2f}%"
            if acc.tied_disagreements:
                line += (f"; {acc.tied_disagreements} of the {round((1 - acc.agreement) * acc.n)} disagreements are ties "
                         "of TFLite's top score that include Keras's class")
            lines.append(line)
        if self.edgetpu_predicted:
            lines.append(f"  Edge TPU (predicted): {mapping_summary(dict(self.edgetpu_predicted))}")
        return lines, [f"warning: {w}" for w in self.warnings]
