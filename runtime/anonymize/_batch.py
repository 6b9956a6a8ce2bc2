"""``anonymize_inputs``: one anonymize job per input (``edgesdk anonymize a.mp4 b.mp4 photos/``), every input and
output checked before the first one is processed."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from ...errors import InputError
from ..sources import ImageSource, VideoFileSource, open_source
from ..stream import RunError, StreamInfo, default_output, plan_output
from ._job import AnonymizeConfig, anonymize

__all__ = ["anonymize_inputs", "plan_inputs"]


def _check_file_input(spec: str) -> None:
    """A file or folder input, else InputError: a missing file is 'not found', a camera / URL / demo is single."""
    if default_output(spec) is not None:
        return
    source = open_source(spec)
    if isinstance(source, (VideoFileSource, ImageSource)):
        source.open()  # a missing file: "video not found: X" / "image not found: X"
        source.close()
    raise InputError(f"{spec}: a camera, stream or the demo is anonymized on its own, not with other inputs")


def plan_inputs(config: AnonymizeConfig, sources: Sequence[str], keep_audio: bool = True) -> list[AnonymizeConfig]:
    """One config per input of several, everything checked first (nothing written): each input exists and can
    be read, its output is ``<name>_anonymized.<ext>`` (``<name>_anonymized/`` for a folder) beside it, or in
    the folder ``config.output``; an existing output needs ``config.force``; two inputs never share an output.
    keep_audio: each video output keeps its own input's audio track. Raises InputError naming the problem."""
    for given, what in ((config.events, "--events"), (config.serve, "--serve"), (config.show, "--show"),
                        (config.loop, "--loop")):
        if given:
            raise InputError(f"{what} takes one input; run one command per input")
    folder: Path | None = None
    if config.output:
        if not (config.output.endswith(("/", os.sep)) or Path(config.output).is_dir()):
            raise InputError(f"-o {config.output}: with several inputs, -o is a folder (end it with /); each "
                             "input gets <name>_anonymized.<ext> in it")
        folder = Path(config.output)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"-o {config.output} is a file, not a folder")
        plan_output(str(folder) + os.sep, None, None)  # its parent exists, it can be written
    configs: list[AnonymizeConfig] = []
    seen: dict[str, str] = {}
    for spec in sources:
        _check_file_input(spec)
        out = default_output(spec)
        assert out is not None
        if folder is not None:
            out = str(folder / Path(out.rstrip("/" + os.sep)).name) + (os.sep if out.endswith(os.sep) else "")
        key = os.path.normcase(os.path.abspath(out.rstrip("/" + os.sep)))
        if key in seen:
            raise InputError(f"{seen[key]} and {spec} would both write {out}: give them in separate commands")
        seen[key] = spec
        if Path(out).exists() and not config.force:
            raise InputError(f"{out} exists: give --force to overwrite it")
        source = open_source(spec, max_frames=config.max_frames)
        source.open()  # unreadable or empty inputs fail here, before any work
        try:
            if folder is None or folder.is_dir():
                plan_output(out, spec, source.total)
        finally:
            source.close()
        audio = spec if keep_audio and Path(spec).is_file() else None
        configs.append(replace(config, source=spec, output=out, audio_from=audio))
    return configs


def anonymize_inputs(
    config: AnonymizeConfig, sources: Sequence[str | None], *, keep_audio: bool = True,
    on_start: Callable[[StreamInfo], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> list[dict]:
    """Anonymize each input in turn: one report per input, in order. No source or one: ``anonymize`` as it
    is (cameras, URLs and the demo included); several: ``plan_inputs`` first, then one job each. Ctrl-C
    (SIGINT / SIGTERM) finishes the current input and skips the rest. A RunError carries ``reports``: the finished
    inputs' reports plus the failed one's."""
    if len(sources) <= 1:
        spec = sources[0] if sources else None
        audio = spec if keep_audio and spec is not None and Path(spec).is_file() else None
        return [anonymize(replace(config, source=spec, audio_from=audio), on_start=on_start, on_frame=on_frame)]
    configs = plan_inputs(config, [str(s) for s in sources], keep_audio)
    if config.output:
        try:
            Path(config.output).mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create output folder {config.output}: {(exc.strerror or 'error').lower()}") from None
    reports: list[dict] = []
    for cfg in configs:
        try:
            reports.append(anonymize(cfg, on_start=on_start, on_frame=on_frame))
        except RunError as exc:
            exc.reports = [*reports, *([exc.report] if exc.report is not None else [])]
            raise
        if reports[-1].get("interrupted"):
            break  # Ctrl-C: this input's output is finalized, the others are not started
    return reports
