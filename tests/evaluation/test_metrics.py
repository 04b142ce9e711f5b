"""Metric values on hand-made cases, and FID/KID against NumPy reference computations."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.evaluation import metrics


def _images(seed: int = 0, shape=(3, 32, 32, 3)) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed=(seed, 1), minval=-0.8, maxval=0.8)


def test_identical_images_score_perfectly():
    images = _images()
    np.testing.assert_allclose(metrics.per_image_l1(images, images), 0.0)
    np.testing.assert_allclose(metrics.per_image_psnr(images, images), metrics.PSNR_CAP_DB, rtol=1e-6)
    np.testing.assert_allclose(metrics.per_image_ssim(images, images), 1.0, rtol=1e-6)


def test_known_noise_gives_known_l1_and_psnr():
    target = _images()
    # +-0.2 on [-1, 1] is +-0.1 on [0, 1]: L1 0.1, MSE 0.01, PSNR 20 dB exactly.
    signs = tf.sign(tf.random.stateless_uniform(target.shape, seed=(3, 4), minval=-1, maxval=1))
    output = target + 0.2 * signs
    np.testing.assert_allclose(metrics.per_image_l1(target, output), 0.1, rtol=1e-5)
    np.testing.assert_allclose(metrics.per_image_psnr(target, output), 20.0, rtol=1e-5)


def test_ssim_falls_as_noise_grows_and_works_on_gray():
    target = _images(shape=(2, 32, 32, 1))
    noise = tf.random.stateless_normal(target.shape, seed=(5, 6))
    values = [float(tf.reduce_mean(metrics.per_image_ssim(target, target + level * noise))) for level in (0.05, 0.2, 0.6)]
    assert 1.0 > values[0] > values[1] > values[2]


def _reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID the textbook way: the eigenvalues of S_a S_b (real and >= 0 for PSD matrices)."""
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b)
    cross = np.sum(np.sqrt(np.clip(eigenvalues.real, 0, None)))
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def test_fid_is_zero_for_a_set_against_itself_grows_with_noise_and_matches_reference():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    distances = []
    for level in (0.1, 0.5, 2.0):
        noisy = features + level * rng.normal(size=features.shape)
        distance = metrics.frechet_distance(features, noisy)
        assert distance == pytest.approx(_reference_fid(features, noisy), rel=1e-6)
        distances.append(distance)
    assert distances[0] < distances[1] < distances[2]
    few = features[:5] + rng.normal(size=(5, 8))  # fewer images than dimensions: the n x m route
    assert metrics.frechet_distance(features[5:10], few) == pytest.approx(_reference_fid(features[5:10], few), rel=1e-6)


def _reference_kid(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic kernel, written as the double sums of its definition."""
    n, d = len(a), a.shape[1]
    kernel = lambda x, y: (x @ y / d + 1) ** 3  # noqa: E731
    within_a = sum(kernel(a[i], a[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    within_b = sum(kernel(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    across = sum(kernel(a[i], b[j]) for i in range(n) for j in range(n)) / (n * n)
    return float(within_a + within_b - 2 * across)


def test_kid_matches_reference_is_near_zero_for_one_distribution_and_grows_with_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    # One subset of all 40 is a permutation of each set: the estimate is the full double sum.
    assert metrics.kernel_distance(a, b, subsets=1, subset_size=40) == pytest.approx(_reference_kid(a, b), rel=1e-9)
    same = metrics.kernel_distance(rng.normal(size=(400, 6)), rng.normal(size=(400, 6)), subset_size=200)
    shifted = metrics.kernel_distance(rng.normal(size=(400, 6)), rng.normal(size=(400, 6)) + 1.0, subset_size=200)
    assert abs(same) < 0.05 * shifted


@pytest.mark.slow
def test_inception_features_give_fid_near_zero_for_same_images_and_more_with_noise():
    extract = metrics.inception_feature_extractor(weights=None)  # random weights: the arithmetic only
    images = _images(shape=(8, 32, 32, 3))
    noise = tf.random.stateless_normal(images.shape, seed=(7, 8))
    real = extract(images)
    assert real.shape == (8, 2048)
    scores = [metrics.frechet_distance(real, extract(tf.clip_by_value(images + level * noise, -1, 1)))
              for level in (0.0, 0.3, 1.0)]
    assert scores[0] == pytest.approx(0.0, abs=1e-6 * max(scores[2], 1e-9) + 1e-6)
    assert scores[0] < scores[1] < scores[2]
    assert extract(images[..., :1]).shape == (8, 2048)  # gray images are repeated to RGB


def test_inception_weights_file_that_is_not_one_is_named(tmp_path):
    bad = tmp_path / "inception.weights.h5"
    bad.write_bytes(b"not a weights file")
    with pytest.raises(ValueError, match="inception.weights.h5"):
        metrics.inception_feature_extractor(str(bad))


def test_palette_score_on_a_label_map_with_known_errors():
    palette = metrics.FACADES_PALETTE
    classes = np.zeros((10, 10), int)
    classes[:, 5:] = 1   # 50 pixels of class 0, 50 of class 1
    classes[0, :2] = 2   # and 2 of class 2 (from class 0's half): 48 / 50 / 2
    generated = classes.copy()
    generated[1, :6] = 1  # 5 pixels of class 0 painted as class 1 (the sixth was already 1)
    to_image = lambda labels: palette[labels].astype(np.float32) / 127.5 - 1.0  # noqa: E731
    rng = np.random.default_rng(0)
    noisy_target = np.clip(to_image(classes) + rng.uniform(-0.08, 0.08, (10, 10, 3)), -1, 1)  # JPEG-like
    score = metrics.PaletteScore(palette)
    per_image = score.update(noisy_target[np.newaxis], to_image(generated)[np.newaxis])
    result = score.result()
    assert result == per_image[0]
    assert result["pixel_accuracy"] == pytest.approx(0.95)
    assert result["class_accuracy"] == pytest.approx((43 / 48 + 1 + 1) / 3)
    assert result["class_iou"] == pytest.approx((43 / 48 + 50 / 55 + 1) / 3)


def test_facades_palette_snaps_its_own_colours_to_their_classes():
    palette = metrics.FACADES_PALETTE
    assert palette.shape == (len(metrics.FACADES_CLASSES), 3)
    np.testing.assert_array_equal(metrics.snap_to_palette(palette, palette), np.arange(len(palette)))
