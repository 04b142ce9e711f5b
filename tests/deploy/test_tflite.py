"""TFLite export: each precision converts, runs under LiteRT and reproduces the Keras generator."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_config

from pix2pix_tf.config import TFLITE_PRECISIONS
from pix2pix_tf.data import pipeline, synthetic
from pix2pix_tf.deploy import tflite
from pix2pix_tf.models import generators
from pix2pix_tf.models.inference import inference_generator
from pix2pix_tf.run_folder import load_generator
from pix2pix_tf.training.train import train_and_evaluate

IMAGE_SIZE = 32


def _first_batch(config, split: str, batch_size: int) -> np.ndarray:
    """Input images of one un-jittered batch, float32 [batch_size, 32, 32, 3] in [-1, 1]."""
    dataset = pipeline.make_dataset(config, split, training=False, batch_size=batch_size)
    inputs, _ = next(iter(dataset))
    return inputs.numpy()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(generator, representative train images [64, ...], validation images [8, ...]).

    Trained briefly so that its outputs depend on the input, as quantization must preserve:
    an untrained U-Net outputs almost zero everywhere and any format would match it.
    """
    root = tmp_path_factory.mktemp("tflite")
    data = synthetic.make_synthetic_dataset(root / "data", train_size=64, val_size=8, image_size=IMAGE_SIZE)
    config = tiny_config(data, steps=150, log_every=50, sample_every=150, checkpoint_every=150)
    train_and_evaluate(config, root / "run")
    generator, config = load_generator(root / "run")
    return generator, _first_batch(config, "train", 64), _first_batch(config, "val", 8)


@pytest.fixture(scope="module")
def flatbuffers(trained) -> dict[str, bytes]:
    """The trained generator converted to each of the four precisions."""
    generator, representative, _ = trained
    return {
        precision: tflite.convert(generator, IMAGE_SIZE, precision, representative)
        for precision in TFLITE_PRECISIONS
    }


@pytest.mark.parametrize("precision", TFLITE_PRECISIONS)
def test_each_precision_reproduces_keras_within_its_threshold(trained, flatbuffers, precision):
    generator, _, images = trained
    outputs = generator(images, training=False).numpy()
    assert outputs.std() > 0.1, "the generator must be trained for the check to mean anything"
    result = tflite.verify(generator, {precision: flatbuffers[precision]}, images)[precision]
    assert result["psnr"] >= tflite.THRESHOLDS[precision], result
    assert result["passed"]


def test_tflite_model_runs_float_images_in_and_out(trained, flatbuffers, tmp_path):
    _, _, images = trained
    path = tmp_path / "model.tflite"
    path.write_bytes(flatbuffers["float32"])
    model = tflite.TFLiteModel(path)
    assert list(model.input_details["shape"]) == [1, IMAGE_SIZE, IMAGE_SIZE, 3]
    outputs = model.run(images)
    assert outputs.shape == images.shape and outputs.dtype == np.float32
    assert np.all(np.abs(outputs) <= 1)
    np.testing.assert_array_equal(model.run(images[2:3])[0], outputs[2])


def test_int8_with_uint8_io_has_uint8_tensors_and_keeps_quality(trained):
    generator, representative, images = trained
    flatbuffer = tflite.convert(generator, IMAGE_SIZE, "int8", representative, uint8_io=True)
    model = tflite.TFLiteModel(flatbuffer)
    assert model.input_details["dtype"] == np.uint8 and model.output_details["dtype"] == np.uint8
    # [-1, 1] over 256 levels: the phone app's pixel bytes map to the input almost unchanged.
    scale, zero_point = model.input_details["quantization"]
    assert scale == pytest.approx(2 / 255) and zero_point in (127, 128)
    result = tflite.parity(generator(images, training=False), model.run(images))
    assert result["psnr"] >= tflite.THRESHOLDS["int8"], result


def test_int8_is_over_three_times_smaller_than_float32(flatbuffers):
    assert len(flatbuffers["float32"]) > 3 * len(flatbuffers["int8"])
    assert len(flatbuffers["float32"]) > 1.8 * len(flatbuffers["float16"])


def test_resize_upsampling_generator_converts_with_float32_parity(trained):
    _, _, images = trained
    generator = generators.unet_generator(IMAGE_SIZE, filters=8, upsample="resize")
    # He-scaled kernels instead of the paper's N(0, 0.02), whose untrained outputs are almost 0
    # everywhere, so that matching them would prove nothing (training it would cost ~45 s).
    rng = np.random.default_rng(0)
    generator.set_weights([
        rng.normal(0, np.sqrt(2 / np.prod(weight.shape[:-1])), weight.shape) if weight.ndim == 4 else weight
        for weight in generator.get_weights()
    ])
    assert generator(images, training=False).numpy().std() > 0.1
    flatbuffer = tflite.convert(generator, IMAGE_SIZE, "float32")
    result = tflite.verify(generator, {"float32": flatbuffer}, images)["float32"]
    assert result["passed"], result


def test_int8_without_representative_images_raises(trained):
    generator, _, _ = trained
    with pytest.raises(ValueError, match="representative_images"):
        tflite.convert(generator, IMAGE_SIZE, "int8")
    with pytest.raises(ValueError, match="representative_images"):
        tflite.convert(generator, IMAGE_SIZE, "int8", np.zeros((4, 16, 16, 3), np.float32))


def test_unknown_precision_raises_naming_the_choices(trained):
    generator, _, _ = trained
    with pytest.raises(ValueError, match="float32, float16, dynamic_int8, int8"):
        tflite.convert(generator, IMAGE_SIZE, "int4")
    with pytest.raises(ValueError, match="uint8_io"):
        tflite.convert(generator, IMAGE_SIZE, "float16", uint8_io=True)


def test_parity_known_values():
    reference = np.zeros((2, 4, 4, 3), np.float32)
    assert tflite.parity(reference, reference) == {"psnr": tflite.MAX_PSNR, "max_abs_diff": 0.0}
    # 0.2 on [-1, 1] is 0.1 on [0, 1]: MSE 0.01, PSNR 20 dB.
    result = tflite.parity(reference, reference + 0.2)
    assert result["psnr"] == pytest.approx(20.0) and result["max_abs_diff"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="shape"):
        tflite.parity(reference, reference[:1])


def test_paper_mode_converts_with_its_dropout_masks_as_constants(trained):
    # TFLite has no kernel for the random ops that draw the masks, and the converter folds them
    # only when small: at 256 px (16x16x512 masks) paper-mode conversion used to fail.

    generator, _, images = trained
    paper = inference_generator(generator, "paper")
    graph = tflite._serving_function(paper, IMAGE_SIZE).graph
    assert not [op.type for op in graph.get_operations() if "Random" in op.type]
    result = tflite.verify(paper, {"float32": tflite.convert(paper, IMAGE_SIZE, "float32")}, images)["float32"]
    assert result["passed"], result
