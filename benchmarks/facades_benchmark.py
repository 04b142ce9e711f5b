"""Quality on real data: façades labels -> photo, photo -> labels, and the paper's loss ablation.

What it measures
----------------
pix2pix's first demonstration is the CMP façades dataset: colour label maps in, photos out. This
script trains that model with the paper's recipe (U-Net 256 + 70x70 PatchGAN, batch 1, Adam 2e-4,
beta1 0.5, lambda = 100, random jitter 286 -> 256 and mirroring, dropout and per-image statistics
at test time) on a budget that fits a small machine, and scores it on the held-out val split:

- ``labels2photo`` (direction BtoA): L1, PSNR and SSIM against the real photos;
- ``photo2labels`` (AtoB), trained the same way: the same scores plus the palette score (every
  output pixel snapped to the nearest of the 12 CMP class colours: pixel accuracy, mean class
  accuracy and class IoU against the true label map), the paper's "FCN-score" idea without an FCN;
- the paper's ablation of the generator's loss (section 4.2), at a smaller size with the same
  budget each: ``ablation_l1`` (L1 only), ``ablation_cgan`` (cGAN only), ``ablation_l1_cgan``
  (both), plus one grid of the same val images from all three;
- ``export``: the labels -> photo generator as SavedModel and TFLite (float32, float16, int8)
  with each TFLite file's parity (PSNR against the SavedModel on val images);
- ``report``: ``results.md`` (the tables, ready for the README), ``facades_grid.png`` (both
  directions on the same val images) and ``ablation_grid.png``.

    python benchmarks/facades_benchmark.py --data=path/to/facades

Every stage resumes: run the same command again after an interruption and finished training is
not repeated. ``--stages`` runs some of them, e.g. ``--stages=ablation,report``.

The budget
----------
The paper trains façades for 200 epochs (70,000 steps). Here ``--epochs`` (default 3: 2 at the
initial learning rate, 1 decaying it linearly to zero, 1,050 steps) is what fits a 2-core CPU in
about 40 minutes per 256 px model; the ablation models train 64 px images for
``--ablation_epochs`` (default 6, 2,100 steps each). Expect blurrier photos than the paper's: they
are what 1.5% of its schedule buys. The numbers are comparable between runs of this script.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

import pix2pix_tf  # noqa: E402
from pix2pix_tf.config import Config  # noqa: E402
from pix2pix_tf.data import pipeline  # noqa: E402
from pix2pix_tf.evaluation import plots  # noqa: E402
from pix2pix_tf.files import write_text_atomically  # noqa: E402

DATA = flags.DEFINE_string("data", None, "The façades folder (train/ and val/ of photo|labels JPEGs).")
WORKDIR = flags.DEFINE_string("workdir", "runs/facades_benchmark", "Where runs, evaluations and the report go.")
STAGES = flags.DEFINE_list(
    "stages", ["labels2photo", "photo2labels", "ablation", "export", "report"],
    "What to run, in order: labels2photo, photo2labels, ablation, export, report.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 256, "Image size of labels2photo and photo2labels (the paper: 256).")
EPOCHS = flags.DEFINE_integer("epochs", 3, "Training epochs of each of those (the last third decays the LR).")
ABLATION_SIZE = flags.DEFINE_integer("ablation_size", 64, "Image size of the ablation models (64 or 128).")
ABLATION_EPOCHS = flags.DEFINE_integer("ablation_epochs", 6, "Training epochs of each ablation model.")
FILTERS = flags.DEFINE_integer("filters", 64, "Base width of G and D in every run (the paper: 64).")
EXPORT_MODE = flags.DEFINE_enum(
    "export_mode", "paper", ["paper", "eval"], "Inference mode of the export (paper: as the scores are computed).")
GRID_IMAGES = flags.DEFINE_integer("grid_images", 6, "Val images (rows) in each grid.")

STAGE_NAMES = ("labels2photo", "photo2labels", "ablation", "export", "report")
# The paper's generator-loss ablation: (G's adversarial weight, L1 weight lambda).
ABLATION = {"ablation_l1": (0.0, 100.0), "ablation_cgan": (1.0, 0.0), "ablation_l1_cgan": (1.0, 100.0)}
ABLATION_TITLES = {"ablation_l1": "L1", "ablation_cgan": "cGAN", "ablation_l1_cgan": "L1 + cGAN"}


def run_config(direction: str, image_size: int, epochs: int, gan_weight: float = 1.0,
               l1_weight: float = 100.0) -> Config:
    """The paper's recipe on ``--data`` with a shortened schedule: 2/3 constant, 1/3 linear decay."""
    config = pix2pix_tf.get_preset("paper")
    decay = max(epochs // 3, 1)
    return config.replace(
        model=dict(filters=FILTERS.value, disc_filters=FILTERS.value),
        data=dict(data=DATA.value, direction=direction, image_size=image_size),
        train=dict(epochs=epochs - decay, decay_epochs=decay, gan_weight=gan_weight, l1_weight=l1_weight,
            val_every=350, checkpoint_every=350, sample_every=350, eval_mode="paper",
        ),
    )


def machine() -> str:
    """The hardware the figures were measured on, in words."""
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
            f"{', GPUs: ' + ', '.join(gpus) if gpus else ', no GPU'}; TensorFlow {tf.__version__}")


def train_and_score(name: str, config: Config, palette: str = "none") -> dict:
    """Trains (or resumes) one run, then scores its final checkpoint on the whole val split.

    Writes ``<workdir>/<name>/`` (the run) and ``<workdir>/<name>/eval_val/`` (metrics.json,
    index.html, grid.png); returns the scores with the training wall time.
    """
    workdir = pathlib.Path(WORKDIR.value) / name
    timing_path = workdir / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.exists() else {"train_seconds": 0.0}
    print(f"== {name}: {config.data.direction} at {config.data.image_size} px, "
          f"{config.train.epochs}+{config.train.decay_epochs} epochs, gan_weight {config.train.gan_weight}, "
          f"l1_weight {config.train.l1_weight} -> {workdir}", flush=True)
    started = time.perf_counter()
    result = pix2pix_tf.train_and_evaluate(config, workdir)
    if result.interrupted:
        raise SystemExit(f"{name} stopped by {result.interrupted}; run the same command to resume")
    if result.step != timing.get("steps"):  # summed over resumed sessions; a finished run adds nothing
        timing["train_seconds"] += time.perf_counter() - started
    timing.update(steps=result.step, machine=machine())
    write_text_atomically(timing_path, json.dumps(timing, indent=2) + "\n")
    # The final weights, not the checkpoint validation liked best: val is also what we report on.
    evaluation, _ = pix2pix_tf.evaluate_model(workdir, palette=palette, mode="paper")
    scores = dict(evaluation.summary, **timing)
    write_text_atomically(workdir / "scores.json", json.dumps(scores, indent=2, sort_keys=True) + "\n")
    print(f"== {name}: " + json.dumps({key: scores[key] for key in ("l1", "psnr", "ssim")}), flush=True)
    return scores


def export_labels2photo() -> dict:
    """The labels -> photo generator as SavedModel + TFLite float32/float16/int8, with parity
    against the SavedModel and each file's own scores on the val split."""
    from pix2pix_tf.deploy import export as exporter

    workdir = pathlib.Path(WORKDIR.value)
    out = workdir / "export"
    started = time.perf_counter()
    report = exporter.export_run(
        workdir / "labels2photo", out, ["saved_model", "tflite_fp32", "tflite_fp16", "tflite_int8"],
        mode=EXPORT_MODE.value, representative_images=64, verify_images=50)
    report["seconds"] = round(time.perf_counter() - started, 1)
    for line in exporter.parity_lines(report["parity"]):
        print(line)
    # What a user of each file gets: the same scores as the run's, computed from the file.
    report["scores"] = {}
    for name, model in [("saved_model", out / "saved_model")] + [
            (precision, out / f"model_{precision}.tflite") for precision in report["parity"]]:
        evaluation, _ = pix2pix_tf.evaluate_model(model, out / f"eval_{name}", log=lambda line: None)
        report["scores"][name] = {key: evaluation.summary[key] for key in ("l1", "psnr", "ssim")}
        print(f"{name}: " + json.dumps(report["scores"][name]), flush=True)
    write_text_atomically(out / "export.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def val_images(name: str, count: int):
    """The first ``count`` val pairs of run ``name`` (its direction and size): inputs, targets."""
    config = Config.load(pathlib.Path(WORKDIR.value) / name / "config.json")
    inputs, targets = next(iter(pipeline.make_dataset(config, "val", training=False, batch_size=count)))
    return inputs.numpy(), targets.numpy()


def ablation_grid(path: pathlib.Path, count: int) -> None:
    """input | L1 | cGAN | L1 + cGAN | target for the first ``count`` val images."""
    from pix2pix_tf.deploy.translator import Translator

    workdir = pathlib.Path(WORKDIR.value)
    inputs, targets = val_images("ablation_l1_cgan", count)
    columns = [("input (labels)", inputs)]
    columns += [(ABLATION_TITLES[name], Translator.load(workdir / name, "paper").translate_float(inputs))
                for name in ABLATION]
    columns.append(("target (photo)", targets))
    plots.save_image_grid(path, columns, f"Loss ablation, façades labels → photo at {inputs.shape[1]} px")


def task_grid(path: pathlib.Path, count: int) -> None:
    """labels | labels → photo | photo | photo → labels for the first ``count`` val images."""
    from pix2pix_tf.deploy.translator import Translator

    workdir = pathlib.Path(WORKDIR.value)
    labels, photos = val_images("labels2photo", count)
    columns = [("labels", labels),
               ("labels → photo", Translator.load(workdir / "labels2photo", "paper").translate_float(labels)),
               ("photo", photos),
               ("photo → labels", Translator.load(workdir / "photo2labels", "paper").translate_float(photos))]
    plots.save_image_grid(path, columns, f"Façades val images at {labels.shape[1]} px (never seen in training)")


def read_scores(name: str) -> dict | None:
    path = pathlib.Path(WORKDIR.value) / name / "scores.json"
    return json.loads(path.read_text()) if path.exists() else None


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def write_report() -> pathlib.Path:
    """``results.md``: one table per experiment, from the scores the other stages wrote."""
    workdir = pathlib.Path(WORKDIR.value)
    lines = ["# pix2pix_tf on façades", ""]
    done = {name: scores for name in ("labels2photo", "photo2labels", *ABLATION) if (scores := read_scores(name))}
    configs = {name: Config.load(workdir / name / "config.json") for name in done}
    if done:
        lines += [f"Machine: {next(iter(done.values()))['machine']}.", ""]
    lines += ["| model | size | steps | train time | L1 ↓ | PSNR ↑ | SSIM ↑ | pixel acc. ↑ | class IoU ↑ |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, scores in done.items():
        palette = (f"{scores['pixel_accuracy']:.3f} | {scores['class_iou']:.3f}"
                   if "pixel_accuracy" in scores else "– | –")
        lines.append(f"| {name} | {configs[name].data.image_size} | {scores['steps']} | {minutes(scores['train_seconds'])} "
                     f"| {scores['l1']:.4f} | {scores['psnr']:.2f} | {scores['ssim']:.3f} | {palette} |")
    # Two trivial answers on the same images: the mean training target, and the input itself.
    baselines = {}
    for name, scores in done.items():
        config = configs[name]
        task = "labels → photo" if config.data.direction == "BtoA" else "photo → labels"
        baselines.setdefault(f"{task}, {config.data.image_size} px", scores)
    lines += ["", "Baselines (L1 / PSNR / SSIM on the same val images):", ""]
    for task, scores in baselines.items():
        lines.append(f"- {task}: mean target {scores['baseline_mean_target_l1']:.4f} / "
                     f"{scores['baseline_mean_target_psnr']:.2f} / {scores['baseline_mean_target_ssim']:.3f}; "
                     f"input itself {scores['baseline_identity_l1']:.4f} / "
                     f"{scores['baseline_identity_psnr']:.2f} / {scores['baseline_identity_ssim']:.3f}")
    export_path = workdir / "export" / "export.json"
    if export_path.exists():
        export = json.loads(export_path.read_text())
        lines += ["", f"labels2photo exported ({export['mode']} mode):", "",
                  "| file | size | PSNR vs SavedModel | max abs diff | L1 ↓ | PSNR ↑ | SSIM ↑ |",
                  "|---|---|---|---|---|---|---|"]
        for name in ("saved_model", "float32", "float16", "dynamic_int8", "int8"):
            if name not in export["scores"]:
                continue
            scores = export["scores"][name]
            if name == "saved_model":
                size, parity = export["files"]["saved_model"], "(reference) | –"
            else:
                size, result = export["files"][f"model_{name}.tflite"], export["parity"][name]
                parity = f"{result['psnr']:.1f} dB | {result['max_abs_diff']:.3f}"
            lines.append(f"| {'SavedModel' if name == 'saved_model' else 'TFLite ' + name} | {size / 1e6:.0f} MB "
                         f"| {parity} | {scores['l1']:.4f} | {scores['psnr']:.2f} | {scores['ssim']:.3f} |")
    path = workdir / "results.md"
    write_text_atomically(path, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return path


def main(argv: list[str]) -> None:
    del argv
    unknown = set(STAGES.value) - set(STAGE_NAMES)
    if unknown:
        raise app.UsageError(f"--stages: unknown {sorted(unknown)}; choose from {', '.join(STAGE_NAMES)}")
    if not DATA.value or not (pathlib.Path(DATA.value) / "train").is_dir():
        raise app.UsageError(f"--data={DATA.value!r} must be the façades folder, holding train/ and val/")
    # The paper's task: label maps (right half, B) in, photos (left half, A) out.
    if "labels2photo" in STAGES.value:
        train_and_score("labels2photo", run_config("BtoA", IMAGE_SIZE.value, EPOCHS.value))
    if "photo2labels" in STAGES.value:
        train_and_score("photo2labels", run_config("AtoB", IMAGE_SIZE.value, EPOCHS.value), palette="facades")
    if "ablation" in STAGES.value:
        for name, (gan_weight, l1_weight) in ABLATION.items():
            train_and_score(name, run_config("BtoA", ABLATION_SIZE.value, ABLATION_EPOCHS.value, gan_weight, l1_weight))
    if "export" in STAGES.value:
        export_labels2photo()
    if "report" in STAGES.value:
        if all(read_scores(name) for name in ABLATION):
            ablation_grid(pathlib.Path(WORKDIR.value) / "ablation_grid.png", GRID_IMAGES.value)
        if read_scores("labels2photo") and read_scores("photo2labels"):
            task_grid(pathlib.Path(WORKDIR.value) / "facades_grid.png", GRID_IMAGES.value)
        print(f"wrote {write_report()}")


if __name__ == "__main__":
    flags.mark_flag_as_required("data")
    app.run(main)
