"""``train_and_evaluate(config, workdir)``: the training program ``pix2pix-tf train`` runs —
data, the ``Pix2Pix`` step, the loop, checkpoints, validation, and the final scores — and the
``TrainResult`` it returns."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import time

import keras
import tensorflow as tf
from absl import logging

from pix2pix_tf import hardware, run_folder
from pix2pix_tf.config import Config
from pix2pix_tf.data import pipeline
from pix2pix_tf.evaluation import realism, scoring
from pix2pix_tf.files import is_disk_full, read_json, write_text_atomically
from pix2pix_tf.models import inference
from pix2pix_tf.progress import Progress
from pix2pix_tf.training import (
    checkpoints,
    distill,
    distribute,
    interrupts,
    lock,
    loop,
    validation,
)
from pix2pix_tf.training.step import Pix2Pix


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """How a ``train_and_evaluate`` call ended.

    Attributes:
      step: the step the run reached.
      checkpoint: the path (prefix) of its newest checkpoint; None on the workers that are not the
        chief of a distributed run (they write none).
      interrupted: what stopped it early ("SIGTERM", "SIGINT", ...; resume with the same call), or None.
      metrics: the final val scores written to ``metrics.json`` (l1, psnr, ssim, the baselines,
        images, eval_mode, step, ...); None when interrupted, and on the workers that are not the
        chief of a distributed run.
    """

    step: int
    checkpoint: str | None
    interrupted: str | None = None
    metrics: dict[str, float] | None = None


def with_resolved_precision(config: Config, strategy: tf.distribute.Strategy | None = None) -> Config:
    """``config`` with ``train.mixed_precision="auto"`` replaced by what this machine should use
    (``hardware.resolve_mixed_precision``); other choices unchanged."""
    if config.train.mixed_precision != "auto":
        return config
    precision, _ = hardware.resolve_mixed_precision("auto", strategy)
    return config.replace(train=dict(mixed_precision=precision))


def total_steps(config: Config, steps_per_epoch: int) -> int:
    """The step the run ends at: ``train.steps`` if set, else all its epochs."""
    return config.train.steps or (config.train.epochs + config.train.decay_epochs) * steps_per_epoch


def _segmenter(config: Config) -> realism.Segmenter | None:
    """The realism reader of ``train.val_segmenter`` in the run's label palette, or None."""
    if not config.train.val_segmenter:
        return None
    palette = config.data.palette
    return realism.load_segmenter(config.train.val_segmenter, palette=None if palette == "none" else palette)


def _final_evaluation(workdir: pathlib.Path, generate, val_dataset, config: Config, step: int, writer,
                      segmenter: realism.Segmenter | None) -> dict:
    """Scores the whole val split into ``metrics.json`` and TensorBoard ``final/*`` with ``generate``,
    the same inference function as the samples, validation, ``evaluate`` and the default export."""
    started = time.perf_counter()
    results = scoring.score(generate, val_dataset, segmenter=segmenter).summary
    results.update(step=step, eval_mode=config.train.eval_mode, seconds=round(time.perf_counter() - started, 1))
    write_text_atomically(workdir / run_folder.METRICS, json.dumps(results, indent=2, sort_keys=True) + "\n")
    with writer.as_default(step=step):
        for name in ("l1", "psnr", "ssim"):
            tf.summary.scalar(f"final/{name}", results[name])
    writer.flush()
    logging.info("val (%s mode): %s", config.train.eval_mode, json.dumps(results, sort_keys=True))
    return results


def train_and_evaluate(config: Config, workdir: str | os.PathLike | None = None) -> TrainResult:
    """Trains (resuming from ``workdir``'s latest checkpoint), then evaluates on the val split.

    ``train_and_evaluate(Config.for_data("path/to/facades"))`` trains what ``pix2pix-tf train
    --data=path/to/facades`` trains, into the same folder (``run_folder.default_workdir``, the
    default ``workdir``: runs/<data folder name>).

    Writes into ``workdir``: ``config.json`` (with the data's absolute path), ``data.json`` (what
    identifies the data), ``checkpoints/`` (latest ones, and ``best/`` by ``train.best_metric``),
    ``tensorboard/`` (losses, learning rate, D's outputs, samples, validation, the step's graph),
    ``samples/step_*.png``, ``validation.csv`` and ``metrics.json`` (val L1/PSNR/SSIM of the
    model and of two trivial baselines). Returns how it ended (``TrainResult``). One process
    writes a folder at a time (``training.lock``); with ``train.strategy`` set, every worker runs
    this and only the chief writes files.

    Raises:
      ValueError with one line for what a user can fix: another process holds the folder, a
      config that does not fit the folder's checkpoints, other data, a full disk, bad data.
    """
    workdir = pathlib.Path(workdir or run_folder.default_workdir(config.data.data)).expanduser().absolute()
    with _removed_if_refused(workdir):
        return _train_in_folder(config, workdir)


# What a run writes before its data and config are accepted: a run refused with only these leaves no folder.
_START_UP_FILES = (lock.LOCK_NAME, run_folder.DATA_RECORD)


@contextlib.contextmanager
def _removed_if_refused(workdir: pathlib.Path):
    """Creates ``workdir`` (and missing parents); when the run fails with nothing but ``_START_UP_FILES``
    in a folder it created (bad data, a busy or full disk), removes what it created."""
    created = next((folder for folder in reversed([workdir, *workdir.parents]) if not folder.exists()), None)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        if created is not None and all(path.name in _START_UP_FILES for path in workdir.iterdir()):
            for name in _START_UP_FILES:
                (workdir / name).unlink(missing_ok=True)
            for folder in [workdir, *workdir.parents]:  # up to the first folder that was there before
                with contextlib.suppress(OSError):
                    folder.rmdir()
                if folder == created:
                    break
        raise


def _train_in_folder(config: Config, workdir: pathlib.Path) -> TrainResult:
    """``train_and_evaluate`` in the existing folder ``workdir``."""
    config = pipeline.with_absolute_data(config)
    if config.distill.teacher:  # like the data, found again from any directory
        config = config.replace(distill=dict(teacher=str(pathlib.Path(config.distill.teacher).expanduser().absolute())))
    segmenter_path = pathlib.Path(config.train.val_segmenter).expanduser()
    if config.train.val_segmenter and segmenter_path.exists():  # a path, not a shipped model's name
        config = config.replace(train=dict(val_segmenter=str(segmenter_path.absolute())))
    data_dir = pipeline.resolve_data_dir(config.data)
    logging.info("data: %s", data_dir)
    keras.utils.set_random_seed(config.train.seed)
    if config.data.deterministic:
        tf.config.experimental.enable_op_determinism()  # with the seeds: runs repeat bit for bit
    strategy = distribute.make_strategy(config.train.strategy)
    chief = distribute.is_chief(strategy)
    config = _resolve_precision(config, strategy, workdir)
    with lock.run_folder_lock(workdir) if chief else contextlib.nullcontext():
        _check_run_folder(config, workdir, data_dir, chief)
        try:
            return _train(config, workdir, data_dir, strategy, chief)
        except (OSError, tf.errors.ResourceExhaustedError) as error:
            if is_disk_full(error):
                raise checkpoints.disk_full_error(workdir, error) from error
            raise


def _check_data_again(config: Config, data_dir, checkpoint: str | None) -> None:
    """After the input pipeline failed mid-run: ValueError naming the files that cannot be used now
    (changed since the check before the first step); returns when every file still passes."""
    try:
        for split in dict.fromkeys(("train", pipeline.val_split(config, data_dir))):
            pipeline.check_files(config, split, data_dir)
    except ValueError as changed:
        raise ValueError(f"the data changed during the run (then run the same command: it resumes from "
                         f"{checkpoint or 'the start'}): {changed}") from changed


def _resolve_precision(config: Config, strategy: tf.distribute.Strategy, workdir: pathlib.Path) -> Config:
    """Resolves ``--mixed_precision=auto`` for this machine (a resumed run keeps the precision it
    started in), says what it chose and why; config.json then records the precision the run computes in."""
    choice = config.train.mixed_precision
    config_path = workdir / run_folder.CONFIG
    if choice == "auto" and config_path.exists() and run_folder.checkpoint_paths(workdir / run_folder.CHECKPOINTS):
        precision, reason = Config.load(config_path).train.mixed_precision, f"as {config_path} started"
    else:
        precision, reason = hardware.resolve_mixed_precision(choice, strategy)
    shown = {"none": "float32", "float16": "float16 (loss-scaled)", "bfloat16": "bfloat16"}[precision]
    print(f"mixed precision: {shown}" + (f" (auto: {reason})" if choice == "auto" else ""), flush=True)
    return config.replace(train=dict(mixed_precision=precision))


def _check_run_folder(config: Config, workdir: pathlib.Path, data_dir, chief: bool) -> None:
    """Refuses a config that does not fit the folder's checkpoints and data that is not the run's;
    records the data of a new run."""
    config_path = workdir / run_folder.CONFIG
    if config_path.exists():
        if run_folder.checkpoint_paths(workdir / run_folder.CHECKPOINTS):
            checkpoints.check_resumable(Config.load(config_path), config, config_path)
        else:
            logging.warning("%s belongs to a run that stopped before its first checkpoint: replacing it", config_path)
    record_path = workdir / run_folder.DATA_RECORD
    if record_path.exists():
        pipeline.check_same_dataset(read_json(record_path), config, data_dir, str(record_path))
    if chief:
        write_text_atomically(record_path, json.dumps(pipeline.dataset_record(config, data_dir), indent=1) + "\n")


def _train(config: Config, workdir: pathlib.Path, data_dir, strategy: tf.distribute.Strategy, chief: bool) -> TrainResult:
    """The run itself: data, model, checkpoints, validation, the loop, the final scores."""
    train = config.train
    examples = pipeline.count_examples(config, "train", data_dir)
    if examples == 0:
        raise ValueError(f"{data_dir} has no usable training pairs (every image was unreadable and skipped)")
    steps_per_epoch = math.ceil(examples / train.batch_size)
    segmenter = _segmenter(config)  # before training: a segmenter that cannot be read stops the run now
    last_step = total_steps(config, steps_per_epoch)
    train_dataset = pipeline.make_dataset(
        config, "train", training=True, batch_size=train.batch_size, seed=train.seed, data_dir=data_dir)
    if train.strategy != "default":
        train_dataset = strategy.experimental_distribute_dataset(train_dataset)
    train_iterator = iter(train_dataset)
    model = build_pix2pix(config, steps_per_epoch, strategy)
    # A distributed iterator cannot be checkpointed: a resumed distributed run restarts its data order.
    extra = {"data": train_iterator} if train.strategy == "default" else {}
    weights = model.generator.weights + model.discriminator.weights
    checkpoints.preflight(workdir, checkpoints.checkpoint_bytes(weights), train.keep_checkpoints, last_step,
                          train.checkpoint_every)
    saver = checkpoints.RunCheckpoints(model.checkpoint(**extra), workdir, train.keep_checkpoints, chief,
                                       weights=weights)
    restored = saver.restore()
    if model.teacher is not None:
        distill.pin_teacher(workdir, model.teacher, started=restored is not None, chief=chief)
    if restored:
        logging.info("resumed from %s at step %d", restored, int(model.step.numpy()))
    if chief:
        config.save(workdir / run_folder.CONFIG)

    val_batch = 1 if config.data.variable_size else max(train.num_samples, 1)
    val_dataset = pipeline.make_dataset(
        config, pipeline.val_split(config, data_dir), training=False, batch_size=val_batch, data_dir=data_dir)
    generate = inference.make_generate_fn(model.generator, train.eval_mode)
    writer = tf.summary.create_file_writer(str(workdir / run_folder.TENSORBOARD)) if chief else tf.summary.create_noop_writer()
    step = int(model.step.numpy())
    if chief:
        write_samples = validation.SampleWriter(
            workdir, list(val_dataset.unbatch().take(train.num_samples)), generate, writer, train.eval_mode)
        validate = validation.Validator(
            workdir, val_dataset.unbatch().take(train.val_images).batch(val_batch), generate, writer,
            model.checkpoint(), train.best_metric, resumed_step=step, weights=weights, segmenter=segmenter)
    else:
        write_samples = validate = lambda step: None  # noqa: E731

    progress = Progress(last_step, step, train.batch_size)
    logging.info("training from step %d to %d (%d steps per epoch)", step, last_step, steps_per_epoch)
    parts = loop.LoopParts(model, train_iterator, saver, writer, progress, write_samples, validate)
    with interrupts.StopRequests() as stop:
        try:
            step = loop.train_until(parts, step, last_step, stop)
        except tf.errors.OpError as error:
            if "IteratorGetNext" in str(error):  # the input pipeline: name the files that changed since the check
                _check_data_again(config, data_dir, saver.latest())
            raise
    progress.close()
    tf.summary.trace_off()
    if stop.requested:
        path = saver.save(step) if not saver.has(step) else saver.latest()
        logging.warning("%s at step %d: saved %s; run the same command to resume", stop.requested, step, path)
        return TrainResult(step, path, interrupted=stop.requested)
    with interrupts.StopRequests() as stop:  # the end of the run: a stop here still says where the run is
        if not saver.has(step):
            saver.save(step)
        if not chief:
            return TrainResult(step, checkpoint=None)
        try:
            write_samples(step)
            metrics = _final_evaluation(workdir, generate, _until_stopped(val_dataset, stop), config, step, writer,
                                        segmenter)
            return TrainResult(step, saver.latest(), metrics=metrics)
        except _Stopped:
            logging.warning("%s during the final evaluation at step %d: %s holds the trained weights; run the same "
                            "command to evaluate them (metrics.json)", stop.requested, step, saver.latest())
            return TrainResult(step, saver.latest(), interrupted=stop.requested)


class _Stopped(Exception):
    """A stop was requested (SIGINT, SIGTERM) while the final evaluation ran."""


def _until_stopped(dataset: tf.data.Dataset, stop: interrupts.StopRequests):
    """``dataset`` as an iterable (read again each time) that raises ``_Stopped`` at the next batch
    once a stop is requested: the final evaluation ends at once, not after the whole split."""

    class Batches:
        def __iter__(self):
            for batch in dataset:
                if stop.requested:
                    raise _Stopped
                yield batch

    return Batches()


def build_pix2pix(config: Config, steps_per_epoch: int, strategy: tf.distribute.Strategy | None = None) -> Pix2Pix:
    """The ``Pix2Pix`` of a run (``config`` with its precision resolved), with its teacher when
    distilling, the discriminator starting from the teacher's where ``distill.teacher_discriminator``
    says so; logs which kernels it trains with."""
    strategy = strategy or tf.distribute.get_strategy()
    teacher = None
    if config.distill.teacher:
        with strategy.scope():
            teacher = distill.load_teacher(config)
    model = Pix2Pix(config, steps_per_epoch, strategy, teacher)
    if teacher is not None and config.distill.teacher_discriminator and config.train.gan_weight > 0:
        with strategy.scope():
            distill.restore_discriminator(model.discriminator, teacher)
    logging.info("kernels: %s (%s%s)", model.kernels.name, "auto: " if config.train.kernels == "auto" else "",
                 model.kernels.reason)
    return model
