"""The recipe as data: its sections, its steps and the contract every step kind implements.

    [model]   base (a Keras model file or a built-in architecture name), alpha, weights, input_size, classes,
              input_range, resize
    [data]    train (one folder per class), validation (folder) or val_split, test_split (held out, never trained
              on: the report's accuracy), seed, limit / eval_limit (images per class), batch_size, augment
    [distribute] strategy = "default" | "mirrored" | "multi_worker"
    [report]  latency_runs, threads
    [[steps]] kind = one of STEP_KINDS (edgesdk.converters.recipes), name, input, and the kind's own settings
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DataSection", "DistributeSection", "ModelSection", "Recipe", "ReportSection", "Step"]


@dataclass
class ModelSection:
    base: str
    alpha: float = 1.0
    weights: str | None = None
    input_size: int | None = None
    classes: int | None = None
    input_range: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    resize: str = "stretch"


@dataclass
class DataSection:
    train: str | None  # required in a recipe file; None for a one-step conversion (its step names its folders)
    validation: str | None = None
    val_split: float = 0.1
    test_split: float = 0.1
    seed: int = 0
    limit: int | None = None
    eval_limit: int | None = None
    batch_size: int = 32
    augment: bool = False
    labelled: bool = True


@dataclass
class DistributeSection:
    strategy: str = "default"


@dataclass
class ReportSection:
    latency_runs: int = 30
    threads: int = 1


@dataclass
class Step:
    kind: str
    name: str
    input: str | None  # the earlier step whose model this one starts from (None: the previous one / the base)
    settings: Any  # a StepKind (see _context)


@dataclass
class Recipe:
    path: Path
    model: ModelSection
    data: DataSection
    distribute: DistributeSection
    report: ReportSection
    steps: list[Step]

    def resolve(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.path.parent / q)
