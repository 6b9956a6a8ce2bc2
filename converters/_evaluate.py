"""Top-1/top-5 accuracy of a Keras model or a TFLite model/bundle on a labelled image folder."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bundle import InputSpec, is_bundle
from ..errors import InputError
from ..runtime import read_image
from ._data import ImageSet, check_skipped, load_images, scan_images

log = logging.getLogger(__name__)

__all__ = ["EvalResult", "evaluate", "predict_keras", "predict_tflite", "tied_disagreements", "topk_accuracy", "label_offset"]


@dataclass
class EvalResult:
    top1: float
    top5: float
    n: int
    model: str = ""
    kind: str = ""
    predictions: np.ndarray | None = None  # (n, classes) scores, kept for agreement checks
    skipped: tuple[str, ...] = ()  # unreadable or truncated images left out of n

    def to_dict(self) -> dict:
        return {"top1": self.top1, "top5": self.top5, "n": self.n, "model": self.model, "kind": self.kind,
                "skipped": list(self.skipped)}


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
    return float(np.mean(np.any(top == labels[:, None], axis=1))) if len(labels) else 0.0


def tied_disagreements(reference: np.ndarray, scores: np.ndarray) -> int:
    """How many rows of ``scores`` (n, classes) differ from ``reference``'s (n, classes) top-1 only by a tie:
    their top score is shared by several classes, ``reference``'s class among them, and the index order picked
    another. An integer model's softmax has steps of 1/256, so close calls tie there."""
    ref, top = reference.argmax(1), scores.max(1, keepdims=True)
    at_top = scores == top
    return int(np.sum((scores.argmax(1) != ref) & at_top[np.arange(len(ref)), ref] & (at_top.sum(1) > 1)))


def label_offset(images: ImageSet, num_outputs: int, labels_file_len: int | None = None) -> int:
    """Index shift between dataset class k and model output index: 1 when the model has one extra leading
    class (ImageNet's 1001 outputs with 'background' at 0), else 0."""
    n = len(images.classes)
    if n and num_outputs == n + 1:
        return 1
    if n and num_outputs < n:
        raise InputError(f"the data has {n} classes but the model only {num_outputs} outputs")
    return 0


def predict_keras(model, images: ImageSet, spec: InputSpec, *, batch: int = 32, on_image=None,
                  skipped: list[Path] | None = None) -> np.ndarray:
    """(n, classes) scores; with ``skipped``, unreadable images are listed there and left out."""
    shape = model.inputs[0].shape
    h, w, c = int(shape[1]), int(shape[2]), int(shape[3])
    out = []
    for i in range(0, len(images), batch):
        x = load_images(images.paths[i:i + batch], (h, w), spec, channels=c, skipped=skipped)
        if len(x):
            out.append(np.asarray(model(x, training=False)))
        if on_image is not None:
            for _ in range(len(images.paths[i:i + batch])):
                on_image()
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)


def predict_tflite(model, images: ImageSet, *, threads: int | None = None, spec: InputSpec | None = None,
                   on_image=None, skipped: list[Path] | None = None) -> np.ndarray:
    """Scores of a .tflite file or bundle (edgesdk.runtime, so the input is fed exactly as on the device)."""
    from ..runtime import load

    m = load(model, threads=threads, input_spec=spec)
    m.require_task("classify")
    c = m.image_input.shape[-1]
    out = []
    for p in images.paths:
        try:
            img = read_image(p, c)
        except InputError:
            if skipped is None:
                raise
            skipped.append(Path(p))
            if on_image is not None:
                on_image()
            continue
        out.append(np.asarray(m.run(img)[0], np.float32).reshape(-1))
        if on_image is not None:
            on_image()
    return np.stack(out) if out else np.zeros((0, int(np.prod(m.outputs[0].shape[1:]))), np.float32)


def evaluate(
    model: str | os.PathLike,
    data: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    wnids: str | os.PathLike | None = None,
    input_range: tuple[float, float] | None = None,
    resize: str | None = None,
    limit: int | None = None,
    on_image=None,
    on_total=None,
) -> EvalResult:
    """Top-1/top-5 of ``model`` (.h5/.keras/SavedModel, .tflite or bundle) on the labelled folder ``data``.

    ``data``: one folder per class (class k = k-th folder in sorted order, or the line of the folder name in
    ``labels`` when given) or ImageNet ``<wnid>_*.JPEG`` files with ``wnids`` (class = line of the wnid)."""
    p = Path(model)
    if p.suffix != ".tflite" and not is_bundle(p):
        from ._load import check_keras_path

        check_keras_path(p)  # a .jpg or a missing file fails here, before TensorFlow is imported
    if wnids is None:
        wnids = _wnids_beside(data, p)
    images = scan_images(data, wnids=wnids, what="evaluation folder")
    if images.labels is None:
        raise InputError(f"{data} has no labels: use one folder per class, or ImageNet <wnid>_*.JPEG names with --wnids FILE")
    if labels is not None and images.layout == "classes":
        from ..bundle import read_labels

        names = read_labels(labels)
        index = {n: i for i, n in enumerate(names)}
        missing = [c for c in images.classes if c not in index]
        if missing:
            raise InputError(f"class folder(s) {', '.join(missing[:3])} are not in {labels}")
        images.labels = np.asarray([index[images.classes[k]] for k in images.labels], np.int64)
        images.classes = names
    if limit:
        from ._data import sample

        images = sample(images, limit)
    if on_total is not None:
        on_total(len(images))
    skipped: list[Path] = []
    if p.suffix == ".tflite" or is_bundle(p):
        spec = None
        if input_range is not None or resize is not None:
            from ..bundle import load_bundle

            base = load_bundle(p).manifest.input if is_bundle(p) else InputSpec(resize="crop")
            spec = InputSpec.from_range(*(input_range or base.range or (-1.0, 1.0)), resize=resize or base.resize, color=base.color)
        scores = predict_tflite(p, images, spec=spec, on_image=on_image, skipped=skipped)
        kind = "tflite"
    else:
        from ._load import load_keras
        from ._input_spec import infer_input_spec

        loaded = load_keras(p)
        spec, _ = infer_input_spec(loaded.model, input_range, resize=resize or "crop")
        scores = predict_keras(loaded.model, images, spec, on_image=on_image, skipped=skipped)
        kind = "keras"
    check_skipped(skipped, len(images), "evaluation")
    if skipped:
        gone = {str(s) for s in skipped}
        images = images.subset(np.asarray([i for i, q in enumerate(images.paths) if str(q) not in gone], np.int64))
    off = label_offset(images, scores.shape[1])
    assert images.labels is not None  # checked above
    y = images.labels + off
    return EvalResult(topk_accuracy(scores, y, 1), topk_accuracy(scores, y, 5), len(images), str(p), kind, scores,
                      tuple(str(s) for s in skipped))


def _wnids_beside(data: str | os.PathLike, model: Path) -> Path | None:
    """imagenet_wnids.txt in the data folder or next to the model (as bench finds it), for <wnid>_*.JPEG sets."""
    for folder in (Path(data), model if model.is_dir() else model.parent):
        cand = folder / "imagenet_wnids.txt"
        if cand.is_file():
            return cand
    return None
