"""Fixtures for the deploy tests; the code lives in _deploy_util.py so test modules can import its helpers
(``from conftest import`` would collide with the other folders' conftest.py)."""

from _deploy_util import bundles, device_root, manager, sshd  # noqa: F401  (pytest fixtures)
from _keys import agent, keys  # noqa: F401  (pytest fixtures)
