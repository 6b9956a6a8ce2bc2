"""tf.distribute strategies for the training steps, selectable by name in a recipe.

``default`` (one device, no distribution), ``mirrored`` (every local GPU, or the CPU when there is none) and
``multi_worker`` (MultiWorkerMirroredStrategy; the cluster comes from the ``TF_CONFIG`` environment variable, the
same on every worker except ``task.index``). Models, optimizers and metrics must be created inside
``strategy.scope()``; the steps do that.
"""

from __future__ import annotations

import json
import logging
import os

from ..errors import InputError
from ._env import import_tf

log = logging.getLogger(__name__)

__all__ = ["STRATEGIES", "get_strategy", "worker_info"]

STRATEGIES = ("default", "mirrored", "multi_worker")


def worker_info() -> dict:
    """``{"workers": n, "index": i, "chief": bool}`` from TF_CONFIG (one worker, index 0 when unset).
    Raises InputError for a TF_CONFIG that is not valid JSON or lacks cluster/task."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return {"workers": 1, "index": 0, "chief": True}
    try:
        cfg = json.loads(raw)
        workers = cfg["cluster"]["worker"]
        task = cfg["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"TF_CONFIG is not a valid cluster description ({exc}): expected "
                         '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}') from None
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cfg["cluster"])
    return {"workers": len(workers) + len(cfg["cluster"].get("chief", [])), "index": index, "chief": chief}


def get_strategy(name: str = "default"):
    """The tf.distribute strategy called ``name`` (see STRATEGIES).

    ``multi_worker`` must be created before TensorFlow runs anything else in the process (a TensorFlow rule for
    collective ops); it raises InputError when TF_CONFIG is missing or invalid."""
    if name not in STRATEGIES:
        raise InputError(f"unknown distribution strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    tf = import_tf()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or ["/cpu:0"]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        log.info("MirroredStrategy over %s", ", ".join(devices))
        return strategy
    if not os.environ.get("TF_CONFIG"):
        raise InputError("strategy multi_worker needs the TF_CONFIG environment variable (cluster and task) on every worker")
    info = worker_info()
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        raise InputError(f"MultiWorkerMirroredStrategy could not start: {str(exc).splitlines()[0]}") from None
    log.info("MultiWorkerMirroredStrategy: worker %d of %d", info["index"], info["workers"])
    return strategy
