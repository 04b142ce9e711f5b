"""How every pix2pix-tf command starts: its --help (grouped) and --helpfull, TensorFlow imported
without its start-up lines, log lines without absl's prefixes, then its absl ``main``."""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import textwrap
from types import ModuleType

from absl import app, flags
from absl import logging as absl_logging

from pix2pix_tf.cli import config_flags, output

# What TensorFlow's C++ code prints on stderr while it is imported, before its log level applies,
# on a machine that is fine: not errors, and on every command.
START_UP_NOISE = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "failed call to cuInit",
    "Unable to register cuDNN factory", "Unable to register cuFFT factory", "Unable to register cuBLAS factory",
    "computation placer already registered",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
)


def grouped_help(program: str, module: ModuleType) -> str:
    """The command's docstring, then its flags: its own first (--output among them), then the config
    flags it takes, in groups (data, model, train, speed, output, distill)."""
    own = [flag for name in (module.__name__, output.__name__) for flag in flags.FLAGS.get_flags_for_module(name)]
    groups = [(f"{program} flags", own, False)] if own else []
    if flags.FLAGS.get_flags_for_module(config_flags.__name__):
        groups += [(title, [flags.FLAGS[name] for name in names], True)
                   for title, names in config_flags.help_groups()]
    lines = [(module.__doc__ or program).strip(), ""]
    for title, group, in_sections in groups:
        lines += [f"{title}:", *(_flag_help(flag, strip_section=in_sections) for flag in group), ""]
    lines.append(f"{program} --helpfull also lists absl's own flags (--verbosity, --logtostderr, ...).")
    return "\n".join(lines)


def _flag_help(flag: flags.Flag, strip_section: bool) -> str:
    """absl's layout of one flag: ``--name: help`` wrapped, then its default."""
    text = flag.help
    if strip_section:  # the group's title says the section
        text = re.sub(r"\[(" + "|".join(config_flags.SECTIONS) + r")\] ", "", text, count=1)
    default = flag.default
    if default is None:
        shown = "none"
    elif isinstance(default, list):
        shown = ",".join(map(str, default)) or "none"
    else:
        shown = repr(default) if isinstance(default, str) else str(default).lower()
    return textwrap.fill(f"--{flag.name}: {text}", width=100, initial_indent="  ", subsequent_indent="    ") + \
        f"\n    (default: {shown})"


def full_help(module: ModuleType) -> str:
    """The command's docstring and every flag absl knows, by module (absl's --helpfull)."""
    return f"{(module.__doc__ or '').strip()}\n\n{flags.FLAGS.get_help()}"


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and lists its devices with stderr captured, then passes on every line but
    ``START_UP_NOISE``: what its C++ libraries print while loading and probing for GPUs, before any
    log level applies (twice, from two libraries). A failure still shows its own lines and raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe (cuInit) runs here on a machine without GPU
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip() and not any(noise in line for noise in START_UP_NOISE):
                    print(line, file=sys.stderr)


def _plain_log_lines() -> None:
    """Log lines as their message alone (no ``I1204 12:38:20.943182 140591073581952 train.py:70]``);
    INFO lines from pix2pix_tf only (TensorFlow logs one per checkpoint), warnings from all."""
    handler = absl_logging.get_absl_handler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda record: record.levelno >= logging.WARNING or "pix2pix_tf" in record.pathname)


def run(module: ModuleType, argv: list[str]) -> None:
    """Runs ``module.main`` as an absl program on ``argv`` (argv[0]: "pix2pix-tf COMMAND"); positional
    arguments are a usage error unless the module says it takes them (``TAKES_ARGUMENTS``)."""
    sys.argv[0] = argv[0]  # absl's messages name the program
    sys.modules["__main__"].__doc__ = module.__doc__
    import_tensorflow_quietly()

    def main(args: list[str]) -> None:
        _plain_log_lines()
        if len(args) > 1 and not getattr(module, "TAKES_ARGUMENTS", False):
            raise app.UsageError(f"unexpected arguments: {' '.join(args[1:])}")
        module.main(args)

    app.run(main, argv=argv)
