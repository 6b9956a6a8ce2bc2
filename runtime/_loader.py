"""The one hardware factory: :func:`load`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .._native import native_stderr
from ..bundle import (
    ALLOWED_SIGNERS_ENV, Bundle, InputSpec, OutputSpec, infer_task, is_bundle, load_bundle, read_labels, recognize_model,
)
from ..errors import BundleError, DelegateError, EdgeSDKError, ModelError
from ..tflite import check_tflite_file, classifier_decoder, is_edgetpu_compiled, read_model
from ._backends import get_backend
from ._edgetpu import make_delegate, parse_device
from ._model import Model

log = logging.getLogger(__name__)


def load(
    model: str | os.PathLike | Bundle,
    device: str = "cpu",
    threads: int | None = None,
    *,
    backend: str | None = None,
    input_spec: InputSpec | None = None,
    allowed_signers: str | os.PathLike | None = None,
) -> Model:
    """Load a ``.tflite`` file or a bundle (folder or ``.tar.gz``) for inference.

    device: ``"cpu"`` (XNNPACK), ``"edgetpu"`` (any Edge TPU), ``"usb"`` / ``"usb:N"`` (USB Accelerator),
        ``"pci"`` / ``"pci:N"`` (PCIe / M.2), ``":N"`` (N-th Edge TPU of any kind). With a bundle on an Edge TPU
        device, the bundle's ``model_edgetpu.tflite`` is used when it has one.
    threads: CPU threads for XNNPACK (default: all cores).
    backend: force an interpreter backend (``ai_edge_litert``, ``tflite_runtime``, ``tensorflow.lite``).
    input_spec: override how images are fed (otherwise from the bundle, or inferred from the model).
    allowed_signers: an OpenSSH allowed_signers file (default ``$EDGESDK_ALLOWED_SIGNERS``): when set, only a
        bundle whose manifest.json.sig is made by a key it accepts loads (checked with ``ssh-keygen -Y verify``);
        a bare ``.tflite`` cannot be signed and is refused.

    Raises:
        ModelError: file missing, not a TFLite flatbuffer (random bytes, truncated, a Keras .h5), an Edge
            TPU-compiled model asked to run on the CPU, or a model the interpreter rejects.
        BundleError: a bundle with a missing file, a checksum mismatch or an unknown schema.
        SignatureError: with a signature policy, an unsigned or wrongly signed bundle, or a bare .tflite.
        DelegateError: the Edge TPU library is missing, or present with no Edge TPU attached.
        MissingExtraError / ModelError: no interpreter backend installed.
        ValueError: an unknown device string.
    """
    kind, dev_option = parse_device(device)
    bundle = model if isinstance(model, Bundle) else None
    path = None if bundle else Path(model)  # type: ignore[arg-type]
    if bundle is None and path is not None and is_bundle(path) and not path.name.endswith(".tflite"):
        bundle = load_bundle(path)
    _check_signed(bundle, path, allowed_signers)
    if bundle is not None:
        path = bundle.model_path
        if kind == "edgetpu":
            if bundle.edgetpu_model_path is not None:
                path = bundle.edgetpu_model_path
            else:
                log.warning("bundle has no model_edgetpu.tflite: running %s through the Edge TPU delegate maps nothing", path.name)
    assert path is not None
    check_tflite_file(path)
    info = read_model(path)  # parsed once per file version (tile workers load the same model again)
    compiled = is_edgetpu_compiled(info)
    if compiled and kind == "cpu":
        alt = _cpu_twin(path, bundle)
        hint = f"use the CPU model {alt}" if alt else "use the model before edgetpu_compiler"
        raise ModelError(
            f"{path.name} was compiled for the Edge TPU; install libedgetpu (Coral's libedgetpu1-std) and pass "
            f"--device edgetpu, or {hint}"
        )
    be = get_backend(backend)
    if threads is None:
        threads = os.cpu_count() or 1
    delegates = []
    delegate = None
    if kind == "edgetpu":
        if compiled is False:
            log.warning("%s is not compiled for the Edge TPU: every op runs on the CPU (run `edgesdk compile`)", path.name)
        try:
            delegate = make_delegate(be.load_delegate, dev_option)
        except DelegateError as exc:
            if compiled:
                alt = _cpu_twin(path, bundle)
                if alt:
                    raise DelegateError(f"{exc}; or run the CPU model {alt}") from None
            raise
        delegates.append(delegate)
    try:
        with native_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate" goes to the debug log
            interp = be.Interpreter(model_path=str(path), num_threads=threads, experimental_delegates=delegates or None)
            interp.allocate_tensors()
    except EdgeSDKError:
        raise
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "no reason given"
        if "edgetpu-custom-op" in str(exc):
            raise ModelError(f"{path.name} was compiled for the Edge TPU; install libedgetpu or use the CPU model") from None
        raise ModelError(f"{path.name}: the interpreter rejected the model: {msg}") from None
    labels: list[str] = bundle.labels if bundle else _find_labels(path, interp)
    m = bundle.manifest if bundle else None
    # a bare .tflite: its decoder (and how its family is fed) recognised once from its tensors, when unambiguous
    choice = None if m else recognize_model(info)
    spec = input_spec or (m.input if m else choice.input if choice and choice.input else _infer_input_spec(interp))
    task = m.task if m else choice.task if choice else _guess_task(info)
    if m:
        out_spec = m.output
    elif choice:
        out_spec = choice.output
    else:
        out_spec = OutputSpec(decoder=classifier_decoder(info) if task == "classify" else "logits")
    if task == "classify" and out_spec.decoder == "logits" and classifier_decoder(info) != "logits":
        # bundles made before the decoder was read from the graph said "logits" for every classifier
        log.info("%s ends in a softmax/sigmoid: its outputs are read as probabilities", path.name)
        out_spec = OutputSpec(classifier_decoder(info), out_spec.label_offset, out_spec.params)
    return Model(
        interp, path=path, backend=be, device=kind if dev_option is None else dev_option, delegate=delegate,
        threads=threads, input_spec=spec, output_spec=out_spec, labels=labels, bundle=bundle,
        task=task,
    )


def _guess_task(info) -> str | None:
    """classify / segment / detect from the outputs of a model nothing else describes (None if unclear)."""
    try:
        return infer_task(info)
    except BundleError:
        return None


def _check_signed(bundle: Bundle | None, path: Path | None, allowed_signers) -> None:
    policy = allowed_signers or os.environ.get(ALLOWED_SIGNERS_ENV)
    if not policy:
        return
    from ..bundle import SignatureError, verify_signature

    if bundle is None:
        raise SignatureError(f"{path}: a bare .tflite cannot be signed, and the signature policy {policy} "
                             f"requires a signed bundle (edgesdk bundle ... --sign KEY)")
    who = verify_signature(bundle, policy)
    log.info("bundle %s signed by %s (%s)", bundle.root, who.principal, who.fingerprint)


def _cpu_twin(path: Path, bundle: Bundle | None) -> str | None:
    if bundle is not None:
        return str(bundle.model_path)
    stem = path.name.replace("_edgetpu.tflite", ".tflite")
    twin = path.with_name(stem)
    return str(twin) if twin != path and twin.exists() else None


def _infer_input_spec(interp) -> InputSpec:
    """Without a bundle: integer inputs take the raw pixels (their quantization describes the range, the
    convention of Coral's models); float inputs are scaled to [-1, 1] (MobileNet/BlazeFace convention)."""
    d = interp.get_input_details()[0]
    if np.dtype(d["dtype"]) in (np.uint8, np.int8):
        return InputSpec(raw=True, range=None)
    log.info("float input and no bundle: feeding pixels scaled to [-1, 1]; pass input_spec to change")
    return InputSpec.from_range(-1.0, 1.0)


def _find_labels(path: Path, interp) -> list[str]:
    """labels.txt next to the model, or the *labels*.txt there whose line count fits the output (C or C-1)."""
    out = interp.get_output_details()[0]
    n = int(out["shape"][-1]) if len(out["shape"]) else 0
    direct = [path.with_name("labels.txt"), path.with_name(path.stem + "_labels.txt"), path.with_suffix(".txt")]
    for cand in direct:
        if cand.is_file():
            return read_labels(cand)
    for cand in sorted(path.parent.glob("*labels*.txt")):
        try:
            labels = read_labels(cand)
        except (OSError, UnicodeDecodeError):
            continue
        if n and len(labels) == n:
            return labels
    return []
