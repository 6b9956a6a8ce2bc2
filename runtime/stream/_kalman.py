"""A constant-velocity Kalman filter over boxes, as in SORT / ByteTrack: state (cx, cy, a, h, vcx, vcy, va, vh)
with a = w / h, in pixels per frame; noise scaled by the box height."""

from __future__ import annotations

import numpy as np

__all__ = ["BoxKalman", "xyxy_to_xyah", "xyah_to_xyxy"]

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)
W_POS, W_VEL = 1.0 / 20, 1.0 / 160


def xyxy_to_xyah(b: np.ndarray) -> np.ndarray:
    """(4,) x1 y1 x2 y2 -> (4,) centre x, centre y, aspect w / h, height."""
    w, h = max(float(b[2] - b[0]), 1e-3), max(float(b[3] - b[1]), 1e-3)
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, w / h, h], np.float64)


def xyah_to_xyxy(m: np.ndarray) -> np.ndarray:
    """(>=4,) state -> (4,) float32 x1 y1 x2 y2."""
    h = max(float(m[3]), 1e-3)
    w = float(m[2]) * h
    return np.array([m[0] - w / 2, m[1] - h / 2, m[0] + w / 2, m[1] + h / 2], np.float32)


class BoxKalman:
    """One track's filter: ``predict()`` once per frame, ``update(xyxy)`` when a detection was matched."""

    def __init__(self, xyxy: np.ndarray) -> None:
        z = xyxy_to_xyah(xyxy)
        self.mean = np.concatenate([z, np.zeros(4)])
        h = z[3]
        std = np.array([2 * W_POS * h, 2 * W_POS * h, 1e-2, 2 * W_POS * h,
                        10 * W_VEL * h, 10 * W_VEL * h, 1e-5, 10 * W_VEL * h])
        self.cov = np.diag(std ** 2)

    def predict(self, freeze_height: bool = False) -> None:
        """Advance one frame. freeze_height: a lost track does not keep growing or shrinking."""
        if freeze_height:
            self.mean[7] = 0.0
        h = self.mean[3]
        std = np.array([W_POS * h, W_POS * h, 1e-2, W_POS * h, W_VEL * h, W_VEL * h, 1e-5, W_VEL * h])
        self.mean = _F @ self.mean
        self.cov = _F @ self.cov @ _F.T + np.diag(std ** 2)

    def update(self, xyxy: np.ndarray) -> None:
        z = xyxy_to_xyah(xyxy)
        h = self.mean[3]
        r = np.diag(np.array([W_POS * h, W_POS * h, 1e-1, W_POS * h]) ** 2)
        s = _H @ self.cov @ _H.T + r
        k = np.linalg.solve(s, (self.cov @ _H.T).T).T  # cov H^T S^-1 (S symmetric)
        self.mean = self.mean + k @ (z - _H @ self.mean)
        self.cov = self.cov - k @ s @ k.T

    @property
    def xyxy(self) -> np.ndarray:
        return xyah_to_xyxy(self.mean)
