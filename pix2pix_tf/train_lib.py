"""The one pix2pix train step, and the training program around it.

``Pix2Pix.train_step`` is the only train step in the codebase: the loop here, benchmarks and
distribution strategies all call it. ``train_and_evaluate(config, workdir)`` is what the
``pix2pix-tf train`` command runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import time

import keras
import tensorflow as tf
from absl import logging

from pix2pix_tf import (
    distribute,
    evaluation,
    inference,
    input_pipeline,
    interrupts,
    losses,
    models,
    run_folder,
    training_loop,
    validation,
)
from pix2pix_tf.config import Config, write_text_atomically
from pix2pix_tf.optimizers import FusedAdam
from pix2pix_tf.progress import Progress


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``initial`` for ``constant_steps``, then linear decay to 0 over ``decay_steps`` (the paper's schedule)."""

    def __init__(self, initial: float, constant_steps: int, decay_steps: int):
        self.initial = float(initial)
        self.constant_steps = int(constant_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decayed = (step - self.constant_steps) / max(self.decay_steps, 1)
        factor = 1.0 - tf.clip_by_value(decayed, 0.0, 1.0) if self.decay_steps else 1.0
        return self.initial * factor

    def get_config(self):
        return {"initial": self.initial, "constant_steps": self.constant_steps, "decay_steps": self.decay_steps}


class Pix2Pix:
    """Generator, discriminator, their optimizers and the step counter, built in ``strategy``'s scope.

    Args:
      config: the run's Config.
      steps_per_epoch: optimizer steps in one epoch; sets the learning-rate schedule.
      strategy: the tf.distribute strategy (default: the current one, a single device).
    """

    def __init__(self, config: Config, steps_per_epoch: int, strategy: tf.distribute.Strategy | None = None):
        self.config = config
        train = config.train
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope(), models.dtype_policy(train.mixed_precision):
            self.generator = models.build_generator(config.model, config.data.image_size)
            self.discriminator = models.build_discriminator(config.model)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.generator_optimizer = self._optimizer(steps_per_epoch)
            self.discriminator_optimizer = self._optimizer(steps_per_epoch)
            self.generator_optimizer.build(self.generator.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
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

    def _discriminate(self, inputs, images):
        pair = [inputs, images] if self.config.model.conditional else images
        return self.discriminator(pair, training=True)

    def _discriminator_loss(self, real_logits, fake_logits) -> tuple[tf.Tensor, tf.Tensor]:
        """D's loss, and the same divided by the replica count and loss-scaled (what is differentiated)."""
        loss = losses.discriminator_loss(real_logits, fake_logits, self.config.train.gan_loss)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # summed over replicas: the global mean
        return loss, self.discriminator_optimizer.scale_loss(loss / replicas)

    def _generator_loss(self, fake_logits, targets, outputs) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        train = self.config.train
        generator_losses = losses.generator_loss(
            fake_logits, targets, outputs, train.gan_loss, train.recon_loss, train.gan_weight, train.l1_weight)
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
          Scalars g_loss (total), g_gan, g_recon, and with a GAN term d_loss, d_real, d_fake
          (mean D probabilities on real and generated pairs); nonfinite: 1 when a loss or gradient
          was NaN or infinite and the update of that network was skipped, else 0.
        """
        train = self.config.train
        with_gan = train.gan_weight > 0
        generator_tape, discriminator_tape = tf.GradientTape(), tf.GradientTape()
        with generator_tape:
            outputs = tf.cast(self.generator(inputs, training=True), tf.float32)
        metrics, d_applied, fake_logits = {}, tf.constant(True), tf.zeros([1])
        simultaneous = with_gan and train.update_order == "simultaneous"
        if with_gan:
            with discriminator_tape, (generator_tape if simultaneous else contextlib.nullcontext()):
                real_logits = self._discriminate(inputs, targets)
                fake_logits = self._discriminate(inputs, outputs if simultaneous else tf.stop_gradient(outputs))
                d_loss, d_scaled = self._discriminator_loss(real_logits, fake_logits)
            d_gradients = discriminator_tape.gradient(d_scaled, self.discriminator.trainable_variables)
            if not simultaneous:
                d_applied = self._apply_if_finite(self.discriminator_optimizer, d_loss, d_gradients,
                                                  self.discriminator.trainable_variables)
            metrics = {"d_loss": d_loss,
                       "d_real": tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))),
                       "d_fake": tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32)))}
        with generator_tape:  # resumes recording
            if with_gan and not simultaneous:
                fake_logits = self._discriminate(inputs, outputs)  # D, already updated, judges the batch again
            generator_losses, g_scaled = self._generator_loss(fake_logits, targets, outputs)
        g_gradients = generator_tape.gradient(g_scaled, self.generator.trainable_variables)
        if simultaneous:  # both gradients were taken before either network changed
            d_applied = self._apply_if_finite(self.discriminator_optimizer, d_loss, d_gradients,
                                              self.discriminator.trainable_variables)
        g_applied = self._apply_if_finite(self.generator_optimizer, generator_losses["total"], g_gradients,
                                          self.generator.trainable_variables)
        self.step.assign_add(1)
        metrics.update(
            g_loss=generator_losses["total"], g_gan=generator_losses["gan"], g_recon=generator_losses["recon"],
            nonfinite=1.0 - tf.cast(tf.logical_and(d_applied, g_applied), tf.float32),
        )
        return metrics

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


def total_steps(config: Config, steps_per_epoch: int) -> int:
    """The step the run ends at: ``train.steps`` if set, else all its epochs."""
    return config.train.steps or (config.train.epochs + config.train.decay_epochs) * steps_per_epoch


def _final_evaluation(workdir: pathlib.Path, generate, val_dataset, config: Config, step: int, writer) -> dict:
    """Scores the whole val split into ``metrics.json`` and TensorBoard ``final/*``."""
    started = time.perf_counter()
    results = evaluation.evaluate(generate, val_dataset).summary
    results.update(step=step, eval_mode=config.train.eval_mode, seconds=round(time.perf_counter() - started, 1))
    write_text_atomically(workdir / "metrics.json", json.dumps(results, indent=2, sort_keys=True) + "\n")
    with writer.as_default(step=step):
        for name in ("l1", "psnr", "ssim"):
            tf.summary.scalar(f"final/{name}", results[name])
    writer.flush()
    logging.info("val (%s mode): %s", config.train.eval_mode, json.dumps(results, sort_keys=True))
    return results


def train_and_evaluate(config: Config, workdir: str | os.PathLike) -> dict[str, float]:
    """Trains (resuming from ``workdir``'s latest checkpoint), then evaluates on the val split.

    Writes into ``workdir``: ``config.json``, ``checkpoints/`` (latest ones, and ``best/`` by
    ``train.best_metric``), ``tensorboard/`` (losses, learning rate, D's outputs, samples,
    validation, the step's graph), ``samples/step_*.png``, ``validation.csv`` and ``metrics.json``
    (val L1/PSNR/SSIM of the model and of two trivial baselines). Returns the final metrics.
    With ``train.strategy`` set, every worker runs this; only the chief writes files.
    """
    workdir = pathlib.Path(workdir).expanduser()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.json"
    if config_path.exists():
        run_folder.check_resumable(Config.load(config_path), config, config_path)
    data_dir = input_pipeline.resolve_data_dir(config.data)
    logging.info("data: %s", data_dir)
    train = config.train
    keras.utils.set_random_seed(train.seed)
    if config.data.deterministic:
        tf.config.experimental.enable_op_determinism()  # with the seeds: runs repeat bit for bit
    strategy = distribute.make_strategy(train.strategy)
    chief = distribute.is_chief(strategy)

    examples = input_pipeline.count_examples(config, "train", data_dir)
    if examples == 0:
        raise ValueError(f"{data_dir} has no usable training pairs (every image was unreadable and skipped)")
    steps_per_epoch = math.ceil(examples / train.batch_size)
    last_step = total_steps(config, steps_per_epoch)
    train_dataset = input_pipeline.make_dataset(
        config, "train", training=True, batch_size=train.batch_size, seed=train.seed, data_dir=data_dir)
    if train.strategy != "default":
        train_dataset = strategy.experimental_distribute_dataset(train_dataset)
    train_iterator = iter(train_dataset)
    model = Pix2Pix(config, steps_per_epoch, strategy)
    # A distributed iterator cannot be checkpointed: a resumed distributed run restarts its data order.
    extra = {"data": train_iterator} if train.strategy == "default" else {}
    weights = model.generator.weights + model.discriminator.weights
    run_folder.preflight(workdir, run_folder.checkpoint_bytes(weights), train.keep_checkpoints)
    checkpoints = run_folder.RunCheckpoints(model.checkpoint(**extra), workdir, train.keep_checkpoints, chief,
                                            weights=weights)
    restored = checkpoints.restore()
    if restored:
        logging.info("resumed from %s at step %d", restored, int(model.step.numpy()))
    if chief:
        config.save(config_path)

    val_batch = 1 if config.data.variable_size else max(train.num_samples, 1)
    val_dataset = input_pipeline.make_dataset(
        config, input_pipeline.val_split(config, data_dir), training=False, batch_size=val_batch,
        data_dir=data_dir,
    )
    generate = inference.make_generate_fn(model.generator, train.eval_mode)
    writer = tf.summary.create_file_writer(str(workdir / "tensorboard")) if chief else tf.summary.create_noop_writer()
    step = int(model.step.numpy())
    if chief:
        write_samples = validation.SampleWriter(
            workdir, list(val_dataset.unbatch().take(train.num_samples)), generate, writer, train.eval_mode)
        validate = validation.Validator(
            workdir, val_dataset.unbatch().take(train.val_images).batch(val_batch), generate, writer,
            model.checkpoint(), train.best_metric, resumed_step=step)
    else:
        write_samples = validate = lambda step: None  # noqa: E731

    progress = Progress(last_step, step, train.batch_size)
    logging.info("training from step %d to %d (%d steps per epoch)", step, last_step, steps_per_epoch)
    parts = training_loop.LoopParts(model, train_iterator, checkpoints, writer, progress, write_samples, validate)
    with interrupts.StopRequests() as stop:
        step = training_loop.train_until(parts, step, last_step, stop)
    progress.close()
    tf.summary.trace_off()
    if stop.requested:
        path = checkpoints.save(step) if not checkpoints.has(step) else checkpoints.latest()
        logging.warning("%s at step %d: saved %s; run the same command to resume", stop.requested, step, path)
        return {"step": step, "interrupted": stop.requested, "checkpoint": path}
    if not checkpoints.has(step):
        checkpoints.save(step)
    if not chief:
        return {"step": step}
    write_samples(step)
    return _final_evaluation(workdir, generate, val_dataset, config, step, writer)


def load_generator(workdir: str | os.PathLike, checkpoint: str | None = None) -> tuple[keras.Model, Config]:
    """The generator of a run folder, restored from its latest checkpoint (``checkpoint`` None or
    "latest"), its best one (``"best"``, chosen by validation) or the checkpoint path given.

    Reads ``workdir/config.json`` for the architecture, so no flags are needed.
    Raises ValueError naming the folder when it holds no config or no checkpoint.
    """
    workdir = pathlib.Path(workdir).expanduser()
    config_path = workdir / "config.json"
    if not config_path.exists():
        raise ValueError(f"{workdir} is not a pix2pix_tf run folder: no config.json")
    config = Config.load(config_path)
    folder = workdir / "checkpoints" / (validation.BEST_DIR if checkpoint == "best" else "")
    if checkpoint in (None, "latest", "best"):
        checkpoint = tf.train.latest_checkpoint(str(folder))
    if checkpoint is None:
        raise ValueError(f"{folder} holds no checkpoint")
    generator = models.build_generator(config.model, config.data.image_size)
    try:
        status = tf.train.Checkpoint(generator=generator).restore(checkpoint)
        status.expect_partial().assert_existing_objects_matched()
    except (ValueError, AssertionError, IndexError, tf.errors.OpError) as error:
        # A truncated file surfaces as IndexError or DataLossError, a config that does not fit
        # the weights as a shape ValueError: either way, name both files.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{checkpoint} cannot be restored with the architecture in {config_path} "
                         f"(damaged checkpoint, or a config.json of another run): {reason}") from error
    return generator, config
