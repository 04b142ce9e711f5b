"""What train and distill print when a run ends: its scores and where its files are."""

from __future__ import annotations

import pathlib

from pix2pix_tf import run_folder


def print_results(results: dict, workdir: pathlib.Path, command: str) -> None:
    """What a finished (or interrupted) run of ``command`` reports: scores and where its files are."""
    if "interrupted" in results:
        print(f"stopped by {results['interrupted']} at step {results['step']}; checkpoint {results['checkpoint']}"
              f"\nresume with the same command (pix2pix-tf {command} --workdir={workdir} ...)")
        return
    print(
        f"val ({results['eval_mode']} mode, {results['images']} images): L1 {results['l1']:.4f}, "
        f"PSNR {results['psnr']:.2f} dB | baselines: mean target L1 {results['baseline_mean_target_l1']:.4f}"
        + (f", identity L1 {results['baseline_identity_l1']:.4f}" if "baseline_identity_l1" in results else "")
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
