"""What train and distill print when a run ends: its scores and where its files are."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

from pix2pix_tf import run_folder

if TYPE_CHECKING:  # (not at run time: --help answers without loading TensorFlow)
    from pix2pix_tf.training.train import TrainResult


def print_results(result: TrainResult, workdir: pathlib.Path, command: str) -> None:
    """What a finished (or interrupted) run of ``command`` reports: scores and where its files are."""
    if result.interrupted:
        print(f"stopped by {result.interrupted} at step {result.step}; checkpoint {result.checkpoint}"
              f"\nresume with the same command (pix2pix-tf {command} --workdir={workdir} ...)")
        return
    if result.metrics is None:  # a worker of a distributed run: the chief reports
        return
    scores = result.metrics
    print(
        f"val ({scores['eval_mode']} mode, {scores['images']} images): L1 {scores['l1']:.4f}, "
        f"PSNR {scores['psnr']:.2f} dB | baselines: mean target L1 {scores['baseline_mean_target_l1']:.4f}"
        + (f", identity L1 {scores['baseline_identity_l1']:.4f}" if "baseline_identity_l1" in scores else "")
        + f"\nsamples: {workdir / run_folder.SAMPLES}   metrics: {workdir / run_folder.METRICS}"
        + _validation_files(workdir)
        + f"\nTensorBoard: tensorboard --logdir {workdir / run_folder.TENSORBOARD}   "
        f"curves: pix2pix-tf plot --workdir={workdir}"
        + f"\nreport with pictures: pix2pix-tf evaluate --workdir={workdir}"
    )


def _validation_files(workdir: pathlib.Path) -> str:
    """Where validation wrote, when it ran (not when ``--val_every`` exceeds the run's steps)."""
    found = ""
    if (workdir / run_folder.VALIDATION_CSV).exists():
        found += f"   validation: {workdir / run_folder.VALIDATION_CSV}"
    if (workdir / run_folder.CHECKPOINTS / run_folder.BEST / run_folder.BEST_RECORD).exists():
        found += f" (best checkpoint: {workdir / run_folder.CHECKPOINTS / run_folder.BEST})"
    return found
