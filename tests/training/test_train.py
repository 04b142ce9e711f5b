"""The train step and the training program: weights move, runs resume, checkpoints restore exactly."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from pix2pix_tf.config import Config
from pix2pix_tf.run_folder import load_generator
from pix2pix_tf.training.optimizers import ConstantThenLinearDecay
from pix2pix_tf.training.step import Pix2Pix
from pix2pix_tf.training.train import train_and_evaluate


def _batch(size: int = 32, batch: int = 2, seed: int = 0):
    generator = tf.random.Generator.from_seed(seed)
    return (generator.uniform((batch, size, size, 3), -1, 1), generator.uniform((batch, size, size, 3), -1, 1))


def _copy(variables):
    return [variable.numpy().copy() for variable in variables]


def _changed(before, variables) -> bool:
    return all(not np.array_equal(old, new.numpy()) for old, new in zip(before, variables))


def test_train_step_updates_both_networks_with_finite_losses():
    """One step moves every trainable weight of G and of D and reports finite losses."""
    model = Pix2Pix(tiny_config(), steps_per_epoch=10)
    generator_before = _copy(model.generator.trainable_variables)
    discriminator_before = _copy(model.discriminator.trainable_variables)
    metrics = model.compiled_train_step(*_batch())
    assert _changed(generator_before, model.generator.trainable_variables)
    assert _changed(discriminator_before, model.discriminator.trainable_variables)
    assert {"g_loss", "g_gan", "g_recon", "d_loss", "d_real", "d_fake"} <= set(metrics)
    assert all(np.isfinite(float(value)) for value in metrics.values())
    assert int(model.step) == 1


def test_l1_only_ablation_leaves_discriminator_untouched():
    """gan_weight=0 (the paper's L1-only ablation) trains G alone."""
    model = Pix2Pix(tiny_config(gan_weight=0.0), steps_per_epoch=10)
    discriminator_before = _copy(model.discriminator.trainable_variables)
    generator_before = _copy(model.generator.trainable_variables)
    metrics = model.compiled_train_step(*_batch())
    assert all(np.array_equal(old, new.numpy()) for old, new in zip(discriminator_before, model.discriminator.trainable_variables))
    assert _changed(generator_before, model.generator.trainable_variables)
    assert "d_loss" not in metrics and float(metrics["g_gan"]) == 0.0


def test_unconditional_discriminator_trains():
    """conditional=False (the paper's unconditional GAN ablation) runs the same step."""
    config = tiny_config()
    config = config.replace(model=type(config.model)(filters=8, disc_filters=8, conditional=False))
    model = Pix2Pix(config, steps_per_epoch=10)
    assert len(model.discriminator.inputs) == 1  # D judges the output image alone
    assert model.discriminator.get_layer("layer0_conv").kernel.shape[2] == 3  # not the 6 channels of a pair
    discriminator_before = _copy(model.discriminator.trainable_variables)
    metrics = model.compiled_train_step(*_batch())
    assert np.isfinite(float(metrics["d_loss"]))
    assert _changed(discriminator_before, model.discriminator.trainable_variables)


def test_learning_rate_constant_then_linear_decay_to_zero():
    """The paper's schedule: constant for `epochs`, then linear to 0 over `decay_epochs`."""
    schedule = ConstantThenLinearDecay(2e-4, constant_steps=100, decay_steps=50)
    values = [float(schedule(step)) for step in (0, 100, 125, 150, 400)]
    np.testing.assert_allclose(values, [2e-4, 2e-4, 1e-4, 0.0, 0.0], atol=1e-12)


@pytest.mark.slow
def test_training_writes_run_folder_and_resume_continues_step(paired_folder, tmp_path):
    """A run leaves config, checkpoints, samples, TensorBoard logs and metrics; rerunning resumes."""
    workdir = tmp_path / "run"
    config = tiny_config(paired_folder, steps=2)
    results = train_and_evaluate(config, workdir)
    assert results.step == 2
    assert Config.load(workdir / "config.json") == config
    assert (workdir / "samples" / "step_0000002.png").stat().st_size > 0
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((workdir / "metrics.json").read_text())["images"] == 3

    longer = config.replace(train=type(config.train)(**{**config.train.__dict__, "steps": 4}))
    results = train_and_evaluate(longer, workdir)
    assert results.step == 4
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-4")


@pytest.mark.slow
def test_resume_with_a_different_architecture_is_refused(paired_folder, tmp_path):
    """A workdir's checkpoint never silently meets a config it does not fit."""
    workdir = tmp_path / "run"
    config = tiny_config(paired_folder, steps=1)
    train_and_evaluate(config, workdir)
    wider = config.replace(model=type(config.model)(filters=16, disc_filters=8))
    with pytest.raises(ValueError, match=r"model\.filters: 8 in the checkpoint, 16 now"):
        train_and_evaluate(wider, workdir)


@pytest.mark.slow
def test_checkpoint_restored_in_new_process_reproduces_outputs(paired_folder, tmp_path):
    """load_generator in a fresh process gives bit-identical outputs to the trained generator."""
    workdir = tmp_path / "run"
    train_and_evaluate(tiny_config(paired_folder, steps=3), workdir)
    generator, _ = load_generator(workdir)
    probe = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.save(tmp_path / "probe.npy", probe)
    expected = generator(probe, training=False).numpy()
    script = textwrap.dedent(f"""
        import numpy as np
        from pix2pix_tf.run_folder import load_generator
        generator, config = load_generator({str(workdir)!r})
        probe = np.load({str(tmp_path / 'probe.npy')!r})
        np.save({str(tmp_path / 'restored.npy')!r}, generator(probe, training=False).numpy())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    restored = np.load(tmp_path / "restored.npy")
    np.testing.assert_array_equal(restored, expected)
    assert not np.allclose(expected, 0.0)


def test_load_generator_names_the_folder_without_a_run(tmp_path):
    """Pointing inference at a folder that holds no run says so."""
    with pytest.raises(ValueError, match="no config.json"):
        load_generator(tmp_path)


def _trained_copy(paired_folder, tmp_path):
    workdir = tmp_path / "run"
    train_and_evaluate(tiny_config(paired_folder, steps=1), workdir)
    return workdir


@pytest.mark.slow
def test_damaged_checkpoint_is_named_not_a_traceback(paired_folder, tmp_path):
    """A half-written checkpoint file: ValueError naming it and the config it was read with."""
    workdir = _trained_copy(paired_folder, tmp_path)
    data_file = next((workdir / "checkpoints").glob("ckpt-1.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"ckpt-1 cannot be restored .*damaged checkpoint"):
        load_generator(workdir)


@pytest.mark.slow
def test_config_of_another_run_is_named(paired_folder, tmp_path, caplog):
    """A config.json that does not fit the checkpoint's weights is refused, naming both files."""
    workdir = _trained_copy(paired_folder, tmp_path)
    config = Config.load(workdir / "config.json")
    config.replace(model=type(config.model)(filters=16, disc_filters=8)).save(workdir / "config.json")
    with caplog.at_level("WARNING", logger="tensorflow"):
        with pytest.raises(ValueError, match=r"config.json \(damaged checkpoint, or a config.json of another run\)"):
            load_generator(workdir)
        gc.collect()
    # TensorFlow's list of each value not restored (some 200 lines) no longer follows the one-line error.
    assert "unrestored values" not in caplog.text and "could not be found" not in caplog.text


@pytest.mark.slow
def test_simultaneous_order_updates_g_against_d_before_its_update():
    """update_order=simultaneous: D's update is the reference's; G's is the one a frozen D would give."""

    from pix2pix_tf.training.optimizers import FusedAdam

    base = tiny_config()
    base = base.replace(model=dict(dropout=0.0))
    simultaneous = Pix2Pix(base.replace(train=dict(update_order="simultaneous")), 10)
    reference, frozen_d = Pix2Pix(base, 10), Pix2Pix(base, 10)
    frozen_d.discriminator_optimizer = FusedAdam(0.0)
    frozen_d.discriminator_optimizer.build(frozen_d.discriminator.trainable_variables)
    for model in (reference, frozen_d):
        model.generator.set_weights(simultaneous.generator.get_weights())
        model.discriminator.set_weights(simultaneous.discriminator.get_weights())
    inputs = tf.random.stateless_uniform((2, 32, 32, 3), (4, 0), -1, 1)
    targets = tf.random.stateless_uniform((2, 32, 32, 3), (4, 1), -1, 1)
    for model in (simultaneous, reference, frozen_d):
        model.compiled_train_step(inputs, targets)

    def close(a, b):
        return all(np.allclose(x.numpy(), y.numpy(), atol=1e-6) for x, y in zip(a, b))

    assert close(simultaneous.discriminator.trainable_weights, reference.discriminator.trainable_weights)
    assert close(simultaneous.generator.trainable_weights, frozen_d.generator.trainable_weights)
    assert not close(simultaneous.generator.trainable_weights, reference.generator.trainable_weights)
