"""Pairs made from single photos: colorization, edges -> photo, inpainting, super-resolution.

A folder of ordinary photos becomes a paired dataset by deriving the input from each photo on the
fly; the photo itself is the target. Everything here is TensorFlow ops only, so it runs in graph
mode inside ``tf.data`` with unknown image sizes, and is deterministic given the stateless seed:

    dataset.map(lambda photo, seed: tasks.make_pair(photo, "edges", seed))

All images are float32 (H, W, channels) in [0, 255], before normalization and jitter.
"""

from __future__ import annotations

import math

import tensorflow as tf

from pix2pix_tf.config import TASK_INPUT_CHANNELS, TASKS, check_choice

# Mid-gray: a hole is neither light nor dark and becomes exactly 0 after scaling to [-1, 1].
INPAINT_FILL = 127.5
# Union of the holes, as a fraction of the image (up to rounding to whole pixels).
INPAINT_COVERAGE = (0.1, 0.25)

# Gaussian blur sigma (px) before Sobel, so sensor noise and JPEG blocks draw no lines.
EDGE_BLUR_SIGMA = 1.0
# Hysteresis thresholds as fractions of the image's strong gradients (the magnitude at
# EDGE_REFERENCE_PERCENTILE): relative, so a dim photo and a bright one of the same scene give the
# same drawing. Lines start above the high fraction and continue down to the low one, which keeps
# contours unbroken without drawing texture as scattered dots.
EDGE_THRESHOLD_FRACTIONS = (0.2, 0.5)
EDGE_REFERENCE_PERCENTILE = 99.0
# Bound on the hysteresis growth, 1 px per step: a weak line continues at most this far.
EDGE_MAXIMUM_GROWTH = 64
# Floor in Sobel units (a step of 255 gives about 1020): a nearly flat image stays blank paper.
EDGE_MINIMUM_MAGNITUDE = 20.0


def input_channels(task: str) -> int:
    """Channels of make_pair's input: 1 for colorize, else 3."""
    check_choice("task", task, TASKS)
    return TASK_INPUT_CHANNELS[task]


def make_pair(
    photo: tf.Tensor, task: str, seed: tf.Tensor, *, superres_factor: int = 4,
) -> tuple[tf.Tensor, tf.Tensor]:
    """One (input, target) pair derived from one photo.

    Args:
      photo: float32 (H, W, 3) in [0, 255], H and W >= 16 (may be unknown statically).
      task: one of TASKS.
      seed: int32/int64 (2,) stateless seed; only "inpaint" uses it.
      superres_factor: integer >= 2, the downscaling factor of "superres".
    Returns:
      (input, target), float32 (H, W, channels) in [0, 255]; target is the photo (3 channels),
      input has input_channels(task) channels:
        colorize: tf.image.rgb_to_grayscale(photo), the ITU-R 601 luminance;
        edges: edge_drawing(photo), black (0) lines 1 px wide on white (255), as 3 channels;
        inpaint: the photo with INPAINT_FILL in the holes of make_mask(H, W, seed), else unchanged;
        superres: the photo area-downscaled by superres_factor, bicubic-upscaled back to (H, W).
    """
    check_choice("task", task, TASKS)
    photo = tf.convert_to_tensor(photo, tf.float32)
    if photo.shape.rank != 3 or photo.shape[-1] not in (None, 3):
        raise ValueError(f"photo must be (height, width, 3), got shape {photo.shape}")
    if task == "colorize":
        source = tf.image.rgb_to_grayscale(photo)
    elif task == "edges":
        source = tf.image.grayscale_to_rgb(edge_drawing(photo))
    elif task == "inpaint":
        mask = make_mask(tf.shape(photo)[0], tf.shape(photo)[1], seed)
        source = photo * (1.0 - mask) + INPAINT_FILL * mask  # exact: mask is 0 or 1
    else:
        source = _lower_resolution(photo, superres_factor)
    return source, photo


def _lower_resolution(photo: tf.Tensor, factor: int) -> tf.Tensor:
    """Area downscale by `factor` (inherently antialiased), bicubic back to (H, W); [0, 255]."""
    if not isinstance(factor, int) or factor < 2:
        raise ValueError(f"superres_factor must be an integer >= 2, got {factor!r}")
    size = tf.shape(photo)[:2]
    small = tf.image.resize(photo, tf.maximum(size // factor, 1), method="area")
    return tf.clip_by_value(tf.image.resize(small, size, method="bicubic"), 0.0, 255.0)


def _blur_radius(sigma: float) -> int:
    return max(1, math.ceil(2 * sigma))


def minimum_side(task: str) -> int:
    """The smallest height and width (px) ``make_pair`` takes for ``task``: ``edges`` reflects its
    blur's border, which needs more pixels than the blur's radius; the others (and "none") take any size."""
    return _blur_radius(EDGE_BLUR_SIGMA) + 1 if task == "edges" else 1


def _gaussian_blur(gray: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian blur of (1, H, W, 1), reflected borders so the frame draws no edge."""
    radius = _blur_radius(sigma)
    taps = tf.exp(-tf.square(tf.range(-radius, radius + 1, dtype=tf.float32)) / (2 * sigma**2))
    taps /= tf.reduce_sum(taps)
    padded = tf.pad(gray, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.nn.conv2d(padded, tf.reshape(taps, (-1, 1, 1, 1)), strides=1, padding="VALID")
    return tf.nn.conv2d(rows, tf.reshape(taps, (1, -1, 1, 1)), strides=1, padding="VALID")


# Neighbour along the gradient, (row, column) step, per direction bin of 45 degrees.
_DIRECTION_STEPS = ((0, 1), (1, 1), (1, 0), (1, -1))


def _thin(magnitude: tf.Tensor, gradient_rows: tf.Tensor, gradient_columns: tf.Tensor) -> tf.Tensor:
    """Non-maximum suppression: keeps the magnitude (H, W) only on the crest across each edge.

    A pixel survives if it beats its backward neighbour along the gradient and ties or beats the
    forward one, so a crest two pixels wide (a step edge between pixels) keeps exactly one.
    """
    angle = tf.math.atan2(gradient_rows, gradient_columns)
    direction = tf.math.floormod(tf.cast(tf.round(angle / (math.pi / 4)), tf.int32), 4)
    height, width = tf.shape(magnitude)[0], tf.shape(magnitude)[1]
    padded = tf.pad(magnitude, [[1, 1], [1, 1]])

    def shifted(row_step, column_step):
        return tf.slice(padded, [1 + row_step, 1 + column_step], [height, width])

    keep = tf.zeros_like(magnitude, tf.bool)
    for index, (row_step, column_step) in enumerate(_DIRECTION_STEPS):
        is_crest = (magnitude >= shifted(row_step, column_step)) & (
            magnitude > shifted(-row_step, -column_step))
        keep |= (direction == index) & is_crest
    return tf.where(keep, magnitude, 0.0)


def _hysteresis(thinned: tf.Tensor, low: tf.Tensor, high: tf.Tensor) -> tf.Tensor:
    """Line pixels (H, W) bool: above `high`, or above `low` and 8-connected to such a pixel."""
    weak = (thinned > low)[tf.newaxis, ..., tf.newaxis]
    strong = tf.cast((thinned > high)[tf.newaxis, ..., tf.newaxis], tf.float32)

    def grow(lines, changed):
        grown = tf.nn.max_pool2d(lines, 3, 1, "SAME") * tf.cast(weak, tf.float32)
        return grown, tf.reduce_any(grown != lines)

    lines, _ = tf.while_loop(lambda lines, changed: changed, grow, (strong, tf.constant(True)),
                             maximum_iterations=EDGE_MAXIMUM_GROWTH)
    return lines[0, ..., 0] > 0


def edge_drawing(photo: tf.Tensor) -> tf.Tensor:
    """A line drawing of a photo: float32 (H, W, 1), 0 on the lines, 255 elsewhere.

    Canny's recipe: grayscale, Gaussian blur (EDGE_BLUR_SIGMA), Sobel gradient magnitude,
    non-maximum suppression to lines 1 px wide, then hysteresis between EDGE_THRESHOLD_FRACTIONS of
    the image's EDGE_REFERENCE_PERCENTILE magnitude (never below EDGE_MINIMUM_MAGNITUDE), so only
    the main contours are drawn.
    """
    gray = _gaussian_blur(tf.image.rgb_to_grayscale(photo)[tf.newaxis], EDGE_BLUR_SIGMA)
    gradients = tf.image.sobel_edges(gray)[0, :, :, 0]  # (H, W, 2): d/drow, d/dcolumn
    gradient_rows, gradient_columns = gradients[..., 0], gradients[..., 1]
    magnitude = tf.sqrt(tf.square(gradient_rows) + tf.square(gradient_columns))
    thinned = _thin(magnitude, gradient_rows, gradient_columns)
    ordered = tf.sort(tf.reshape(magnitude, [-1]))
    count = tf.cast(tf.size(ordered) - 1, tf.float32)
    reference = ordered[tf.cast(tf.round(count * EDGE_REFERENCE_PERCENTILE / 100), tf.int32)]
    low, high = (tf.maximum(fraction * reference, EDGE_MINIMUM_MAGNITUDE)
                 for fraction in EDGE_THRESHOLD_FRACTIONS)
    return tf.where(_hysteresis(thinned, low, high), 0.0, 255.0)[..., tf.newaxis]


def _strip_mask(height, width, count, coverage, shape_draws, place_draws) -> tf.Tensor:
    """Mask (height, width) of `count` (1-3) rectangles, one in each of `count` vertical strips.

    Every rectangle covers the fraction `coverage` of its strip and the strips are disjoint, so
    the union covers `coverage` of the image. shape_draws, place_draws: (3, ...) uniforms in [0, 1).
    """
    height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    index, strips = tf.range(3, dtype=tf.float32), tf.cast(count, tf.float32)
    strip_left = tf.floor(index * width / strips)
    strip_width = tf.floor((index + 1) * width / strips) - strip_left
    # Width share between sqrt(coverage) / 2 and 2 sqrt(coverage): at most about 4:1 against the
    # strip's proportions, and both shares stay <= 1 for coverage <= 0.25.
    root = tf.sqrt(coverage)
    width_share = root * tf.exp(math.log(2.0) * (2.0 * shape_draws - 1.0))
    box_width = tf.clip_by_value(tf.round(width_share * strip_width), 1.0, strip_width)
    box_height = tf.clip_by_value(tf.round(coverage / width_share * height), 1.0, height)
    left = strip_left + tf.floor(place_draws[:, 0] * (strip_width - box_width + 1))
    top = tf.floor(place_draws[:, 1] * (height - box_height + 1))
    rows = tf.range(height)[tf.newaxis, :, tf.newaxis]  # (1, H, 1)
    columns = tf.range(width)[tf.newaxis, tf.newaxis, :]  # (1, 1, W)

    def inside(position, start, length):
        return (position >= start[:, None, None]) & (position < (start + length)[:, None, None])

    boxes = inside(rows, top, box_height) & inside(columns, left, box_width)  # (3, H, W)
    boxes &= (index < strips)[:, None, None]
    return tf.cast(tf.reduce_any(boxes, axis=0), tf.float32)


def make_mask(height: int | tf.Tensor, width: int | tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The inpainting hole mask: float32 (H, W, 1), 1 = removed, 0 = kept; same seed -> same mask.

    1 to 3 axis-aligned rectangles, each in its own band of the image (vertical or horizontal
    bands, at random), covering a uniform INPAINT_COVERAGE fraction of the image in total. The
    rectangles' aspect ratios and positions are random within their bands.
    """
    seeds = tf.random.experimental.stateless_split(tf.convert_to_tensor(seed), 5)
    count = tf.random.stateless_uniform((), seeds[0], 1, 4, dtype=tf.int32)
    coverage = tf.random.stateless_uniform((), seeds[1], *INPAINT_COVERAGE)
    shape_draws = tf.random.stateless_uniform((3,), seeds[2])
    place_draws = tf.random.stateless_uniform((3, 2), seeds[3])
    draws = (count, coverage, shape_draws, place_draws)
    horizontal_bands = tf.random.stateless_uniform((), seeds[4]) < 0.5
    mask = tf.cond(
        horizontal_bands,
        lambda: tf.transpose(_strip_mask(width, height, *draws)),
        lambda: _strip_mask(height, width, *draws),
    )
    return mask[..., tf.newaxis]
