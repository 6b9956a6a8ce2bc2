"""Lists the subpackages of the folders that pyproject.toml's [tool.setuptools.package-dir] maps under ``edgesdk``
(``runtime/`` -> ``edgesdk.runtime`` ...): setuptools' own package finder cannot prefix them."""

import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
ROOTS = tomllib.loads((HERE / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def _packages() -> list[str]:
    found = set()
    for name, folder in ROOTS.items():
        for init in (HERE / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(HERE / folder)
            if "__pycache__" not in rel.parts:
                found.add(".".join([name, *rel.parts]))
    return sorted(found)


setup(packages=_packages())
