"""absl flags generated from the config dataclasses: a flag per field, same name, same help."""

from __future__ import annotations

import dataclasses

from absl import flags

from pix2pix_tf.config import Config

SECTIONS = {"model": "ModelConfig", "data": "DataConfig", "train": "TrainConfig", "distill": "DistillConfig"}

# How --help groups the config flags: (title, section, fields; None: the section's other fields), in order.
HELP_GROUPS = (
    ("data: the paired images and their jitter", "data", None),
    ("model: the generator and the discriminator", "model", None),
    ("train: optimisation and losses", "train", None),
    ("speed: how the step runs, not what it computes", "train",
     ("mixed_precision", "kernels", "jit_compile", "steps_per_call", "strategy")),
    ("output: what the run writes, and when", "train",
     ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "num_samples", "val_every", "val_images",
      "best_metric", "eval_mode")),
    ("distill: learning from a trained teacher run (pix2pix-tf distill, or train --teacher=RUN)", "distill", None),
)


def help_groups() -> list[tuple[str, list[str]]]:
    """(title, flag names) of each group of config flags, as ``--help`` shows them."""
    groups = []
    for title, section, names in HELP_GROUPS:
        if names is None:
            named = {name for _, other, fields in HELP_GROUPS if other == section and fields for name in fields}
            names = [field.name for field in dataclasses.fields(getattr(Config(), section)) if field.name not in named]
        groups.append((title, list(names)))
    return groups


def _section_fields():
    for section in SECTIONS:
        for field in dataclasses.fields(getattr(Config(), section)):
            yield section, field


def define_config_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines one flag per config field, with the paper default and the field's help."""
    defaults = Config()
    for section, field in _section_fields():
        default = getattr(getattr(defaults, section), field.name)
        help_text = f"[{section}] {field.metadata['help']}"
        choices = field.metadata.get("choices")
        if choices:
            flags.DEFINE_enum(field.name, default, list(choices), help_text, flag_values=flag_values)
        elif isinstance(default, bool):
            flags.DEFINE_bool(field.name, default, help_text, flag_values=flag_values)
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, help_text, flag_values=flag_values)
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, help_text, flag_values=flag_values)
        else:
            flags.DEFINE_string(field.name, default, help_text, flag_values=flag_values)


def given_flags(flag_values: flags.FlagValues = flags.FLAGS) -> set[str]:
    """Names of the config flags set on the command line."""
    return {field.name for _, field in _section_fields() if flag_values[field.name].present}


def apply_flags(base: Config, flag_values: flags.FlagValues = flags.FLAGS) -> Config:
    """``base`` with every config flag given on the command line applied (others keep base's value).

    Raises ValueError naming the flag when a value is out of range.
    """
    changes: dict[str, dict] = {section: {} for section in SECTIONS}
    present = given_flags(flag_values)
    for section, field in _section_fields():
        if field.name in present:
            changes[section][field.name] = flag_values[field.name].value
    sections = {}
    for section, values in changes.items():
        try:
            sections[section] = dataclasses.replace(getattr(base, section), **values)
        except ValueError as error:
            raise ValueError(f"--{error}") from error
    return base.replace(**sections)
