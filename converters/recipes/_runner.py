"""``run_recipe``: run the steps in a work folder, then write the bundle with report.json and report.md.

Each step is resumable: a finished step is reused on a rerun while the recipe still matches it (a chained
fingerprint of the model and data sections and every step's settings up to it), an interrupted one resumes
from its last epoch. ``out`` is written at the end, all at once; on any error nothing is left in it.
``edgesdk.converters.convert`` is a one-step recipe run the same way."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

from ...errors import InputError
from .._report import render_steps_md
from .._results import ConvertReport
from ._context import RecipeRun, StepContext
from ._schema import Recipe, Step
from ._validate import load_recipe

log = logging.getLogger(__name__)

__all__ = ["check_out_dir", "render_steps_md", "run_recipe"]


def check_out_dir(out: Path, overwrite: bool) -> None:
    """InputError before any work when ``out`` cannot become the bundle: a file, a non-empty folder (without
    ``overwrite``), or a place this process cannot write (tried for real: root passes ``os.access`` checks on
    read-only and immutable folders)."""
    import tempfile

    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out} exists and is not empty (use an empty or new folder, or --overwrite)")
    parent = out if out.exists() else next((p for p in out.absolute().parents if p.exists()), Path("/"))
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise InputError(f"cannot write {out}: {parent}: {(exc.strerror or 'not writable').lower()}") from None


def fingerprint(recipe: Recipe, step: Step, before: str) -> str:
    """A hash of what the step's output depends on: the model and data sections, this step's kind, name, input
    and settings, and ``before`` (the previous step's fingerprint, so a change anywhere earlier shows too)."""
    what = {"model": dataclasses.asdict(recipe.model), "data": dataclasses.asdict(recipe.data),
            "kind": step.kind, "name": step.name, "input": step.input,
            "settings": dataclasses.asdict(step.settings), "before": before}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _run_step(run: RecipeRun, i: int, step: Step, before: str) -> str:
    """Run step ``i``, or reuse its finished output in the work folder while the recipe still matches it.
    Returns the step's fingerprint."""
    sdir = run.work / step.name
    done = sdir / "step.json"
    fp = fingerprint(run.recipe, step, before)
    fp_file = sdir / "fingerprint"
    if fp_file.is_file() and fp_file.read_text().strip() != fp:
        # the recipe changed since this step (or an earlier one) ran here: its output and checkpoints are stale
        log.info("step %s: the recipe changed since it ran in %s; running it again", step.name, sdir)
        shutil.rmtree(sdir)
    if done.is_file():  # finished with these settings (or recorded before fingerprints existed)
        log.info("step %s already done (%s): reusing its output", step.name, done)
        run.register(step, json.loads(done.read_text()))
        return fp
    sdir.mkdir(parents=True, exist_ok=True)
    fp_file.write_text(fp + "\n")
    t0 = time.perf_counter()
    rec = step.settings.run(StepContext(run, step, i, sdir))
    if rec.get("row") is not None:
        rec["row"]["seconds"] = time.perf_counter() - t0
    done.write_text(json.dumps(rec, indent=2, default=str))
    run.register(step, rec)
    return fp


def _curves(run: RecipeRun) -> dict[str, Path]:
    extra = {}
    for st in run.recipe.steps:
        for png in sorted((run.work / st.name).rglob("curves.*")):
            rel = png.relative_to(run.work / st.name / "train") if "train" in png.parts else png.name
            extra[f"curves/{st.name}/{str(rel).replace(os.sep, '_')}"] = png
    return extra


def _write(run: RecipeRun, out: Path, overwrite: bool) -> ConvertReport:
    """The bundle of the last step's model, with report.json, report.md and the learning curves."""
    from ...bundle import InputSpec, OutputSpec
    from .._export import export_bundle
    from .._report import render_report_md

    r = run.recipe
    last = r.steps[-1]
    rec = run.records[last.name]
    model_file = run.tflite.get(last.name) or run.work / last.name / "model_float.tflite"
    etpu = Path(rec["edgetpu"]) if rec.get("edgetpu") else None
    task, files = "classify", {}
    if rec.get("bundle"):  # a step that describes the whole bundle (a one-step conversion)
        b = rec["bundle"]
        report = dict(rec["report"])
        spec, labels, name = InputSpec.from_dict(b["input"]), b["labels"], report["name"]
        output = OutputSpec.from_dict(b["output"]) if b.get("output") else OutputSpec(decoder=b["decoder"])
        source, versions, task = b["source"], b.get("versions"), b.get("task", "classify")
        files = {k: Path(v) for k, v in (b.get("files") or {}).items()}  # e.g. the Edge TPU compiler's log
    else:
        report = {"name": r.path.stem, "recipe": str(r.path), "data": run.data.summary(),
                  "evaluated_on": "test" if run.data.test is not None else "val",
                  "steps": run.rows, "distribute": r.distribute.strategy, "warnings": run.warnings,
                  "quantization": {"mode": "int8" if last.name in run.tflite else "none"},
                  "size": {"model.tflite": model_file.stat().st_size}}
        from ...tflite import classifier_decoder, read_model

        output = OutputSpec(decoder=classifier_decoder(read_model(model_file)))  # from the graph, as `edgesdk bundle` does
        spec, labels, name = run.spec, list(run.data.classes), r.path.stem
        source, versions = {"recipe": r.path.name}, None
    md = render_report_md(report)
    if run.rows:
        md += ("\n## After every step\n\n" + f"Accuracy on {len(run.eval_set)} held-out images (never trained on).\n\n"
               + render_steps_md(run.rows))
    extra = {**_curves(run), **files, "report.md": md.encode()}
    export_bundle(out, model_file, input_spec=spec, output=output, report=report, labels=labels,
                  edgetpu_model=etpu, task=task, name=name, source=source, versions=versions,
                  overwrite=overwrite, extra_files=extra)
    return ConvertReport.from_report(report, out)


def run_recipe(recipe: Recipe | str | os.PathLike, out: str | os.PathLike, *, work_dir: str | os.PathLike | None = None,
               overwrite: bool = False, keep_work: bool = True, progress=None) -> ConvertReport:
    """Run a recipe and write the bundle ``out`` (with report.json, report.md and the learning curves); returns
    its ConvertReport. The steps work in ``work_dir`` (default: ``<out>.work`` next to ``out``). ``progress(desc,
    total)``: an optional context-manager factory for progress bars."""
    r = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    out = Path(out)
    check_out_dir(out, overwrite)
    work = Path(work_dir) if work_dir else out.with_name(out.name + ".work")
    run = RecipeRun(r, work, progress)
    run.prepare()  # data checks before anything is written
    work.mkdir(parents=True, exist_ok=True)
    try:
        if r.path.suffix == ".toml" and r.path.is_file():
            (work / "recipe.toml").write_bytes(r.path.read_bytes())
        chain = ""
        for i, step in enumerate(r.steps):
            log.info("step %d/%d: %s (%s)", i + 1, len(r.steps), step.name, step.kind)
            chain = _run_step(run, i, step, chain)
        return _write(run, out, overwrite)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
