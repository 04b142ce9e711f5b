"""Configs: paper defaults, JSON round trips, and errors that name the field."""

from __future__ import annotations

import dataclasses

import pytest

from pix2pix_tf.config import Config, DataConfig, ModelConfig, TrainConfig, get_preset


def test_defaults_are_the_papers_recipe():
    """Out of the box: 256 px crops of 286 px resizes, batch 1, Adam 2e-4/0.5, lambda 100, 70x70 D."""
    config = Config()
    assert (config.data.image_size, config.data.resolved_load_size, config.data.flip) == (256, 286, True)
    assert (config.train.batch_size, config.train.learning_rate, config.train.beta1) == (1, 2e-4, 0.5)
    assert (config.train.gan_loss, config.train.gan_weight, config.train.l1_weight) == ("vanilla", 1.0, 100.0)
    assert (config.model.generator, config.model.norm, config.model.dropout) == ("unet", "batch", 0.5)
    assert (config.model.disc_layers, config.model.conditional) == (3, True)


def test_json_round_trip(tmp_path):
    config = get_preset("quick")
    config.save(tmp_path / "config.json")
    assert Config.load(tmp_path / "config.json") == config
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_keys_in_a_config_file_are_named(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model": {"filterz": 8}}')
    with pytest.raises(ValueError, match=r"config.json: unknown keys in config section 'model': \['filterz'\]"):
        Config.load(path)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ModelConfig(norm="group"), "norm='group' is not valid; choose one of: batch, sync_batch, instance, none"),
        (lambda: ModelConfig(input_channels=4), "input_channels must be 1 or 3, got 4"),
        (lambda: DataConfig(direction="AB"), "direction='AB' is not valid; choose one of: AtoB, BtoA"),
        (lambda: DataConfig(image_size=96), "image_size must be a power of two"),
        (lambda: DataConfig(image_size=64, load_size=32), "load_size must be 0 (auto) or >= image_size"),
        (lambda: TrainConfig(gan_weight=0, l1_weight=0), "gan_weight and l1_weight are both 0"),
        (lambda: TrainConfig(epochs=0, decay_epochs=0), "nothing to train"),
        (lambda: TrainConfig(l1_weight=-1.0), "l1_weight must be >= 0, got -1.0"),
        (lambda: TrainConfig(gan_weight=-0.5), "gan_weight must be >= 0, got -0.5"),
        (lambda: TrainConfig(beta1=1.0), "beta1 must be in [0, 1), got 1.0"),
        (lambda: TrainConfig(beta2=-0.1), "beta2 must be in [0, 1), got -0.1"),
        (lambda: TrainConfig(learning_rate=float("inf")), "learning_rate must be a finite number, got inf"),
        (lambda: TrainConfig(l1_weight=float("nan")), "l1_weight must be a finite number, got nan"),
        (lambda: ModelConfig(dropout=float("nan")), "dropout must be a finite number, got nan"),
    ],
)
def test_bad_values_raise_errors_naming_the_field(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert message in str(error.value)


def test_configs_are_frozen():
    """A config cannot be mutated at run time (the PyTorch reference's options can)."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().train.batch_size = 4


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of: paper, quick"):
        get_preset("fast")
