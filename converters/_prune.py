"""Magnitude pruning with tfmot: a polynomial schedule to a target sparsity (or 2:4 structured sparsity), layers to
skip by name, glob pattern or rule, strip after training, sparsity per layer and overall, gzip size, and
pruning-preserving QAT (PQAT) so the zeros survive int8.

Skip rules: ``first_conv`` (the first Conv2D: few weights, much accuracy), ``head`` (the last Dense layer),
``depthwise`` (every DepthwiseConv2D); anything else is a layer name or an fnmatch pattern (``block_1_*``).
"""

from __future__ import annotations

import fnmatch
import gzip
import logging
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, ModelError
from ._env import import_tf_keras, import_tfmot

log = logging.getLogger(__name__)

__all__ = ["PruneConfig", "apply_pruning", "pruning_callbacks", "strip", "sparsity_report", "tflite_sparsity",
           "gzip_size", "pqat_model", "keep_sparsity", "SKIP_RULES", "kernel_of"]

SKIP_RULES = ("first_conv", "head", "depthwise")
_PRUNABLE = ("Conv2D", "DepthwiseConv2D", "Dense")


@dataclass
class PruneConfig:
    sparsity: float = 0.5
    initial_sparsity: float = 0.0
    epochs: int = 2
    end_fraction: float = 0.7  # reach the target after this fraction of the training steps, then fine-tune
    frequency: int = 100
    structured: str | None = None  # None or "2:4"
    skip: list[str] = field(default_factory=lambda: ["first_conv", "head"])
    lr: float = 1e-4
    # "all": the target is the zero fraction over every conv/dense kernel, including those tfmot cannot prune
    # (DepthwiseConv2D) and the skipped ones, so the pruned layers go a little beyond it; "pruned": the pruned layers'.
    sparsity_of: str = "all"

    def __post_init__(self) -> None:
        if not 0.0 < self.sparsity < 1.0:
            raise InputError(f"prune sparsity must be between 0 and 1 (exclusive), got {self.sparsity}")
        if not 0.0 <= self.initial_sparsity < self.sparsity:
            raise InputError(f"initial_sparsity must be in [0, sparsity), got {self.initial_sparsity}")
        if self.structured not in (None, "2:4"):
            raise InputError(f"structured sparsity must be \"2:4\" or absent, got {self.structured!r}")
        if not 0.0 < self.end_fraction <= 1.0:
            raise InputError(f"end_fraction must be in (0, 1], got {self.end_fraction}")
        if self.sparsity_of not in ("all", "pruned"):
            raise InputError(f"sparsity_of must be \"all\" or \"pruned\", got {self.sparsity_of!r}")


def kernel_of(layer):
    """The weight tensor pruning acts on (Conv2D/Dense ``kernel``, DepthwiseConv2D ``depthwise_kernel``) or None."""
    kind = type(layer).__name__
    if kind.startswith("QuantizeWrapper"):  # the inner layer's kernel attribute is a fake-quant tensor there
        if kernel_of(layer.layer) is None:
            return None
        names = ("depthwise_kernel:0", "kernel:0")
        return next((w for w in layer.weights if w.name.split("/")[-1] in names), None)
    if kind == "PruneLowMagnitude":
        return kernel_of(layer.layer)
    if kind == "DepthwiseConv2D":
        return layer.depthwise_kernel
    if kind in ("Conv2D", "Dense"):
        return layer.kernel
    return None


def _skipped_names(model, skip: list[str]) -> set[str]:
    layers = [layer for layer in model.layers if type(layer).__name__ in _PRUNABLE]
    names: set[str] = set()
    for rule in skip:
        if rule == "first_conv":
            first = next((layer for layer in layers if type(layer).__name__ == "Conv2D"), None)
            if first is not None:
                names.add(first.name)
        elif rule == "head":
            last = next((layer for layer in reversed(layers) if type(layer).__name__ == "Dense"), None)
            if last is not None:
                names.add(last.name)
        elif rule == "depthwise":
            names |= {layer.name for layer in layers if type(layer).__name__ == "DepthwiseConv2D"}
        else:
            hit = {layer.name for layer in model.layers if fnmatch.fnmatchcase(layer.name, rule)}
            if not hit:
                raise InputError(f"prune skip: no layer matches {rule!r} (rules: {', '.join(SKIP_RULES)}, "
                                 f"or a layer name / pattern)")
            names |= hit
    return names


def _schedule(tfmot, cfg: PruneConfig, total_steps: int, final: float):
    end = max(1, int(total_steps * cfg.end_fraction) - 1)
    freq = max(1, min(cfg.frequency, end // 4 or 1))
    end = max(freq, (end // freq) * freq)  # the last pruning turn falls on end_step: the target is reached
    return tfmot.sparsity.keras.PolynomialDecay(initial_sparsity=cfg.initial_sparsity, final_sparsity=final,
                                                begin_step=0, end_step=end, frequency=freq)


def apply_pruning(model, cfg: PruneConfig, total_steps: int):
    """Wrap the prunable layers of a flat Keras model (minus the skipped ones) for magnitude pruning over
    ``total_steps`` training steps. Returns (wrapped model, {layer: how}). Compile and train it with
    :func:`pruning_callbacks`."""
    tf_keras = import_tf_keras()
    tfmot = import_tfmot()
    if any(isinstance(layer, tf_keras.Model) for layer in model.layers):
        raise ModelError(f"{model.name} has nested models: pruning needs a flat functional model")
    skip = _skipped_names(model, cfg.skip)
    final = cfg.sparsity
    if cfg.sparsity_of == "all" and cfg.structured is None:
        sizes = {layer.name: int(np.prod(kernel_of(layer).shape)) for layer in model.layers
                 if type(layer).__name__ in _PRUNABLE}
        prunable = sum(v for k, v in sizes.items() if k not in skip and
                       type(model.get_layer(k)).__name__ != "DepthwiseConv2D")
        final = cfg.sparsity * sum(sizes.values()) / max(1, prunable)
        if final > 0.97:
            raise InputError(f"prune: {cfg.sparsity:.0%} of all kernels needs {final:.0%} in the prunable layers: "
                             f"skip fewer layers or set sparsity_of = \"pruned\"")
    sched = _schedule(tfmot, cfg, total_steps, final)
    plan: dict[str, str] = {}

    def wrap(layer):
        kind = type(layer).__name__
        if kind not in _PRUNABLE:
            return layer.__class__.from_config(layer.get_config())
        if layer.name in skip:
            plan[layer.name] = "skipped"
            return layer.__class__.from_config(layer.get_config())
        if cfg.structured == "2:4":
            k = kernel_of(layer)
            # m-by-n sparsity groups the input channels: Conv2D and Dense with a multiple of 4 of them
            if kind == "DepthwiseConv2D" or int(k.shape[-2]) % 4:
                plan[layer.name] = "dense (2:4 needs Conv2D/Dense with input channels divisible by 4)"
                return layer.__class__.from_config(layer.get_config())
            plan[layer.name] = "2:4"
            return tfmot.sparsity.keras.prune_low_magnitude(layer.__class__.from_config(layer.get_config()),
                                                            pruning_schedule=sched, sparsity_m_by_n=(2, 4))
        if kind == "DepthwiseConv2D":
            plan[layer.name] = "dense (tfmot does not prune DepthwiseConv2D)"
            return layer.__class__.from_config(layer.get_config())
        plan[layer.name] = f"magnitude {final:.1%}"
        # a fresh layer (weights copied below): the caller's model stays dense
        return tfmot.sparsity.keras.prune_low_magnitude(layer.__class__.from_config(layer.get_config()),
                                                        pruning_schedule=sched)

    try:
        pruned = tf_keras.models.clone_model(model, clone_function=wrap)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"tfmot cannot prune {model.name}: {str(exc).splitlines()[0][:200]}") from None
    # clone_model re-initialises: copy weights layer by layer (wrappers hold the original layer's weights first)
    if len(model.layers) != len(pruned.layers):
        raise ModelError(f"tfmot changed the layer count of {model.name} while wrapping it for pruning")
    for src, dst in zip(model.layers, pruned.layers):
        inner = dst.layer if type(dst).__name__ == "PruneLowMagnitude" else dst
        inner.set_weights(src.get_weights())
        inner.trainable = src.trainable
    n = sum(1 for v in plan.values() if not v.startswith(("skipped", "dense")))
    if n == 0:
        raise InputError("prune: no layer left to prune after the skip rules")
    log.info("pruning %d layers (%s), skipping %s", n, cfg.structured or f"{cfg.sparsity:.0%}", sorted(skip))
    return pruned, plan


def pruning_callbacks():
    """The callbacks tfmot's pruning needs during fit (the step counter)."""
    tfmot = import_tfmot()
    return [tfmot.sparsity.keras.UpdatePruningStep()]


def strip(model):
    """The model without pruning wrappers (plain layers, zeros in their kernels)."""
    return import_tfmot().sparsity.keras.strip_pruning(model)


def sparsity_report(model) -> dict:
    """Zero fraction of every conv/dense kernel and overall (weighted by size), over all such kernels and over
    conv kernels only."""
    layers = []
    tot = zeros = conv_tot = conv_zeros = 0
    for layer in model.layers:
        k = kernel_of(layer)
        if k is None:
            continue
        w = np.asarray(k.numpy() if hasattr(k, "numpy") else k)
        z = int(np.count_nonzero(w == 0))
        inner = layer.layer if hasattr(layer, "layer") else layer
        layers.append({"layer": layer.name, "type": type(inner).__name__, "weights": int(w.size),
                       "sparsity": z / max(1, w.size)})
        tot += w.size
        zeros += z
        if "Conv" in layers[-1]["type"]:
            conv_tot += w.size
            conv_zeros += z
    return {"overall": zeros / max(1, tot), "conv": conv_zeros / max(1, conv_tot), "weights": int(tot),
            "layers": layers}


def tflite_sparsity(tflite: bytes) -> dict:
    """Zero fraction of the filters of every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED op in a .tflite model
    (int8 weights stay exactly 0 where the float weight was 0)."""
    from ..runtime import get_backend

    interp = get_backend().Interpreter(model_content=bytes(tflite))
    interp.allocate_tensors()
    out: dict = {"ops": []}
    tot = {"CONV_2D": [0, 0], "DEPTHWISE_CONV_2D": [0, 0], "FULLY_CONNECTED": [0, 0]}
    for op in interp._get_ops_details():  # noqa: SLF001 - the public API has no op list
        name = op["op_name"]
        if name not in tot or len(op["inputs"]) < 2:
            continue
        w = interp.get_tensor(int(op["inputs"][1]))
        z = int(np.count_nonzero(w == 0))
        tot[name][0] += z
        tot[name][1] += int(w.size)
        out["ops"].append({"op": name, "index": int(op["index"]), "weights": int(w.size), "sparsity": z / max(1, w.size),
                           "dtype": str(w.dtype)})
    conv = [tot["CONV_2D"][i] + tot["DEPTHWISE_CONV_2D"][i] for i in (0, 1)]
    allw = [conv[i] + tot["FULLY_CONNECTED"][i] for i in (0, 1)]
    out["conv"] = conv[0] / max(1, conv[1])
    out["conv2d_only"] = tot["CONV_2D"][0] / max(1, tot["CONV_2D"][1])
    out["overall"] = allw[0] / max(1, allw[1])
    out["weights"] = allw[1]
    return out


def gzip_size(data: bytes) -> int:
    """Size after gzip -9: what pruning buys in download and storage."""
    return len(gzip.compress(bytes(data), compresslevel=9, mtime=0))


def pqat_model(model):
    """Pruning-preserving quantization-aware training (tfmot's PQAT): the stripped, sparse ``model`` wrapped for
    QAT with ``Default8BitPrunePreserveQuantizeScheme``, so the zeros stay zero while the int8 ranges are learnt."""
    tfmot = import_tfmot()
    q = tfmot.quantization.keras
    try:
        annotated = q.quantize_annotate_model(model)
        qmodel = q.quantize_apply(annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"tfmot cannot apply pruning-preserving QAT to {model.name}: "
                         f"{str(exc).splitlines()[0][:200]}") from None
    # tfmot builds each sparsity mask (w / w) when the wrapper is built, before quantize_apply copies the trained
    # weights in: the masks then hold no zeros and training fills the pruned weights again. Rebuild them here.
    from ._env import import_tf

    tf = import_tf()
    fixed = 0
    for layer in qmodel.layers:
        for w, _quantizer, qvars in getattr(layer, "_weight_vars", []):
            if isinstance(qvars, dict) and "sparsity_mask" in qvars:
                qvars["sparsity_mask"] = tf.math.divide_no_nan(tf.convert_to_tensor(w), tf.convert_to_tensor(w))
                fixed += 1
    log.info("PQAT: sparsity masks of %d weight tensors rebuilt from the pruned weights", fixed)
    return qmodel


def keep_sparsity(model):
    """A callback that holds the zeros of ``model``'s conv/dense kernels at zero during training (re-applied after
    every batch). Used with :func:`pqat_model`: tfmot's PQAT mask alone did not keep the exported int8 weights sparse
    here (its masks are computed before the pruned weights are copied into the wrappers)."""
    tf_keras = import_tf_keras()
    pairs = []
    for layer in model.layers:
        k = kernel_of(layer)
        if k is None or not hasattr(k, "assign"):
            continue
        mask = (np.asarray(k.numpy()) != 0).astype(np.float32)
        if mask.mean() < 1.0:
            pairs.append((k, mask))

    class KeepSparsity(tf_keras.callbacks.Callback):
        def _apply(self):
            for var, mask in pairs:
                var.assign(var * mask)

        def on_train_begin(self, logs=None):
            self._apply()

        def on_train_batch_end(self, batch, logs=None):
            self._apply()

    log.info("keeping the zeros of %d kernels during training", len(pairs))
    return KeepSparsity()
