"""The one pix2pix train step: ``Pix2Pix`` holds both networks and their optimizers, and
``Pix2Pix.train_step`` is the only train step in the codebase; the training loop, the benchmarks
and the distribution strategies all call it.

As the PyTorch reference's ``optimize_parameters``: G generates the batch once; D is updated on
the generated and the real pair (``update_discriminator``); G is updated against the updated D
with the weighted sum of its loss terms (``update_generator``). ``simultaneous_step`` is the
TensorFlow tutorial's order: both updates from one pass of D.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf

from pix2pix_tf.config import Config
from pix2pix_tf.kernels import policy
from pix2pix_tf.models import inference, losses, perceptual
from pix2pix_tf.models.discriminators import (
    build_discriminator,
    check_scales,
    scale_outputs,
)
from pix2pix_tf.models.generators import build_generator
from pix2pix_tf.models.layers import dtype_policy
from pix2pix_tf.training.distill import Teacher
from pix2pix_tf.training.optimizers import ConstantThenLinearDecay, FusedAdam

# D's judgement of a pair: per scale (one with the paper's PatchGAN), its logits and, when feature
# matching, the activations of its hidden layers.
Judgement = list[tuple[tf.Tensor, list[tf.Tensor]]]


@dataclasses.dataclass
class GeneratedBatch:
    """What G's loss terms read. Images (batch, H, W, channels) float32 in [-1, 1]."""

    inputs: tf.Tensor
    targets: tf.Tensor
    outputs: tf.Tensor  # G's, differentiable
    fake: Judgement  # D's judgement of (inputs, outputs); empty without a GAN term
    real: Judgement  # D's judgement of (inputs, targets), for feature matching; else empty
    teacher_outputs: tf.Tensor | None  # the frozen teacher's, when distilling


@dataclasses.dataclass(frozen=True)
class LossTerm:
    """One term of G's loss: reported as ``g_<name>``, added to ``g_loss`` times ``weight``."""

    name: str
    weight: float
    function: Callable[[GeneratedBatch], tf.Tensor]


def _not_computed(batch: GeneratedBatch) -> tf.Tensor:
    """The value of a term switched off by a zero weight (the paper's L1-only and cGAN-only ablations)."""
    return tf.constant(0.0)


def generator_loss_terms(config: Config, vgg_features=None) -> list[LossTerm]:
    """G's loss terms for ``config``: the adversarial and reconstruction terms always (at weight 0
    reported as 0, not computed), then pix2pixHD's feature matching and VGG terms and the
    distillation term where they are on."""
    train = config.train
    terms = [
        LossTerm("gan", train.gan_weight, _not_computed if not train.gan_weight else lambda batch:
                 losses.generator_adversarial_loss([logits for logits, _ in batch.fake], train.gan_loss)),
        LossTerm("recon", train.l1_weight, _not_computed if not train.l1_weight else lambda batch:
                 losses.reconstruction_loss(batch.targets, batch.outputs, train.recon_loss)),
    ]
    if train.feature_matching_weight > 0:  # pix2pixHD: D's features of the generated pair match the real pair's
        terms.append(LossTerm("fm", train.feature_matching_weight, lambda batch: losses.feature_matching_loss(
            [features for _, features in batch.fake], [features for _, features in batch.real])))
    if vgg_features is not None:  # pix2pixHD: VGG19 features of the output match the target's
        terms.append(LossTerm("vgg", train.perceptual_weight,
                              lambda batch: perceptual.perceptual_loss(vgg_features, batch.targets, batch.outputs)))
    if config.distill.teacher:  # distillation: also match the teacher's output
        terms.append(LossTerm("teacher", config.distill.teacher_weight,
                              lambda batch: losses.reconstruction_loss(batch.teacher_outputs, batch.outputs, "l1")))
    return terms


class Pix2Pix:
    """Generator, discriminator, their optimizers and the step counter, built in ``strategy``'s scope.

    Args:
      config: the run's Config, its ``train.mixed_precision`` resolved (not "auto":
        ``with_resolved_precision``, in training/train.py); ``train.kernels`` picks the layer
        classes (``kernels.policy``).
      steps_per_epoch: optimizer steps in one epoch; sets the learning-rate schedule.
      strategy: the tf.distribute strategy (default: the current one, a single device).
      teacher: the frozen teacher of a distillation run (``training.distill.load_teacher``); needed
        when ``config.distill.teacher`` is set.
    """

    def __init__(self, config: Config, steps_per_epoch: int, strategy: tf.distribute.Strategy | None = None,
                 teacher: Teacher | None = None):
        train = config.train
        if train.mixed_precision == "auto":
            raise ValueError("Pix2Pix needs a resolved mixed_precision (none, float16 or bfloat16), not auto: "
                             "pass pix2pix_tf.with_resolved_precision(config)")
        if bool(config.distill.teacher) != (teacher is not None):
            raise ValueError("a config with distill.teacher needs its Teacher (training.distill.load_teacher), "
                             "and a Teacher needs a config that names it")
        check_scales(config.model, config.data.image_size)
        self.config, self.teacher = config, teacher
        self.strategy = strategy or tf.distribute.get_strategy()
        self.kernels = policy.resolve(train.kernels, self.strategy)
        self.with_gan = train.gan_weight > 0
        self.matches_features = train.feature_matching_weight > 0
        with self.strategy.scope(), dtype_policy(train.mixed_precision):
            layer_types = self.kernels.layer_types
            self.generator = build_generator(config.model, config.data.image_size, layer_types)
            self.discriminator = build_discriminator(config.model, self.matches_features, layer_types)
            # pix2pixHD's VGG loss network: frozen, not in checkpoints.
            vgg = perceptual.vgg19_features(train.perceptual_weights) if train.uses_perceptual else None
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.generator_optimizer = self._optimizer(steps_per_epoch)
            self.discriminator_optimizer = self._optimizer(steps_per_epoch)
            self.generator_optimizer.build(self.generator.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.loss_terms = generator_loss_terms(config, vgg)
        self._replica_step = tf.function(self.train_step, jit_compile=True) if train.jit_compile else self.train_step
        self.compiled_train_step = tf.function(self.distributed_train_step)
        self.compiled_train_steps = tf.function(self.distributed_train_steps)

    def _optimizer(self, steps_per_epoch: int) -> keras.optimizers.Optimizer:
        """The paper's Adam and schedule; wrapped for loss scaling when computing in float16."""
        train = self.config.train
        schedule = ConstantThenLinearDecay(
            train.learning_rate, train.epochs * steps_per_epoch, train.decay_epochs * steps_per_epoch
        )
        optimizer = FusedAdam(schedule, beta_1=train.beta1, beta_2=train.beta2)
        if train.mixed_precision == "float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    @property
    def learning_rate(self) -> float:
        optimizer = self.generator_optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        return float(optimizer.learning_rate)

    def distributed_train_step(self, inputs, targets) -> dict[str, tf.Tensor]:
        """``train_step`` on every replica (inputs: per-replica values of a distributed dataset,
        or plain tensors on one device); the scalars averaged over replicas."""
        per_replica = self.strategy.run(self._replica_step, args=(inputs, targets))
        return {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in per_replica.items()}

    def distributed_train_steps(self, iterator, steps: tf.Tensor) -> dict[str, tf.Tensor]:
        """``steps`` train steps on batches of ``iterator`` in one call; the last step's scalars."""
        for _ in tf.range(steps - 1):
            self.distributed_train_step(*next(iterator))
        return self.distributed_train_step(*next(iterator))

    def checkpoint(self, **extra) -> tf.train.Checkpoint:
        return tf.train.Checkpoint(
            generator=self.generator,
            discriminator=self.discriminator,
            generator_optimizer=self.generator_optimizer,
            discriminator_optimizer=self.discriminator_optimizer,
            step=self.step,
            dropout_seeds=inference.seed_states(self.generator) + inference.seed_states(self.discriminator),
            **extra,
        )

    def train_step(self, inputs: tf.Tensor, targets: tf.Tensor) -> dict[str, tf.Tensor]:
        """One optimisation step of D and G on the same generated batch, in ``train.update_order``:
        "reference" (the PyTorch reference's: D, then G against the updated D, which judges the
        batch again) or "simultaneous" (``simultaneous_step``).

        Args:
          inputs: (batch, H, W, input_channels) float32 in [-1, 1].
          targets: (batch, H, W, output_channels) float32 in [-1, 1].
        Returns:
          Scalars g_loss (the weighted sum) and g_<name> of each loss term (g_gan, g_recon; g_fm, g_vgg,
          g_teacher where on); with a GAN term d_loss, d_real, d_fake (mean D probabilities on real and
          generated pairs); nonfinite: 1 when a loss or gradient was NaN or infinite and the update of
          that network was skipped, else 0.
        """
        if self.with_gan and self.config.train.update_order == "simultaneous":
            return self.simultaneous_step(inputs, targets)
        teacher_outputs = self._teacher_outputs(inputs)
        with tf.GradientTape() as tape:
            outputs = tf.cast(self.generator(inputs, training=True), tf.float32)
        d_metrics, d_applied = (self.update_discriminator(inputs, targets, outputs) if self.with_gan
                                else ({}, tf.constant(True)))
        g_metrics, g_applied = self.update_generator(tape, inputs, targets, outputs, teacher_outputs)
        return self._finish(d_metrics, g_metrics, d_applied, g_applied)

    def update_discriminator(self, inputs, targets, outputs) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """D's update on the generated pair (as a constant) and the real pair: its metrics, and whether
        it was applied."""
        with tf.GradientTape() as tape:
            # Fake first, then real, as the reference: D's batch-norm moving statistics see them in this order.
            fake = self._discriminate(inputs, tf.stop_gradient(outputs))
            real = self._discriminate(inputs, targets)
            d_loss, scaled = self._discriminator_loss(real, fake)
        gradients = tape.gradient(scaled, self.discriminator.trainable_variables)
        applied = _apply_if_finite(self.discriminator_optimizer, d_loss, gradients,
                                   self.discriminator.trainable_variables)
        return self._discriminator_metrics(d_loss, real, fake), applied

    def update_generator(self, tape: tf.GradientTape, inputs, targets, outputs,
                         teacher_outputs) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """G's update. ``tape`` recorded G's forward pass (``outputs``) and records on here: D, as it is
        now (updated), judges the generated pair (and, for feature matching, the real one), then the
        loss terms. Returns their values (g_loss the weighted sum) and whether the update was applied."""
        with tape:
            real = self._discriminate(inputs, targets) if self.matches_features else []
            fake = self._discriminate(inputs, outputs) if self.with_gan else []
            values, scaled = self._generator_loss(GeneratedBatch(inputs, targets, outputs, fake, real, teacher_outputs))
        gradients = tape.gradient(scaled, self.generator.trainable_variables)
        applied = _apply_if_finite(self.generator_optimizer, values["loss"], gradients,
                                   self.generator.trainable_variables)
        return {f"g_{name}": value for name, value in values.items()}, applied

    def simultaneous_step(self, inputs: tf.Tensor, targets: tf.Tensor) -> dict[str, tf.Tensor]:
        """The TensorFlow tutorial's order: one pass of D over the generated and the real pair gives
        both networks' gradients, taken before either changes (a D forward and backward fewer)."""
        teacher_outputs = self._teacher_outputs(inputs)
        with tf.GradientTape() as g_tape:
            outputs = tf.cast(self.generator(inputs, training=True), tf.float32)
            with tf.GradientTape() as d_tape:
                fake = self._discriminate(inputs, outputs)
                real = self._discriminate(inputs, targets)
                d_loss, d_scaled = self._discriminator_loss(real, fake)
            g_values, g_scaled = self._generator_loss(
                GeneratedBatch(inputs, targets, outputs, fake, real, teacher_outputs))
        d_gradients = d_tape.gradient(d_scaled, self.discriminator.trainable_variables)
        g_gradients = g_tape.gradient(g_scaled, self.generator.trainable_variables)
        d_applied = _apply_if_finite(self.discriminator_optimizer, d_loss, d_gradients,
                                     self.discriminator.trainable_variables)
        g_applied = _apply_if_finite(self.generator_optimizer, g_values["loss"], g_gradients,
                                     self.generator.trainable_variables)
        return self._finish(self._discriminator_metrics(d_loss, real, fake),
                            {f"g_{name}": value for name, value in g_values.items()}, d_applied, g_applied)

    def _teacher_outputs(self, inputs: tf.Tensor) -> tf.Tensor | None:
        """The frozen teacher's output on the same jittered input (no tape: nothing to train)."""
        return None if self.teacher is None else tf.cast(self.teacher.model(inputs, training=False), tf.float32)

    def _discriminate(self, inputs, images) -> Judgement:
        pair = [inputs, images] if self.config.model.conditional else images
        return scale_outputs(self.discriminator(pair, training=True), self.config.model.disc_scales,
                             self.matches_features)

    def _discriminator_loss(self, real: Judgement, fake: Judgement) -> tuple[tf.Tensor, tf.Tensor]:
        """D's loss, and the same divided by the replica count and loss-scaled (what is differentiated)."""
        loss = losses.discriminator_loss([logits for logits, _ in real], [logits for logits, _ in fake],
                                         self.config.train.gan_loss)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # summed over replicas: the global mean
        return loss, self.discriminator_optimizer.scale_loss(loss / replicas)

    def _generator_loss(self, batch: GeneratedBatch) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """{"loss": the weighted sum, name: value of each term}, and the sum divided by the replica count
        and loss-scaled (what is differentiated)."""
        values, total = {}, tf.constant(0.0)
        for term in self.loss_terms:
            values[term.name] = term.function(batch)
            total += term.weight * values[term.name]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return {"loss": total, **values}, self.generator_optimizer.scale_loss(total / replicas)

    @staticmethod
    def _discriminator_metrics(d_loss: tf.Tensor, real: Judgement, fake: Judgement) -> dict[str, tf.Tensor]:
        """d_loss, and the mean sigmoid of D's logits (over patches and scales) on real and generated pairs."""
        def mean_probability(judged: Judgement) -> tf.Tensor:
            return tf.reduce_mean([tf.reduce_mean(tf.sigmoid(tf.cast(logits, tf.float32))) for logits, _ in judged])

        return {"d_loss": d_loss, "d_real": mean_probability(real), "d_fake": mean_probability(fake)}

    def _finish(self, d_metrics: dict, g_metrics: dict, d_applied, g_applied) -> dict[str, tf.Tensor]:
        """Counts the step; the metrics of both updates and whether either was skipped."""
        self.step.assign_add(1)
        skipped = 1.0 - tf.cast(tf.logical_and(d_applied, g_applied), tf.float32)
        return {**d_metrics, **g_metrics, "nonfinite": skipped}


def _apply_if_finite(optimizer, loss: tf.Tensor, gradients: list, variables: list) -> tf.Tensor:
    """Applies the update only when the loss and gradients are finite; returns whether it did.

    Under float16 loss scaling, overflowing gradients are the LossScaleOptimizer's business (it
    skips the step and lowers the scale), so only the loss is checked here. Under a distribution
    strategy the update cannot sit in a conditional (it all-reduces across replicas), so it is
    applied and the run stops on the report (``--nonfinite=stop``).
    """
    checked = [loss] if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else [loss, *gradients]
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(value)) for value in checked if value is not None])
    if tf.distribute.has_strategy():
        optimizer.apply(gradients, variables)
        return finite

    def apply():
        optimizer.apply(gradients, variables)
        return tf.constant(True)

    return tf.cond(finite, apply, lambda: tf.constant(False))
