"""Checkpoints stay readable: the variables a run's checkpoint holds (names and shapes, networks,
optimizers, step, dropout seeds) are pinned here for every architecture (checkpoint_layout.json), as
the package wrote them before its speed kernels moved out of the models, whichever ``--kernels`` train."""

from __future__ import annotations

import json
import pathlib

import pytest
import tensorflow as tf

from pix2pix_tf.config import Config, DataConfig, ModelConfig, TrainConfig
from pix2pix_tf.training.step import Pix2Pix

# The layouts in checkpoint_layout.json were written by these configs (32 px, 8 filters).
CASES = {
    "unet": (ModelConfig(filters=8, disc_filters=8), {}),
    "unet_mobile": (ModelConfig(generator="unet_mobile", filters=8, disc_filters=8), {}),
    "unet_mobile_separable": (ModelConfig(generator="unet_mobile", mobile_conv="separable", filters=8,
                                          disc_filters=8), {}),
    "resnet": (ModelConfig(generator="resnet", resnet_blocks=2, filters=8, disc_filters=8), {}),
    "hd": (ModelConfig(norm="instance", disc_scales=2, disc_layers=2, filters=8, disc_filters=8),
           dict(feature_matching_weight=10.0, gan_loss="lsgan")),
}
PINNED = json.loads((pathlib.Path(__file__).with_name("checkpoint_layout.json")).read_text())


@pytest.mark.parametrize("kernels", ["keras", "cpu"])
@pytest.mark.parametrize("case", CASES)
def test_a_checkpoint_holds_the_pinned_variables(case, kernels, tmp_path):
    """A change here breaks every checkpoint written before it (resuming, distilling, exporting):
    rename or reorder no layer, variable or checkpointed object without a conversion."""
    model_config, train = CASES[case]
    config = Config(model=model_config, data=DataConfig(image_size=32),
                    train=TrainConfig(batch_size=2, mixed_precision="none", kernels=kernels, **train))
    model = Pix2Pix(config, steps_per_epoch=10)
    path = tf.train.CheckpointManager(model.checkpoint(), str(tmp_path), max_to_keep=1).save(checkpoint_number=1)
    written = {key: shape for key, shape in tf.train.list_variables(path)
               if not key.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}
    assert written == PINNED[case]
