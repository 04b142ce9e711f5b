"""Edge drawings made to look drawn by hand while training: crisp lines of random width that wobble and break.

Edge datasets (edges2shoes, edges2handbags) draw their inputs with an edge detector: thin grey
lines of even weight, every contour present. A person with a pen draws solid black lines a few
pixels wide, a little off the true contour, with gaps and without the faint texture lines. A
model trained only on the detector's lines reads such a drawing as something it has not seen.
``augment`` turns each training input into a plausible hand drawing of the same object, so the
model learns from lines as people draw them (``--freehand_lines``); validation keeps the data's
own drawings, so scores stay comparable.

All ops are TensorFlow ops in graph mode, deterministic given the stateless seed. Images are
float32 (H, W, C) in [-1, 1], dark lines on light paper.
"""

from __future__ import annotations

import tensorflow as tf

# Ink: pixels darker than a threshold drawn from this range (on the [-1, 1] scale) become black
# lines; higher thresholds keep fainter detector lines, lower ones keep only the strong contours.
INK_THRESHOLD = (-0.5, 0.5)
# Pen widths in pixels (odd: a line thickened symmetrically), one drawn per image.
PEN_WIDTHS = (1, 3, 5, 7)
# Wobble: a smooth random displacement of up to this many pixels (at 256 px), varying over a
# WOBBLE_GRID x WOBBLE_GRID grid of control points across the image.
WOBBLE_PIXELS = 4.0
WOBBLE_GRID = 6
# Gaps: this fraction of the image, in squares of GAP_SIZE_FRACTION of its side, is erased.
GAP_COVERAGE = (0.0, 0.08)
GAP_SIZE_FRACTION = 1 / 16


def _warp(image: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
    """Samples ``image`` (H, W, C) at (y, x) + ``flow`` (H, W, 2), bilinearly, edges clamped."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    rows, columns = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    y = tf.clip_by_value(rows + flow[..., 0], 0.0, tf.cast(height - 1, tf.float32))
    x = tf.clip_by_value(columns + flow[..., 1], 0.0, tf.cast(width - 1, tf.float32))
    y0, x0 = tf.floor(y), tf.floor(x)
    y1 = tf.minimum(y0 + 1.0, tf.cast(height - 1, tf.float32))
    x1 = tf.minimum(x0 + 1.0, tf.cast(width - 1, tf.float32))

    def at(yy, xx):
        return tf.gather_nd(image, tf.stack([tf.cast(yy, tf.int32), tf.cast(xx, tf.int32)], axis=-1))

    wy, wx = (y - y0)[..., tf.newaxis], (x - x0)[..., tf.newaxis]
    top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy


def _thicken(ink: tf.Tensor, width_index: tf.Tensor) -> tf.Tensor:
    """``ink`` (H, W, 1), 1 on lines, dilated to the pen width ``PEN_WIDTHS[width_index]``."""
    branches = [lambda width=width: tf.nn.max_pool2d(ink[tf.newaxis], width, 1, "SAME")[0] for width in PEN_WIDTHS]
    return tf.switch_case(width_index, branches)


def augment(drawing: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A hand-drawn version of an edge drawing.

    Args:
      drawing: float32 (H, W, C) in [-1, 1], dark lines on light paper, C = 1 or 3.
      seed: int (2,) stateless seed.
    Returns:
      float32 (H, W, C) in {-1, 1}: black lines of one random pen width, displaced smoothly by up
      to ``WOBBLE_PIXELS`` (scaled with the image), with random gaps, on white.
    """
    threshold_seed, width_seed, wobble_seed, gap_seed, coverage_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 5))
    height, width = tf.shape(drawing)[0], tf.shape(drawing)[1]
    scale = tf.cast(tf.maximum(height, width), tf.float32) / 256.0
    threshold = tf.random.stateless_uniform([], threshold_seed, *INK_THRESHOLD)
    ink = tf.cast(tf.reduce_mean(drawing, axis=-1, keepdims=True) < threshold, tf.float32)
    control = tf.random.stateless_uniform([WOBBLE_GRID, WOBBLE_GRID, 2], wobble_seed, -1.0, 1.0)
    flow = tf.image.resize(control, tf.stack([height, width]), method="bicubic") * WOBBLE_PIXELS * scale
    ink = _warp(ink, flow)
    ink = _thicken(tf.cast(ink > 0.5, tf.float32),
                   tf.random.stateless_uniform([], width_seed, 0, len(PEN_WIDTHS), dtype=tf.int32))
    cells = int(round(1 / GAP_SIZE_FRACTION))
    coverage = tf.random.stateless_uniform([], coverage_seed, *GAP_COVERAGE)
    kept = tf.cast(tf.random.stateless_uniform([cells, cells, 1], gap_seed) >= coverage, tf.float32)
    ink *= tf.image.resize(kept, tf.stack([height, width]), method="nearest")
    return tf.broadcast_to(1.0 - 2.0 * ink, tf.shape(drawing))
