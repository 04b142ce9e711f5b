"""Writing a run's checkpoints: what may change on resume, the disk preflight, who writes, what is restored."""

from __future__ import annotations

import math
import pathlib
import shutil
import tempfile

import tensorflow as tf
from absl import logging

from pix2pix_tf import run_folder
from pix2pix_tf.config import Config
from pix2pix_tf.training import distribute

# Settings that may change between a run and its resumption; the rest must match the checkpoint.
RESUMABLE_FIELDS = {
    "data": {"data", "cache"},
    "train": {"steps", "epochs", "decay_epochs", "log_every", "sample_every", "checkpoint_every",
              "keep_checkpoints", "num_samples", "eval_mode", "jit_compile", "val_every", "val_images",
              "best_metric", "steps_per_call", "nonfinite"},
}


def check_resumable(saved: Config, requested: Config, config_path: pathlib.Path) -> None:
    """ValueError listing the settings that differ from the checkpointed run's."""
    differences = []
    saved_dict, requested_dict = saved.to_dict(), requested.to_dict()
    for section, values in saved_dict.items():
        for key, value in values.items():
            if key not in RESUMABLE_FIELDS.get(section, ()) and requested_dict[section][key] != value:
                differences.append(f"{section}.{key}: {value!r} in the checkpoint, {requested_dict[section][key]!r} now")
    if differences:
        raise ValueError(
            f"{config_path} records a different run; use a new --workdir or the same settings:\n  "
            + "\n  ".join(differences)
        )


def checkpoint_bytes(variables: list[tf.Variable]) -> int:
    """Bytes one checkpoint of these networks takes with Adam's two moments per trainable weight."""
    total = 0
    for variable in variables:
        size = math.prod(variable.shape) * tf.as_dtype(variable.dtype).size
        total += 3 * size if variable.trainable else size
    return total


def preflight(workdir: pathlib.Path, checkpoint_size: int, checkpoints_kept: int) -> None:
    """Checks before the first step: ``workdir`` is writable and its disk holds the checkpoints.

    Room for ``checkpoints_kept`` + 2 checkpoints is required: a new one is written before the
    oldest is deleted, and the best one is kept beside them. Raises ValueError with one line.
    """
    try:
        with tempfile.NamedTemporaryFile(dir=workdir, prefix=".write_test_"):
            pass
    except OSError as error:
        raise ValueError(f"--workdir {workdir} is not writable: {error.strerror or error}") from error
    needed = (checkpoints_kept + 2) * checkpoint_size
    free = shutil.disk_usage(workdir).free
    if free < needed:
        raise ValueError(f"--workdir {workdir} has {free / 2**20:.0f} MiB free; {checkpoints_kept + 2} checkpoints "
                         f"of {checkpoint_size / 2**20:.0f} MiB need {needed / 2**20:.0f} MiB (free space, or "
                         "lower --keep_checkpoints)")


class RunCheckpoints:
    """The run's checkpoints: restored by every worker, written by the chief.

    Non-chief workers of a cluster must take part in each save (the variables are mirrored), so
    they write to a scratch folder that is deleted at once.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, workdir: pathlib.Path, keep: int, chief: bool,
                 weights: list[tf.Variable] | None = None):
        self._weights = weights or []
        self.folder = workdir / run_folder.CHECKPOINTS
        self.scratch = None if chief else workdir / f"worker_scratch_{distribute.task()[1]}"
        self.manager = tf.train.CheckpointManager(checkpoint, self.scratch or self.folder, max_to_keep=keep)
        self.checkpoint = checkpoint

    def _candidates(self) -> list[str]:
        """The folder's checkpoints, newest first (from its ``checkpoint`` index file)."""
        state = tf.train.get_checkpoint_state(str(self.folder))
        return list(reversed(state.all_model_checkpoint_paths)) if state else []

    def restore(self) -> str | None:
        """Restores the newest checkpoint that reads back whole; returns its path (None: a new run).

        A truncated or corrupt checkpoint (a crash mid-write, a full disk) is reported and the one
        before it is used. Raises ValueError naming the folder when none of them can be read.
        """
        candidates = self._candidates()
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except (tf.errors.OpError, ValueError, AssertionError, IndexError) as error:
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                logging.warning("checkpoint %s cannot be read (%s); trying the one before it", path, reason)
                continue
            if path != candidates[0]:
                logging.warning("resuming from %s, the newest checkpoint that reads back whole", path)
            return path
        if candidates:
            raise ValueError(f"no checkpoint in {self.folder} can be read (all truncated or corrupt): "
                             f"{', '.join(pathlib.Path(path).name for path in candidates)}; "
                             "move the folder away to start over")
        return None

    def save(self, step: int) -> str:
        """Writes a checkpoint at ``step``; refuses (ValueError) when a weight is NaN or infinite,
        so a diverged run never replaces its last good checkpoint."""
        bad = [variable.name for variable in self.checkpoint_variables()
               if tf.as_dtype(variable.dtype).is_floating and not bool(tf.reduce_all(tf.math.is_finite(variable)))]
        if bad:
            raise ValueError(f"not saving step {step}: non-finite values in {', '.join(bad[:5])}"
                             + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
                             + f"; the last good checkpoint stays {self.latest()}")
        path = self.manager.save(checkpoint_number=step)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return path

    def checkpoint_variables(self) -> list[tf.Variable]:
        """The weights checked for finiteness before each save (G's and D's, moving statistics included)."""
        return self._weights

    def latest(self) -> str | None:
        return tf.train.latest_checkpoint(str(self.folder))

    def has(self, step: int) -> bool:
        latest = self.latest()
        return latest is not None and latest.endswith(f"-{step}")
