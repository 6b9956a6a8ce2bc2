"""Behaviour of the training steps on a small CIFAR subset and tiny models: loss falls, sparsity is reached and
survives int8, resume continues, the teacher cache is used, strategies run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgesdk.bundle import InputSpec
from edgesdk.errors import InputError

SPEC = InputSpec.from_range(-1.0, 1.0, resize="stretch")


@pytest.fixture(scope="module")
def data(cifar_small):
    from edgesdk.converters import prepare_data

    return prepare_data(cifar_small, val_split=0.2, test_split=0.0, seed=0)


@pytest.fixture(scope="module")
def dsets(data):
    from edgesdk.converters import make_datasets

    return make_datasets(data, (32, 32), SPEC, batch_size=32)


@pytest.fixture()
def tiny(tiny_h5):
    from edgesdk.converters import import_tf_keras

    return import_tf_keras().models.load_model(tiny_h5, compile=False)


def test_prepare_data_splits_are_stratified_and_disjoint(data):
    assert data.classes[0] == "airplane" and len(data.classes) == 10
    assert len(data.train) == 240 and len(data.val) == 60
    assert np.bincount(data.train.labels).tolist() == [24] * 10
    assert not set(data.train.paths) & set(data.val.paths)


def test_replace_head_mixed_resolution_flat_and_bn_frozen(tiny):
    from edgesdk.converters import logits_model, replace_head

    m = replace_head(tiny, 5, input_size=48)
    assert tuple(m.inputs[0].shape[1:]) == (48, 48, 3) and m.outputs[0].shape[-1] == 5
    assert not any(hasattr(layer, "layers") for layer in m.layers)  # flat: tfmot can wrap it
    assert all(not layer.trainable for layer in m.layers if type(layer).__name__ == "BatchNormalization")
    np.testing.assert_array_equal(m.get_layer("conv2").get_weights()[0], tiny.get_layer("conv2").get_weights()[0])
    assert logits_model(m).outputs[0].shape[-1] == 5


@pytest.mark.slow
def test_finetune_loss_falls_and_writes_curves(tiny, dsets, tmp_path):
    from edgesdk.converters import FinetuneConfig, finetune, replace_head

    m = replace_head(tiny, 10)
    m, info = finetune(m, *dsets, FinetuneConfig(epochs_frozen=0, epochs=3, fine_lr=3e-3, patience=None), tmp_path)
    from edgesdk.converters import read_curves

    curves = read_curves(tmp_path / "full" / "curves.csv")
    assert len(curves["loss"]) == 3 and curves["loss"][-1] < curves["loss"][0]
    assert "val_accuracy" in curves and all(s > 0 for s in curves["seconds"])
    assert (tmp_path / "full" / "curves.png").stat().st_size > 1000
    assert (tmp_path / "full" / "done_weights.h5").is_file()


@pytest.mark.slow
def test_fit_resumes_after_interruption(tiny, dsets, tmp_path):
    from edgesdk.converters import import_tf_keras
    from edgesdk.converters import compile_classifier, replace_head
    from edgesdk.converters import fit, read_curves

    k = import_tf_keras()

    class Stop(k.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    m = replace_head(tiny, 10)
    compile_classifier(m, 1e-3)
    with pytest.raises(KeyboardInterrupt):
        fit(m, *dsets, epochs=4, work_dir=tmp_path, callbacks=[Stop()])
    assert len(read_curves(tmp_path / "curves.csv")["epoch"]) == 2
    m2 = replace_head(tiny, 10)  # a fresh process would rebuild the model: the backup restores it
    compile_classifier(m2, 1e-3)
    res = fit(m2, *dsets, epochs=4, work_dir=tmp_path)
    assert res.resumed_from == 2 and res.epochs_run == 2
    assert read_curves(tmp_path / "curves.csv")["epoch"] == [0.0, 1.0, 2.0, 3.0]
    assert not any((tmp_path / "backup").rglob("*.index"))  # finished: the backup is gone


@pytest.mark.slow
@pytest.mark.parametrize("structured", [None, "2:4"])
def test_prune_reaches_target_and_survives_int8(tiny, data, dsets, structured, tmp_path):
    from edgesdk.converters import compile_classifier, replace_head
    from edgesdk.converters import LoadedModel
    from edgesdk.converters import (PruneConfig, apply_pruning, gzip_size, pruning_callbacks, sparsity_report,
                                           strip, tflite_sparsity)
    from edgesdk.converters import convert_tflite
    from edgesdk.converters import fit

    m = replace_head(tiny, 10)
    cfg = PruneConfig(sparsity=0.5, epochs=2, structured=structured)
    steps = int(dsets[0].cardinality().numpy())
    pruned, plan = apply_pruning(m, cfg, steps * 2)
    assert plan["conv1"] == "skipped" and plan["logits"] == "skipped"
    compile_classifier(pruned, 1e-3)
    fit(pruned, *dsets, epochs=2, work_dir=tmp_path, callbacks=pruning_callbacks(), save_best=False)
    s = strip(pruned)
    rep = sparsity_report(s)
    by = {r["layer"]: r["sparsity"] for r in rep["layers"]}
    assert by["conv1"] == 0.0 and by["dw3"] == 0.0
    if structured is None:
        assert rep["overall"] >= 0.49  # 50% of all conv/dense kernels, counting the skipped ones
    else:
        k = s.get_layer("conv4").kernel.numpy().reshape(-1, 384)  # (in, out): groups of 4 along the input channels
        groups = (k.reshape(-1, 4, 384) == 0).sum(axis=1)
        assert (groups >= 2).all()
    calib = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    sparse8 = convert_tflite(LoadedModel(s, "tf_keras", "p"), "int8", calib=calib, calibration="minmax").tflite
    dense8 = convert_tflite(LoadedModel(m, "tf_keras", "d"), "int8", calib=calib, calibration="minmax").tflite
    sp = tflite_sparsity(sparse8)
    assert sp["conv2d_only"] >= (0.49 if structured is None else 0.3)
    assert gzip_size(sparse8) < gzip_size(dense8)


@pytest.mark.slow
def test_pqat_keeps_zeros(tiny, dsets, tmp_path):
    from edgesdk.converters import compile_classifier, replace_head
    from edgesdk.converters import PruneConfig, apply_pruning, pqat_model, pruning_callbacks, sparsity_report, strip
    from edgesdk.converters import fit

    m = replace_head(tiny, 10)
    pruned, _ = apply_pruning(m, PruneConfig(sparsity=0.5, epochs=1), int(dsets[0].cardinality().numpy()))
    compile_classifier(pruned, 1e-3)
    fit(pruned, *dsets, epochs=1, work_dir=tmp_path / "p", callbacks=pruning_callbacks(), save_best=False)
    s = strip(pruned)
    before = sparsity_report(s)["overall"]
    q = pqat_model(s)
    compile_classifier(q, 1e-3)
    from edgesdk.converters import keep_sparsity

    fit(q, *dsets, epochs=1, work_dir=tmp_path / "q", save_best=False, callbacks=[keep_sparsity(q)])
    from edgesdk.converters import LoadedModel
    from edgesdk.converters import convert_tflite
    from edgesdk.converters import tflite_sparsity

    calib = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    int8 = convert_tflite(LoadedModel(q, "tf_keras", "q"), "int8", calib=calib, calibration="minmax").tflite
    after = tflite_sparsity(int8)["overall"]  # PQAT masks the quantized weights: the int8 file keeps the zeros
    assert before >= 0.49 and after >= before - 0.005


def _counting_teacher(tiny):
    """The tiny net with a layer that counts the images it sees."""
    from edgesdk.converters import import_tf, import_tf_keras
    from edgesdk.converters import replace_head

    tf, k = import_tf(), import_tf_keras()

    class Count(k.layers.Layer):
        def build(self, shape):
            self.seen = self.add_weight(name="seen", shape=(), initializer="zeros", trainable=False, dtype="float32")
            self.side = self.add_weight(name="side", shape=(), initializer="zeros", trainable=False, dtype="float32")

        def call(self, x):
            self.seen.assign_add(tf.cast(tf.shape(x)[0], tf.float32))
            self.side.assign(tf.cast(tf.shape(x)[1], tf.float32))  # the image side the teacher was given (px)
            return x

    m = replace_head(tiny, 10)
    inp = k.Input((32, 32, 3))
    counter = Count(name="count")
    out = m(counter(inp))
    t = k.Model(inp, out)
    t.trainable = False
    return t, counter


@pytest.mark.slow
@pytest.mark.parametrize("augment", [False, True])
def test_distill_teacher_cached_once_per_image(tiny, data, augment, tmp_path):
    from edgesdk.converters import DistillConfig, distill
    from edgesdk.converters import replace_head
    from edgesdk.converters import read_curves
    from _tiny import tiny_net

    teacher, counter = _counting_teacher(tiny)
    student = replace_head(tiny_net(name="student"), 10)
    cfg = DistillConfig(alpha=0.5, temperature=3.0, epochs=3, lr=3e-3, augment=augment)
    _, info = distill(student, teacher, data, (32, 32), SPEC, cfg, tmp_path, batch_size=32)
    n = len(data.train)
    seen = float(counter.seen.numpy())
    assert info["teacher_cached"] is (not augment)
    assert seen == (n if not augment else 3 * n)
    curves = read_curves(tmp_path / "train" / "curves.csv")
    assert curves["loss"][-1] < curves["loss"][0]
    assert {"kd_loss", "ce_loss", "val_accuracy"} <= set(curves)


@pytest.mark.slow
@pytest.mark.parametrize("augment", [False, True])
def test_distill_student_smaller_than_teacher(tiny, data, augment, tmp_path):
    """A 24 px student learns from a 32 px teacher: the teacher always sees 32 px images (cached or per batch)."""
    from edgesdk.converters import DistillConfig, distill
    from edgesdk.converters import replace_head
    from edgesdk.converters import read_curves
    from _tiny import tiny_net

    teacher, counter = _counting_teacher(tiny)
    student = replace_head(tiny_net(size=24, name="small_student"), 10, input_size=24)
    cfg = DistillConfig(alpha=0.5, temperature=3.0, epochs=2, lr=3e-3, augment=augment)
    _, info = distill(student, teacher, data, (24, 24), SPEC, cfg, tmp_path, batch_size=32, teacher_size=(32, 32))
    assert float(counter.side.numpy()) == 32
    assert float(counter.seen.numpy()) == len(data.train) * (2 if augment else 1)
    assert info["student_size"] == [24, 24] and info["teacher_size"] == [32, 32]
    assert tuple(student.inputs[0].shape[1:3]) == (24, 24)
    loss = read_curves(tmp_path / "train" / "curves.csv")["loss"]
    assert loss[-1] < loss[0]


@pytest.mark.slow
def test_distill_unlabelled_soft_targets_only(tiny, cifar_small, tmp_path):
    from edgesdk.converters import DistillConfig, distill
    from edgesdk.converters import replace_head
    from edgesdk.converters import prepare_data
    from _tiny import tiny_net

    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted((cifar_small / "cat").iterdir())[:20] + sorted((cifar_small / "ship").iterdir())[:20]:
        os.symlink(f.resolve(), flat / f"{f.parent.name}_{f.name}")
    data = prepare_data(flat, labelled=False)
    assert not data.labelled and len(data.train) == 40
    teacher = replace_head(tiny, 10)
    student = replace_head(tiny_net(name="s2"), 10)
    with pytest.raises(InputError, match="alpha = 0"):
        distill(student, teacher, data, (32, 32), SPEC, DistillConfig(alpha=0.5, epochs=1), tmp_path / "a")
    _, info = distill(student, teacher, data, (32, 32), SPEC, DistillConfig(alpha=0.0, epochs=1), tmp_path / "b")
    assert info["teacher_images"] == 40


def test_distill_rejects_mismatched_classes(tiny, data, tmp_path):
    from edgesdk.converters import DistillConfig, distill
    from edgesdk.converters import replace_head
    from edgesdk.errors import ModelError

    with pytest.raises(ModelError, match="teacher has 5 outputs"):
        distill(replace_head(tiny, 10), replace_head(tiny, 5), data, (32, 32), SPEC, DistillConfig(epochs=1), tmp_path)


# --- bad data -------------------------------------------------------------------------------------------------

def _mk(root: Path, spec: dict) -> Path:
    from _tiny import need_cifar

    CIFAR = need_cifar()

    for cls, files in spec.items():
        d = root / cls
        d.mkdir(parents=True)
        imgs = sorted((CIFAR / "cat").iterdir())
        for i, f in enumerate(files):
            if f == "img":
                os.symlink(imgs[i], d / f"{i}.jpg")
            else:
                (d / f).write_bytes(b"not an image")
    return root


@pytest.mark.parametrize("spec,match", [
    ({"a": ["img", "img"], "b": []}, "class folder 'b' .* has no images"),
    ({"a": ["img", "img"], "b": ["notes.txt"]}, r"has no images \(1 non-image file"),
    ({"a": ["img", "img"], "b": ["x.jpg"]}, "class 'b' .* no readable images left"),
    ({"a": ["img", "img", "img"]}, "only one class"),
])
def test_prepare_data_bad_folders(tmp_path, spec, match):
    from edgesdk.converters import prepare_data

    with pytest.raises(InputError, match=match):
        prepare_data(_mk(tmp_path / "d", spec), val_split=0.0)


def test_prepare_data_skips_and_counts(tmp_path):
    from edgesdk.converters import prepare_data

    root = _mk(tmp_path / "d", {"a": ["img", "img", "broken.jpg", "readme.md"], "b": ["img", "img", "img"]})
    d = prepare_data(root, val_split=0.0)
    assert len(d.train) == 5 and d.skipped == {"non-image": 1, "unreadable": 1}


# --- strategies -------------------------------------------------------------------------------------------------

def test_strategy_names():
    from edgesdk.converters import get_strategy

    with pytest.raises(InputError, match="unknown distribution strategy"):
        get_strategy("tpu")
    env = os.environ.pop("TF_CONFIG", None)
    try:
        with pytest.raises(InputError, match="TF_CONFIG"):
            get_strategy("multi_worker")
    finally:
        if env is not None:
            os.environ["TF_CONFIG"] = env


@pytest.mark.slow
def test_finetune_under_mirrored_strategy(tiny_h5, dsets, tmp_path):
    from edgesdk.converters import get_strategy
    from edgesdk.converters import import_tf_keras
    from edgesdk.converters import FinetuneConfig, finetune, replace_head

    strategy = get_strategy("mirrored")
    with strategy.scope():
        m = replace_head(import_tf_keras().models.load_model(tiny_h5, compile=False), 10)
    _, info = finetune(m, *dsets, FinetuneConfig(epochs_frozen=1, epochs=1), tmp_path, strategy=strategy)
    assert [p["epochs_run"] for p in info["phases"]] == [1, 1]


_WORKER = r"""
import json, os, sys
sys.path.insert(0, sys.argv[3])
from edgesdk.converters._distribute import get_strategy, worker_info
s = get_strategy("multi_worker")
from edgesdk.converters import import_tf, import_tf_keras
from _tiny import tiny_net
tf, k = import_tf(), import_tf_keras()
with s.scope():
    m = tiny_net()
    m.compile(optimizer=k.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
x = tf.random.stateless_uniform((64, 32, 32, 3), (1, 2), -1, 1)
y = tf.random.stateless_uniform((64,), (3, 4), 0, 10, dtype=tf.int32)
opts = tf.data.Options()
opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).with_options(opts)
h = m.fit(ds, epochs=1, verbose=0)
print(json.dumps({"replicas": s.num_replicas_in_sync, "info": worker_info(), "loss": h.history["loss"][-1]}))
"""


@pytest.mark.slow
def test_multi_worker_strategy_two_cpu_workers(tmp_path):
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    procs = []
    for i in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen([sys.executable, str(script), "x", "x", str(Path(__file__).parents[1])], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, e) in zip(procs, outs):
        assert p.returncode == 0, e[-2000:]
    results = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["info"]["index"] for r in results] == [0, 1] and results[0]["info"]["chief"]
    assert abs(results[0]["loss"] - results[1]["loss"]) < 1e-5  # one model, trained in sync
