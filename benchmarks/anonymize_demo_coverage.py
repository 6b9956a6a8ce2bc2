"""The built-in demo's ground-truth coverage for ``anonymize_fps.py``: a face with >= 30 % of its box in view must be
covered >= 80 % by the masked boxes, per frame (DemoSource.face_boxes gives the exact boxes)."""

from __future__ import annotations

import numpy as np

__all__ = ["demo_coverage"]


def _demo_truth(i: int, frames: int = 150, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """DemoSource.face_boxes(i), computed here too so that --demo-only also scores checkouts older than it."""
    import math

    face = (178.35, 80.91, 271.76, 174.32)
    k = 341 / 512
    boxes = np.array([face, (512 + (512 - face[2]) * k, 85 + face[1] * k, 512 + (512 - face[0]) * k, 85 + face[3] * k)])
    ch, cw = 512, 853
    ow, oh = size
    t = i / max(1, frames - 1)
    zoom = 1.0 + 0.6 * (0.5 - 0.5 * math.cos(2 * math.pi * t))
    vh = ch / zoom
    vw = vh * ow / oh
    cx = vw / 2 + (cw - vw) * (0.5 - 0.5 * math.cos(math.pi * t))
    cy = ch / 2 + (ch - vh) / 2 * 0.6 * math.sin(2 * math.pi * t)
    s = np.float32(ow / vw)
    tx, ty = np.float32(ow / 2 - s * cx), np.float32(oh / 2 - s * cy)
    x = (boxes[:, [0, 2]] - 0.5) * float(s) + float(tx) + 0.5
    y = (boxes[:, [1, 3]] - 0.5) * float(s) + float(ty) + 0.5
    return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1).astype(np.float32)


def _coverage(masked: np.ndarray, faces: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    from edgesdk.runtime.anonymize import face_coverage

    return face_coverage(masked, faces, w, h)


def demo_coverage(repeat: int = 1) -> dict:
    """The CLI's default run on the demo; ground-truth coverage of every visible face in every frame."""
    from edgesdk.runtime.anonymize import AnonymizePipeline, Blur, build_detectors
    from edgesdk.runtime.sources import DemoSource

    class _Mem:
        name = "mem"

        def __init__(self):
            self.boxes = []

        def write(self, frame, det, meta):
            self.boxes.append(det)

        def write_events(self, meta):
            pass

        def close(self):
            pass

    src = DemoSource()
    det = build_detectors(None, threads=1, sweep_frames=4)
    sink = _Mem()
    pipe = AnonymizePipeline(src, det, Blur(), [sink], hold_frames=5, mask_scale=1.3)
    try:
        s = pipe.run()
    finally:
        if hasattr(det, "close"):
            det.close()
    visible = covered = 0
    missed = []
    per_frame_ok = 0
    for i, d in enumerate(sink.boxes):
        masked, _ = pipe.renderer.boxes(d, 640, 480)
        truth = _demo_truth(i)
        if hasattr(src, "face_boxes"):
            assert np.allclose(truth, src.face_boxes(i), atol=1e-3)
        vis, cov = _coverage(masked, truth, 640, 480)
        ok = True
        for k in np.flatnonzero(vis >= 0.3):
            visible += 1
            if cov[k] >= 0.8:
                covered += 1
            else:
                ok = False
                missed.append([i, int(k), round(float(vis[k]), 2), round(float(cov[k]), 2)])
        per_frame_ok += ok
    return {"frames": len(sink.boxes), "visible_faces": visible, "covered_faces": covered,
            "recall": round(covered / max(1, visible), 4), "leak_rate": round(1 - covered / max(1, visible), 4),
            "frames_all_covered": per_frame_ok, "missed": missed, "fps": round(s.fps, 2),
            "detections": s.detections, "held_boxes": s.held_boxes}


# --- the size BlazeFace finds reliably ----------------------------------------------------------------------------
