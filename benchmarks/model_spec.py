"""MODEL[@CHECKPOINT] on a benchmark's command line: a model, or a run folder at one of its checkpoints.

    from model_spec import load_model  # benchmarks/ on sys.path (a benchmark's own folder)
    translator = load_model("runs/edges@ckpt-2000")
"""

from __future__ import annotations

import pathlib

from pix2pix_tf.deploy.translator import Translator


def load_model(spec: str, mode: str | None = None) -> Translator:
    """MODEL[@CHECKPOINT]: a run folder (at CHECKPOINT, a file name in its checkpoints/), or anything
    else ``Translator.load`` reads, in ``mode`` (None: the model's own)."""
    folder, _, checkpoint = spec.partition("@")
    return Translator.load(folder, mode, checkpoint=str(pathlib.Path(folder) / "checkpoints" / checkpoint)
                           if checkpoint else None)
