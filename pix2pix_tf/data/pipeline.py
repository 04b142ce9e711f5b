"""Paired images to ``tf.data``: every source yields the same element spec.

Sources: a folder in any layout of ``data.layout`` (A|B files, or A/ and B/ folders), a folder of
plain photos with ``--task`` (pairs made on the fly), a TFDS build (``tfds:pix2pix/NAME``), or
the built-in synthetic façades. Batches are ``(input_image, target_image)``, float32
(batch, H, W, channels) in [-1, 1].
"""

from __future__ import annotations

import functools
import os
import pathlib

import tensorflow as tf
from absl import logging

from pix2pix_tf import images
from pix2pix_tf.config import Config, DataConfig
from pix2pix_tf.data import layout
from pix2pix_tf.files import read_json

TFDS_PREFIX = "tfds:"


def resolve_data_dir(data_config: DataConfig) -> pathlib.Path | str:
    """The dataset: ``data_config.data`` (a folder or ``tfds:pix2pix/NAME``), or the built-in façades.

    The built-in pairs are rendered at the training size (as façades come at 256 px for 256 px
    training): a 64 px run then decodes 64 px files instead of shrinking 256 px ones every step.
    Each size has its own cache folder, so switching sizes never re-renders.
    """
    if data_config.data.startswith(TFDS_PREFIX):
        return data_config.data
    if data_config.data:
        return pathlib.Path(data_config.data).expanduser()
    from pix2pix_tf.data import synthetic

    size = data_config.image_size
    return synthetic.make_synthetic_dataset(synthetic.default_data_dir() / f"{size}px", image_size=size)


def _tfds_name(data: str) -> str:
    name = data[len(TFDS_PREFIX):]
    return name.split("/", 1)[1] if name.startswith("pix2pix/") else name


def _resize(image: tf.Tensor, height, width) -> tf.Tensor:
    """Bicubic resize (the reference's PIL BICUBIC), antialiased: uint8 or float pixels in, float32
    clipped to [0, 255] out."""
    resized = tf.image.resize(image, tf.stack([height, width]), method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def _load_side_by_side(path, pixels: bool):
    image = images.decode(path, pixels)
    half = tf.shape(image)[1] // 2
    return image[:, :half], image[:, half : 2 * half]


def _load_separate(a_path, b_path, pixels: bool):
    a, b = images.decode(a_path, pixels), images.decode(b_path, pixels)
    shape = tf.shape(a)

    def follow_a():  # B follows A's size if the two differ
        resized = _resize(b, shape[0], shape[1])
        return tf.cast(tf.round(resized), tf.uint8) if pixels else resized

    return a, tf.cond(tf.reduce_all(tf.shape(b)[:2] == shape[:2]), lambda: b, follow_a)


def _usable_files(config: Config, split: str, data_dir, skip_bad: bool) -> tuple[list[str], list[str] | None]:
    """The split's photos (``--task``), A|B files or A and B files; unreadable ones, and A|B files that
    are not two squares side by side, handled per ``skip_bad`` (``checks.usable``)."""
    from pix2pix_tf.data import checks

    if config.data.task != "none":
        return checks.usable(layout.find_photos(data_dir, split), None, skip_bad, task=config.data.task)[0], None
    files = layout.find_pairs(data_dir, split)
    return checks.usable(files.a, files.b, skip_bad, config.data.preprocess)


def check_files(config: Config, split: str, data_dir) -> None:
    """ValueError naming every file of ``split`` that training cannot use as the files are now (a
    file changed since it was last checked is read again); nothing for TFDS."""
    if not (isinstance(data_dir, str) and data_dir.startswith(TFDS_PREFIX)):
        _usable_files(config, split, data_dir, skip_bad=False)


def _file_pairs(config: Config, split: str, data_dir, skip_bad: bool) -> tuple[tf.data.Dataset, int, bool]:
    """The usable files' paths (A|B files, photos, or (A, B) pairs) as a shuffle-able first stage,
    their count, and whether they decode as uint8 pixels: a quarter of float32's memory (a 14000 x
    7000 PNG is 0.3 GB, not 1.2 GB per copy) and images shrink before they become float. Only a
    split holding a 16-bit PNG decodes at float32, which keeps its precision."""
    from pix2pix_tf.data import checks

    a, b = _usable_files(config, split, data_dir, skip_bad)
    pixels = not any(checks.high_bit_depth(path) for path in a + (b or []))
    if b is None:
        return tf.data.Dataset.from_tensor_slices(a), len(a), pixels
    return tf.data.Dataset.from_tensor_slices((a, b)), len(a), pixels


def transform(source, target, seed, config: Config, training: bool):
    """Preprocessing identical on both sides (stack, then crop and flip once).

    Args:
      source, target: uint8 or float32 (H, W, channels) in [0, 255], same H and W: uint8 pixels
        become float32 once resized or cropped, so a large image is never float at full size.
      seed: int (2,) stateless seed: the same seed gives the same crop and flip.
    Returns:
      (source, target) float32 in [-1, 1]: (image_size, image_size, channels) for the cropping
      modes; for ``scale_width`` and ``none`` their own size padded to the network's multiple.
    """
    data = config.data
    size, load, mode = data.image_size, data.resolved_load_size, data.preprocess
    source_channels = source.shape[-1]
    if source.dtype != target.dtype:
        source, target = tf.cast(source, tf.float32), tf.cast(target, tf.float32)
    image = tf.concat([source, target], axis=-1)
    shape = tf.shape(image)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    crop_shape = (size, size, image.shape[-1])

    def crop(image):
        return tf.image.stateless_random_crop(image, crop_shape, crop_seed) if training else (
            tf.image.resize_with_crop_or_pad(image, size, size))

    if mode == "resize_and_crop":
        image = _resize(image, load, load) if training else _resize(image, size, size)
    elif mode.startswith("scale_width"):
        height = tf.cast(tf.round(load * shape[0] / shape[1]), tf.int32)
        image = _resize(image, tf.maximum(height, size if mode.endswith("crop") else 1), load)
    elif mode == "crop":  # native resolution; only images smaller than the crop are enlarged
        scale = tf.maximum(1.0, size / tf.cast(tf.minimum(shape[0], shape[1]), tf.float32))
        # Cropped before the cast when large enough (cropping the crop again below changes nothing).
        image = tf.cond(scale > 1.0, lambda: _resize(image, *tf.unstack(tf.cast(tf.math.ceil(
            scale * tf.cast(shape[:2], tf.float32)), tf.int32))), lambda: tf.cast(crop(image), tf.float32))
    if data.variable_size:
        image = images.pad_to_multiple(images.to_float(image)[tf.newaxis], images.network_stride(config))[0]
    else:
        image = images.to_float(crop(image))
    if training and data.flip:
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    return image[..., :source_channels], image[..., source_channels:]


def _pairs(config: Config, split: str, data_dir, training: bool, seed: int):
    """Dataset of (A, B) or photos, and the example count."""
    if isinstance(data_dir, str) and data_dir.startswith(TFDS_PREFIX):
        from pix2pix_tf.data import tfds_pix2pix

        # TFDS reads TFDS_DATA_DIR once at import; read it now so a later setting counts.
        dataset = tfds_pix2pix.load_split(_tfds_name(data_dir), split, os.environ.get("TFDS_DATA_DIR"))
        count = int(dataset.cardinality())
        dataset = dataset.map(lambda a, b: (tf.cast(a, tf.float32), tf.cast(b, tf.float32)))
        if training:
            dataset = dataset.shuffle(min(count, 2000), seed=seed, reshuffle_each_iteration=True)
        return dataset, count
    files, count, pixels = _file_pairs(config, split, data_dir, config.data.skip_bad_images)
    if training and not config.data.cache:  # shuffle paths, not pixels: a full shuffle for free
        files = files.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    if config.data.task != "none":  # the tasks draw their inputs from float photos
        load = lambda path: (tf.cast(images.decode(path, pixels), tf.float32),)  # noqa: E731
    elif isinstance(files.element_spec, tuple):
        load = functools.partial(_load_separate, pixels=pixels)
    else:
        load = functools.partial(_load_side_by_side, pixels=pixels)
    dataset = files.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if config.data.cache:
        dataset = dataset.cache()
        if training:
            dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset, count


def _to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """``images.to_channels``; uint8 pixels averaged to gray become float32 first, so the gray
    keeps its fractions."""
    if channels == 1 and image.shape[-1] != 1:
        image = tf.cast(image, tf.float32)
    return images.to_channels(image, channels)


def make_dataset(
    config: Config, split: str, *, training: bool, batch_size: int, seed: int = 0,
    data_dir: str | os.PathLike | None = None,
) -> tf.data.Dataset:
    """Batches of (input_image, target_image), float32 (batch, H, W, channels) in [-1, 1].

    training=True: shuffled, jittered, repeated forever, partial batches dropped.
    training=False: in order, no randomness but fixed per-image seeds for ``--task`` pairs, one pass.
    """
    data = config.data
    data_dir = data_dir or resolve_data_dir(data)
    dataset, _ = _pairs(config, split, data_dir, training, seed)
    if training:
        dataset = dataset.repeat()
    seeds = tf.data.Dataset.random(seed=seed).batch(2) if training else (
        tf.data.Dataset.counter().map(lambda index: tf.stack([tf.cast(seed, tf.int64), index])))

    def to_example(element, element_seed):
        if data.task != "none":
            from pix2pix_tf.data import tasks

            task_seed, element_seed = tf.unstack(tf.random.experimental.stateless_split(element_seed, 2))
            source, target = tasks.make_pair(element[0], data.task, task_seed)
        else:
            source, target = element if data.direction == "AtoB" else element[::-1]
        source = _to_channels(source, config.model.input_channels)
        target = _to_channels(target, config.model.output_channels)
        if not (training and data.freehand_lines):
            return transform(source, target, element_seed, config, training)
        from pix2pix_tf.data import freehand

        element_seed, drawing_seed = tf.unstack(tf.random.experimental.stateless_split(element_seed, 2))
        source, target = transform(source, target, element_seed, config, training)
        return freehand.augment(source, drawing_seed), target

    dataset = tf.data.Dataset.zip(dataset, seeds).map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = data.deterministic or not training
    return dataset.with_options(options)


def example_names(config: Config, split: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """A name per example of ``make_dataset(..., training=False)``, in its order: file stems, or split_00000 for TFDS."""
    data_dir = data_dir or resolve_data_dir(config.data)
    if isinstance(data_dir, str) and data_dir.startswith(TFDS_PREFIX):
        return [f"{split}_{index:05d}" for index in range(count_examples(config, split, data_dir))]
    files, _ = _usable_files(config, split, data_dir, config.data.skip_bad_images)
    return [pathlib.Path(path).stem for path in files]


def count_examples(config: Config, split: str, data_dir: str | os.PathLike | None = None) -> int:
    """Number of examples in a split (bad files excluded when ``skip_bad_images`` is set)."""
    data_dir = data_dir or resolve_data_dir(config.data)
    return _pairs(config, split, data_dir, training=False, seed=0)[1]


def val_split(config: Config, data_dir: str | os.PathLike | None = None) -> str:
    """``val`` when the dataset has one, else ``train`` (with a warning): samples need some split.
    ``data_dir``: where the data was found (``resolve_data_dir``; found here when None)."""
    data_dir = data_dir or resolve_data_dir(config.data)
    if isinstance(data_dir, str) and data_dir.startswith(TFDS_PREFIX):
        return "val"
    if layout.has_split(data_dir, "val"):
        return "val"
    logging.warning("%s has no val split: samples and metrics use the train split, un-jittered", data_dir)
    return "train"


def with_absolute_data(config: Config) -> Config:
    """``config`` with a local ``data`` folder as an absolute path, so a run folder works from any
    directory (and after ``cd``); TFDS names and the built-in data stay as they are."""
    data = config.data.data
    if not data or data.startswith(TFDS_PREFIX):
        return config
    return config.replace(data=dict(data=str(pathlib.Path(data).expanduser().absolute())))


# Names kept per split in a dataset record: enough to tell another dataset from this one.
_RECORDED_NAMES = 200


def dataset_record(config: Config, data_dir) -> dict:
    """What identifies the run's data: its path and, per split present, the pair count and the
    first names (file stems). Kept in the run folder to check a dataset given later."""
    splits = {}
    for split in ("train", "val"):
        if split == "train" or isinstance(data_dir, str) or layout.has_split(data_dir, split):
            names = example_names(config, split, data_dir)
            splits[split] = {"pairs": len(names), "names": sorted(names)[:_RECORDED_NAMES]}
    return {"data": str(data_dir), "splits": splits}


def check_same_dataset(record: dict, config: Config, data_dir, record_path: str) -> None:
    """ValueError when ``data_dir`` clearly is not the dataset of ``record``: a split's pair count
    off by more than 10 %, or fewer than half of the recorded names found. A moved or copied
    dataset passes; another dataset does not."""
    if not (isinstance(record, dict) and isinstance(record.get("data"), str) and isinstance(record.get("splits"), dict)
            and all(isinstance(recorded, dict) and isinstance(recorded.get("pairs"), int) and isinstance(
                recorded.get("names"), list) and all(isinstance(name, str) for name in recorded["names"])
                for recorded in record["splits"].values())):
        raise ValueError(f"{record_path} is damaged (not the record pix2pix-tf writes); delete it: the next "
                         "train writes it again")
    if str(data_dir) == record.get("data"):
        return
    for split, recorded in record["splits"].items():
        if split != "train" and not (isinstance(data_dir, str) or layout.has_split(data_dir, split)):
            raise ValueError(f"--data {data_dir} has no {split!r} split, which the run's data had "
                             f"({record['data']}, recorded in {record_path})")
        names = set(example_names(config, split, data_dir))
        found = sum(name in names for name in recorded["names"])
        if abs(len(names) - recorded["pairs"]) > 0.1 * recorded["pairs"] or 2 * found < len(recorded["names"]):
            raise ValueError(
                f"--data {data_dir} does not look like the run's data ({record['data']}, recorded in "
                f"{record_path}): its {split!r} split has {len(names)} pairs where the run's had "
                f"{recorded['pairs']}, and {found} of {len(recorded['names'])} recorded names; "
                "point --data at the data the run was trained on")


def with_data(config: Config, data: str | None, record_path: pathlib.Path | None = None):
    """(config, data_dir): ``config`` reading ``data`` instead of its own (a moved run's data), and
    checked against the run's ``data.json`` at ``record_path`` when there is one (see
    ``check_same_dataset``)."""
    if data is not None:
        config = with_absolute_data(config.replace(data=dict(data=data)))
    data_dir = resolve_data_dir(config.data)
    if record_path is not None and record_path.exists():
        check_same_dataset(read_json(record_path), config, data_dir, str(record_path))
    return config, data_dir

