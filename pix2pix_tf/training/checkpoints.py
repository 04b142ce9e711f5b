"""Writing a run's checkpoints: what may change on resume, the disk preflight, who writes, what is restored."""

from __future__ import annotations

import math
import pathlib
import shutil
import tempfile

import tensorflow as tf
from absl import logging

from pix2pix_tf import files, run_folder
from pix2pix_tf.config import Config
from pix2pix_tf.training import distribute, health

# Settings that may change between a run and its resumption; the rest must match the checkpoint.
RESUMABLE_FIELDS = {
    "data": {"data", "cache", "palette"},
    "train": {"steps", "epochs", "decay_epochs", "log_every", "sample_every", "checkpoint_every",
              "keep_checkpoints", "num_samples", "eval_mode", "jit_compile", "val_every", "val_images",
              "val_segmenter", "best_metric", "steps_per_call", "nonfinite", "kernels",  # (kernels: the same variables)
              "perceptual_weights"},  # (the VGG file may move)
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


def remove_stale_temp_folders(workdir: pathlib.Path) -> None:
    """Deletes the ``*_temp`` folders a checkpoint write leaves when it is killed or the disk fills
    (up to a whole checkpoint each): nothing reads them, and they would pile up with each pre-emption."""
    checkpoints_folder = workdir / run_folder.CHECKPOINTS
    for folder in (checkpoints_folder, checkpoints_folder / run_folder.BEST):
        for temp in folder.glob("*_temp") if folder.is_dir() else ():
            if temp.is_dir():
                size = sum(file.stat().st_size for file in temp.rglob("*") if file.is_file())
                shutil.rmtree(temp, ignore_errors=True)
                logging.warning("removed %s, left by an interrupted checkpoint write (%.0f MiB)", temp, size / 2**20)


def disk_full_error(workdir: pathlib.Path, error: BaseException) -> ValueError:
    """One line for a full disk: which disk, how much is free, what to free, where the run resumes."""
    free = shutil.disk_usage(workdir).free if workdir.exists() else 0
    found = run_folder.checkpoint_paths(workdir / run_folder.CHECKPOINTS)
    resume = f"it resumes from {found[0]}" if found else "it starts over: no checkpoint was written"
    detail = files.op_error_text(error)
    return ValueError(f"the disk holding {workdir} is full ({free / 2**20:.0f} MiB free; {detail}); free space "
                      "there (old runs, exports) or lower --keep_checkpoints, then run the same command: " + resume)


def preflight(workdir: pathlib.Path, checkpoint_size: int, checkpoints_kept: int,
              last_step: int | None = None, checkpoint_every: int = 0) -> None:
    """Checks before the first step: ``workdir`` and the folders the run writes in it are writable,
    and its disk holds the checkpoints.

    Stale temporary checkpoint folders are removed first. Room for the checkpoints still to come
    is required: up to ``checkpoints_kept`` (fewer on a resume, whose own are rotated out) plus 2,
    as a new one is written before the oldest is deleted and the best one is kept beside them.
    Given ``last_step``, a run that saves fewer times than that (one every ``checkpoint_every``
    steps, 0: never, and one at the end) needs room for those saves and the best one only.
    Raises ValueError with one line.
    """
    # Every folder of the run that exists already: a read-only checkpoints/ would otherwise be
    # found at the first save, steps later.
    folders = [workdir, *(workdir / name for name in (run_folder.CHECKPOINTS, f"{run_folder.CHECKPOINTS}/{run_folder.BEST}",
                                                       run_folder.TENSORBOARD, run_folder.SAMPLES))]
    for folder in folders:
        if folder != workdir and not folder.exists():
            continue  # created by the run in workdir, which is checked first
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write_test_"):
                pass
        except OSError as error:
            name = "--workdir " if folder == workdir else ""
            raise ValueError(f"{name}{folder} is not writable: {error.strerror or error}") from error
    remove_stale_temp_folders(workdir)
    existing = run_folder.checkpoint_paths(workdir / run_folder.CHECKPOINTS)  # a resume rotates these out
    to_come = max(checkpoints_kept - len(existing), 0) + 1
    if last_step is not None:
        # From the oldest one: a damaged newer checkpoint makes the run resume from an older one.
        steps = [step for step in map(run_folder.checkpoint_step, existing) if step is not None]
        to_come = min(to_come, saves_between(min(steps, default=0), last_step, checkpoint_every))
    to_come += 1  # the best checkpoint
    needed = to_come * checkpoint_size
    free = shutil.disk_usage(workdir).free
    if free < needed:
        raise ValueError(f"--workdir {workdir} has {free / 2**20:.0f} MiB free; {to_come} checkpoints "
                         f"of {checkpoint_size / 2**20:.0f} MiB need {needed / 2**20:.0f} MiB (free space, or "
                         "lower --keep_checkpoints)")


def saves_between(start: int, last_step: int, checkpoint_every: int) -> int:
    """How many checkpoints a run from step ``start`` to ``last_step`` writes: one at every multiple
    of ``checkpoint_every`` (0: none) after ``start``, and one at ``last_step`` if that is not one."""
    if last_step <= start:
        return 1  # a finished run may still write its final checkpoint
    periodic = last_step // checkpoint_every - start // checkpoint_every if checkpoint_every else 0
    return periodic + (0 if checkpoint_every and last_step % checkpoint_every == 0 else 1)


def repair_index(folder: pathlib.Path, prefix: str = "ckpt") -> None:
    """Writes ``folder``'s ``checkpoint`` index again from its ``prefix-N`` files when it is missing or
    damaged (empty, binary, naming checkpoints that are gone): a ``tf.train.CheckpointManager``
    reads it to resume and to rotate old checkpoints out (and fails on a binary one)."""
    index = folder / "checkpoint"
    if run_folder.indexed_checkpoints(folder) is not None:
        return
    candidates = run_folder.checkpoint_paths(folder, prefix)
    if not candidates:
        if index.exists():
            logging.warning("%s lists no checkpoint that is there; removing it", index)
            index.unlink()
        return
    names = [pathlib.Path(path).name for path in candidates]  # relative: the folder may move again
    logging.warning("%s is %s: found %s by their names, newest first; writing the index again", index,
                    "damaged" if index.exists() else "missing", ", ".join(names))
    # With their times: the manager rotates out only the checkpoints its index dates.
    times = [pathlib.Path(f"{path}.index").stat().st_mtime for path in reversed(candidates)]
    tf.compat.v1.train.update_checkpoint_state(str(folder), names[0], list(reversed(names)),
                                               all_model_checkpoint_timestamps=times,
                                               last_preserved_timestamp=min(times) - 1)


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
        self.keep = keep
        if chief:
            repair_index(self.folder)
        self.manager = tf.train.CheckpointManager(checkpoint, self.scratch or self.folder, max_to_keep=keep)
        self.checkpoint = checkpoint

    def restore(self) -> str | None:
        """Restores the newest checkpoint that reads back whole; returns its path (None: a new run).

        A truncated or corrupt checkpoint (a crash mid-write, a full disk) is reported and the one
        before it is used. Without a readable ``checkpoint`` index file, the ``ckpt-N`` files
        themselves were found and the index written again (``repair_index``). Raises ValueError naming the folder when none can
        be restored, saying whether they are damaged or do not fit the config.
        """
        candidates = run_folder.checkpoint_paths(self.folder)
        mismatches = []
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except (tf.errors.OpError, IndexError) as error:  # a damaged file
                logging.warning("checkpoint %s cannot be read (%s); trying the one before it", path, files.op_error_text(error))
                continue
            except (ValueError, AssertionError) as error:  # readable, but other shapes or objects
                mismatches.append(f"{pathlib.Path(path).name}: {files.op_error_text(error)}")
                continue
            if path != candidates[0]:
                logging.warning("resuming from %s, the newest checkpoint that reads back whole", path)
            return path
        if mismatches:
            raise ValueError(f"the checkpoints in {self.folder} do not fit the settings in "
                             f"{self.folder.parent / run_folder.CONFIG} (edited, or checkpoints of another run?): "
                             f"{mismatches[0]}; restore the run's own config.json, or train in a new --workdir")
        if candidates:
            raise ValueError(f"no checkpoint in {self.folder} can be read (all truncated or corrupt): "
                             f"{', '.join(pathlib.Path(path).name for path in candidates)}; "
                             "move the folder away to start over")
        return None

    def save(self, step: int) -> str:
        """Writes a checkpoint at ``step``; refuses (ValueError) when a weight is NaN or infinite,
        so a diverged run never replaces its last good checkpoint."""
        bad = health.nonfinite_names(self.checkpoint_variables())
        if bad:
            raise ValueError(f"not saving step {step}: non-finite values in {', '.join(bad[:5])}"
                             + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
                             + f"; the last good checkpoint stays {self.latest()}")
        try:
            path = self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as error:
            if files.is_disk_full(error):
                remove_stale_temp_folders(self.folder.parent)  # the half-written checkpoint frees its space
                raise disk_full_error(self.folder.parent, error) from error
            raise
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return path

    def checkpoint_variables(self) -> list[tf.Variable]:
        """The weights checked for finiteness before each save (G's and D's, moving statistics included)."""
        return self._weights

    def latest(self) -> str | None:
        found = run_folder.checkpoint_paths(self.folder)
        return found[0] if found else None

    def has(self, step: int) -> bool:
        latest = self.latest()
        return latest is not None and latest.endswith(f"-{step}")
