"""A detection model as the pipeline's Detector, with the stream filters: classes, score threshold, minimum area
and class-aware NMS over everything the model returned."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from ...errors import EdgeSDKError, InputError
from ...results import Detections
from ..decoders.boxes import nms

log = logging.getLogger(__name__)

__all__ = ["ModelDetector", "NullDetector", "class_aware_nms", "model_task", "resolve_classes"]

_USE = {"classify": "edgesdk classify", "segment": "edgesdk segment", "face": "edgesdk anonymize"}


def model_task(model) -> str | None:
    """classify / detect / segment / face: the bundle's word, else read from the outputs; None when unclear."""
    if model.task:
        return str(model.task)
    from ..decoders import ssd_output_order

    outs = model.outputs
    try:
        ssd_output_order([o.name for o in outs], [o.shape for o in outs])
        return "detect"
    except ValueError:
        pass
    if len(outs) == 1 and len(outs[0].shape) == 2:
        return "classify"
    if len(outs) == 1 and len(outs[0].shape) in (3, 4) and min(outs[0].shape[1:3]) > 1:
        return "segment"
    return None


def check_detector(model, name: str) -> None:
    """InputError with one line naming the task when ``model`` is a classifier or a segmenter."""
    task = model_task(model)
    if task in ("classify", "segment", "face"):
        what = {"classify": "a classification", "segment": "a segmentation", "face": "a face"}[task]
        shapes = ", ".join(str(tuple(o.shape)) for o in model.outputs)
        raise InputError(f"{name} is {what} model (outputs {shapes}), not a detector: detect reads SSD "
                         f"post-process, YOLO v5/v8, BlazeFace and MediaPipe person outputs; use {_USE[task]}")


def resolve_classes(classes: Sequence[str] | None, labels: Sequence[str], name: str) -> np.ndarray | None:
    """Label names (any case) or class ids -> (k,) int32 ids to keep; None = all. InputError for an unknown name,
    listing the known ones."""
    if not classes:
        return None
    ids: list[int] = []
    for c in (c.strip() for c in classes):
        if not c:
            continue
        if c.isdigit():
            ids.append(int(c))
            continue
        hits = [i for i, n in enumerate(labels) if n.lower() == c.lower()]
        if not hits:
            known = ", ".join(dict.fromkeys(x for x in labels if x and x != "???"))
            if len(known) > 400:
                known = known[:400].rsplit(",", 1)[0] + ", ..."
            raise InputError(f"class {c!r} is not a label of {name} (known: {known or 'none: give --labels FILE or class ids'})")
        ids.extend(hits)
    return np.asarray(sorted(set(ids)), np.int32)


def _cut(xyxy: np.ndarray, tile: tuple[int, int, int, int], w: int, h: int, margin: float = 2.0) -> np.ndarray:
    """(n,) bool: the box touches an edge of the tile that is not an edge of the frame (the object is cut; the
    whole-frame pass or the neighbouring tile sees it whole)."""
    x1, y1, x2, y2 = tile
    cut = np.zeros(len(xyxy), bool)
    if x1 > 0:
        cut |= xyxy[:, 0] <= x1 + margin
    if y1 > 0:
        cut |= xyxy[:, 1] <= y1 + margin
    if x2 < w:
        cut |= xyxy[:, 2] >= x2 - margin
    if y2 < h:
        cut |= xyxy[:, 3] >= y2 - margin
    return cut


def class_aware_nms(det: Detections, iou: float) -> Detections:
    """Greedy NMS within each class (boxes of different classes never suppress each other)."""
    if len(det) < 2:
        return det
    span = float(det.xyxy.max() - det.xyxy.min()) + 1.0
    shifted = det.xyxy + (det.class_id.astype(np.float32) * span)[:, None]
    keep = np.sort(nms(shifted, det.score, iou))
    return det[keep]


class ModelDetector:
    """Detector protocol over a runtime ``Model`` (``model.detect(image, threshold)``, pixels of the image).

    threshold: lowest score returned (streams pass a lower one than the track threshold: ByteTrack's second
    association continues tracks with low scores). keep: class ids to keep (None = all). min_area: smallest box
    area in source pixels. nms_iou: class-aware NMS threshold applied to everything found. tiles: (rows, cols)
    to also run the model on that many overlapping tiles (``overlap`` of a tile's size) besides the whole frame,
    for objects too small for the model's input; a tile's box cut by an inner tile edge is dropped (the whole
    frame or the next tile sees that object whole), and the boxes of all passes are merged by the NMS.
    """

    def __init__(self, model, *, threshold: float, keep: np.ndarray | None = None, min_area: float = 0.0,
                 nms_iou: float = 0.5, name: str | None = None, tiles: tuple[int, int] | None = None,
                 overlap: float = 0.2) -> None:
        self.model = model
        self.name = name or model.path.name
        self.labels: list[str] = list(model.labels)
        self.threshold, self.keep, self.min_area, self.nms_iou = threshold, keep, float(min_area), nms_iou
        self.tiles, self.overlap = tiles, overlap

    def _tiles(self, w: int, h: int) -> list[tuple[int, int, int, int]]:
        """(x1, y1, x2, y2) pixel windows of the tile grid, overlapping by ``overlap`` of a tile."""
        assert self.tiles is not None
        rows, cols = self.tiles
        tw, th = w / (cols - (cols - 1) * self.overlap), h / (rows - (rows - 1) * self.overlap)
        out = []
        for r in range(rows):
            for c in range(cols):
                x1, y1 = int(round(c * tw * (1 - self.overlap))), int(round(r * th * (1 - self.overlap)))
                out.append((x1, y1, min(w, int(round(x1 + tw))), min(h, int(round(y1 + th)))))
        return out

    def warm_up(self, size: tuple[int, int]) -> None:
        """Run once on a black frame of (width, height): a model ``detect`` cannot read fails here, before any
        work, with one line."""
        try:
            self.model.detect(np.zeros((size[1], size[0], 3), np.uint8), 1.0)
        except EdgeSDKError as exc:
            raise InputError(str(exc)) from None

    def detect(self, image: np.ndarray) -> Detections:
        det = self.model.detect(image, self.threshold)
        if self.tiles is not None and self.tiles != (1, 1):
            h, w = image.shape[:2]
            parts = [det]
            for x1, y1, x2, y2 in self._tiles(w, h):
                d = self.model.detect(np.ascontiguousarray(image[y1:y2, x1:x2]), self.threshold)
                if len(d):
                    d = d.scale(1.0, 1.0, x1, y1)
                    parts.append(d[~_cut(d.xyxy, (x1, y1, x2, y2), w, h)])
            det = Detections.concat(parts)
        if self.keep is not None and len(det):
            det = det[np.isin(det.class_id, self.keep)]
        if self.min_area > 0 and len(det):
            det = det[det.area >= self.min_area]
        return class_aware_nms(det, self.nms_iou)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class NullDetector:
    """A Detector that finds nothing: for a job whose model gives no boxes and runs inside its FrameStage
    (segmentation masks, whole-frame classification), so that it still gets the pipeline's threads, queues,
    live-drop, Ctrl-C and sinks."""

    name = "none"
    labels: list[str] = []

    def detect(self, image: np.ndarray) -> Detections:
        return Detections.empty()

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass
