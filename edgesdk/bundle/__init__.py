"""The bundle: the contract between the workstation and the device (see DESIGN.md).

A folder or .tar.gz holding ``manifest.json``, ``model.tflite`` (optionally ``model_edgetpu.tflite``),
``labels.txt`` and the sha256 of every file.
"""

from ._decoders import ANCHOR_PRESETS, DETECT_DECODERS, DecoderChoice, describe_decoder, recognize_decoder, recognize_model
from ._io import Bundle, is_bundle, load_bundle, pack, read_labels, safe_extract, sha256_file, verify, write_bundle
from ._make import default_input_spec, infer_task, make_bundle
from ._manifest import MANIFEST_NAME, SCHEMA, TASKS, InputSpec, Manifest, OutputSpec
from ._sign import ALLOWED_SIGNERS_ENV, SIGNATURE_NAME, SignatureError, Signer, check_policy, sign_bundle, signing_key, verify_signature

__all__ = [
    "ANCHOR_PRESETS",
    "ALLOWED_SIGNERS_ENV",
    "SIGNATURE_NAME",
    "SignatureError",
    "Signer",
    "check_policy",
    "sign_bundle",
    "signing_key",
    "verify_signature",
    "Bundle",
    "DETECT_DECODERS",
    "DecoderChoice",
    "describe_decoder",
    "InputSpec",
    "MANIFEST_NAME",
    "Manifest",
    "OutputSpec",
    "SCHEMA",
    "TASKS",
    "is_bundle",
    "default_input_spec",
    "infer_task",
    "load_bundle",
    "make_bundle",
    "pack",
    "read_labels",
    "recognize_decoder",
    "recognize_model",
    "safe_extract",
    "sha256_file",
    "verify",
    "write_bundle",
]
