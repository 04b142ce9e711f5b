"""The teacher of a distillation run: a trained run's generator, frozen, in its inference mode.

``pix2pix-tf distill`` (or ``train --teacher=RUN``) trains a small generator (``unet_mobile``) with
the one train step and loop of ``train``; the step adds an L1 term pulling the student's output
towards the teacher's on the same jittered input, and the discriminator may start from the
teacher's (as GAN Compression fine-tunes the teacher's discriminator).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import keras
import tensorflow as tf
from absl import logging

from pix2pix_tf import run_folder
from pix2pix_tf.config import STUDENT_MODEL, Config
from pix2pix_tf.models.inference import inference_generator

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
