"""Watching a run's numbers: steps with NaN or infinite losses, and a discriminator that has won."""

from __future__ import annotations

from absl import logging

from pix2pix_tf.config import NONFINITE_MODES, check_choice


class NonFiniteLossError(ValueError):
    """A loss or gradient was NaN or infinite and the run was told to stop (``--nonfinite=stop``)."""


class RunHealth:
    """Checks every step's scalars (``Pix2Pix.train_step``'s) for trouble.

    - ``nonfinite``: the step skipped an update because a loss or gradient was not finite. With
      mode "stop" this raises NonFiniteLossError (no checkpoint is written after it, so the last
      good one stays the newest); with "skip" the step is counted and training goes on.
    - A discriminator loss below ``collapse_loss`` at ``collapse_checks`` logged steps in a row
      means D separates real from generated pairs perfectly and G learns little from it: logged
      once as a warning.
    """

    def __init__(self, mode: str = "stop", latest_checkpoint=lambda: None, collapse_loss: float = 0.01,
                 collapse_checks: int = 5):
        check_choice("nonfinite", mode, NONFINITE_MODES)
        self.mode = mode
        self.latest_checkpoint = latest_checkpoint
        self.collapse_loss, self.collapse_checks = collapse_loss, collapse_checks
        self.skipped_steps = 0
        self._low_checks = 0
        self.collapse_reported = False

    def after_step(self, step: int, scalars: dict) -> None:
        """Raises NonFiniteLossError (mode "stop") or counts the step (mode "skip") when it skipped an update."""
        if not float(scalars.get("nonfinite", 0.0)):
            return
        losses = ", ".join(f"{name} {float(value):.4g}" for name, value in scalars.items()
                           if name in ("d_loss", "g_loss", "g_gan", "g_recon"))
        if self.mode == "stop":
            raise NonFiniteLossError(
                f"non-finite loss or gradients at step {step} ({losses}); stopped without saving, so the last "
                f"good checkpoint stays {self.latest_checkpoint()}. Lower --learning_rate, check the data, "
                "or pass --nonfinite=skip to skip such steps")
        self.skipped_steps += 1
        logging.warning("step %d: non-finite loss or gradients (%s); update skipped (%d so far)",
                        step, losses, self.skipped_steps)

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
