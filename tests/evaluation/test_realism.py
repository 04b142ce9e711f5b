"""The FCN-style realism score: a segmenter reads generated photos and the real ones."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_tf import palettes
from pix2pix_tf.config import TrainConfig
from pix2pix_tf.evaluation import realism, scoring

PALETTE = np.array(list(palettes.classes("facades").values()), np.uint8)


def _label_maps(count: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """(count, size, size, 3) label maps in [-1, 1]: 4x4 blocks of random façade classes."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(PALETTE), (count, size // 4, size // 4)).repeat(4, axis=1).repeat(4, axis=2)
    return PALETTE[classes].astype(np.float32) / 127.5 - 1.0


def _identity_segmenter() -> realism.Segmenter:
    """Reads a photo as the label map it shows: a perfect reader of label-map-like photos."""
    return realism.Segmenter(lambda photos: np.asarray(photos), PALETTE, "identity")


def test_a_photo_the_segmenter_reads_as_its_label_map_scores_one_and_the_ceiling_is_scored_beside():
    label_maps = _label_maps(2)
    real_photos = label_maps.copy()
    real_photos[:, :8] = PALETTE[0] / 127.5 - 1.0  # the top half read as background: a worse "real" photo
    score = realism.RealismScore(_identity_segmenter())
    rows = score.update(label_maps, real_photos, outputs=label_maps)
    summary = score.result()
    assert summary["fcn_pixel_accuracy"] == summary["fcn_class_iou"] == 1.0
    truly_background = np.mean(np.all(label_maps[:, :8] == real_photos[:, :8], axis=-1))
    assert summary["fcn_real_pixel_accuracy"] == pytest.approx(0.5 + 0.5 * truly_background)
    assert summary["fcn_real_class_iou"] < 1.0
    assert [row["fcn_pixel_accuracy"] for row in rows] == [1.0, 1.0]
    assert all(row["fcn_real_pixel_accuracy"] < 1.0 for row in rows)


def test_scoring_a_generator_with_a_segmenter_adds_the_fcn_score_to_summary_and_rows():
    import tensorflow as tf

    label_maps = _label_maps(3, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices((label_maps, label_maps)).batch(2)
    shuffled = np.roll(label_maps, 1, axis=0)  # each output is another image's label map
    outputs = iter([shuffled[:2], shuffled[2:]])
    result = scoring.score(lambda inputs: next(outputs), dataset, segmenter=_identity_segmenter())
    assert result.summary["fcn_real_pixel_accuracy"] == 1.0  # the "photos" are the label maps
    assert result.summary["fcn_pixel_accuracy"] < 0.5
    assert all("fcn_class_iou" in row and "fcn_real_class_iou" in row for row in result.rows)


def test_a_missing_segmenter_is_named_as_the_flag(tmp_path):
    with pytest.raises(ValueError, match="--segmenter: .*does not exist"):
        realism.load_segmenter(tmp_path / "missing")


def test_choosing_the_best_checkpoint_by_realism_needs_a_segmenter():
    with pytest.raises(ValueError, match="val_segmenter"):
        TrainConfig(best_metric="fcn_class_iou")
    assert TrainConfig(best_metric="fcn_class_iou", val_segmenter="runs/photo2labels").val_segmenter
