"""Image-quality metrics: per-image L1, PSNR and SSIM, FID and KID, and a palette score.

Images come in as float32 (batch, H, W, C) in [-1, 1]; L1, PSNR and SSIM are computed on the
[0, 1] scale (peak 1), so they read the same as the numbers papers quote for 8-bit images.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pix2pix_tf.palettes import LABEL_PALETTES

PSNR_CAP_DB = 100.0

# The CMP façade labels as the pix2pix release colours them: class k (0..11) is matplotlib's
# "jet" colour map at (k + 1) / 12, uint8 RGB. Checked against ../shared/data/facades: every
# label image's pixels cluster around these 12 colours (JPEG blurs the boundaries).
# Every label palette as a (classes, 3) uint8 array, for the palette score.
PALETTE_COLOURS = {name: np.array(list(colours.values()), np.uint8) for name, colours in LABEL_PALETTES.items()}
FACADES_CLASSES = tuple(LABEL_PALETTES["facades"])
FACADES_PALETTE = PALETTE_COLOURS["facades"]


def per_image_l1(target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per image on the [0, 1] scale: (batch,) in [0, 1]."""
    return tf.reduce_mean(tf.abs(target - output), axis=[1, 2, 3]) / 2.0


def per_image_psnr(target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """PSNR per image in dB with peak 1 on the [0, 1] scale: (batch,); identical images give 100 dB (the cap)."""
    mse = tf.reduce_mean(tf.square((target - output) / 2.0), axis=[1, 2, 3])
    psnr = 10.0 * tf.math.log(1.0 / tf.maximum(mse, 1e-10)) / tf.math.log(10.0)
    return tf.minimum(psnr, PSNR_CAP_DB)


def per_image_ssim(target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """SSIM per image on the [0, 1] scale (11x11 Gaussian window, sigma 1.5, as Wang et al. 2004): (batch,) in [-1, 1].

    Identical images give exactly 1. Colour images average the SSIM of their channels. Images
    smaller than 11 px use a window of their own size.
    """
    size = min([11] + [int(side) for side in target.shape[1:3] if side is not None])
    return tf.image.ssim(target * 0.5 + 0.5, output * 0.5 + 0.5, max_val=1.0, filter_size=size)


# ---------------------------------------------------------------- FID and KID

INCEPTION_SIZE = 299


def inception_feature_extractor(weights: str | None = "imagenet"):
    """A function images -> Inception-v3 pool features, float64 (batch, 2048).

    Images (batch, H, W, 1 or 3) in [-1, 1] (Inception's own input range) are resized to
    299 x 299 bilinearly; gray images are repeated to 3 channels.

    Args:
      weights: "imagenet" (Keras downloads them once; needs the network), a path to a local
        ``.h5``/``.weights.h5`` file of ``InceptionV3(include_top=False)``, or None for random
        weights (only for testing the arithmetic: the scores then mean nothing).
    """
    import keras

    local = weights not in (None, "imagenet")
    model = keras.applications.InceptionV3(
        include_top=False, pooling="avg", input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
        weights=None if local else weights,
    )
    if local:
        try:
            model.load_weights(weights)
        except (OSError, ValueError) as error:
            raise ValueError(f"{weights} is not a weights file of InceptionV3(include_top=False): {error}") from error

    @tf.function
    def features(images):
        images = tf.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        return model(images, training=False)

    return lambda images: np.asarray(features(tf.convert_to_tensor(images, tf.float32)), np.float64)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (n, d) and (m, d): FID on Inception features.

    d^2 = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)). No complex matrix square root is
    needed: with S_a = X'X and S_b = Y'Y (X, Y the centred features over sqrt(n - 1)), the cross
    term tr((S_a S_b)^(1/2)) is the sum of the singular values of X Y' (n x m), or, when the sets
    are larger than the feature dimension, of tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)) (d x d). Both
    are exact and stay stable when the covariances are singular (fewer images than dimensions).
    """
    features_a, features_b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    (count_a, dimensions), count_b = features_a.shape, len(features_b)
    if count_a < 2 or count_b < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {count_a} and {count_b}")
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    centred_a = (features_a - mean_a) / np.sqrt(count_a - 1)
    centred_b = (features_b - mean_b) / np.sqrt(count_b - 1)
    if count_a * count_b <= dimensions * dimensions:
        cross = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum()
    else:
        cov_b = centred_b.T @ centred_b
        root_a = _symmetric_sqrt(centred_a.T @ centred_a)
        cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    traces = np.sum(centred_a**2) + np.sum(centred_b**2)
    distance = np.sum((mean_a - mean_b) ** 2) + traces - 2.0 * cross
    return float(max(distance, 0.0))


def kernel_distance(
    features_a: np.ndarray, features_b: np.ndarray, subsets: int = 10, subset_size: int = 1000, seed: int = 0
) -> float:
    """KID: unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged over random subsets.

    Unlike FID it is unbiased for small sets (about 0 for two samples of one distribution, and
    can be slightly negative). Each subset draws min(subset_size, n, m) features from each set.
    """
    features_a, features_b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    size = min(subset_size, len(features_a), len(features_b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(features_a)} and {len(features_b)}")
    dimensions = features_a.shape[1]
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        a = features_a[rng.choice(len(features_a), size, replace=False)]
        b = features_b[rng.choice(len(features_b), size, replace=False)]
        k_aa, k_bb = (a @ a.T / dimensions + 1) ** 3, (b @ b.T / dimensions + 1) ** 3
        k_ab = (a @ b.T / dimensions + 1) ** 3
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (size * (size - 1))
        estimates.append(within - 2.0 * k_ab.mean())
    return float(np.mean(estimates))


# ---------------------------------------------------------------- palette score (photo -> labels)


def snap_to_palette(images: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Class index of the nearest palette colour per pixel.

    Args:
      images: uint8 or float (..., 3) RGB in [0, 255].
      palette: (classes, 3) RGB in [0, 255].
    Returns:
      int (...) class indices.
    """
    pixels = np.asarray(images, np.float32)[..., np.newaxis, :]
    distances = np.sum((pixels - np.asarray(palette, np.float32)) ** 2, axis=-1)
    return np.argmin(distances, axis=-1)


class PaletteScore:
    """Accumulates a confusion matrix of generated vs target label images snapped to a palette.

    A Caffe-free relative of the paper's FCN score for photo -> labels: instead of segmenting a
    generated photo, it reads the generated label map directly. Scores:
    ``pixel_accuracy`` (fraction of pixels of the right class), ``class_accuracy`` (per-class
    recall averaged over classes present in the targets) and ``class_iou`` (intersection over
    union averaged over classes present in targets or outputs).
    """

    def __init__(self, palette: np.ndarray = FACADES_PALETTE):
        self.palette = np.asarray(palette)
        self.confusion = np.zeros((len(palette), len(palette)), np.int64)

    @staticmethod
    def _scores(confusion: np.ndarray) -> dict[str, float]:
        true_counts, predicted_counts = confusion.sum(axis=1), confusion.sum(axis=0)
        hits = np.diag(confusion)
        present = true_counts > 0
        union = true_counts + predicted_counts - hits
        seen = union > 0
        return {
            "pixel_accuracy": float(hits.sum() / max(confusion.sum(), 1)),
            "class_accuracy": float(np.mean(hits[present] / true_counts[present])) if present.any() else 0.0,
            "class_iou": float(np.mean(hits[seen] / union[seen])) if seen.any() else 0.0,
        }

    def update(self, targets: np.ndarray, outputs: np.ndarray) -> list[dict[str, float]]:
        """Adds a batch of (batch, H, W, 3) images in [-1, 1]; returns each image's own scores."""
        classes = len(self.palette)
        per_image = []
        for target, output in zip(np.asarray(targets), np.asarray(outputs)):
            true = snap_to_palette((target + 1.0) * 127.5, self.palette).ravel()
            predicted = snap_to_palette((output + 1.0) * 127.5, self.palette).ravel()
            confusion = np.bincount(true * classes + predicted, minlength=classes * classes)
            confusion = confusion.reshape(classes, classes)
            self.confusion += confusion
            per_image.append(self._scores(confusion))
        return per_image

    def result(self) -> dict[str, float]:
        """Scores over every pixel added so far."""
        return self._scores(self.confusion)
