"""JSON encoding shared by the sinks that publish records (MQTT, the live page)."""

from __future__ import annotations

import numpy as np

__all__ = ["json_default"]


def json_default(value):
    """``json.dumps(default=...)`` for numpy scalars and arrays found in event records."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
