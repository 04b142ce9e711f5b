"""Configs: paper defaults, JSON round trips, and errors that name the field."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import pytest

from pix2pix_tf import palettes, run_folder
from pix2pix_tf.config import (
    Config,
    DataConfig,
    ModelConfig,
    TrainConfig,
    check_palette,
    get_preset,
)


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


@pytest.mark.parametrize("section, value, message", [
    ("train", '{"steps": "100"}', "steps='100' is not valid; expected a whole number"),
    ("data", '{"image_size": 2.5}', "image_size=2.5 is not valid; expected a whole number"),
    ("train", '{"learning_rate": true}', "learning_rate=True is not valid; expected a number"),
    ("data", '{"palette": null}', "palette=None is not valid; expected a string"),
    ("data", '{"flip": 1}', "flip=1 is not valid; expected true or false"),
])
def test_a_config_file_value_of_the_wrong_type_is_named_with_the_file(tmp_path, section, value, message):
    """A hand-edited config.json: the file, the field and what it takes, before any run starts."""
    path = tmp_path / "config.json"
    path.write_text(f'{{"{section}": {value}}}')
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {message}')}$"):
        Config.load(path)
    assert Config.from_json('{"train": {"learning_rate": 1}}').train.learning_rate == 1  # a whole number is a number


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


def test_for_data_is_the_recipe_pix2pix_tf_train_starts_from():
    """The preset pix2pix-tf train defaults to, the built-in palette, the task's input channels."""
    built_in = Config.for_data()
    assert built_in == get_preset("quick").replace(data=dict(palette="synthetic"))
    own = Config.for_data("path/to/facades")
    assert own == get_preset("paper").replace(data=dict(data="path/to/facades"))
    colorize = Config.for_data("photos", preset="quick", task="colorize")
    assert (colorize.data.task, colorize.model.input_channels, colorize.data.image_size) == ("colorize", 1, 64)
    assert Config.for_data("x", preset="hd").train.gan_loss == "lsgan"


def test_replace_takes_whole_sections_or_the_fields_that_change():
    config = Config()
    changed = config.replace(train=dict(steps=5, batch_size=2), data=dict(image_size=64))
    assert (changed.train.steps, changed.train.batch_size, changed.data.image_size) == (5, 2, 64)
    assert changed.model == config.model and changed.train.epochs == config.train.epochs
    assert config.replace(model=ModelConfig(filters=8)).model.filters == 8
    with pytest.raises(ValueError, match="steps must be >= 0"):
        config.replace(train=dict(steps=-1))


@pytest.mark.parametrize("data, workdir", [("", "runs/synthetic"), ("tfds:pix2pix/facades", "runs/facades"),
                                           ("some/where/maps/", "runs/maps")])
def test_a_run_on_data_goes_to_runs_and_the_data_name(data, workdir):
    assert run_folder.default_workdir(data) == pathlib.Path(workdir)


@pytest.mark.parametrize("palette", ["colors:#000000,#FFffff", "facades", "none"])
def test_palettes_by_name_or_by_colour(palette):
    check_palette(palette)
    assert DataConfig(palette=palette).palette == palette


def test_a_palette_of_colours_has_its_classes_in_order():
    assert palettes.classes("colors:#ff0000,#00FF00") == {"class 1": (255, 0, 0), "class 2": (0, 255, 0)}
    with pytest.raises(ValueError, match="expected colors:#rrggbb"):
        check_palette("colors:red")
