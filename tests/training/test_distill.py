"""The distillation student (unet_mobile) and pix2pix-tf distill: cost, int8 graph, the teacher's
term in the one train step, the teacher's discriminator, the CLI, resume, and every tool on a student."""

from __future__ import annotations

import collections
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config, write_dataset

from pix2pix_tf import run_folder, speed
from pix2pix_tf.config import STUDENT_MODEL, Config, DistillConfig, ModelConfig
from pix2pix_tf.deploy import tflite
from pix2pix_tf.models import generators
from pix2pix_tf.models.discriminators import build_discriminator
from pix2pix_tf.models.inference import inference_generator
from pix2pix_tf.training.step import Pix2Pix
from pix2pix_tf.training.train import build_pix2pix, train_and_evaluate


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A 32 px teacher run (8-filter U-Net) trained for 3 steps on random pairs; returns (run, data)."""
    root = tmp_path_factory.mktemp("distill")
    train_and_evaluate(tiny_config(write_dataset(root / "data"), steps=3), root / "teacher")
    return root / "teacher", root / "data"


def _student_config(teacher, data, **distill) -> Config:
    return tiny_config(data).replace(model=STUDENT_MODEL, distill=DistillConfig(teacher=str(teacher), **distill))


def _batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (tf.constant(rng.uniform(-1, 1, (2, 32, 32, 3)), tf.float32),
            tf.constant(rng.uniform(-1, 1, (2, 32, 32, 3)), tf.float32))


def test_student_costs_a_tenth_of_the_paper_unet_at_256_px():
    student = speed.model_flops(generators.build_generator(ModelConfig(**STUDENT_MODEL), 256), 256) / 2e9
    unet = speed.model_flops(generators.unet_generator(256), 256) / 2e9
    assert student <= 0.6 and unet / student >= 10, (student, unet)


@pytest.mark.parametrize("conv", ["separable", "plain"])
@pytest.mark.parametrize("height, width", [(32, 32), (64, 96), (96, 32)])
def test_student_takes_every_size_the_unet_takes(height, width, conv):
    student = generators.unet_mobile_generator(32, filters=8, conv=conv)
    images = np.random.default_rng(0).uniform(-1, 1, (1, height, width, 3)).astype("float32")
    outputs = student(images, training=False).numpy()
    assert outputs.shape == (1, height, width, 3) and np.abs(outputs).max() <= 1


@pytest.mark.parametrize("conv", ["separable", "plain"])
def test_student_full_int8_tflite_is_builtin_ops_in_one_xnnpack_partition(conv):
    """Activations right after convs let the converter fuse them: the whole int8 graph runs in XNNPACK.
    (A ReLU after a concatenation, as in the U-Net, is left to LiteRT's reference kernel and splits it.)"""
    student = generators.unet_mobile_generator(64, filters=8, conv=conv)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 3)).astype("float32")
    runner = tflite.TFLiteModel(tflite.convert(inference_generator(student, "eval"), 64, "int8", images))
    ops = collections.Counter(op["op_name"] for op in runner.interpreter._get_ops_details())
    assert ops["DELEGATE"] == 1, ops
    assert not any(name.startswith("FlexDelegate") or name == "CUSTOM" for name in ops), ops
    outputs = runner.run(images[:2])
    reference = inference_generator(student, "eval")(images[:2]).numpy()
    assert tflite.parity(reference, outputs)["psnr"] > tflite.THRESHOLDS["int8"]


@pytest.mark.parametrize("generator", ["unet", "unet_mobile"])
def test_paper_mode_float_tflite_runs_in_one_xnnpack_partition(generator):
    """The fixed dropout masks multiply (no SELECT_V2, which XNNPACK lacks): the float graph is not split."""
    model = generators.build_generator(ModelConfig(generator=generator, filters=8), 64)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    runner = tflite.TFLiteModel(tflite.convert(inference_generator(model, "paper"), 64, "float32", images))
    ops = collections.Counter(op["op_name"] for op in runner.interpreter._get_ops_details())
    assert ops["DELEGATE"] == 1 and "SELECT_V2" not in ops, ops


def test_teacher_term_moves_the_student_and_vanishes_at_weight_zero(teacher_run):
    teacher, data = teacher_run
    inputs, targets = _batch()

    def weights_after_a_step(config):
        tf.keras.utils.set_random_seed(5)
        model = build_pix2pix(config, steps_per_epoch=3)
        # The same start for all (loading a teacher draws random initial values before the student's).
        model.generator.set_weights(start.generator.get_weights())
        model.discriminator.set_weights(start.discriminator.get_weights())
        for layer, start_layer in zip(model.generator.layers, start.generator.layers, strict=True):
            if hasattr(layer, "seed_generator"):
                layer.seed_generator.state.assign(start_layer.seed_generator.state)
        metrics = model.train_step(inputs, targets)
        return [w.numpy() for w in model.generator.trainable_weights], metrics

    tf.keras.utils.set_random_seed(5)
    start = build_pix2pix(_student_config(teacher, data, teacher_discriminator=False), steps_per_epoch=3)

    plain = tiny_config(data).replace(model=STUDENT_MODEL)
    without, plain_metrics = weights_after_a_step(plain)
    zero, zero_metrics = weights_after_a_step(_student_config(teacher, data, teacher_weight=0.0,
                                                              teacher_discriminator=False))
    weighted, metrics = weights_after_a_step(_student_config(teacher, data, teacher_weight=100.0,
                                                             teacher_discriminator=False))
    assert "g_teacher" not in plain_metrics and float(metrics["g_teacher"]) > 0
    for a, b in zip(without, zero):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert max(np.abs(a - b).max() for a, b in zip(without, weighted)) > 1e-5
    # The term is the L1 distance between the student's first output and the teacher's on the same input.
    tf.keras.utils.set_random_seed(5)
    student = build_pix2pix(_student_config(teacher, data, teacher_discriminator=False), steps_per_epoch=3)
    outputs = student.generator(inputs, training=True)
    teacher_generator, teacher_config = run_folder.load_generator(teacher)
    teacher_outputs = inference_generator(teacher_generator, teacher_config.train.eval_mode)(inputs)
    np.testing.assert_allclose(float(zero_metrics["g_teacher"]), float(tf.reduce_mean(tf.abs(outputs - teacher_outputs))),
                               rtol=1e-3)


def test_distillation_brings_the_student_towards_the_teacher(teacher_run):
    """With only the teacher's term, a few steps bring the student's output towards the teacher's
    (here a teacher that paints every pixel 0.5, far from a new student's near-zero output)."""
    teacher, data = teacher_run
    config = _student_config(teacher, data, teacher_weight=100.0, teacher_discriminator=False)
    config = config.replace(train=dict(gan_weight=0.0, l1_weight=1e-6, learning_rate=2e-3))
    model = build_pix2pix(config, steps_per_epoch=3)
    model.teacher = dataclasses.replace(model.teacher, model=lambda images, training: tf.fill(tf.shape(images), 0.5))
    inputs, targets = _batch(1)
    first = float(model.train_step(inputs, targets)["g_teacher"])
    for _ in range(15):
        last = float(model.train_step(inputs, targets)["g_teacher"])
    assert first > 0.4 and last < 0.6 * first, (first, last)


def test_discriminator_starts_from_the_teachers_or_new(teacher_run):
    teacher, data = teacher_run
    saved = build_discriminator(run_folder.load_config(teacher).model)
    tf.train.Checkpoint(discriminator=saved).restore(run_folder.find_checkpoint(teacher)).expect_partial()
    teacher_values = [v.numpy() for v in saved.weights]

    fine_tuned = build_pix2pix(_student_config(teacher, data), steps_per_epoch=3).discriminator.weights
    for variable, value in zip(fine_tuned, teacher_values, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)
    fresh = build_pix2pix(_student_config(teacher, data, teacher_discriminator=False), steps_per_epoch=3)
    assert not np.array_equal(fresh.discriminator.weights[0].numpy(), teacher_values[0])


def test_a_teacher_that_does_not_fit_is_named(teacher_run):
    teacher, data = teacher_run
    config = _student_config(teacher, data)
    config = config.replace(data=dict(direction="BtoA"), model=dict(disc_layers=2))
    with pytest.raises(ValueError, match=r"teacher .*teacher(.|\n)*data.direction: 'AtoB' in the teacher, 'BtoA' "
                                         r"here(.|\n)*model.disc_layers"):
        build_pix2pix(config, steps_per_epoch=3)
    missing = _student_config(teacher.parent / "nothing", data)
    with pytest.raises(ValueError, match="nothing"):
        build_pix2pix(missing, steps_per_epoch=3)
    with pytest.raises(ValueError, match="needs its Teacher"):  # the step reads nothing from disk itself
        Pix2Pix(_student_config(teacher, data), steps_per_epoch=3)


def test_a_teacher_with_nonfinite_weights_is_named_before_the_first_step(teacher_run, tmp_path):
    """Else every step's teacher term is NaN, and the run stops as if the student had diverged."""
    teacher, data = teacher_run
    generator, _ = run_folder.load_generator(teacher)
    generator.weights[0].assign(tf.fill(generator.weights[0].shape, float("nan")))
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "config.json").write_bytes((teacher / "config.json").read_bytes())
    tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator), str(tmp_path / "teacher" / "checkpoints"),
                               max_to_keep=1).save(checkpoint_number=3)
    config = _student_config(tmp_path / "teacher", data, teacher_discriminator=False)
    with pytest.raises(ValueError, match=r"teacher checkpoint .*ckpt-3 holds NaN or infinite values .*best one \(--teacher_checkpoint\)"):
        build_pix2pix(config, steps_per_epoch=3)


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pix2pix_tf", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.slow
def test_distill_command_trains_resumes_and_every_tool_takes_the_student(teacher_run, tmp_path):
    teacher, _ = teacher_run
    student = tmp_path / "student"
    done = _cli("distill", f"--teacher={teacher}", f"--workdir={student}", "--steps=2")
    assert done.returncode == 0, done.stderr[-2000:]
    config = Config.load(student / "config.json")
    assert config.model.generator == "unet_mobile" and config.model.filters == STUDENT_MODEL["filters"]
    assert config.distill.teacher == str(teacher) and config.data == Config.load(teacher / "config.json").data
    assert "g_teacher" in done.stdout + done.stderr and "val (paper mode" in done.stdout

    resumed = _cli("distill", f"--workdir={student}", "--steps=4", "--log_every=1")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr and json.loads((student / "metrics.json").read_text())["step"] == 4

    # Eval mode: 4 steps on noise leave paper mode's per-image statistics too wild for int8's 30 dB bar.
    exported = _cli("export", f"--workdir={student}", f"--output={tmp_path / 'export'}", "--mode=eval",
                    "--formats=saved_model,tflite_fp32,tflite_fp16,tflite_dynamic_int8,tflite_int8")
    assert exported.returncode == 0, exported.stdout + exported.stderr[-2000:]
    record = json.loads((tmp_path / "export" / "export.json").read_text())
    assert record["passed"] and set(record["parity"]) == {"float32", "float16", "dynamic_int8", "int8"}
    verified = _cli("verify", f"--model={tmp_path / 'export'}")
    assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]
    evaluated = _cli("evaluate", f"--workdir={student}", f"--output={tmp_path / 'eval'}")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["images"] == 3
    image = tmp_path / "in.png"
    tf.io.write_file(str(image), tf.io.encode_png(np.zeros((32, 48, 3), np.uint8)))
    for model in (student, tmp_path / "export" / "model_int8.tflite"):
        out = tmp_path / f"out_{model.name}"
        translated = _cli("translate", f"--model={model}", f"--input={image}", f"--output={out}")
        assert translated.returncode == 0, translated.stderr[-2000:]
        assert tf.io.decode_png(tf.io.read_file(str(out / "in.png"))).shape == (32, 48, 3)


def test_distill_without_a_teacher_is_refused(tmp_path):
    done = _cli("distill", f"--workdir={tmp_path / 'student'}")
    assert done.returncode != 0 and "--teacher is required" in done.stderr


@pytest.mark.slow
def test_serve_translates_with_a_student(teacher_run, tmp_path):
    import threading
    import urllib.request

    from pix2pix_tf.deploy import serve
    from pix2pix_tf.deploy.service import ModelService
    from pix2pix_tf.deploy.translator import Translator

    teacher, data = teacher_run
    train_and_evaluate(_student_config(teacher, data, teacher_discriminator=False), tmp_path / "student")
    service = ModelService(Translator.load(tmp_path / "student"), "pix2pix")
    server = serve.ModelServer(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]
        image = np.random.default_rng(3).integers(0, 256, (30, 50, 3), dtype=np.uint8)
        request = urllib.request.Request(f"http://{host}:{port}/translate", method="POST",
                                         data=tf.io.encode_png(image).numpy(), headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(request, timeout=60) as response:
            output = tf.io.decode_png(response.read()).numpy()
    finally:
        server.shutdown()
        server.server_close()
    np.testing.assert_array_equal(output, Translator.load(tmp_path / "student").translate(image))
    assert Config.load(tmp_path / "student" / "config.json").model.generator == "unet_mobile"


@pytest.mark.slow
def test_a_student_is_held_to_the_teacher_checkpoint_it_started_from(teacher_run, tmp_path):
    """A teacher trained further between a student's resumes is refused, naming both checkpoints."""
    import shutil

    teacher, data = teacher_run
    shutil.copytree(teacher, tmp_path / "teacher")
    config = _student_config(tmp_path / "teacher", data, teacher_discriminator=False)
    config = config.replace(train=dict(steps=2, val_every=0))
    train_and_evaluate(config, tmp_path / "student")
    record = json.loads((tmp_path / "student" / run_folder.TEACHER_RECORD).read_text())
    assert record["checkpoint"].endswith("teacher/checkpoints/ckpt-3")
    generator, _ = run_folder.load_generator(tmp_path / "teacher")
    generator.weights[0].assign(generator.weights[0] + 1.0)  # the teacher trains on, to its step 5
    tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator), str(tmp_path / "teacher" / "checkpoints"),
                               max_to_keep=5).save(checkpoint_number=5)
    resumed = config.replace(train=dict(steps=4))
    with pytest.raises(ValueError, match=r"the teacher changed since this student started: it learned from "
                                         r".*ckpt-3, and the teacher's checkpoint is now .*ckpt-5"):
        train_and_evaluate(resumed, tmp_path / "student")
