"""From a training run to deployable files: SavedModel and TFLite, checked against each other.

``export_run(workdir, output)`` is what ``pix2pix-tf export`` runs: it loads the run's generator
(the architecture comes from ``workdir/config.json``), writes every requested format of its
deterministic, batch-independent inference graph (``models.inference``; by default in the mode
the run was scored in), and ends with the parity check of each TFLite model against the float
graph on real validation images.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import numpy as np
import tensorflow as tf

from pix2pix_tf import run_folder
from pix2pix_tf.config import Config, check_choice
from pix2pix_tf.data import pipeline
from pix2pix_tf.deploy import saved_model, tflite
from pix2pix_tf.files import write_text_atomically
from pix2pix_tf.models.inference import inference_generator

# Format name on the command line -> TFLite precision (None: the SavedModel).
FORMATS = {
    "saved_model": None,
    "tflite_fp32": "float32",
    "tflite_fp16": "float16",
    "tflite_dynamic_int8": "dynamic_int8",
    "tflite_int8": "int8",
}


def check_formats(formats: list[str]) -> list[str]:
    """The formats, or ValueError naming the first unknown one and the choices."""
    if not formats:
        raise ValueError(f"--formats: none given; choose from: {', '.join(FORMATS)}")
    for name in formats:
        check_choice("--formats", name, FORMATS)
    return formats


def parity_lines(results: dict[str, dict]) -> list[str]:
    """One line per TFLite precision: PSNR against its threshold, max difference, verdict."""
    return [
        f"parity {precision:>12}: PSNR {result['psnr']:6.2f} dB (>= {result['threshold']:.0f}), "
        f"max |diff| {result['max_abs_diff']:.4f}  {'ok' if result['passed'] else 'BELOW THRESHOLD'}"
        for precision, result in results.items()
    ]


def dataset_images(config: Config, split: str, count: int) -> np.ndarray:
    """Up to ``count`` un-jittered input images of a split: float32 [N, S, S, C] in [-1, 1], S the
    image size (images that keep their own size, ``--preprocess=scale_width|none``, are cropped or
    padded to it: a TFLite file takes S x S)."""
    size = config.data.image_size
    dataset = pipeline.make_dataset(config, split, training=False, batch_size=1).take(count)
    return np.stack([tf.image.resize_with_crop_or_pad(inputs[0], size, size).numpy() for inputs, _ in dataset])


def export_run(
    workdir: str | os.PathLike,
    out: str | os.PathLike,
    formats: list[str] = ("saved_model", "tflite_fp16", "tflite_int8"),
    mode: str | None = None,
    representative_images: int = 64,
    verify_images: int = 16,
    checkpoint: str | None = None,
    data: str | None = None,
) -> dict:
    """Exports the generator of ``workdir`` into ``out`` and verifies the TFLite files.

    ``mode``: the inference mode; default the run's ``eval_mode``, the mode it was scored in.
    ``checkpoint``: None or "latest", "best" (chosen by validation) or a checkpoint path.
    ``data``: where the run's data is now, if it moved (checked against the run's ``data.json``).

    Writes ``out/saved_model/``, ``out/model_<precision>.tflite``, ``out/config.json`` and
    ``out/export.json`` (sizes and parity). int8 is calibrated on ``representative_images``
    training images; parity is measured on ``verify_images`` validation images. The files are
    written into a hidden folder beside ``out`` that replaces ``out`` only when complete: a killed
    export never leaves a half-written one. Returns the contents of ``export.json``;
    ``report["passed"]`` is False when a format falls below its parity threshold.
    """
    formats = check_formats(list(formats))
    out = pathlib.Path(out).expanduser().absolute()
    if out.exists() and any(out.iterdir()) and not (out / saved_model.EXPORT_RECORD).exists():
        raise ValueError(f"--output {out} exists and is not an export folder (no {saved_model.EXPORT_RECORD}); "
                         "choose a new or empty folder")
    generator, config = run_folder.load_generator(workdir, checkpoint)
    config, data_dir = pipeline.with_data(config, data, pathlib.Path(workdir).expanduser() / run_folder.DATA_RECORD)
    mode = mode or config.train.eval_mode
    staging = _staging_folder(out)
    try:
        report = _write_export(generator, config, data_dir, mode, formats, staging, representative_images,
                               verify_images)
        _replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _write_export(generator, config: Config, data_dir, mode: str, formats: list[str], out: pathlib.Path,
                  representative_images: int, verify_images: int) -> dict:
    """Writes every requested format of ``generator`` in ``mode`` into ``out``; returns the report."""
    report: dict = {"mode": mode, "image_size": config.data.image_size, "files": {}}
    if "saved_model" in formats:
        path = saved_model.export_saved_model(generator, config, out / "saved_model", mode)
        report["files"]["saved_model"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    precisions = [FORMATS[name] for name in formats if FORMATS[name]]
    if precisions:
        inference = inference_generator(generator, mode)
        calibration = dataset_images(config, "train", representative_images) if "int8" in precisions else None
        models = {}
        for precision in precisions:
            models[precision] = tflite.convert(inference, config.data.image_size, precision, calibration)
            (out / f"model_{precision}.tflite").write_bytes(models[precision])
            report["files"][f"model_{precision}.tflite"] = len(models[precision])
        images = dataset_images(config, pipeline.val_split(config, data_dir), verify_images)
        report["parity"] = tflite.verify(inference, models, images)
    report["passed"] = all(result["passed"] for result in report.get("parity", {}).values())
    config.save(out / run_folder.CONFIG)
    write_text_atomically(out / saved_model.EXPORT_RECORD, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def _staging_folder(out: pathlib.Path) -> pathlib.Path:
    """A new hidden folder beside ``out`` for this export; those left by killed exports are removed."""
    for stale in out.parent.glob(f".{out.name}.partial-*"):
        pid = stale.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replace_folder(new: pathlib.Path, out: pathlib.Path) -> None:
    """Puts the complete folder ``new`` at ``out``, replacing an earlier export there."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def verify_folder(out: str | os.PathLike, data: str | None = None, verify_images: int = 16) -> dict:
    """Parity of every ``model_*.tflite`` in an export folder against its SavedModel.

    The reference is the SavedModel's float signature; the images come from the validation split
    of the data recorded in the exported config (or ``data``, a folder or ``tfds:`` name).
    Returns precision -> {"psnr", "max_abs_diff", "threshold", "passed"}.
    """
    out = pathlib.Path(out).expanduser()
    if (out / "saved_model.pb").exists():  # the export's saved_model/ itself was named
        out = out.parent
    saved = saved_model.load_saved_model(out / "saved_model")
    config, data_dir = pipeline.with_data(saved.config, data)
    models = {path.stem.removeprefix("model_"): path.read_bytes() for path in sorted(out.glob("model_*.tflite"))}
    if not models:
        raise ValueError(f"{out} holds no model_*.tflite files to verify")
    images = dataset_images(config, pipeline.val_split(config, data_dir), verify_images)
    return tflite.compare(saved.translate_float(images).numpy(), models, images)
