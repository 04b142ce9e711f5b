"""Inference graphs and the SavedModel export: numerics against Keras, any size, config round trip."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.config import Config, DataConfig, ModelConfig
from pix2pix_tf.deploy import saved_model
from pix2pix_tf.models import generators
from pix2pix_tf.models.inference import (
    FixedDropout,
    inference_generator,
    make_generate_fn,
)

TINY_CONFIG = Config(model=ModelConfig(filters=8), data=DataConfig(image_size=64))


def _perturbed(generator: keras.Model, seed: int = 0) -> keras.Model:
    """Random batch-norm gamma, beta and moving statistics, so that the two modes differ."""
    rng = np.random.default_rng(seed)
    for layer in generator.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            values = [
                rng.uniform(0.5, 1.5, channels), rng.normal(0.0, 0.1, channels),
                rng.normal(0.0, 0.1, channels), rng.uniform(0.5, 2.0, channels),
            ]
            layer.set_weights([value.astype("float32") for value in values])
    return generator


def _images(batch: int, height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, height, width, channels)).astype("float32")


GENERATORS = {
    "unet": lambda: generators.unet_generator(64, filters=8),
    "resnet": lambda: generators.resnet_generator(blocks=2, filters=8, dropout=0.5),
    "unet_mobile": lambda: generators.unet_mobile_generator(64, filters=8),
    "unet_mobile_separable": lambda: generators.unet_mobile_generator(64, filters=8, conv="separable"),
}


@pytest.fixture(scope="module")
def unet() -> keras.Model:
    return _perturbed(generators.unet_generator(64, filters=8))


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_eval_mode_equals_keras_inference_even_when_called_training(name):
    generator = _perturbed(GENERATORS[name]())
    images = _images(2, 64, 64)
    expected = generator(images, training=False)
    inference = inference_generator(generator, "eval")
    np.testing.assert_allclose(inference(images), expected, atol=1e-5)
    np.testing.assert_allclose(inference(images, training=True), expected, atol=1e-5)


def test_paper_mode_equals_training_statistics_of_each_image_alone():
    generator = _perturbed(generators.unet_generator(64, filters=8, dropout=0.0))
    images = _images(3, 64, 64)
    expected = make_generate_fn(generator, "paper")(images)
    np.testing.assert_allclose(inference_generator(generator, "paper")(images), expected, atol=1e-4)
    assert np.abs(expected - generator(images, training=False)).max() > 1e-2  # the modes differ


@pytest.mark.parametrize("mode", ["eval", "paper"])
@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_output_is_deterministic_and_independent_of_the_batch(name, mode):
    inference = inference_generator(_perturbed(GENERATORS[name]()), mode)
    images = _images(4, 64, 64)
    batch = inference(images).numpy()
    np.testing.assert_array_equal(inference(images), batch)
    np.testing.assert_allclose(inference(images[2:3]), batch[2:3], atol=1e-5)
    others = np.concatenate([_images(3, 64, 64, seed=1), images[2:3]])
    np.testing.assert_allclose(inference(others)[3:], batch[2:3], atol=1e-5)


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_without_batch_norm_or_dropout_both_modes_equal_keras(norm):
    generator = generators.unet_generator(32, filters=8, norm=norm, dropout=0.0)
    images = _images(2, 32, 32)
    for mode in ("eval", "paper"):
        inference = inference_generator(generator, mode)
        np.testing.assert_allclose(inference(images), generator(images, training=False), atol=1e-5)


def test_fixed_dropout_drops_the_same_units_of_every_image_and_call():
    layer = FixedDropout(0.5, seed=3)
    outputs = layer(tf.ones((2, 16, 16, 4))).numpy()
    assert set(np.unique(outputs)) == {0.0, 2.0}
    assert 0.4 < (outputs == 0).mean() < 0.6
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(layer(tf.ones((1, 16, 16, 4))), outputs[:1])
    assert not np.array_equal(FixedDropout(0.5, seed=4)(tf.ones((1, 16, 16, 4))), outputs[:1])


def test_paper_inference_model_round_trips_through_keras_file(unet, tmp_path):
    inference = inference_generator(unet, "paper")
    path = tmp_path / "paper.keras"
    inference.save(path)
    images = _images(2, 64, 64)
    np.testing.assert_allclose(keras.saving.load_model(path)(images), inference(images), atol=1e-6)


@pytest.fixture(scope="module")
def saved_unet(unet, tmp_path_factory) -> pathlib.Path:
    return saved_model.export_saved_model(unet, TINY_CONFIG, tmp_path_factory.mktemp("export") / "unet", "paper")


def _padded_reference(model: keras.Model, images: np.ndarray, multiple: int) -> np.ndarray:
    """The Keras model on the image mirrored (numpy's symmetric pad) to the multiple, cropped back."""
    _, height, width, _ = images.shape
    pad = [(0, 0), (0, -height % multiple), (0, -width % multiple), (0, 0)]
    return model(np.pad(images, pad, mode="symmetric")).numpy()[:, :height, :width]


@pytest.mark.parametrize("size", [(64, 64), (100, 150), (5, 7)])
def test_saved_model_float_signature_equals_keras_at_any_size(unet, saved_unet, size):
    images = _images(2, *size)
    expected = _padded_reference(inference_generator(unet, "paper"), images, 64)
    translate_float = tf.saved_model.load(str(saved_unet)).signatures["translate_float"]
    np.testing.assert_allclose(translate_float(images=images)["output_0"], expected, atol=1e-5)


@pytest.mark.parametrize("model", [ModelConfig(filters=8, upsample="resize"),
                                   ModelConfig(generator="unet_mobile", filters=8, mobile_conv="separable")],
                         ids=["unet_resize", "unet_mobile_separable"])
def test_resizing_generators_export_a_saved_model_of_any_size(model, tmp_path):
    """Bilinear upsampling of a size known only at run time (Keras' UpSampling2D failed to trace)."""
    config = Config(model=model, data=DataConfig(image_size=32))
    generator = _perturbed(generators.build_generator(model, 32))
    folder = saved_model.export_saved_model(generator, config, tmp_path / "export", "eval")
    images = _images(1, 40, 72)
    expected = _padded_reference(inference_generator(generator, "eval"), images, 32)
    translate_float = tf.saved_model.load(str(folder)).signatures["translate_float"]
    np.testing.assert_allclose(translate_float(images=images)["output_0"], expected, atol=1e-5)


def test_serving_signature_maps_uint8_of_any_size_to_uint8(saved_unet):
    loaded = saved_model.load_saved_model(saved_unet)
    config, mode = loaded.config, loaded.mode
    images = np.random.default_rng(0).integers(0, 256, (3, 37, 90, 3), dtype=np.uint8)
    outputs = loaded.serve(images)
    assert outputs.dtype == tf.uint8 and outputs.shape == (3, 37, 90, 3)
    serving = tf.saved_model.load(str(saved_unet)).signatures["serving_default"]
    np.testing.assert_array_equal(serving(images=images)["output_0"], outputs)
    assert (config, mode) == (TINY_CONFIG, "paper")


def test_resnet_and_grayscale_configs_export(tmp_path):
    config = Config(model=ModelConfig(generator="resnet", filters=8, resnet_blocks=2, input_channels=1))
    generator = _perturbed(generators.build_generator(config.model, config.data.image_size))
    loaded = saved_model.load_saved_model(saved_model.export_saved_model(generator, config, tmp_path / "resnet", "eval"))
    translate = loaded.serve
    assert (loaded.config, loaded.mode) == (config, "eval")
    images = np.random.default_rng(0).integers(0, 256, (1, 30, 45, 1), dtype=np.uint8)
    outputs = translate(images).numpy().astype(int)
    expected = _padded_reference(generator, images / 127.5 - 1.0, 4)
    assert outputs.shape == (1, 30, 45, 3)
    assert np.abs(outputs - np.round((expected + 1) * 127.5)).max() <= 1


@pytest.mark.slow
def test_config_json_loads_in_a_fresh_process_without_flags(saved_unet):
    script = (
        "import sys, tensorflow as tf; loaded = tf.saved_model.load(sys.argv[1]); "
        "print(loaded.signatures['config_json']()['output_0'].numpy().decode())"
    )
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(saved_unet)], capture_output=True, text=True, check=True,
        env=environment,
    )
    assert Config.from_json(result.stdout) == TINY_CONFIG
    assert (saved_unet / "assets" / "config.json").exists()


def test_loading_something_else_raises_naming_the_folder(tmp_path):
    foreign = tmp_path / "foreign"
    tf.saved_model.save(tf.Module(), str(foreign))
    for folder in (tmp_path / "missing", tmp_path, foreign):
        with pytest.raises(ValueError, match=re.escape(str(folder))):
            saved_model.load_saved_model(folder)


def test_inference_mode_must_be_known(unet):
    with pytest.raises(ValueError, match="mode='train'"):
        inference_generator(unet, "train")


def _folder_bytes(folder: pathlib.Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@pytest.mark.slow
def test_paper_sized_saved_model_stores_the_weights_once(tmp_path):
    generator = generators.unet_generator()
    directory = saved_model.export_saved_model(generator, Config(), tmp_path / "unet256")
    weight_bytes = 4 * generator.count_params()  # 54.4M float32 parameters and statistics
    assert weight_bytes <= _folder_bytes(directory) < 1.05 * weight_bytes


def test_fixed_dropout_draws_one_mask_whether_the_size_is_known_when_traced_or_not():
    layer = FixedDropout(0.5, seed=3)
    images = tf.random.normal((2, 8, 8, 16), seed=1)
    static = layer(images)  # size known: the mask is drawn once, as a constant
    dynamic = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 16))])(images)
    np.testing.assert_array_equal(static.numpy(), dynamic.numpy())
    dropped = static.numpy() == 0
    np.testing.assert_array_equal(dropped[0], dropped[1])  # one mask for every image of a batch
    assert 0.3 < dropped.mean() < 0.7


def _export_folder(path: pathlib.Path, label: str) -> pathlib.Path:
    path.mkdir(parents=True)
    (path / saved_model.EXPORT_RECORD).write_text("{}\n")
    (path / "label.txt").write_text(label)
    return path


def test_replacing_an_export_swaps_it_in_one_step_and_leaves_nothing_beside_it(tmp_path, monkeypatch):
    """--output never lacks a whole export: the old one is swapped out, not renamed away first."""
    from pix2pix_tf.deploy import export

    out = _export_folder(tmp_path / "out", "old")
    renamed = []
    rename = pathlib.Path.rename

    def watched(self, target):  # every rename that moves the export away leaves --output empty
        renamed.append((self.name, pathlib.Path(target).name))
        return rename(self, target)

    monkeypatch.setattr(pathlib.Path, "rename", watched)
    export.replace_folder(_export_folder(tmp_path / ".out.partial-1-a", "new"), out)
    assert (out / "label.txt").read_text() == "new"
    assert ("out", "out") not in renamed and not any(source == "out" for source, _ in renamed)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_two_exports_to_one_output_at_once_both_succeed(tmp_path):
    import threading

    from pix2pix_tf.deploy import export

    out = _export_folder(tmp_path / "out", "old")
    new = [_export_folder(tmp_path / f".out.partial-{index}-x", str(index)) for index in range(6)]
    errors = []

    def replace(folder):
        try:
            export.replace_folder(folder, out)
        except OSError as error:
            errors.append(error)

    threads = [threading.Thread(target=replace, args=(folder,)) for folder in new]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert (out / "label.txt").read_text() in {str(index) for index in range(6)}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_a_symlinked_output_keeps_its_link_and_its_target_is_replaced(tmp_path):
    from pix2pix_tf.deploy import export

    target = _export_folder(tmp_path / "exports" / "v1", "old")
    (tmp_path / "current").symlink_to(target)
    out = export.output_folder(tmp_path / "current")
    assert out == target
    export.replace_folder(_export_folder(tmp_path / "exports" / ".v1.partial-1-x", "new"), out)
    assert (tmp_path / "current").is_symlink() and ((tmp_path / "current") / "label.txt").read_text() == "new"


def test_an_output_whose_folder_cannot_be_written_is_named_not_the_temporary_folder(tmp_path, monkeypatch):
    from pix2pix_tf.deploy import export

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(export.tempfile, "mkdtemp", refuse)
    with pytest.raises(ValueError, match=f"^--output {tmp_path / 'site'}: cannot write in {tmp_path} "
                                         r"\(Permission denied\)$"):
        export._staging_folder(tmp_path / "site")


def test_an_export_gets_the_permissions_of_a_new_folder_not_a_private_temporary_ones(tmp_path):
    """Staged in a temporary folder (mode 0700): an exported site was unreadable to a web server."""
    import os

    from pix2pix_tf.deploy import export

    umask = os.umask(0o022)
    try:
        staging = export._staging_folder(tmp_path / "site")
    finally:
        os.umask(umask)
    (staging / saved_model.EXPORT_RECORD).write_text("{}\n")
    export.replace_folder(staging, tmp_path / "site")
    assert (tmp_path / "site").stat().st_mode & 0o777 == 0o755
