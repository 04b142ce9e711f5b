"""The ``pix2pix-tf`` command: one subcommand per job, each a thin absl program, and the one runner
that starts them (help, version, quiet start-up, plain log lines)."""

from __future__ import annotations

import importlib
import os
import sys

# TensorFlow's C++ chatter (CUDA probes, CPU feature notes) hides the messages that matter; real
# failures still surface as Python exceptions. Set TF_CPP_MIN_LOG_LEVEL=0 to see it all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SUBCOMMANDS = {
    "train": ("pix2pix_tf.cli.train", "Train a generator and discriminator (resumes from --workdir)."),
    "distill": ("pix2pix_tf.cli.distill", "Train a small, fast student generator from a trained teacher run."),
    "evaluate": ("pix2pix_tf.cli.evaluate", "Score a model on a split: metrics.json, index.html, grid.png."),
    "plot": ("pix2pix_tf.cli.plot", "Loss and validation curves of a run as a PNG."),
    "export": ("pix2pix_tf.cli.export", "Export a run as SavedModel and TFLite, with parity checks."),
    "verify": ("pix2pix_tf.cli.verify", "Check each TFLite file of an export against its SavedModel."),
    "benchmark": ("pix2pix_tf.cli.benchmark", "Print speed figures (input pipeline), ending with a JSON line."),
    "download": ("pix2pix_tf.cli.download", "Download and prepare a pix2pix dataset (facades, maps, ...) with TFDS."),
    "data": ("pix2pix_tf.cli.data", "Dataset tools: data check (every problem at once), data combine (A/ + B/ -> A|B files)."),
    "translate": ("pix2pix_tf.cli.translate", "Translate images or folders with a run, a SavedModel or a .tflite file."),
    "serve": ("pix2pix_tf.cli.serve", "Serve a model over HTTP (TensorFlow Serving's REST API, raw images)."),
}
HELP_FLAGS = ("-h", "-?", "--help", "--helpshort")


def usage() -> str:
    lines = ["usage: pix2pix-tf COMMAND [--flags]   (pix2pix-tf COMMAND --help for its flags)", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    lines += ["", "pix2pix-tf --version prints the version."]
    return "\n".join(lines)


def version() -> str:
    from pix2pix_tf import __version__

    return f"pix2pix-tf {__version__}"


def main(argv: list[str] | None = None) -> None:
    """Dispatches ``pix2pix-tf COMMAND ...`` to the subcommand's absl program (its ``main``)."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] in (*HELP_FLAGS, "help"):
        print(usage())
        sys.exit(0 if len(argv) >= 2 else 2)
    if "--version" in argv[1:]:
        print(version())
        sys.exit(0)
    command = argv[1]
    if command not in SUBCOMMANDS:
        print(f"pix2pix-tf: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(SUBCOMMANDS[command][0])
    program = f"pix2pix-tf {command}"
    from pix2pix_tf.cli import runner

    if "--helpfull" in argv[2:]:
        print(runner.full_help(module))
        sys.exit(0)
    if any(flag in argv[2:] for flag in HELP_FLAGS):
        print(runner.grouped_help(program, module))
        sys.exit(0)
    runner.run(module, [program] + argv[2:])
