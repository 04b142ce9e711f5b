"""Tests for pairs derived from single photos (pix2pix_tf.data.tasks), on tiny drawn images."""

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.data import tasks

HEIGHT, WIDTH = 48, 64
SEED = tf.constant([3, 4], tf.int64)


def _photo() -> np.ndarray:
    """float32 (48, 64, 3) in [0, 255]: colour gradients, a dark disc and a bright bar."""
    rows, columns = np.mgrid[:HEIGHT, :WIDTH].astype(np.float32)
    photo = np.stack([columns * 4.0, rows * 5.0, 255.0 - columns * 2.0], axis=-1)
    photo[(rows - 20) ** 2 + (columns - 20) ** 2 < 100] = (30.0, 60.0, 20.0)
    photo[30:36, 35:60] = (250.0, 240.0, 200.0)
    return photo


def _square_photo() -> np.ndarray:
    """A black square, rows 16-31 and columns 20-43, on white: (48, 64, 3)."""
    photo = np.full((HEIGHT, WIDTH, 3), 255.0, np.float32)
    photo[16:32, 20:44] = 0.0
    return photo


def test_colorize_input_is_the_luminance_and_target_the_photo():
    photo = _photo()
    source, target = tasks.make_pair(photo, "colorize", SEED)
    luminance = photo @ np.array([0.299, 0.587, 0.114], np.float32)
    assert source.shape == (HEIGHT, WIDTH, 1) and source.dtype == tf.float32
    np.testing.assert_allclose(source.numpy()[..., 0], luminance, atol=0.5)
    np.testing.assert_array_equal(target.numpy(), photo)


def test_edges_are_thin_dark_lines_on_the_square_border():
    source, target = tasks.make_pair(_square_photo(), "edges", SEED)
    drawing = source.numpy()
    assert drawing.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(drawing[..., 0], drawing[..., 1])
    np.testing.assert_array_equal(drawing[..., 0], drawing[..., 2])
    np.testing.assert_array_equal(target.numpy(), _square_photo())
    assert set(np.unique(drawing)) == {0.0, 255.0}
    assert (drawing[..., 0] > 200).mean() > 0.7
    dark = drawing[..., 0] < 128
    rows, columns = np.mgrid[:HEIGHT, :WIDTH]
    # Chebyshev distance to the square's outline (the boundary between pixels 15|16, 31|32, ...).
    outside = np.maximum.reduce([15.5 - rows, rows - 31.5, 19.5 - columns, columns - 43.5])
    near_border = np.abs(outside) <= 2
    assert dark.any() and not (dark & ~near_border).any()
    # Every side of the square is drawn, as one line: about the perimeter in pixels, not a band.
    assert dark[14:18, 24:40].any(axis=0).all() and dark[30:34, 24:40].any(axis=0).all()
    assert dark[20:28, 18:22].any(axis=1).all() and dark[20:28, 42:46].any(axis=1).all()
    assert dark.sum() < 1.5 * 2 * (16 + 24)


def test_edges_of_a_flat_photo_are_blank():
    source, _ = tasks.make_pair(np.full((32, 32, 3), 90.0, np.float32), "edges", SEED)
    assert (source.numpy() == 255.0).all()


def test_inpaint_fills_only_the_mask():
    photo = _photo()
    source, target = tasks.make_pair(photo, "inpaint", SEED)
    mask = tasks.make_mask(HEIGHT, WIDTH, SEED).numpy()
    assert mask.shape == (HEIGHT, WIDTH, 1) and set(np.unique(mask)) == {0.0, 1.0}
    holes = np.broadcast_to(mask == 1, photo.shape)
    np.testing.assert_array_equal(source.numpy()[~holes], photo[~holes])
    assert (source.numpy()[holes] == tasks.INPAINT_FILL).all()
    np.testing.assert_array_equal(target.numpy(), photo)


def test_mask_coverage_and_determinism():
    low, high = tasks.INPAINT_COVERAGE
    masks = [tasks.make_mask(HEIGHT, WIDTH, tf.constant([seed, 1])).numpy() for seed in range(40)]
    coverages = np.array([mask.mean() for mask in masks])
    # Whole-pixel rounding of boxes a few pixels wide moves the coverage by a few percent of itself.
    assert coverages.min() >= 0.9 * low and coverages.max() <= 1.1 * high
    assert coverages.max() - coverages.min() > 0.5 * (high - low)  # the coverage itself varies
    np.testing.assert_array_equal(masks[7], tasks.make_mask(HEIGHT, WIDTH, tf.constant([7, 1])))
    assert len({mask.tobytes() for mask in masks}) == len(masks)


def _high_frequency_energy(image: np.ndarray) -> float:
    return float(np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean())


def test_superres_loses_fine_detail_but_keeps_smooth_images():
    rows, columns = np.mgrid[:HEIGHT, :WIDTH]
    checkerboard = np.repeat(((rows // 2 + columns // 2) % 2 * 255.0)[..., None], 3, -1)
    source, target = tasks.make_pair(checkerboard.astype(np.float32), "superres", SEED)
    assert source.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(target.numpy(), checkerboard)
    assert _high_frequency_energy(source.numpy()) < 0.1 * _high_frequency_energy(checkerboard)
    smooth = np.stack([rows * 2.0 + columns, 200.0 - columns * 2.0, 40.0 + rows], -1)
    source, _ = tasks.make_pair(smooth.astype(np.float32), "superres", SEED)
    assert np.abs(source.numpy() - smooth).mean() < 1.0
    errors = []
    for factor in (4, 8):
        detailed, _ = tasks.make_pair(_photo(), "superres", SEED, superres_factor=factor)
        assert 0.0 <= detailed.numpy().min() and detailed.numpy().max() <= 255.0
        errors.append(np.abs(detailed.numpy() - _photo()).mean())
    assert 2.0 < errors[0] < errors[1]  # a larger factor removes more


@pytest.mark.parametrize("task", tasks.TASKS)
def test_every_task_runs_in_a_dataset_map_with_unknown_sizes(task):
    photos = [_photo(), _photo()[:40, :33]]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(photos), output_signature=tf.TensorSpec((None, None, 3), tf.float32))
    seeds = tf.data.Dataset.from_tensor_slices(tf.constant([[1, 2], [5, 6]], tf.int64))
    dataset = tf.data.Dataset.zip(dataset, seeds).map(
        lambda photo, seed: tasks.make_pair(photo, task, seed), num_parallel_calls=2)
    channels = tasks.input_channels(task)
    assert dataset.element_spec[0].shape.as_list() == [None, None, channels]
    for (source, target), photo, seed in zip(dataset, photos, ([1, 2], [5, 6])):
        eager_source, _ = tasks.make_pair(photo, task, tf.constant(seed, tf.int64))
        assert source.shape == photo.shape[:2] + (channels,)
        np.testing.assert_allclose(source.numpy(), eager_source.numpy(), atol=1e-3)
        np.testing.assert_array_equal(target.numpy(), photo)


def test_input_channels_and_bad_arguments():
    assert [tasks.input_channels(task) for task in tasks.TASKS] == [1, 3, 3, 3]
    with pytest.raises(ValueError, match="colorize, edges, inpaint, superres"):
        tasks.make_pair(_photo(), "deblur", SEED)
    with pytest.raises(ValueError, match="colorize"):
        tasks.input_channels("deblur")
    with pytest.raises(ValueError, match="superres_factor"):
        tasks.make_pair(_photo(), "superres", SEED, superres_factor=1)
    with pytest.raises(ValueError, match="photo"):
        tasks.make_pair(_photo()[..., :1], "colorize", SEED)
