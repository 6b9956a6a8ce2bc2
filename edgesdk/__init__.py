"""edgesdk: take image models from a workstation onto edge devices and run them there.

The core package is light (numpy only). Device code is in :mod:`edgesdk.runtime`, workstation code in
:mod:`edgesdk.converters` (needs the ``convert`` extra), measurement in :mod:`edgesdk.benchmarks`.
"""

from ._version import __version__
from .bundle import Bundle, InputSpec, Manifest, OutputSpec, load_bundle, write_bundle
from .errors import BundleError, DelegateError, EdgeSDKError, InputError, MissingExtraError, ModelError
from .results import Classifications, Detections

__all__ = [
    "Bundle",
    "BundleError",
    "Classifications",
    "DelegateError",
    "Detections",
    "EdgeSDKError",
    "InputError",
    "InputSpec",
    "Manifest",
    "MissingExtraError",
    "ModelError",
    "OutputSpec",
    "__version__",
    "load_bundle",
    "write_bundle",
]
