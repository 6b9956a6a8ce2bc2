"""Recipes: validation (unknown keys, types, orders, missing files and step outputs), the bad-data rules through
the CLI (one line, exit 1, nothing written), and one end-to-end run on a tiny model and a CIFAR subset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgesdk.cli import main

REPO = Path(__file__).resolve().parents[2]

STEPS_OK = """
[[steps]]
kind = "finetune"
epochs_frozen = 1
epochs = 1

[[steps]]
kind = "prune"
epochs = 2
sparsity = 0.5

[[steps]]
kind = "quantize"
io = "uint8"
calib_images = 16

[[steps]]
kind = "edgetpu"
"""


def _recipe(tmp_path, base, train, steps=STEPS_OK, model_extra="", data_extra="", name="r.toml"):
    text = (f'[model]\nbase = "{base}"\ninput_size = 32\n{model_extra}\n\n'
            f'[data]\ntrain = "{train}"\nbatch_size = 32\nval_split = 0.2\ntest_split = 0.2\n{data_extra}\n\n'
            f'[report]\nlatency_runs = 3\n\n{steps}')
    p = tmp_path / name
    p.write_text(text)
    return p


def _convert(capsys, recipe, out):
    code = main(["convert", "--recipe", str(recipe), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


BAD_RECIPES = [
    ("unknown key", STEPS_OK.replace("sparsity = 0.5", "sparsty = 0.5"), "unknown key 'sparsty'"),
    ("wrong type", STEPS_OK.replace("sparsity = 0.5", 'sparsity = "half"'), r"sparsity must be a number"),
    ("prune after int8", STEPS_OK + '\n[[steps]]\nkind = "prune"\nname = "late"\n', "prune after quantize is impossible"),
    ("finetune after prune", '[[steps]]\nkind = "prune"\n[[steps]]\nkind = "finetune"\n',
     "finetune after prune would undo"),
    ("prune after qat", '[[steps]]\nkind = "qat"\n[[steps]]\nkind = "prune"\n', "prune after qat is impossible"),
    ("teacher not a step", '[[steps]]\nkind = "distill"\nteacher = "finetune"\n',
     "teacher 'finetune' is not the output of an earlier step"),
    ("teacher later step", '[[steps]]\nkind = "distill"\nteacher = "ft"\n[[steps]]\nkind = "finetune"\nname = "ft"\n',
     "teacher 'ft' is not the output of an earlier step"),
    ("input missing", '[[steps]]\nkind = "finetune"\n[[steps]]\nkind = "quantize"\ninput = "prune"\n',
     "input 'prune' is not the output of an earlier step"),
    ("teacher file missing", '[[steps]]\nkind = "distill"\nteacher = "nope/teacher.h5"\n', "teacher model not found"),
    ("student too small", '[[steps]]\nkind = "finetune"\nname = "ft"\n[[steps]]\nkind = "distill"\nteacher = "ft"\n'
     'student_size = 8\n', "student_size must be at least 32"),
    ("unknown kind", '[[steps]]\nkind = "cluster"\n', "kind must be one of"),
    ("no steps", "", "no \\[\\[steps\\]\\]"),
    ("bad strategy", '[distribute]\nstrategy = "tpu"\n' + STEPS_OK, "strategy must be one of"),
    ("bad sparsity", STEPS_OK.replace("sparsity = 0.5", "sparsity = 1.5"), "sparsity must be between 0 and 1"),
    ("toml syntax", "[[steps]\nkind = 1", "is not valid TOML"),
    ("bad calibration", STEPS_OK.replace("calib_images = 16", 'calib_images = 16\ncalibration = "entropy"'),
     r": error: r\.toml: \[\[steps\]\] 3 \(quantize\): calibration must be one of minmax, mse, percentile, got 'entropy'$"),
    ("bad edgetpu calibration", STEPS_OK + 'calibration = "kl"\n',
     r"\[\[steps\]\] 4 \(edgetpu\): calibration must be one of minmax, mse, percentile, got 'kl'$"),
]


@pytest.mark.parametrize("steps,match", [b[1:] for b in BAD_RECIPES], ids=[b[0] for b in BAD_RECIPES])
def test_bad_recipes_one_line_exit_1_nothing_written(tmp_path, capsys, cifar_small, tiny_h5, steps, match):
    import re

    r = _recipe(tmp_path, tiny_h5, cifar_small, steps)
    out = tmp_path / "out"
    code, err = _convert(capsys, r, out)
    assert code == 1 and len(err) == 1 and re.search(match, err[0]), err
    assert not out.exists() and not (tmp_path / "out.work").exists()


def test_missing_files(tmp_path, capsys, cifar_small, tiny_h5):
    for args, match in (((tmp_path / "none.h5", cifar_small), "is neither a built-in architecture"),
                        ((tiny_h5, tmp_path / "nodata"), "[data].train folder not found")):
        code, err = _convert(capsys, _recipe(tmp_path, *args), tmp_path / "out")
        assert code == 1 and len(err) == 1 and match in err[0], err
    code, err = _convert(capsys, tmp_path / "absent.toml", tmp_path / "out")
    assert code == 1 and "recipe not found" in err[0]


def _subset(tmp_path, spec):
    import os

    from _tiny import need_cifar

    CIFAR = need_cifar()

    root = tmp_path / "data"
    for cls, kinds in spec.items():
        d = root / cls
        d.mkdir(parents=True)
        src = sorted((CIFAR / cls if (CIFAR / cls).is_dir() else CIFAR / "cat").iterdir())
        for i, k in enumerate(kinds):
            if k == "img":
                os.symlink(src[i], d / f"{i}.jpg")
            else:
                (d / k).write_bytes(b"\x00garbage")
    return root


@pytest.mark.parametrize("spec,extra,match", [
    ({"cat": ["img"] * 6, "dog": []}, "", "class folder 'dog' .* has no images"),
    ({"cat": ["img"] * 6, "dog": ["a.jpg", "b.png"]}, "", "class 'dog' .* no readable images left"),
    ({"cat": ["img"] * 6, "dog": ["readme.txt"]}, "", r"has no images \(1 non-image"),
    ({"cat": ["img"] * 6}, "", "only one class"),
    ({"cat": ["img"] * 6, "dog": ["img"] * 6}, "classes = 5", r"\[model\].classes is 5 but .* has 2 class folders"),
], ids=["empty class", "unreadable only", "non-image only", "one class", "classes mismatch"])
def test_bad_data_through_cli(tmp_path, capsys, tiny_h5, spec, extra, match):
    import re

    r = _recipe(tmp_path, tiny_h5, _subset(tmp_path, spec), model_extra=extra)
    out = tmp_path / "out"
    code, err = _convert(capsys, r, out)
    assert code == 1 and len(err) == 1 and re.search(match, err[0]), err
    assert not out.exists() and not (tmp_path / "out.work").exists()


def test_model_data_class_mismatch_without_finetune(tmp_path, capsys, tiny_h5):
    # the base has 10 outputs, the data 2 classes, and no finetune step gives it a new head
    r = _recipe(tmp_path, tiny_h5, _subset(tmp_path, {"cat": ["img"] * 8, "dog": ["img"] * 8}),
                steps='[[steps]]\nkind = "prune"\nepochs = 1\n')
    out = tmp_path / "out"
    code, err = _convert(capsys, r, out)
    assert code == 1 and "predicts 10 classes but the data has 2 class folders" in err[0], err
    assert not out.exists()


def test_example_recipes_validate():
    from edgesdk.converters import load_recipe

    if not (REPO.parent / "shared" / "testdata" / "models").is_dir():
        pytest.skip("../shared/testdata is absent")
    a = load_recipe(REPO / "recipes" / "cifar10_mobilenet_v2_edgetpu.toml")
    assert [s.kind for s in a.steps] == ["finetune", "prune", "quantize", "edgetpu"]
    b = load_recipe(REPO / "recipes" / "cifar10_distill_mnv2_035.toml")
    assert [s.kind for s in b.steps] == ["finetune", "distill", "quantize"]
    assert b.steps[1].settings.teacher == "teacher" and b.steps[1].settings.student_alpha == 0.35


@pytest.mark.slow
def test_recipe_end_to_end_and_rerun_skips_finished_steps(tmp_path, capsys, cifar_small, tiny_h5):
    from edgesdk.bundle import load_bundle
    from edgesdk.runtime import load

    r = _recipe(tmp_path, tiny_h5, cifar_small)
    out = tmp_path / "out"
    code = main(["convert", "--recipe", str(r), "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    report = json.loads(captured.out)
    rows = {row["step"]: row for row in report["steps"]}
    assert list(rows) == ["finetune", "prune", "quantize", "edgetpu"]
    assert rows["prune"]["sparsity_all"] >= 0.49 and rows["finetune"]["sparsity_all"] < 0.05
    assert rows["quantize"]["sparsity_conv"] > 0.4  # the zeros survive int8
    assert rows["quantize"]["bytes"] < rows["prune"]["bytes"]
    assert all(0.0 <= row["top1"] <= 1.0 and row["latency_ms"] > 0 for row in rows.values())
    assert report["data"]["test"] == 60 and report["evaluated_on"] == "test"
    b = load_bundle(out)
    assert b.labels[:2] == ["airplane", "automobile"] and (out / "report.md").read_text().count("| prune |") == 1
    assert (out / "curves" / "finetune" / "full_curves.png").is_file()
    m = load(out)
    assert m.image_input.dtype == np.uint8  # io = "uint8"
    # a rerun with the same work folder reuses every finished step
    out2 = tmp_path / "out2"
    from edgesdk.converters import run_recipe

    rep2 = run_recipe(r, out2, work_dir=tmp_path / "out.work")
    assert rep2.steps is not None and rep2.out == out2 and rep2.quantize == "int8"
    assert rep2.steps.step.tolist() == list(rows) and rep2.steps.top1.tolist() == [row["top1"] for row in report["steps"]]
    # a changed setting runs that step (and the ones after it) again; the earlier ones are still reused
    r.write_text(r.read_text().replace("sparsity = 0.5", "sparsity = 0.7"))
    rep3 = run_recipe(r, tmp_path / "out3", work_dir=tmp_path / "out.work")
    assert rep3.steps is not None
    s3 = rep3.steps
    assert s3.top1[0] == rows["finetune"]["top1"] and s3.seconds[0] == rows["finetune"]["seconds"]
    assert s3.to_list()[1]["sparsity_all"] >= 0.69 and s3.sparsity_conv[2] > 0.6 and s3.kind[2] == "quantize"


@pytest.mark.slow
def test_recipe_distills_into_a_student_of_its_own_size(tmp_path, capsys, cifar_small, tiny_h5):
    """The teacher (a recipe step, 32 px) teaches a built-in MobileNetV2 0.35 at student_size 40 px; the bundle's
    model is the 40 px student."""
    from edgesdk.runtime import load

    steps = ('[[steps]]\nkind = "finetune"\nname = "teacher"\nepochs_frozen = 1\nepochs = 0\n\n'
             '[[steps]]\nkind = "distill"\nteacher = "teacher"\nstudent = "mobilenet_v2"\nstudent_alpha = 0.35\n'
             'student_size = 40\nepochs = 1\n\n[[steps]]\nkind = "quantize"\nio = "uint8"\ncalib_images = 16\n')
    out = tmp_path / "out"
    code = main(["convert", "--recipe", str(_recipe(tmp_path, tiny_h5, cifar_small, steps)), "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    rows = {row["step"]: row for row in json.loads(captured.out)["steps"]}
    assert list(rows) == ["teacher", "distill", "quantize"]
    info = json.loads((tmp_path / "out.work" / "distill" / "step.json").read_text())["row"]["details"]
    assert info["student_size"] == [40, 40] and info["teacher_size"] == [32, 32] and info["teacher_cached"]
    m = load(out)
    assert m.input_size == (40, 40) and m.image_input.dtype == np.uint8


def test_recipe_with_model_and_recipe_is_an_error(tmp_path, capsys, cifar_small, tiny_h5):
    r = _recipe(tmp_path, tiny_h5, cifar_small)
    code = main(["convert", str(tiny_h5), "--recipe", str(r), "-o", str(tmp_path / "o")])
    assert code == 1 and "not both" in capsys.readouterr().err
