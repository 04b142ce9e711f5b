"""A training run's folder: the one place that names its files, and reads a trained generator back.

Training writes the folder (``training/``); evaluation, export and translation read it through
``load_generator`` here, so none of them imports training code.

    workdir/
      config.json        the resolved Config (the architecture, the data, the recipe)
      checkpoints/       ckpt-N of G, D, both optimizers and the step; best/ by validation
      tensorboard/       losses, learning rate, samples, validation, the step's graph
      samples/           step_N.png grids of fixed val images
      validation.csv     the validation scores at each val_every step
      metrics.json       the final scores on the whole val split
      data.json          what identifies the training data (path, pair counts, names)
      teacher.json       of a distillation student: the teacher checkpoint it learns from
      .lock              held by the one process writing the folder
      curves.png         pix2pix-tf plot's curves (by default)
"""

from __future__ import annotations

import contextlib
import gc
import logging as python_logging
import os
import pathlib
import re
from typing import TYPE_CHECKING, Iterator

from pix2pix_tf import files
from pix2pix_tf.config import Config

if TYPE_CHECKING:
    import keras

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
BEST = "best"  # inside checkpoints/
BEST_RECORD = "best.json"  # inside checkpoints/best/
TENSORBOARD = "tensorboard"
SAMPLES = "samples"
VALIDATION_CSV = "validation.csv"
METRICS = "metrics.json"
CURVES = "curves.png"
DATA_RECORD = "data.json"
TEACHER_RECORD = "teacher.json"


def is_run_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a training run: a config and a checkpoints folder."""
    path = pathlib.Path(path)
    return (path / CONFIG).is_file() and (path / CHECKPOINTS).is_dir()


def indexed_checkpoints(folder: pathlib.Path) -> list[str] | None:
    """The checkpoints ``folder``'s ``checkpoint`` index file lists, newest first; None when it is
    missing, damaged (empty, binary, truncated) or lists a checkpoint that is not there."""
    import tensorflow as tf  # here, so that the file names above come without loading TensorFlow

    try:
        state = tf.train.get_checkpoint_state(str(folder)) if folder.is_dir() else None
    except (ValueError, UnicodeDecodeError):  # what TensorFlow raises for a damaged index
        return None
    paths = list(reversed(state.all_model_checkpoint_paths)) if state else []
    if not paths or not all(os.path.exists(f"{path}.index") for path in paths):
        return None
    return paths


def checkpoint_step(path: str | os.PathLike) -> int | None:
    """The number N of a checkpoint ``.../PREFIX-N`` (the step it was saved at), None for another name."""
    match = re.fullmatch(r".*-([0-9]+)", pathlib.Path(path).name)
    return int(match[1]) if match else None


def checkpoint_paths(folder: pathlib.Path, prefix: str = "ckpt") -> list[str]:
    """The checkpoints in ``folder``, newest first: from its ``checkpoint`` index file or, where
    that is missing or damaged (only the ckpt-N files were copied, say), from the
    ``prefix-N.index`` files."""
    indexed = indexed_checkpoints(folder)
    if indexed:
        return indexed
    numbered = []
    for index_file in folder.glob(f"{prefix}-*.index") if folder.is_dir() else ():
        number = checkpoint_step(index_file.with_suffix(""))
        if number is not None:
            numbered.append((number, str(index_file.with_suffix(""))))
    return [path for _, path in sorted(numbered, reverse=True)]


def load_config(workdir: str | os.PathLike) -> Config:
    """The run's resolved Config; ValueError naming the folder when it has none."""
    config_path = pathlib.Path(workdir).expanduser() / CONFIG
    if not config_path.exists():
        raise ValueError(f"{config_path.parent} is not a pix2pix_tf run folder: no {CONFIG}")
    return Config.load(config_path)


def find_checkpoint(workdir: str | os.PathLike, checkpoint: str | None = None) -> str:
    """The path (prefix) of the run's latest checkpoint (``checkpoint`` None or "latest"), its best
    one ("best") or ``checkpoint`` itself; ValueError naming the folder when there is none."""
    if checkpoint not in (None, "latest", "best"):
        return checkpoint
    folder = pathlib.Path(workdir).expanduser() / CHECKPOINTS / (BEST if checkpoint == "best" else "")
    found = checkpoint_paths(folder, BEST if checkpoint == "best" else "ckpt")
    if not found:
        raise ValueError(f"{folder} holds no checkpoint")
    return found[0]


def load_generator(workdir: str | os.PathLike, checkpoint: str | None = None) -> tuple[keras.Model, Config]:
    """The generator of a run folder, restored from its latest checkpoint (``checkpoint`` None or
    "latest"), its best one (``"best"``, chosen by validation) or the checkpoint path given.

    Reads ``workdir/config.json`` for the architecture, so no flags are needed.
    Raises ValueError naming the folder when it holds no config or no checkpoint, and both files
    when the checkpoint does not fit the config.
    """
    import tensorflow as tf  # here, so that the file names above come without loading TensorFlow

    from pix2pix_tf.models.generators import build_generator

    workdir = pathlib.Path(workdir).expanduser()
    config = load_config(workdir)
    generator = build_generator(config.model, config.data.image_size)
    path = None
    for _ in range(_ROTATION_RETRIES):
        found = find_checkpoint(workdir, checkpoint)
        if found == path:
            break  # the same checkpoint again: its files are missing, not rotated out
        path = found
        reason = None
        # A failed restore's bookkeeping logs each value it did not restore (some 200 lines after the
        # one-line error) when it is deleted: here, quietly, not kept alive by the error raised.
        with _tensorflow_warnings_off():
            try:
                status = tf.train.Checkpoint(generator=generator).restore(path)
                status.expect_partial().assert_existing_objects_matched()
                return generator, config
            except (ValueError, AssertionError, IndexError, tf.errors.OpError) as error:
                if _exists(path):
                    # A truncated file surfaces as IndexError or DataLossError, a config that does not
                    # fit the weights as a shape ValueError: either way, name both files.
                    reason = files.op_error_text(error)
            if reason is not None:  # the handler has let go of the error: what it held goes now, quietly
                del generator
                gc.collect()
                raise ValueError(f"{path} cannot be restored with the architecture in {workdir / CONFIG} "
                                 f"(damaged checkpoint, or a {CONFIG} of another run): {reason}")
        if checkpoint not in (None, "latest", "best"):
            break
        # Rotated out by a run training in workdir between finding and reading it: the newest again.
    raise ValueError(f"checkpoint {path} is missing files, or was rotated out while being read by a run training in "
                     f"{workdir} (it keeps its newest --keep_checkpoints); try again, or read checkpoints/best")


@contextlib.contextmanager
def _tensorflow_warnings_off() -> Iterator[None]:
    """TensorFlow's Python logger at ERROR inside (its warnings are dropped), as before after."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(python_logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# How often load_generator takes the newest checkpoint again when a training run rotated out the one it found.
_ROTATION_RETRIES = 5


def _exists(checkpoint: str) -> bool:
    """Whether all of a checkpoint's files (its .index and its data shards) are there."""
    return os.path.exists(f"{checkpoint}.index") and bool(list(pathlib.Path(checkpoint).parent.glob(
        f"{pathlib.Path(checkpoint).name}.data-*")))


def default_workdir(data: str) -> pathlib.Path:
    """Where a run on ``data`` (``DataConfig.data``) goes unless told: runs/<the data folder's name>,
    runs/<NAME> for tfds:pix2pix/NAME, runs/synthetic for the built-in façades."""
    if not data:
        name = "synthetic"
    elif data.startswith("tfds:"):
        name = data.rsplit("/", 1)[-1]
    else:  # the folder's own name, also for --data=.. or a trailing slash (not "runs/..")
        name = pathlib.Path(data).expanduser().resolve().name or "data"
    return pathlib.Path("runs") / name
