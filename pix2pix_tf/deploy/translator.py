"""Translating images of any size with a trained run, a SavedModel or a .tflite file.

``Translator.load(path)`` recognizes what ``path`` is and hides the differences: a run folder
and a SavedModel take any size (padded to the network's multiple, then cropped back); a .tflite
file takes S x S only (S = ``config.data.image_size``), so larger images go through it in
overlapping S x S tiles whose outputs are blended with linear ramps, leaving no seams. The
same tiling bounds the memory a run or SavedModel needs when given ``tile_size``.
"""

from __future__ import annotations

import difflib
import json
import os
import pathlib
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from absl import logging

from pix2pix_tf import images as image_ops
from pix2pix_tf import files, run_folder
from pix2pix_tf.config import TFLITE_PRECISIONS, Config
from pix2pix_tf.data import checks, layout
from pix2pix_tf.deploy import pretrained, saved_model
from pix2pix_tf.models import inference

# What Translator.load accepts, for error messages.
EXPECTED_MODELS = (f"a training run folder ({run_folder.CONFIG} + {run_folder.CHECKPOINTS}/), a SavedModel folder "
                   "(saved_model.pb), an export folder holding saved_model/ or model_<precision>.tflite, or a .tflite file")

# float32 (1, h, w, input_channels) in [-1, 1] -> float32 (1, h, w, output_channels) in [-1, 1].
Forward = Callable[[tf.Tensor], np.ndarray]


def _load_run(workdir: pathlib.Path, mode: str | None, checkpoint: str | None) -> tuple[Forward, Config, str]:
    """A run folder's generator in ``mode`` (default: the mode the run was scored in)."""
    generator, config = run_folder.load_generator(workdir, checkpoint)
    mode = mode or config.train.eval_mode
    generate = inference.make_generate_fn(generator, mode)
    return lambda images: generate(images).numpy(), config, mode


def _load_saved_model(directory: pathlib.Path, mode: str | None) -> tuple[Forward, Config, str]:
    """The SavedModel's float signature: the exported graph, without a round trip through uint8."""
    loaded = saved_model.load_saved_model(directory)
    if mode not in (None, loaded.mode):
        raise ValueError(f"{directory} was exported in mode {loaded.mode!r}, not {mode!r}; "
                         "re-export it, or translate with the run folder")
    return lambda images: loaded.translate_float(images).numpy(), loaded.config, loaded.mode


def _load_tflite(path: pathlib.Path, mode: str | None) -> tuple[Forward, Config, str | None]:
    from pix2pix_tf.deploy import tflite  # LiteRT loads only when a .tflite is used

    config_path = path.parent / run_folder.CONFIG
    if not config_path.exists():
        raise ValueError(f"{path}: no {run_folder.CONFIG} next to it (pix2pix-tf export writes one)")
    report_path = path.parent / saved_model.EXPORT_RECORD
    exported_mode = json.loads(report_path.read_text())["mode"] if report_path.exists() else None
    if mode is not None and exported_mode not in (None, mode):
        raise ValueError(f"{path} was exported in mode {exported_mode!r}, not {mode!r}")
    model = tflite.TFLiteModel(path)
    return lambda images: model.run(np.asarray(images)), Config.load(config_path), exported_mode or mode


def _did_you_mean(path: pathlib.Path) -> str:
    """For a ``path`` that is not there: the names beside it that come close (model_int8.tflite for
    model_int9.tflite), as a sentence to append; "" when nothing comes close."""
    if path.exists() or not path.parent.is_dir():
        return ""
    names = sorted(entry.name for entry in path.parent.iterdir() if not entry.name.startswith("."))
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
    return f". Did you mean {' or '.join(str(path.parent / name) for name in close)}?" if close else ""


def _export_tflite_file(directory: pathlib.Path) -> pathlib.Path | None:
    for precision in TFLITE_PRECISIONS:
        if (directory / f"model_{precision}.tflite").exists():
            return directory / f"model_{precision}.tflite"
    return None


def _ramp(length: int, overlap: int) -> np.ndarray:
    """Blending weights along one tile axis: rising 1..overlap+1 at each end, flat between.

    Two tiles overlapping by ``overlap`` pixels have weights summing to overlap + 1 there, so
    their cross-fade is linear; every weight is positive, so edges covered once keep their value.
    """
    positions = np.arange(length)
    return np.minimum(np.minimum(positions + 1, length - positions), overlap + 1).astype(np.float32)


def _tile_starts(length: int, tile_size: int, overlap: int) -> list[int]:
    """Tile offsets covering 0..length-1; the last tile ends at the edge (overlapping more)."""
    if length <= tile_size:
        return [0]
    return list(range(0, length - tile_size, tile_size - overlap)) + [length - tile_size]


def _checked_pixels(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) or (H, W, 1|3|4) -> uint8 (H, W, 1|3), alpha dropped (a view: nothing copied);
    ValueError naming the shape or dtype of anything else."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., np.newaxis]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4) or 0 in image.shape:
        raise ValueError(f"image of shape {image.shape}: expected (H, W, C) with C = 1, 3 or 4, H and W >= 1")
    if image.dtype != np.uint8:
        raise ValueError(f"image of dtype {image.dtype}: expected uint8 pixels 0..255")
    return image[..., :3]


class Translator:
    """A generator that maps uint8 images of any size to uint8 images of the same size.

    Attributes:
      config: the resolved Config of the model (its image_size, channels, architecture).
      input_channels, output_channels: the generator's channels (1 = gray, 3 = RGB).
      mode: inference mode, "eval" or "paper" (None for a .tflite of unknown origin).
      tile_size: side of the tiles an image larger than it is cut into, or None (whole images).
      source: the SavedModel folder, .tflite file or run folder that ``load`` read, or None.
    """

    def __init__(self, forward: Forward, config: Config, multiple: int, tile_size: int | None = None,
                 mode: str | None = "eval", source: pathlib.Path | None = None):
        """``forward`` takes float32 (1, h, w, C_in) in [-1, 1] with h and w multiples of ``multiple``."""
        if tile_size is not None and tile_size < multiple:
            raise ValueError(f"tile_size={tile_size} is too small: this network needs at least {multiple}")
        self._forward = forward
        self._multiple = multiple
        self.config = config
        self.input_channels = config.model.input_channels
        self.output_channels = config.model.output_channels
        self.mode = mode
        self.tile_size = tile_size
        self.source = source

    @classmethod
    def load(cls, model: str | os.PathLike, mode: str | None = None, tile_size: int | None = None,
             checkpoint: str | None = None) -> Translator:
        """The model at ``model``: a run folder, a SavedModel, an export folder, a .tflite file, or
        the name of a model shipped in the package (``pretrained.names()``).

        Args:
          mode: "eval" or "paper" for a run folder (default eval); for an export, None or the
            mode it was exported in.
          tile_size: translate images larger than this in overlapping tiles of this side. A
            .tflite file always tiles at its fixed input size S, so only None or S are valid.
          checkpoint: of a run folder: None or "latest", "best" (chosen by validation) or a path.

        Raises:
          ValueError naming ``model`` when it is missing or none of the kinds above (listing the
          shipped models when it reads as a name).
        """
        path = pretrained.resolve(model)
        if path.is_file() and path.suffix == ".tflite":
            forward, config, mode = _load_tflite(path, mode)
            size = config.data.image_size
            if tile_size not in (None, size):
                raise ValueError(f"{path} takes {size} x {size} tiles only, not tile_size={tile_size}")
            return cls(forward, config, size, size, mode, path)
        if not path.is_dir():
            raise ValueError(f"{path} does not exist or is not a folder or .tflite file; expected {EXPECTED_MODELS}"
                             + _did_you_mean(path))
        if (path / "saved_model" / "saved_model.pb").exists():
            path = path / "saved_model"
        if (path / "saved_model.pb").exists():
            forward, config, mode = _load_saved_model(path, mode)
            return cls(forward, config, 1, tile_size, mode, path)  # its signature pads and crops back itself
        if run_folder.is_run_folder(path):
            forward, config, mode = _load_run(path, mode, checkpoint)
            return cls(forward, config, image_ops.network_stride(config), tile_size, mode, path)
        if _export_tflite_file(path) is not None:
            return cls.load(_export_tflite_file(path), mode, tile_size)
        raise ValueError(f"{path} holds no model: expected {EXPECTED_MODELS}")

    def _translate_whole(self, images: tf.Tensor) -> np.ndarray:
        """float32 (n, h, w, C_in) in [-1, 1] -> (n, h, w, C_out) in [-1, 1], padded and cropped back."""
        height, width = images.shape[1:3]
        if self._multiple > 1:
            images = image_ops.pad_to_multiple(images, self._multiple)
        outputs = self._forward(images)
        return outputs[:, :height, :width]

    def _model_input(self, pixels: np.ndarray) -> tf.Tensor:
        """uint8 (..., H, W, 1 or 3) -> float32 in [-1, 1] with the model's input channels."""
        return image_ops.to_float(image_ops.to_channels(tf.cast(pixels, tf.float32), self.input_channels))

    def _translate_tiled(self, read_tile: Callable[[int, int, int, int], tf.Tensor], height: int, width: int,
                         emit: Callable[[int, np.ndarray], None]) -> None:
        """Runs the model over overlapping tiles blended with linear ramps (no seams), one band of
        tile rows at a time, so memory is bounded by a band, not by the image.

        ``read_tile(top, bottom, left, right)`` gives float32 (1, h, w, C_in) in [-1, 1];
        ``emit(top, rows)`` receives each run of finished output rows, float32 (n, W, C_out).
        """
        overlap = self.tile_size // 4
        columns = _tile_starts(width, self.tile_size, overlap)
        rows = _tile_starts(height, self.tile_size, overlap)
        carried_total = carried_weight = None  # rows of the last band that the next one overlaps
        for index, top in enumerate(rows):
            bottom = min(top + self.tile_size, height)
            total = np.zeros((bottom - top, width, self.output_channels), np.float32)
            weights = np.zeros((bottom - top, width, 1), np.float32)
            if carried_total is not None:
                total[: len(carried_total)], weights[: len(carried_weight)] = carried_total, carried_weight
            for left in columns:
                right = min(left + self.tile_size, width)
                output = self._translate_whole(read_tile(top, bottom, left, right))[0]
                weight = np.outer(_ramp(bottom - top, overlap), _ramp(right - left, overlap))[..., np.newaxis]
                total[:, left:right] += weight * output
                weights[:, left:right] += weight
            finished = (rows[index + 1] if index + 1 < len(rows) else height) - top
            emit(top, total[:finished] / weights[:finished])
            carried_total, carried_weight = total[finished:], weights[finished:]

    def translate(self, image: np.ndarray) -> np.ndarray:
        """uint8 (H, W, C), C = 1, 3 or 4 (alpha ignored), any H and W -> uint8 (H, W, output_channels).

        Gray and RGB inputs are converted to the model's input channels. Beyond ``tile_size`` the
        image streams through in bands of tiles: besides the uint8 input and output, memory holds
        one band (for a 100-megapixel image, a few hundred MB rather than several GB). Raises
        ValueError naming the shape of any other array.
        """
        pixels = _checked_pixels(image)
        height, width = pixels.shape[:2]

        def model_input(part: np.ndarray) -> tf.Tensor:
            return self._model_input(part)[tf.newaxis]

        if not self._tiles(height, width):
            return image_ops.to_uint8(self._translate_whole(model_input(pixels))[0]).numpy()
        output = np.empty((height, width, self.output_channels), np.uint8)

        def emit(top: int, rows: np.ndarray) -> None:
            output[top : top + len(rows)] = image_ops.to_uint8(rows).numpy()

        self._translate_tiled(lambda top, bottom, left, right: model_input(pixels[top:bottom, left:right]),
                              height, width, emit)
        return output

    def translate_batch(self, images: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W, C) images of one size (video frames), C = 1 or 3 -> uint8 (n, H, W, output_channels).

        One model call for the batch where images go whole (a run or SavedModel below
        ``tile_size``); each image is still translated alone, as by ``translate``: the inference
        modes make an output depend on its image only (the kernels a batch takes may round
        differently: a value can differ by 1 level). Beyond ``tile_size``, image by image.
        """
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.dtype != np.uint8:
            raise ValueError(f"expected uint8 images (n, H, W, 1 or 3), got {images.dtype} {images.shape}")
        height, width = images.shape[1:3]
        if self._tiles(height, width):
            return np.stack([self.translate(image) for image in images])
        return image_ops.to_uint8(self._translate_whole(self._model_input(images))).numpy()

    def translate_float(self, images: tf.Tensor | np.ndarray) -> np.ndarray:
        """float32 (batch, H, W, input_channels) in [-1, 1], any H and W -> (batch, H, W, output_channels).

        Each image goes through the model alone (padded, or tiled beyond ``tile_size``).
        """
        outputs = []
        for image in tf.convert_to_tensor(images, tf.float32):
            height, width = image.shape[:2]
            if not self._tiles(height, width):
                outputs.append(self._translate_whole(image[tf.newaxis])[0])
                continue
            output = np.empty((height, width, self.output_channels), np.float32)
            self._translate_tiled(lambda top, bottom, left, right: image[tf.newaxis, top:bottom, left:right],
                                  height, width, lambda top, rows: output.__setitem__(slice(top, top + len(rows)), rows))
            outputs.append(output)
        return np.stack(outputs)

    def _tiles(self, height: int, width: int) -> bool:
        return self.tile_size is not None and (height > self.tile_size or width > self.tile_size)

    def translate_files(
        self,
        inputs: list[str | os.PathLike],
        output: str | os.PathLike,
        skip_bad: bool = False,
        on_image: Callable[[int, pathlib.Path], None] | None = None,
    ) -> list[pathlib.Path]:
        """Translates image files into ``output/<stem>.png``, each the size of its input; one image
        into ``output`` itself when that is named as a PNG or JPEG file (see ``output_paths``).

        Each file is read and decoded once. One that cannot be used is reported and left out;
        the others are still translated, so no work is lost. Then, unless ``skip_bad``, one
        ValueError names every file left out. Each output is written to a temporary name and
        renamed, so an interrupted run leaves no half-written output.
        ``on_image(index, written_path)`` is called after each image, for progress displays.

        Returns:
          The written paths, in the order of ``inputs``.
        """
        paths = [pathlib.Path(path) for path in inputs]
        outputs = output_paths(paths, output)
        _check_outputs(paths, outputs)
        output_dir = outputs[0].parent if outputs else pathlib.Path(output).expanduser()
        output_dir.mkdir(parents=True, exist_ok=True)
        written, bad = [], []
        for path, output in zip(paths, outputs):
            pixels, problem = checks.read_image(str(path), pixels=True)
            if problem:
                bad.append(f"{files.printable(path)}: {problem}")
                logging.warning("skipping %s", bad[-1])
                continue
            encoded = OUTPUT_ENCODERS[output.suffix.lower()](self.translate(pixels.numpy())).numpy()
            files.write_bytes_atomically(output, encoded)  # two runs never share a temporary file
            written.append(output)
            if on_image is not None:
                on_image(len(written) - 1, output)
        if bad and not skip_bad:
            raise ValueError(f"{len(bad)} unreadable image(s) left out (--skip_bad_images accepts that); "
                             f"the other {len(written)} were translated into {output_dir}:\n  " + "\n  ".join(bad))
        return written


# The image files translate writes, by suffix: lossless PNG, or JPEG at quality 95 with full-resolution colour.
OUTPUT_ENCODERS = {
    ".png": tf.io.encode_png,
    ".jpg": lambda image: tf.io.encode_jpeg(image, quality=95, chroma_downsampling=False),
    ".jpeg": lambda image: tf.io.encode_jpeg(image, quality=95, chroma_downsampling=False),
}


def output_paths(inputs: list[pathlib.Path], output: str | os.PathLike) -> list[pathlib.Path]:
    """Where ``translate_files`` writes: ``output`` itself for one input when it is named as an image
    file (.png, .jpg or .jpeg) and is not a folder; else ``output/<input stem>.png``, one per input.

    Raises ValueError for one input and an ``output`` named as an image format translate does not write.
    """
    output = pathlib.Path(output).expanduser()
    if len(inputs) == 1 and layout.is_image_name(output):
        if output.suffix.lower() not in OUTPUT_ENCODERS:
            raise ValueError(f"--output={output}: translate writes PNG or JPEG; name the file "
                             f"{output.stem}.png or {output.stem}.jpg, or give a folder")
        return [output]
    return [output / f"{path.stem}.png" for path in inputs]


def _check_outputs(inputs: list[pathlib.Path], outputs: list[pathlib.Path]) -> None:
    """ValueError naming two inputs that would write the same file, or an input it would overwrite."""
    writers: dict[pathlib.Path, pathlib.Path] = {}
    for path, output in zip(inputs, outputs):
        if os.path.realpath(output) == os.path.realpath(path):  # realpath: no error on a link loop
            raise ValueError(f"{path}: its output would overwrite it; choose another output folder")
        if output in writers:
            raise ValueError(f"{writers[output]} and {path} would both be written to {output}")
        writers[output] = path
