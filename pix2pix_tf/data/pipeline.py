"""Paired images to ``tf.data``: every source yields the same element spec.

Sources: a folder in any layout of ``data.layout`` (A|B files, or A/ and B/ folders), a folder of
plain photos with ``--task`` (pairs made on the fly), a TFDS build (``tfds:pix2pix/NAME``), or
the built-in synthetic façades. Batches are ``(input_image, target_image)``, float32
(batch, H, W, channels) in [-1, 1].
"""

from __future__ import annotations

import os
import pathlib

import tensorflow as tf
from absl import logging

from pix2pix_tf import images
from pix2pix_tf.config import Config, DataConfig
from pix2pix_tf.data import layout

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
    """Bicubic resize (the reference's PIL BICUBIC), antialiased, clipped to [0, 255]."""
    resized = tf.image.resize(image, tf.stack([height, width]), method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def _load_side_by_side(path):
    image = images.decode(path)
    half = tf.shape(image)[1] // 2
    return image[:, :half], image[:, half : 2 * half]


def _load_separate(a_path, b_path):
    a, b = images.decode(a_path), images.decode(b_path)
    shape = tf.shape(a)
    return a, _resize(b, shape[0], shape[1])  # B follows A's size if the two differ


def _usable_files(config: Config, split: str, data_dir, skip_bad: bool) -> tuple[list[str], list[str] | None]:
    """The split's photos (``--task``), A|B files or A and B files, unreadable ones handled per ``skip_bad``."""
    from pix2pix_tf.data import checks

    if config.data.task != "none":
        return checks.usable(layout.find_photos(data_dir, split), None, skip_bad)[0], None
    files = layout.find_pairs(data_dir, split)
    return checks.usable(files.a, files.b, skip_bad)


def _file_pairs(config: Config, split: str, data_dir, skip_bad: bool) -> tuple[tf.data.Dataset, int]:
    """(A, B) float32 (H, W, 3) in [0, 255], with the files' paths as a shuffle-able first stage."""
    a, b = _usable_files(config, split, data_dir, skip_bad)
    if b is None:
        return tf.data.Dataset.from_tensor_slices(a), len(a)
    return tf.data.Dataset.from_tensor_slices((a, b)), len(a)










def transform(source, target, seed, config: Config, training: bool):
    """Preprocessing identical on both sides (stack, then crop and flip once).

    Args:
      source, target: float32 (H, W, channels) in [0, 255], same H and W.
      seed: int (2,) stateless seed: the same seed gives the same crop and flip.
    Returns:
      (source, target) float32 in [-1, 1]: (image_size, image_size, channels) for the cropping
      modes; for ``scale_width`` and ``none`` their own size padded to the network's multiple.
    """
    data = config.data
    size, load, mode = data.image_size, data.resolved_load_size, data.preprocess
    source_channels = source.shape[-1]
    image = tf.concat([source, target], axis=-1)
    shape = tf.shape(image)
    if mode == "resize_and_crop":
        image = _resize(image, load, load) if training else _resize(image, size, size)
    elif mode.startswith("scale_width"):
        height = tf.cast(tf.round(load * shape[0] / shape[1]), tf.int32)
        image = _resize(image, tf.maximum(height, size if mode.endswith("crop") else 1), load)
    elif mode == "crop":  # native resolution; only images smaller than the crop are enlarged
        scale = tf.maximum(1.0, size / tf.cast(tf.minimum(shape[0], shape[1]), tf.float32))
        image = tf.cond(scale > 1.0, lambda: _resize(image, *tf.unstack(tf.cast(tf.math.ceil(
            scale * tf.cast(shape[:2], tf.float32)), tf.int32))), lambda: image)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    crop_shape = (size, size, image.shape[-1])
    if data.variable_size:
        image = images.pad_to_multiple(images.to_float(image)[tf.newaxis], images.network_stride(config))[0]
    else:
        image = tf.image.stateless_random_crop(image, crop_shape, crop_seed) if training else (
            tf.image.resize_with_crop_or_pad(image, size, size))
        image = images.to_float(image)
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
    files, count = _file_pairs(config, split, data_dir, config.data.skip_bad_images)
    if training and not config.data.cache:  # shuffle paths, not pixels: a full shuffle for free
        files = files.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    if config.data.task != "none":
        load = lambda path: (images.decode(path),)  # noqa: E731
    elif isinstance(files.element_spec, tuple):
        load = _load_separate
    else:
        load = _load_side_by_side
    dataset = files.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if config.data.cache:
        dataset = dataset.cache()
        if training:
            dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset, count


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
        source = images.to_channels(source, config.model.input_channels)
        target = images.to_channels(target, config.model.output_channels)
        return transform(source, target, element_seed, config, training)

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


def val_split(config: Config, data_dir) -> str:
    """``val`` when the dataset has one, else ``train`` (with a warning): samples need some split."""
    if isinstance(data_dir, str) and data_dir.startswith(TFDS_PREFIX):
        return "val"
    if layout.has_split(data_dir, "val"):
        return "val"
    logging.warning("%s has no val split: samples and metrics use the train split, un-jittered", data_dir)
    return "train"
