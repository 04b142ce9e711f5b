"""Images at the edges of the models: decoding, channel conversion, padding to the network's
multiple, and the one conversion between uint8 pixels and the models' float32 [-1, 1]."""

from __future__ import annotations

import tensorflow as tf

from pix2pix_tf.config import Config


def decode_bytes(data: tf.Tensor) -> tf.Tensor:
    """An encoded JPEG, PNG (8 or 16 bit), BMP, GIF (first frame), WebP or JPEG XL image, gray, RGB
    or RGBA -> float32 (H, W, 3) in [0, 255].

    The one decoder: training, ``data check``, the pre-training scan and ``translate`` all call
    it, so a file that passes the checks is a file training reads. WebP decodes to uint8 only in
    TensorFlow, so it takes that route; the others decode straight to float (16-bit PNGs keep
    their precision). Raises tf.errors.InvalidArgumentError for anything else.
    """
    webp = tf.strings.substr(data, 8, 4) == b"WEBP"  # RIFF <size> WEBP
    image = tf.cond(
        webp,
        lambda: tf.cast(tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False), tf.float32),
        lambda: tf.io.decode_image(data, channels=3, dtype=tf.float32, expand_animations=False) * 255.0,
    )
    image.set_shape([None, None, 3])
    return image


def decode_pixels(data: tf.Tensor) -> tf.Tensor:
    """``decode_bytes``'s formats as uint8 (H, W, 3) pixels: a quarter of the memory, for
    translating large images (a 16-bit PNG is rounded to 8 bits)."""
    return tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)


def decode(path: tf.Tensor | str, pixels: bool = False) -> tf.Tensor:
    """The image file at ``path`` -> float32 (H, W, 3) in [0, 255] (see ``decode_bytes``); with
    ``pixels``, uint8 (H, W, 3) (``decode_pixels``)."""
    data = tf.io.read_file(path)
    return decode_pixels(data) if pixels else decode_bytes(data)


def to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """(..., H, W, 1 or 3) -> (..., H, W, channels): gray replicated to RGB, or RGB to its luminance."""
    if image.shape[-1] == channels:
        return image
    return tf.image.rgb_to_grayscale(image) if channels == 1 else tf.image.grayscale_to_rgb(image)


def to_float(pixels) -> tf.Tensor:
    """Pixels 0..255 (uint8 or float) -> float32 in [-1, 1], the models' range."""
    return tf.cast(pixels, tf.float32) / 127.5 - 1.0


def to_uint8(images) -> tf.Tensor:
    """float32 in [-1, 1] -> uint8 0..255, clipped and rounded to the nearest level (NumPy callers: ``.numpy()``)."""
    return tf.cast(tf.round(tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def network_stride(config: Config) -> int:
    """Height and width must be multiples of this: the U-Net halves them log2(image_size) times,
    the ResNet generator twice."""
    return config.data.image_size if config.model.generator in ("unet", "unet_mobile") else 4


def _mirror_indices(size: tf.Tensor, padded_size: tf.Tensor) -> tf.Tensor:
    """Indices 0..size-1 for positions 0..padded_size-1: the identity, then symmetric mirroring,
    repeated as often as needed when the pad is larger than the image."""
    positions = tf.range(padded_size) % (2 * size)
    return tf.minimum(positions, 2 * size - 1 - positions)


def pad_to_multiple(images: tf.Tensor, multiple: int) -> tf.Tensor:
    """Pads bottom and right by symmetric reflection up to the next multiple of ``multiple``.

    Images (batch, H, W, C), any dtype, H and W >= 1 -> (batch, H', W', C) with H' and W' the
    smallest multiples of ``multiple`` >= H and W; the top-left H x W is the input.
    """
    shape = tf.shape(images)
    tf.debugging.assert_positive(shape[1:3], message="images need a height and width of at least 1")
    for axis in (1, 2):
        padded_size = (shape[axis] + multiple - 1) // multiple * multiple
        images = tf.gather(images, _mirror_indices(shape[axis], padded_size), axis=axis)
    return images
