"""The teacher of a distillation run: a trained run's generator, frozen, in its inference mode.

``pix2pix-tf distill`` (or ``train --teacher=RUN``) trains a small generator (``unet_mobile``) with
the one train step and loop of ``train``; the step adds an L1 term pulling the student's output
towards the teacher's on the same jittered input, and the discriminator may start from the
teacher's (as GAN Compression fine-tunes the teacher's discriminator).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib

import keras
import tensorflow as tf
from absl import logging

from pix2pix_tf import run_folder
from pix2pix_tf.config import STUDENT_MODEL, Config
from pix2pix_tf.files import read_json, write_text_atomically
from pix2pix_tf.models.inference import inference_generator
from pix2pix_tf.training import health

# Settings the teacher and the student must share: they see the same inputs and produce the same kind of image.
SHARED_FIELDS = {"model": ("input_channels", "output_channels"), "data": ("direction", "task")}
# ... and, to start from the teacher's discriminator, the discriminator's architecture.
DISCRIMINATOR_FIELDS = ("disc_layers", "disc_filters", "disc_scales", "norm", "conditional")


@dataclasses.dataclass
class Teacher:
    """A teacher run's generator as a frozen inference graph.

    Attributes:
      model: (batch, H, W, input_channels) float32 in [-1, 1] -> (batch, H, W, output_channels)
        float32 in [-1, 1], in the teacher's ``eval_mode`` (deterministic; no state changes).
      config: the teacher run's Config.
      checkpoint: the checkpoint its weights came from.
    """

    model: keras.Model
    config: Config
    checkpoint: str


def student_config(teacher: str | os.PathLike) -> Config:
    """What ``pix2pix-tf distill --teacher=TEACHER`` trains (before its other flags): the teacher run's
    config (its data, direction, jitter and step budget) with the student's generator
    (``config.STUDENT_MODEL``) learning from the teacher. ValueError naming the folder when it is not a run."""
    teacher = pathlib.Path(teacher).expanduser().absolute()
    return run_folder.load_config(teacher).replace(model=STUDENT_MODEL, distill=dict(teacher=str(teacher)))


def load_teacher(student: Config) -> Teacher:
    """The teacher named by ``student.distill``; ValueError naming the folder and the settings that
    differ when it does not fit the student."""
    distill = student.distill
    checkpoint = run_folder.find_checkpoint(distill.teacher, distill.teacher_checkpoint)
    generator, config = run_folder.load_generator(distill.teacher, checkpoint)
    differences = [
        f"{section}.{name}: {getattr(getattr(config, section), name)!r} in the teacher, "
        f"{getattr(getattr(student, section), name)!r} here"
        for section, names in SHARED_FIELDS.items() for name in names
        if getattr(getattr(config, section), name) != getattr(getattr(student, section), name)
    ]
    if distill.teacher_discriminator:
        differences += [
            f"model.{name}: {getattr(config.model, name)!r} in the teacher, {getattr(student.model, name)!r} here "
            "(or --noteacher_discriminator for a new discriminator)"
            for name in DISCRIMINATOR_FIELDS if getattr(config.model, name) != getattr(student.model, name)
        ]
    if differences:
        raise ValueError(f"the teacher {distill.teacher} does not fit this run:\n  " + "\n  ".join(differences))
    nonfinite = health.nonfinite_names(generator.weights)
    if nonfinite:  # else every step's teacher term is NaN, reported as the student's own divergence
        raise ValueError(f"the teacher checkpoint {checkpoint} holds NaN or infinite values (in "
                         f"{', '.join(nonfinite[:3])}): a teacher that diverged; learn from its "
                         f"{'latest' if distill.teacher_checkpoint == 'best' else 'best'} one (--teacher_checkpoint) "
                         "or retrain it")
    generator.trainable = False
    logging.info("teacher: %s (%s, %s mode)", checkpoint, config.model.generator, config.train.eval_mode)
    return Teacher(inference_generator(generator, config.train.eval_mode), config, checkpoint)


def restore_discriminator(discriminator: keras.Model, teacher: Teacher) -> None:
    """Loads the teacher's discriminator weights (moving statistics included) into ``discriminator``."""
    status = tf.train.Checkpoint(discriminator=discriminator).restore(teacher.checkpoint)
    try:
        status.expect_partial().assert_existing_objects_matched()
    except AssertionError as error:
        raise ValueError(f"{teacher.checkpoint} has no discriminator that fits this run's: {error}") from error


def _fingerprint(checkpoint: str) -> str:
    """SHA-256 of a checkpoint's .index file, which holds the checksum of every tensor it stores."""
    return hashlib.sha256(pathlib.Path(f"{checkpoint}.index").read_bytes()).hexdigest()


def pin_teacher(workdir: pathlib.Path, teacher: Teacher, started: bool, chief: bool) -> None:
    """Holds a student to the teacher checkpoint it started from, recorded in ``teacher.json``.

    A student that has not ``started`` (no checkpoint of its own yet) records ``teacher``'s. A
    resumed one is refused (ValueError naming both checkpoints) when the teacher's checkpoint is
    now another one or holds other weights: the teacher trained further, or was replaced.
    """
    record_path = workdir / run_folder.TEACHER_RECORD
    current = {"checkpoint": teacher.checkpoint, "sha256": _fingerprint(teacher.checkpoint)}
    if started and record_path.exists():
        recorded = read_json(record_path)
        if not (isinstance(recorded, dict) and {"checkpoint", "sha256"} <= set(recorded)):
            raise ValueError(f"{record_path} is damaged (not the record pix2pix-tf writes); restore it, or delete it "
                             "to go on with the teacher's current checkpoint")
        if recorded != current:
            changed = "holds other weights now" if recorded["checkpoint"] == current["checkpoint"] else (
                f"is now {current['checkpoint']}")
            raise ValueError(
                f"the teacher changed since this student started: it learned from {recorded['checkpoint']}, and "
                f"the teacher's checkpoint {changed}. A student learns from one teacher: train a new student "
                f"(another --workdir), or delete {record_path} to go on with the teacher as it is now")
        return
    if chief:
        write_text_atomically(record_path, json.dumps(current, indent=2) + "\n")
