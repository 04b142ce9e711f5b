"""From a training run to deployable files: SavedModel and TFLite, checked against each other.

``export_run(workdir, output)`` is what ``pix2pix-tf export`` runs: it loads the run's generator
(the architecture comes from ``workdir/config.json``), writes every requested format of its
deterministic, batch-independent inference graph (``models.inference``; by default in the mode
the run was scored in), and ends with the parity check of each TFLite model against the float
graph on real validation images. ``export_site(models, output)`` puts exported models (one or
several, to choose from) into a static web site (``--formats=web --model=...``).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from pix2pix_tf import images as image_ops
from pix2pix_tf import run_folder
from pix2pix_tf.config import Config, check_choice
from pix2pix_tf.data import pipeline
from pix2pix_tf.deploy import saved_model, tflite, web
from pix2pix_tf.files import write_text_atomically
from pix2pix_tf.models.inference import inference_generator

try:
    import resource
except ImportError:  # Windows: no peak memory figure
    resource = None

# Format name on the command line -> TFLite precision (None: the SavedModel).
FORMATS = {
    "saved_model": None,
    "tflite_fp32": "float32",
    "tflite_fp16": "float16",
    "tflite_dynamic_int8": "dynamic_int8",
    "tflite_int8": "int8",
    "web": "float16",  # the float16 file in a static site: the drawing page computing in the browser (web.py)
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


def site_line(out: pathlib.Path, sizes: dict) -> str:
    """What the web site is and what a browser downloads from it (``sizes``: ``web.write_site``'s)."""
    others = max(len(sizes.get("models", {})) - 1, 0)
    choice = {0: "", 1: " it opens on, and the other one when chosen"}.get(
        others, f" it opens on, and each of the {others} others when chosen")
    return (f"{out / 'index.html'}: the drawing page; a browser downloads {sizes['page'] / 1e6:.2f} MB of page, "
            f"{sizes['runtime'] / 1e6:.1f} MB of LiteRT.js and the {sizes['model'] / 1e6:.1f} MB model{choice}; "
            f"serve the folder from any static host (e.g. python -m http.server -d {out})")


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
    say: Callable[[str], None] = logging.info,
) -> dict:
    """Exports the generator of ``workdir`` into ``out`` and verifies the TFLite files.

    ``mode``: the inference mode; default the run's ``eval_mode``, the mode it was scored in.
    ``checkpoint``: None or "latest", "best" (chosen by validation) or a checkpoint path.
    ``data``: where the run's data is now, if it moved (checked against the run's ``data.json``).
    ``say``: called with a line as each stage (SavedModel, each TFLite precision, parity) starts
    and ends; the end line has its seconds, size and the peak memory so far.

    Writes ``out/saved_model/``, ``out/model_<precision>.tflite``, ``out/config.json`` and
    ``out/export.json`` (sizes and parity); for "web", also the page around the float16 file
    (``web.write_site``) and a validation input as ``out/example.png``. int8 is calibrated on ``representative_images``
    training images; parity is measured on ``verify_images`` validation images. The files are
    written into a hidden folder beside ``out`` that replaces ``out`` only when complete: a killed
    export never leaves a half-written one. Returns the contents of ``export.json``;
    ``report["passed"]`` is False when a format falls below its parity threshold.
    """
    formats = check_formats(list(formats))
    out = output_folder(out)
    generator, config = run_folder.load_generator(workdir, checkpoint)
    config, data_dir = pipeline.with_data(config, data, pathlib.Path(workdir).expanduser() / run_folder.DATA_RECORD)
    mode = mode or config.train.eval_mode
    staging = _staging_folder(out)
    try:
        report = _write_export(generator, config, data_dir, mode, formats, staging, representative_images,
                               verify_images, say, out.name)
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def export_site(models: str | os.PathLike | Sequence[str | os.PathLike], out: str | os.PathLike) -> dict:
    """Writes the static site of one exported model or several (``web.write_site``) into ``out``.

    ``models``: each a .tflite file beside its config.json, or a folder holding one (an export, or a
    shipped model by name or folder, with its example*.png and card.json); the page opens on the
    first and offers the others by their cards' titles. Returns the contents of the ``export.json``
    written beside the page: the first model's mode and image size, the site's model files (paths
    relative to ``out``) and, under "web", the bytes a browser downloads ({"page", "runtime",
    "model", "models"}). Raises ValueError when a model has no .tflite file, two have one name, or
    ``out`` is a model's folder or holds other files.
    """
    from pix2pix_tf.deploy.translator import Translator

    models = [models] if isinstance(models, (str, os.PathLike)) else list(models)
    translators = [Translator.load(model) for model in models]
    pages = [web.PageModel.of(translator.source, translator.config, translator.mode, limited=False)
             for translator in translators]
    for page in pages:
        if page.folder is not None and page.folder.resolve() == pathlib.Path(out).expanduser().resolve():
            raise ValueError(f"--output {out} is the folder of model {page.name}; write the site into another folder")
    out = output_folder(out, site=True)
    first = translators[0]
    report = {"mode": first.mode, "image_size": first.config.data.image_size, "passed": True}
    staging = _staging_folder(out)
    try:
        report["web"] = web.write_site(staging, pages)
        report["files"] = {folder + path.name: path.stat().st_size
                           for page, folder in zip(pages, web.site_folders(pages)) for path in page.model_files()}
        write_text_atomically(staging / saved_model.EXPORT_RECORD, json.dumps(report, indent=2, sort_keys=True) + "\n")
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


@contextlib.contextmanager
def _stage(name: str, say: Callable[[str], None]) -> Iterator[list[str]]:
    """Says ``name`` as it starts and, when done, its seconds, what the block appended to the list
    it is given, and the process's peak memory so far (the stage that raises it is the one that needs it)."""
    say(f"export: {name} ...")
    started, notes = time.perf_counter(), []
    yield notes
    if resource is not None:  # ru_maxrss: KiB on Linux, bytes on macOS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        notes.append(f"peak memory so far {peak / 2**30:.1f} GiB")
    say(f"export: {name}: " + ", ".join([f"{time.perf_counter() - started:.1f} s", *notes]))


def _write_export(generator, config: Config, data_dir, mode: str, formats: list[str], out: pathlib.Path,
                  representative_images: int, verify_images: int, say: Callable[[str], None], name: str) -> dict:
    """Writes every requested format of ``generator`` in ``mode`` into ``out``, the staging folder of
    the export folder called ``name``, saying each stage as it runs; returns the report."""
    report: dict = {"mode": mode, "image_size": config.data.image_size, "files": {}}
    if "saved_model" in formats:
        with _stage("SavedModel", say) as notes:
            path = saved_model.export_saved_model(generator, config, out / "saved_model", mode)
            report["files"]["saved_model"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            notes.append(f"{report['files']['saved_model'] / 1e6:.1f} MB")
    precisions = list(dict.fromkeys(FORMATS[fmt] for fmt in formats if FORMATS[fmt]))
    if precisions:
        inference = inference_generator(generator, mode)
        calibration = dataset_images(config, "train", representative_images) if "int8" in precisions else None
        models = {}
        for precision in precisions:
            calibrated = f" (calibrated on {len(calibration)} training images)" if precision == "int8" else ""
            with _stage(f"TFLite {precision}{calibrated}", say) as notes:
                models[precision] = out / f"model_{precision}.tflite"
                models[precision].write_bytes(tflite.convert(inference, config.data.image_size, precision, calibration))
                report["files"][models[precision].name] = models[precision].stat().st_size
                notes.append(f"{report['files'][models[precision].name] / 1e6:.1f} MB")
        images = dataset_images(config, pipeline.val_split(config, data_dir), verify_images)
        with _stage(f"parity of each TFLite file against the float graph on {len(images)} validation images", say):
            report["parity"] = tflite.verify(inference, models, images)
    report["passed"] = all(result["passed"] for result in report.get("parity", {}).values())
    config.save(out / run_folder.CONFIG)
    if "web" in formats:  # the page opens on a validation input
        tf.io.write_file(str(out / "example.png"), tf.io.encode_png(image_ops.to_uint8(images[0])))
        page = web.PageModel.of(out / "model_float16.tflite", config, mode, limited=False)
        report["web"] = web.write_site(out, dataclasses.replace(page, name=name))
    write_text_atomically(out / saved_model.EXPORT_RECORD, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def output_folder(out: str | os.PathLike, site: bool = False) -> pathlib.Path:
    """The folder an export to ``out`` replaces: ``out`` itself, or where it links to (the link is
    kept). ValueError when it is a file or holds something that is not an export, or, for a web
    ``site`` made of exported models, an export that is not a site (the models it is made of, say)."""
    out = pathlib.Path(out).expanduser().absolute()
    if out.is_symlink():
        out = pathlib.Path(os.path.realpath(out))
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output {out} is a file; give a folder to write the export into")
    record = out / saved_model.EXPORT_RECORD
    if out.exists() and any(out.iterdir()) and not record.exists():
        raise ValueError(f"--output {out} exists and is not an export folder (no {saved_model.EXPORT_RECORD}); "
                         "choose a new or empty folder")
    if site and record.exists() and "web" not in _read_record(record):
        raise ValueError(f"--output {out} holds an exported model, not a web site; choose a new or empty folder")
    return out


def _read_record(path: pathlib.Path) -> dict:
    """An export.json as data ({} when it is not a JSON object: damaged, so not to be trusted as a site)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _staging_folder(out: pathlib.Path) -> pathlib.Path:
    """A new hidden folder beside ``out`` for this export; those left by killed exports are removed."""
    prefix = f".{out.name}.partial-"
    for stale in out.parent.glob(f"{prefix}*"):
        pid = stale.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        folder = pathlib.Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=out.parent))
    except OSError as error:  # the export is written beside --output, then renamed onto it
        raise ValueError(f"--output {out}: cannot write in {out.parent} ({error.strerror or error})") from None
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)  # mkdtemp's 0700 would become the export's: a web server could not read the site
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_RENAME_EXCHANGE = 2  # renameat2's flag (Linux >= 3.15): swap two paths in one step
_AT_FDCWD = -100


def _exchange(first: pathlib.Path, second: pathlib.Path) -> bool:
    """Swaps two existing paths in one step; False where the system cannot (no renameat2, or a file
    system without RENAME_EXCHANGE)."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(number, os.strerror(number), str(second))


def replace_folder(new: pathlib.Path, out: pathlib.Path) -> None:
    """Puts the complete folder ``new`` at ``out`` in one step, so that ``out`` always holds a whole
    export: renamed there when ``out`` is absent, else swapped with it (the old export, then in
    ``new``, is removed). Two exports at once both succeed; the last one stays. Where the system
    cannot swap, ``out`` is moved aside first (two renames)."""
    while True:
        try:
            new.rename(out)
            return
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        if _exchange(new, out):
            shutil.rmtree(new, ignore_errors=True)
            return
        aside = pathlib.Path(tempfile.mkdtemp(prefix=f"{new.name}-old-", dir=out.parent))  # removed if stale
        try:
            out.rename(aside / out.name)
        except FileNotFoundError:  # another export moved it first: try again
            aside.rmdir()
            continue
        new.rename(out)
        shutil.rmtree(aside, ignore_errors=True)
        return


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
