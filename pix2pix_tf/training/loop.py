"""The training loop around the one train step: stepping, logging, samples, validation, checkpoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf
from absl import logging

from pix2pix_tf.progress import Progress
from pix2pix_tf.training import distribute, health
from pix2pix_tf.training.checkpoints import RunCheckpoints
from pix2pix_tf.training.interrupts import StopRequests


@dataclasses.dataclass
class LoopParts:
    """What the loop drives: the model (a ``training.step.Pix2Pix``), its data and its outputs."""

    model: object
    iterator: object
    checkpoints: RunCheckpoints
    writer: object
    progress: Progress
    write_samples: Callable[[int], None]
    validate: Callable[[int], object]


def log_scalars(writer, step: int, values: dict[str, float], learning_rate: float) -> None:
    """Training scalars and the learning rate into TensorBoard ``train/*``."""
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(f"train/{name}", value)
        tf.summary.scalar("train/learning_rate", learning_rate)


def train_until(parts: LoopParts, step: int, last_step: int, stop: StopRequests) -> int:
    """Steps from ``step`` until ``last_step`` or a stop request; logs, samples, validates and
    checkpoints on the way. Returns the step reached."""
    model, train_iterator, checkpoints, writer, progress = (
        parts.model, parts.iterator, parts.checkpoints, parts.writer, parts.progress)
    write_samples, validate = parts.write_samples, parts.validate
    train = model.config.train
    chief = distribute.is_chief(model.strategy)
    nonfinite = train.nonfinite
    if nonfinite == "skip" and train.strategy != "default":
        logging.warning("--nonfinite=skip needs a single device; a distributed run stops on a non-finite step")
        nonfinite = "stop"
    watch = health.RunHealth(nonfinite, checkpoints.latest, statistics=(
        model.generator.non_trainable_weights + model.discriminator.non_trainable_weights))
    tf.summary.trace_on(graph=True)  # the graph of the first (traced) step, for TensorBoard's Graphs tab
    graph_written = False
    try:
        while step < last_step and not stop.requested:
            previous = step
            calls = min(train.steps_per_call, last_step - step)
            if calls == 1:
                metrics = model.compiled_train_step(*next(train_iterator))
            else:
                metrics = model.compiled_train_steps(train_iterator, tf.constant(calls))
            step = int(model.step.numpy())
            watch.after_step(step, metrics)
            if not graph_written:
                with writer.as_default(step=step):
                    tf.summary.trace_export("train_step")
                graph_written = True
            crossed = lambda every: every and step // every > previous // every  # noqa: E731
            if crossed(train.log_every) or step == last_step:
                values = {name: float(value) for name, value in metrics.items() if name != "nonfinite"}
                watch.after_log(step, values)
                if chief:
                    progress.update(step, values)
                log_scalars(writer, step, values, model.learning_rate)
            if crossed(train.sample_every):
                write_samples(step)
            if crossed(train.val_every):
                validate(step)
            if crossed(train.checkpoint_every):
                checkpoints.save(step)
    except KeyboardInterrupt:  # only where no signal handler could be installed (not the main thread)
        progress.close()
        path = checkpoints.save(step)
        logging.warning("interrupted at step %d; saved %s; run the same command to resume", step, path)
        raise
    return step
