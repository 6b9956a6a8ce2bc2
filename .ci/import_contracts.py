"""An import-linter contract type the built-in ones cannot express: "imports only public names".

``type = public_only``: no module under ``source_modules`` may import a module outside them whose dotted
path has a ``_private`` part (``edgesdk.converters._compile``); dunder modules (``__main__``) are not private.
Loaded by ``lint-imports`` through ``contract_types`` in pyproject.toml (with ``.ci`` on ``PYTHONPATH``).
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _private(module: str) -> bool:
    return any(p.startswith("_") and not p.startswith("__") for p in module.split("."))


class PublicOnlyContract(Contract):
    type_name = "public_only"

    source_modules = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        sources = {m.name for m in self.source_modules}  # type: ignore[attr-defined]
        inside = set(sources)
        for s in sources:
            inside |= graph.find_descendants(s)
        bad = []
        for importer in sorted(inside):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if imported in inside or not _private(imported):
                    continue
                for d in graph.get_import_details(importer=importer, imported=imported):
                    bad.append(f"{importer}:{d['line_number']} imports {imported}")
        return ContractCheck(kept=not bad, metadata={"bad": bad})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["bad"]:
            output.print_error(line, bold=False)
            output.new_line()
