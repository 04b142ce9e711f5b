"""The one pix2pix train step: ``Pix2Pix`` holds both networks and their optimizers, and
``Pix2Pix.train_step`` is the only train step in the codebase; the training loop, the benchmarks
and the distribution strategies all call it."""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import tensorflow as tf

from pix2pix_tf import hardware
from pix2pix_tf.config import Config
from pix2pix_tf.models import inference, losses, perceptual
from pix2pix_tf.models.discriminators import build_discriminator, check_scales, scale_outputs
from pix2pix_tf.models.generators import build_generator
from pix2pix_tf.models.layers import dtype_policy
from pix2pix_tf.training import distill
from pix2pix_tf.training.optimizers import ConstantThenLinearDecay, FusedAdam


def with_resolved_precision(config: Config, strategy: tf.distribute.Strategy | None = None) -> Config:
    """``config`` with ``train.mixed_precision="auto"`` replaced by what this machine should use
    (``hardware.resolve_mixed_precision``); other choices unchanged."""
    if config.train.mixed_precision != "auto":
        return config
    precision, _ = hardware.resolve_mixed_precision("auto", strategy)
    return config.replace(train=dataclasses.replace(config.train, mixed_precision=precision))


class Pix2Pix:
    """Generator, discriminator, their optimizers and the step counter, built in ``strategy``'s scope.

    Args:
      config: the run's Config (``train.mixed_precision="auto"`` is resolved for this machine).
      steps_per_epoch: optimizer steps in one epoch; sets the learning-rate schedule.
      strategy: the tf.distribute strategy (default: the current one, a single device).
    """

    def __init__(self, config: Config, steps_per_epoch: int, strategy: tf.distribute.Strategy | None = None):
        self.strategy = strategy or tf.distribute.get_strategy()
        config = with_resolved_precision(config, self.strategy)
        self.config = config
        train = config.train
        check_scales(config.model, config.data.image_size)
        self.matches_features = train.feature_matching_weight > 0
        with self.strategy.scope(), dtype_policy(train.mixed_precision):
            self.generator = build_generator(config.model, config.data.image_size)
            self.discriminator = build_discriminator(config.model, features=self.matches_features)
            # pix2pixHD's VGG loss network: frozen, not in checkpoints.
            self.perceptual = perceptual.vgg19_features(train.perceptual_weights) if train.uses_perceptual else None
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.generator_optimizer = self._optimizer(steps_per_epoch)
            self.discriminator_optimizer = self._optimizer(steps_per_epoch)
            self.generator_optimizer.build(self.generator.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.teacher = None
        if config.distill.teacher:
            with self.strategy.scope():
                self.teacher = distill.load_teacher(config)
                if config.distill.teacher_discriminator and train.gan_weight > 0:
                    distill.restore_discriminator(self.discriminator, self.teacher)
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

    def _discriminate(self, inputs, images) -> list[tuple[tf.Tensor, list[tf.Tensor]]]:
        """D on the pair: per scale (one with the paper's PatchGAN), the logits and, when feature
        matching, the hidden layers' activations."""
        pair = [inputs, images] if self.config.model.conditional else images
        return scale_outputs(self.discriminator(pair, training=True), self.config.model.disc_scales,
                             self.matches_features)

    def _discriminator_loss(self, real_logits, fake_logits) -> tuple[tf.Tensor, tf.Tensor]:
        """D's loss, and the same divided by the replica count and loss-scaled (what is differentiated)."""
        loss = losses.discriminator_loss(real_logits, fake_logits, self.config.train.gan_loss)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # summed over replicas: the global mean
        return loss, self.discriminator_optimizer.scale_loss(loss / replicas)

    def _generator_loss(self, fake, real_features, targets, outputs,
                        teacher_outputs) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """G's loss terms from D's judgement of the generated pair (``fake``: per scale, logits and
        activations) and the real pair's activations (feature matching's targets)."""
        train = self.config.train
        generator_losses = losses.generator_loss(
            [logits for logits, _ in fake], targets, outputs, train.gan_loss, train.recon_loss, train.gan_weight,
            train.l1_weight)
        if self.matches_features:  # pix2pixHD: D's features of the generated pair match the real pair's
            generator_losses["fm"] = losses.feature_matching_loss([features for _, features in fake], real_features)
            generator_losses["total"] += train.feature_matching_weight * generator_losses["fm"]
        if self.perceptual is not None:  # pix2pixHD: VGG19 features of the output match the target's
            generator_losses["vgg"] = perceptual.perceptual_loss(self.perceptual, targets, outputs)
            generator_losses["total"] += train.perceptual_weight * generator_losses["vgg"]
        if teacher_outputs is not None:  # distillation: also match the teacher's output
            generator_losses["teacher"] = losses.reconstruction_loss(teacher_outputs, outputs, "l1")
            generator_losses["total"] += self.config.distill.teacher_weight * generator_losses["teacher"]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return generator_losses, self.generator_optimizer.scale_loss(generator_losses["total"] / replicas)

    def train_step(self, inputs: tf.Tensor, targets: tf.Tensor) -> dict[str, tf.Tensor]:
        """One optimisation step of D and G on the same generated batch.

        ``train.update_order``: "reference" (the PyTorch reference's order) updates D first, then
        G against the updated D, which judges the generated batch again; "simultaneous" (the
        TensorFlow tutorial's) computes both updates from one pass of D over the batch, saving a
        D forward and backward.

        Args:
          inputs: (batch, H, W, input_channels) float32 in [-1, 1].
          targets: (batch, H, W, output_channels) float32 in [-1, 1].
        Returns:
          Scalars g_loss (total), g_gan, g_recon, g_fm with feature matching, g_vgg with the
          perceptual loss, g_teacher when distilling (L1 to the teacher's output), and with a GAN
          term d_loss, d_real, d_fake
          (mean D probabilities on real and generated pairs); nonfinite: 1 when a loss or gradient
          was NaN or infinite and the update of that network was skipped, else 0.
        """
        train = self.config.train
        with_gan = train.gan_weight > 0
        generator_tape, discriminator_tape = tf.GradientTape(), tf.GradientTape()
        with generator_tape:
            outputs = tf.cast(self.generator(inputs, training=True), tf.float32)
        teacher_outputs = None
        if self.teacher is not None:  # the frozen teacher on the same jittered input, outside the tape
            teacher_outputs = tf.cast(self.teacher.model(inputs, training=False), tf.float32)
        metrics, d_applied = {}, tf.constant(True)
        fake, real_features = [(tf.zeros([1]), [])], []
        simultaneous = with_gan and train.update_order == "simultaneous"
        if with_gan:
            with discriminator_tape, (generator_tape if simultaneous else contextlib.nullcontext()):
                # Fake first, then real, as the reference: D's batch-norm moving statistics see them in this order.
                fake = self._discriminate(inputs, outputs if simultaneous else tf.stop_gradient(outputs))
                real = self._discriminate(inputs, targets)
                d_loss, d_scaled = self._discriminator_loss([logits for logits, _ in real],
                                                            [logits for logits, _ in fake])
            d_gradients = discriminator_tape.gradient(d_scaled, self.discriminator.trainable_variables)
            if not simultaneous:
                d_applied = self._apply_if_finite(self.discriminator_optimizer, d_loss, d_gradients,
                                                  self.discriminator.trainable_variables)
            metrics = {"d_loss": d_loss,
                       "d_real": self._mean_probability(real),
                       "d_fake": self._mean_probability(fake)}
            real_features = [features for _, features in real]
            if self.matches_features and not simultaneous:  # the updated D's features of the real pair
                real_features = [features for _, features in self._discriminate(inputs, targets)]
        with generator_tape:  # resumes recording
            if with_gan and not simultaneous:
                fake = self._discriminate(inputs, outputs)  # D, already updated, judges the batch again
            generator_losses, g_scaled = self._generator_loss(fake, real_features, targets, outputs, teacher_outputs)
        g_gradients = generator_tape.gradient(g_scaled, self.generator.trainable_variables)
        if simultaneous:  # both gradients were taken before either network changed
            d_applied = self._apply_if_finite(self.discriminator_optimizer, d_loss, d_gradients,
                                              self.discriminator.trainable_variables)
        g_applied = self._apply_if_finite(self.generator_optimizer, generator_losses["total"], g_gradients,
                                          self.generator.trainable_variables)
        self.step.assign_add(1)
        metrics.update(
            g_loss=generator_losses["total"], g_gan=generator_losses["gan"], g_recon=generator_losses["recon"],
            **{f"g_{name}": generator_losses[name] for name in ("fm", "vgg", "teacher") if name in generator_losses},
            nonfinite=1.0 - tf.cast(tf.logical_and(d_applied, g_applied), tf.float32),
        )
        return metrics

    @staticmethod
    def _mean_probability(judged: list[tuple[tf.Tensor, list[tf.Tensor]]]) -> tf.Tensor:
        """Mean sigmoid of D's logits, over patches and scales."""
        return tf.reduce_mean([tf.reduce_mean(tf.sigmoid(tf.cast(logits, tf.float32))) for logits, _ in judged])

    @staticmethod
    def _apply_if_finite(optimizer, loss: tf.Tensor, gradients: list, variables: list) -> tf.Tensor:
        """Applies the update only when the loss and gradients are finite; returns whether it did.

        Under float16 loss scaling, overflowing gradients are the LossScaleOptimizer's business
        (it skips the step and lowers the scale), so only the loss is checked here. Under a
        distribution strategy the update cannot sit in a conditional (it all-reduces across
        replicas), so it is applied and the run stops on the report (``--nonfinite=stop``).
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
