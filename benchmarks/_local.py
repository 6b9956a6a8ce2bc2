"""Benchmark on this machine through :func:`edgesdk.runtime.load` (what an application uses)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ._agent import measure_memory, preset_inputs
from ._latency import Opened, PhaseTimer, clock, file_facts, run_suite

log = logging.getLogger(__name__)


def synthetic_frame(width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """A 640x480 BGR camera-sized frame (smooth gradients plus noise) for --pipeline without --image."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    noise = rng.integers(-20, 21, size=base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


class Pipeline(PhaseTimer):
    """One frame as an application runs it: ``pre`` (resize, colour, quantize: Model.preprocess), ``invoke``
    (set tensors + invoke), ``post`` (read outputs and decode: SSD boxes mapped back to the frame, top-5 classes,
    or plain dequantization for outputs without a known decoder)."""

    phase_names = ("pre", "invoke", "post")

    def __init__(self, model, image: np.ndarray) -> None:
        super().__init__()
        from edgesdk.runtime import decode_classification, decode_ssd, ssd_output_order

        self.model = model
        self.image = image
        self.it = model.interpreter
        self.image_index = model.image_input.index
        self.others = [(t.index, t.quantize(np.zeros(t.shape, np.float32))) for t in model.inputs
                       if t.index != self.image_index]
        self.outputs = model.outputs
        self.decoder = "dequantize"
        self._ssd = None
        try:
            self._ssd = ssd_output_order([o.name for o in model.outputs], [o.shape for o in model.outputs])
            self.decoder = "ssd"
        except ValueError:
            if len(model.outputs) == 1 and len(model.outputs[0].shape) == 2:
                self.decoder = "classification"
        self._decode_ssd, self._decode_cls = decode_ssd, decode_classification
        self._pre, self._inv, self._post = self.phases["pre"], self.phases["invoke"], self.phases["post"]

    def __call__(self):
        t0 = clock()
        tensor, tf = self.model.preprocess(self.image)
        t1 = clock()
        it = self.it
        it.set_tensor(self.image_index, tensor)
        for idx, value in self.others:
            it.set_tensor(idx, value)
        it.invoke()
        t2 = clock()
        raw = [it.get_tensor(o.index) for o in self.outputs]
        if self.decoder == "ssd":
            b, c, s, n = self._ssd
            result = tf.to_source(self._decode_ssd(raw[b], raw[c], raw[s], raw[n], 0.5))
        elif self.decoder == "classification":
            result = self._decode_cls(self.outputs[0].dequantize(raw[0]), 5,
                                      label_offset=self.model.output_spec.label_offset)
        else:
            result = [o.dequantize(r) for o, r in zip(self.outputs, raw)]
        t3 = clock()
        self._pre.append(t1 - t0)
        self._inv.append(t2 - t1)
        self._post.append(t3 - t2)
        return result


def local_opener(device: str = "cpu", pipeline_image: np.ndarray | None = None) -> Callable[[str, int], Opened]:
    from edgesdk.runtime import load

    def opener(path: str, threads: int) -> Opened:
        model = load(path, device=device, threads=threads)
        it = model.interpreter
        info = {
            "backend": model.backend.to_dict(),
            "delegate": "edgetpu" if model.delegate is not None else "cpu",
            "device": device,
            "inputs": preset_inputs(it),
        }
        pipe = None
        if pipeline_image is not None:
            pipe = Pipeline(model, pipeline_image)
            info["decoder"] = pipe.decoder
        return Opened(invoke=it.invoke, info=info, pipeline=pipe)

    return opener


def model_file(model: str | os.PathLike, device: str = "cpu") -> Path:
    """The .tflite a MODEL argument runs: the file itself, or a bundle's model (its Edge TPU model on an Edge TPU).
    Raises ModelError / BundleError with one line."""
    from edgesdk.bundle import is_bundle, load_bundle
    from edgesdk.runtime import parse_device

    p = Path(model)
    if not p.name.endswith(".tflite") and p.exists() and is_bundle(p):
        b = load_bundle(p)
        if parse_device(device)[0] == "edgetpu" and b.edgetpu_model_path is not None:
            return b.edgetpu_model_path
        return b.model_path
    return p


def bench_local(
    models: Sequence[str | os.PathLike],
    *,
    device: str = "cpu",
    threads: Sequence[int] = (1,),
    runs: int | None = None,
    seconds: float | None = None,
    warmup: int = 10,
    pipeline_image: np.ndarray | None = None,
    memory: bool = True,
    names: Sequence[str] | None = None,
    on_round: Callable[[int], None] | None = None,
) -> list[dict]:
    """Benchmark ``models`` (files or bundles) here, interleaved; one row per (model, threads).

    Memory: each model once (at the highest thread count) in a fresh process, see ``_agent.memory_probe``.
    Failures (not a model, Edge TPU model on the CPU, no Edge TPU...) become rows with status ``failed``."""
    names = list(names) if names else unique_names(models)
    entries = [(n, str(m)) for n, m in zip(names, models)]
    rows = run_suite(entries, local_opener(device, pipeline_image), threads=threads, runs=runs, seconds=seconds,
                     warmup=warmup, on_round=on_round)
    for row in rows:  # a bundle: report its model file's size
        if row["status"] == "ok" and (Path(row["path"]).is_dir() or row["path"].endswith(".tar.gz")):
            try:
                mf = model_file(row["path"], device)
            except Exception:
                continue
            row.update(file_facts(mf))
            row["model_file"] = str(mf)
    if memory:
        top = max(threads)
        measured: dict[str, dict] = {}
        for row in rows:
            if row["status"] != "ok":
                continue
            if row["path"] not in measured:
                try:
                    measured[row["path"]] = measure_memory(str(model_file(row["path"], device)), top, device)
                except Exception as exc:  # memory is a column, not a reason to fail the run
                    measured[row["path"]] = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
            row["memory"] = {**measured[row["path"]], "threads": top}
    for row in rows:
        row["host"] = "local"
        row.setdefault("device", device)
    return rows


def unique_names(models: Sequence[str | os.PathLike]) -> list[str]:
    """Display names: file names (a bundle's folder name), made unique with their parent folder if needed."""
    names = [Path(m).name.removesuffix(".tar.gz") for m in models]
    if len(set(names)) == len(names):
        return names
    return [f"{Path(m).parent.name}/{n}" if names.count(n) > 1 else n for m, n in zip(models, names)]
