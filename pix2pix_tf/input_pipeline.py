"""Paired images from folders to ``tf.data``.

Layout (the pix2pix standard): ``root/train/*.jpg``, ``root/val/*.jpg``, each file holding the
A image on the left half and the B image on the right half. Every dataset yields
``(input_image, target_image)`` float32 tensors in [-1, 1]: (batch, size, size, channels).
"""

from __future__ import annotations

import os
import pathlib

import tensorflow as tf

from pix2pix_tf.config import Config, DataConfig

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def resolve_data_dir(data_config: DataConfig) -> pathlib.Path:
    """The dataset folder: ``data_config.data``, or the built-in synthetic façades (made on first use).

    The built-in pairs are rendered at the training size (as façades come at 256 px for 256 px
    training): a 64 px run then decodes 64 px files instead of shrinking 256 px ones every step.
    Each size has its own cache folder, so switching sizes never re-renders.
    """
    if data_config.data:
        return pathlib.Path(data_config.data).expanduser()
    from pix2pix_tf.datasets import synthetic

    size = data_config.image_size
    return synthetic.make_synthetic_dataset(synthetic.default_data_dir() / f"{size}px", image_size=size)


def list_images(data_dir: str | os.PathLike, split: str) -> list[str]:
    """Sorted image paths of one split; ValueError naming the folder if it is missing or empty."""
    root = pathlib.Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"--data: {root} is not a folder")
    folder = root / split
    if not folder.is_dir():
        present = sorted(child.name for child in root.iterdir() if child.is_dir())
        raise ValueError(f"--data: {root} has no {split!r} split (found folders: {present or 'none'})")
    paths = sorted(
        str(path) for path in folder.iterdir() if path.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not paths:
        raise ValueError(f"--data: {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return paths


def _to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    return tf.image.rgb_to_grayscale(image) if channels == 1 else image


def load_pair(path: tf.Tensor, direction: str, input_channels: int, output_channels: int):
    """Reads one A|B file: (input, target) uint8 (H, W/2, channels), sides swapped for BtoA."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    half = tf.shape(image)[1] // 2
    left, right = image[:, :half], image[:, half : 2 * half]
    source, target = (left, right) if direction == "AtoB" else (right, left)
    return _to_channels(source, input_channels), _to_channels(target, output_channels)


def _resize(image: tf.Tensor, size: int) -> tf.Tensor:
    """Bicubic resize (as the reference's PIL BICUBIC) to (size, size); float32 in [0, 255]."""
    resized = tf.image.resize(tf.cast(image, tf.float32), (size, size), method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def _normalize(image: tf.Tensor) -> tf.Tensor:
    """[0, 255] -> [-1, 1]."""
    return image / 127.5 - 1.0


def jitter(source: tf.Tensor, target: tf.Tensor, seed: tf.Tensor, data_config: DataConfig):
    """The paper's random jitter, identical on both sides: resize, random crop, random mirror.

    Args:
      source, target: (H, W, channels) images, uint8 or float in [0, 255].
      seed: int64 (2,) stateless seed; the same seed gives the same crop and flip.
    Returns:
      (source, target) float32 (image_size, image_size, channels) in [-1, 1].
    """
    size = data_config.image_size
    load = data_config.resolved_load_size if data_config.preprocess == "resize_and_crop" else size
    source, target = _resize(source, load), _resize(target, load)
    source_channels = tf.shape(source)[-1]
    stacked = tf.concat([source, target], axis=-1)  # crop once so both sides stay aligned
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    stacked = tf.image.stateless_random_crop(stacked, (size, size, tf.shape(stacked)[-1]), crop_seed)
    if data_config.flip:
        stacked = tf.image.stateless_random_flip_left_right(stacked, flip_seed)
    return _normalize(stacked[..., :source_channels]), _normalize(stacked[..., source_channels:])


def make_dataset(
    config: Config, split: str, *, training: bool, batch_size: int, seed: int = 0,
    data_dir: str | os.PathLike | None = None,
) -> tf.data.Dataset:
    """Batches of (input_image, target_image), float32 (batch, size, size, channels) in [-1, 1].

    training=True: shuffled, jittered, repeated forever, partial batches dropped.
    training=False: files in order, resized to image_size, one pass, last batch kept.
    """
    data_config = config.data
    paths = list_images(data_dir or resolve_data_dir(data_config), split)
    channels = (config.model.input_channels, config.model.output_channels)

    def load(path):
        return load_pair(path, data_config.direction, *channels)

    dataset = tf.data.Dataset.from_tensor_slices(paths)
    if not training:
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.map(
            lambda source, target: (_normalize(_resize(source, data_config.image_size)),
                                    _normalize(_resize(target, data_config.image_size))),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        if data_config.cache:
            dataset = dataset.cache()
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # Shuffle paths, not pixels: a full shuffle of the dataset for the price of a list of strings.
    if data_config.cache:
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True).repeat()
    else:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True).repeat()
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = tf.data.Dataset.zip(dataset, seeds).map(
        lambda pair, element_seed: jitter(*pair, element_seed, data_config),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def count_images(config: Config, split: str, data_dir: str | os.PathLike | None = None) -> int:
    """Number of pairs in a split."""
    return len(list_images(data_dir or resolve_data_dir(config.data), split))
