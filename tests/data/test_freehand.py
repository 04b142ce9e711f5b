"""Edge drawings redrawn as by hand while training (--freehand_lines)."""

from __future__ import annotations


import numpy as np
import tensorflow as tf
from conftest import tiny_config, write_pairs

from pix2pix_tf.data import freehand, pipeline


def _outline(size: int = 64) -> np.ndarray:
    """A detector-style drawing: a thin mid-grey rectangle outline on white, (size, size, 3) in [-1, 1]."""
    drawing = np.ones((size, size, 3), np.float32)
    drawing[16, 16:48] = drawing[47, 16:48] = drawing[16:48, 16] = drawing[16:48, 47] = -0.6
    return drawing


def test_a_drawing_becomes_black_pen_lines_near_its_own_lines_and_the_seed_decides():
    drawing = _outline()
    lines = np.all(drawing < 0, axis=-1)
    outputs = [freehand.augment(tf.constant(drawing), tf.constant([seed, 1], tf.int64)).numpy() for seed in range(8)]
    for output in outputs:
        assert set(np.unique(output)) <= {-1.0, 1.0}  # solid ink on white paper, nothing in between
        ink = np.all(output < 0, axis=-1)
        assert ink.sum() > 0.5 * lines.sum()  # most of the contour survives the gaps
        reach = int(freehand.WOBBLE_PIXELS) + max(freehand.PEN_WIDTHS) // 2 + 1
        near = tf.nn.max_pool2d(lines[np.newaxis, ..., np.newaxis].astype(np.float32), 2 * reach + 1, 1, "SAME")
        assert np.all(near.numpy()[0, ..., 0][ink] > 0)  # no ink far from the drawn lines
    again = freehand.augment(tf.constant(drawing), tf.constant([3, 1], tf.int64)).numpy()
    np.testing.assert_array_equal(again, outputs[3])
    assert len({int(np.sum(output < 0)) for output in outputs}) > 4  # pen widths and wobble differ


def test_training_inputs_are_redrawn_and_validation_keeps_the_datas_drawings(tmp_path):
    write_pairs(tmp_path, "train", 2, size=32)
    write_pairs(tmp_path, "val", 2, size=32)
    plain = tiny_config(tmp_path)
    drawn = plain.replace(data=dict(freehand_lines=True))
    source, _ = next(iter(pipeline.make_dataset(drawn, "train", training=True, batch_size=2, seed=1)))
    assert set(np.unique(source.numpy())) <= {-1.0, 1.0}
    plain_source, _ = next(iter(pipeline.make_dataset(plain, "train", training=True, batch_size=2, seed=1)))
    assert not set(np.unique(plain_source.numpy())) <= {-1.0, 1.0}
    val_sources = [next(iter(pipeline.make_dataset(config, "val", training=False, batch_size=2)))[0].numpy()
                   for config in (plain, drawn)]
    np.testing.assert_array_equal(*val_sources)
