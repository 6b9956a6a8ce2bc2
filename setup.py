"""Maps the design's top-level folders onto import names under ``edgesdk``.

``runtime/`` -> ``edgesdk.runtime`` and so on, so installing the SDK never puts a generic ``runtime`` or
``converters`` package into site-packages. Subpackages are found by walking each folder for ``__init__.py``.
"""
from pathlib import Path

from setuptools import setup

ROOTS = {
    "edgesdk": "edgesdk",
    "edgesdk.runtime": "runtime",
    "edgesdk.converters": "converters",
    "edgesdk.benchmarks": "benchmarks",
}
DATA = ["*.toml", "*.json", "*.jpg", "*/*.jpg", "*.yml", "*.yaml", "*.html", "*.txt", "*.service", "py.typed"]


def _packages() -> list[str]:
    here = Path(__file__).parent
    found = set()
    for name, folder in ROOTS.items():
        for init in (here / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(here / folder)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([name, *rel.parts]))
    return sorted(found)


setup(packages=_packages(), package_dir=ROOTS, package_data={name: DATA for name in _packages()})
