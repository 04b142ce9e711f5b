"""Watching a run's numbers: steps with NaN or infinite losses or statistics, and a discriminator that has won."""

from __future__ import annotations

import tensorflow as tf
from absl import logging

from pix2pix_tf.config import NONFINITE_MODES, check_choice


class NonFiniteLossError(ValueError):
    """A loss, gradient or moving statistic was NaN or infinite and the run was told to stop (``--nonfinite=stop``)."""


def nonfinite_names(variables: list[tf.Variable]) -> list[str]:
    """The names of the floating-point variables holding a NaN or an infinity."""
    return [getattr(variable, "path", variable.name) for variable in variables
            if tf.as_dtype(variable.dtype).is_floating and not bool(tf.reduce_all(tf.math.is_finite(variable)))]


class _Statistics:
    """Batch norm's moving means and variances: updated by every step outside the gradients the step
    checks, so finite losses can still leave an infinite variance (activations that overflow).
    Checked in one call; with ``keep``, their last finite values are kept to be put back."""

    def __init__(self, variables: list[tf.Variable], keep: bool):
        self.variables = [variable for variable in variables if tf.as_dtype(variable.dtype).is_floating]
        self._finite = tf.function(lambda: tf.reduce_all(
            tf.stack([tf.reduce_all(tf.math.is_finite(variable)) for variable in self.variables])))
        # tf.convert_to_tensor: Keras 3 layers' variables (keras.Variable) have no read_value.
        self._kept = [tf.Variable(tf.convert_to_tensor(variable), trainable=False) for variable in self.variables] if keep else []

    def finite(self) -> bool:
        """Whether every statistic is finite; if so, their values are kept (with ``keep``)."""
        if not self.variables or bool(self._finite()):
            for kept, variable in zip(self._kept, self.variables):
                kept.assign(variable)
            return True
        return False

    def put_back(self) -> None:
        for kept, variable in zip(self._kept, self.variables):
            variable.assign(kept)


class RunHealth:
    """Checks every step's scalars (``Pix2Pix.train_step``'s) for trouble.

    - ``nonfinite``: the step skipped an update because a loss or gradient was not finite. With
      mode "stop" this raises NonFiniteLossError (no checkpoint is written after it, so the last
      good one stays the newest); with "skip" the step is counted, ``statistics`` are put back to
      their values before it, and training goes on.
    - ``statistics`` (batch norm's moving means and variances) that became NaN or infinite: mode
      "stop" raises NonFiniteLossError naming them; "skip" puts back their values from before the
      step and counts it.
    - A discriminator loss below ``collapse_loss`` at ``collapse_checks`` logged steps in a row
      means D separates real from generated pairs perfectly and G learns little from it: logged
      once as a warning.
    """

    def __init__(self, mode: str = "stop", latest_checkpoint=lambda: None, collapse_loss: float = 0.01,
                 collapse_checks: int = 5, statistics: list[tf.Variable] = ()):
        check_choice("nonfinite", mode, NONFINITE_MODES)
        self.mode = mode
        self._statistics = _Statistics(list(statistics), keep=mode == "skip")
        self.latest_checkpoint = latest_checkpoint
        self.collapse_loss, self.collapse_checks = collapse_loss, collapse_checks
        self.skipped_steps = 0
        self._low_checks = 0
        self.collapse_reported = False

    def after_step(self, step: int, scalars: dict) -> None:
        """Raises NonFiniteLossError (mode "stop") or counts the step (mode "skip") when it skipped an
        update or left a statistic non-finite."""
        if not float(scalars.get("nonfinite", 0.0)):
            self._check_statistics(step)
            return
        losses = ", ".join(f"{name} {float(value):.4g}" for name, value in scalars.items()
                           if name in ("d_loss", "g_loss", "g_gan", "g_recon"))
        if self.mode == "stop":
            raise NonFiniteLossError(
                f"non-finite loss or gradients at step {step} ({losses}); stopped without saving, so "
                f"{self._last_good()}. Lower --learning_rate, check the data, or pass --nonfinite=skip to skip such steps")
        self._statistics.put_back()  # the skipped step's forward passes moved them (to NaN, often)
        self.skipped_steps += 1
        logging.warning("step %d: non-finite loss or gradients (%s); update skipped (%d so far)",
                        step, losses, self.skipped_steps)

    def _last_good(self) -> str:
        latest = self.latest_checkpoint()
        return f"the last good checkpoint stays {latest}" if latest else "no checkpoint was written"

    def _check_statistics(self, step: int) -> None:
        if self._statistics.finite():
            return
        bad = nonfinite_names(self._statistics.variables)
        named = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        if self.mode == "stop":
            raise NonFiniteLossError(
                f"non-finite batch-norm statistics at step {step} ({named}) although the losses were finite; "
                f"stopped without saving, so {self._last_good()}. Lower --learning_rate, check the data, or pass "
                "--nonfinite=skip to skip such steps")
        self._statistics.put_back()
        self.skipped_steps += 1
        logging.warning("step %d: non-finite batch-norm statistics (%s); put back their values from before it "
                        "(%d steps skipped so far)", step, named, self.skipped_steps)

    def after_log(self, step: int, values: dict[str, float]) -> None:
        """Reports, once, a discriminator loss near 0 at ``collapse_checks`` logged steps in a row."""
        if "d_loss" not in values:
            return
        self._low_checks = self._low_checks + 1 if values["d_loss"] < self.collapse_loss else 0
        if self._low_checks >= self.collapse_checks and not self.collapse_reported:
            self.collapse_reported = True
            logging.warning(
                "step %d: the discriminator has won (d_loss < %g at the last %d logged steps): it tells "
                "real from generated pairs perfectly, so G's adversarial gradient carries little. Expect "
                "artefacts; try a lower D learning rate, --gan_loss=lsgan, or an earlier (best) checkpoint.",
                step, self.collapse_loss, self._low_checks)
