"""pix2pixHD's additions: multi-scale discriminators, discriminator feature matching, the VGG
perceptual loss and --preset=hd. The step is checked against pix2pixHD's losses written out here
independently (in the paper's reference update order), as test_reference_step checks the paper's."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config
from test_reference_step import _largest_difference, _TorchAdam, _twin_models

from pix2pix_tf import speed
from pix2pix_tf.config import Config, get_preset
from pix2pix_tf.models import losses, perceptual
from pix2pix_tf.models.discriminators import (
    HalveByAverage,
    build_discriminator,
    check_scales,
    multiscale_discriminator,
    patchgan_discriminator,
)
from pix2pix_tf.training.step import Pix2Pix


def _hd_config(size=64, scales=2, norm="batch", **train):
    config = tiny_config(**train)
    return config.replace(model=dict(disc_scales=scales, dropout=0.0, norm=norm),
                          data=dict(image_size=size))


def _halve(x: tf.Tensor) -> tf.Tensor:
    """pix2pixHD's AvgPool2d(3, stride=2, padding=1, count_include_pad=False), written as windows:
    output i averages input rows 2i-1 .. 2i+1 that exist, and likewise columns."""
    def along(x, axis):
        size = x.shape[axis]
        slices = []
        for index in range((size - 1) // 2 + 1):
            low, high = max(2 * index - 1, 0), min(2 * index + 2, size)
            window = x[:, low:high] if axis == 1 else x[:, :, low:high]
            slices.append(tf.reduce_mean(window, axis=axis))
        return tf.stack(slices, axis=axis)

    return along(along(x, 1), 2)


def test_halving_is_pix2pixhds_average_pooling_with_uncounted_padding():
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (2, 7, 10, 3)), tf.float32)
    halved = HalveByAverage()(x)
    assert halved.shape == (2, 4, 5, 3)
    np.testing.assert_allclose(halved, _halve(x), atol=1e-6)
    # The corner averages its 2x2 real pixels, an inner pixel its 3x3 window.
    np.testing.assert_allclose(halved[0, 0, 0], tf.reduce_mean(x[0, :2, :2], axis=(0, 1)), atol=1e-6)
    np.testing.assert_allclose(halved[0, 1, 1], tf.reduce_mean(x[0, 1:4, 1:4], axis=(0, 1)), atol=1e-6)


def test_multiscale_discriminator_judges_each_halving_with_its_own_patchgan():
    model = multiscale_discriminator(3, filters=8, features=True)
    single = patchgan_discriminator(filters=8)
    assert model.count_params() == 3 * single.count_params()  # three PatchGANs, each its own weights
    rng = np.random.default_rng(1)
    source, image = (tf.constant(rng.uniform(-1, 1, (1, 128, 128, 3)), tf.float32) for _ in range(2))
    outputs = model([source, image])
    assert [scale[-1].shape[1] for scale in outputs] == [14, 6, 2]  # 70x70 patches of 128, 64 and 32 px
    assert all(len(scale) == 5 for scale in outputs)  # 4 hidden activations + logits
    # The second scale is its PatchGAN on the halved pair.
    second = model.get_layer("scale1")
    expected = second([_halve(source), _halve(image)])
    np.testing.assert_allclose(outputs[1][-1], expected[-1], atol=1e-5)
    kernels = [model.get_layer(f"scale{index}").get_layer("layer0_conv").kernel.numpy() for index in range(3)]
    assert not np.allclose(kernels[0], kernels[1])
    # One scale is the paper's PatchGAN itself: same variables, so its checkpoints still load.
    paper = build_discriminator(Config().model)
    assert paper.name == "patchgan_discriminator"
    assert sum(int(np.prod(weight.shape)) for weight in paper.trainable_weights) == 2_768_705


def test_too_many_scales_for_the_image_size_is_one_error_naming_the_flags():
    check_scales(_hd_config(size=64, scales=2).model, 64)
    with pytest.raises(ValueError, match=r"--disc_scales=3 at --image_size=64 .* 16 px.* at least 24 px"):
        check_scales(_hd_config(size=64, scales=3).model, 64)
    with pytest.raises(ValueError, match="--disc_scales=3"):
        Pix2Pix(_hd_config(size=64, scales=3), steps_per_epoch=10)


def test_gan_losses_sum_over_scales_and_feature_matching_weighs_as_pix2pixhd():
    rng = np.random.default_rng(2)
    real, fake = ([tf.constant(rng.normal(size=(2, 4, 4, 1)), tf.float32) for _ in range(2)] for _ in range(2))
    for kind in ("vanilla", "lsgan", "hinge"):
        total = losses.discriminator_loss(real, fake, kind)
        parts = [losses.discriminator_loss(r, f, kind) for r, f in zip(real, fake)]
        assert float(total) == pytest.approx(float(sum(parts)), rel=1e-6)
        assert float(losses.generator_adversarial_loss(fake, kind)) == pytest.approx(
            sum(float(losses.generator_adversarial_loss(f, kind)) for f in fake), rel=1e-6)
    # Two scales of two layers: each |difference| mean weighs 4 / 2 layers / 2 scales = 1.
    real_features = [[tf.zeros((1, 2, 2, 3)), tf.zeros((1, 1, 1, 3))]] * 2
    fake_features = [[tf.fill((1, 2, 2, 3), 0.5), tf.fill((1, 1, 1, 3), -2.0)]] * 2
    assert float(losses.feature_matching_loss(fake_features, real_features)) == pytest.approx(2 * (0.5 + 2.0))
    assert float(losses.feature_matching_loss(real_features, real_features)) == 0.0
    fake_variable, real_variable = tf.Variable(tf.ones((1, 2, 2, 3))), tf.Variable(tf.zeros((1, 2, 2, 3)))
    with tf.GradientTape() as tape:
        loss = losses.feature_matching_loss([[fake_variable]], [[real_variable]])
    fake_gradient, real_gradient = tape.gradient(loss, [fake_variable, real_variable])
    np.testing.assert_allclose(fake_gradient, np.full((1, 2, 2, 3), 4.0 / 12))  # 4 / 1 layer / 1 scale / 12 values
    assert real_gradient is None  # the real features are targets


def test_hd_preset_is_pix2pixhds_recipe_on_the_paper_generator():
    config = get_preset("hd")
    assert (config.model.norm, config.model.disc_scales, config.model.generator) == ("instance", 2, "unet")
    assert (config.train.gan_loss, config.train.feature_matching_weight, config.train.l1_weight) == ("lsgan", 10.0, 0.0)
    assert not config.train.uses_perceptual
    with pytest.raises(ValueError, match="feature_matching_weight needs a discriminator"):
        tiny_config(gan_weight=0.0, feature_matching_weight=10.0)


def _vgg_weights_file(path) -> str:
    """A local VGG19 weights file (random weights, saved here: no download)."""
    keras.utils.set_random_seed(5)
    keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3)).save_weights(path)
    return str(path)


def _bce(logits, label):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), label), logits))


def _lsgan(logits, label):
    return tf.reduce_mean(tf.square(logits - label))


def _pix2pixhd_step(model, g_adam, d_adam, real_a, real_b, gan_loss, fm_weight, l1_weight, vgg=None,
                    vgg_weight=0.0) -> None:
    """pix2pixHD's losses in the paper's reference order, on ``model``'s networks: D's scales on the
    pair halved again and again; D = Σ_scales ½·[GAN(fake, 0) + GAN(real, 1)], updated first; then
    G = Σ_scales GAN(D(fake), 1) + λ_FM·Σ_scales Σ_layers (4 / layers)(1 / scales)·|D_l(fake) - D_l(real)|
    + λ_L1·L1 + λ_VGG·Σ_k w_k·|VGG_k(fake) - VGG_k(real)| against the D just updated (real judged
    before fake, as ours, for batch norm's moving statistics)."""
    criterion = _bce if gan_loss == "vanilla" else _lsgan
    scales = model.config.model.disc_scales
    networks = [model.discriminator.get_layer(f"scale{index}") for index in range(scales)]

    def pyramid(a, b):
        pairs = [(a, b)]
        for _ in range(scales - 1):
            a, b = _halve(a), _halve(b)
            pairs.append((a, b))
        return pairs

    with tf.GradientTape() as generator_tape:
        fake_b = model.generator(real_a, training=True)
        with tf.GradientTape() as discriminator_tape:
            fake_outputs = [net(list(pair), training=True)
                            for net, pair in zip(networks, pyramid(real_a, tf.stop_gradient(fake_b)))]
            real_outputs = [net(list(pair), training=True) for net, pair in zip(networks, pyramid(real_a, real_b))]
            loss_d = sum(0.5 * (criterion(fake[-1], 0.0) + criterion(real[-1], 1.0))
                         for fake, real in zip(fake_outputs, real_outputs))
        d_adam.apply(discriminator_tape.gradient(loss_d, model.discriminator.trainable_variables))
        real_outputs = [net(list(pair), training=True) for net, pair in zip(networks, pyramid(real_a, real_b))]
        fake_outputs = [net(list(pair), training=True) for net, pair in zip(networks, pyramid(real_a, fake_b))]
        loss_g = sum(criterion(fake[-1], 1.0) for fake in fake_outputs)
        for fake, real in zip(fake_outputs, real_outputs):
            layers = len(fake) - 1
            loss_g += fm_weight * sum(4.0 / layers / scales * tf.reduce_mean(tf.abs(f - tf.stop_gradient(r)))
                                      for f, r in zip(fake[:-1], real[:-1]))
        loss_g += l1_weight * tf.reduce_mean(tf.abs(fake_b - real_b))
        if vgg is not None:
            def features(x):
                return vgg((x[..., ::-1] + 1.0) * 127.5 - tf.constant([103.939, 116.779, 123.68]))

            weights = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0]
            loss_g += vgg_weight * sum(w * tf.reduce_mean(tf.abs(f - tf.stop_gradient(r)))
                                       for w, f, r in zip(weights, features(fake_b), features(real_b)))
    g_adam.apply(generator_tape.gradient(loss_g, model.generator.trainable_variables))


def _normalized(layer_name: str) -> bool:
    """Whether a norm follows this conv (down3_conv -> down3_norm, up2_convt -> up2_norm, layer1_conv)."""
    prefix = layer_name.rsplit("_", 1)[0]
    return prefix.startswith("layer") and prefix != "layer0" or prefix[:2] in ("do", "up") and prefix not in (
        "down0", "down5", "up0")  # at 64 px: the outermost and innermost U-Net levels have no norm


def _batches(size, steps=2):
    rng = np.random.default_rng(3)
    return [tuple(tf.constant(rng.uniform(-1, 1, (2, size, size, 3)), tf.float32) for _ in range(2))
            for _ in range(steps)]


@pytest.mark.parametrize("recipe", ["multiscale+fm", "hd+vgg"])
def test_our_step_equals_pix2pixhds_losses_written_out(recipe, tmp_path):
    if recipe == "multiscale+fm":  # the paper's losses and batch norm, plus 2 scales and feature matching
        config = _hd_config(scales=2, feature_matching_weight=10.0)
        vgg = None
    else:  # --preset=hd's losses with instance norm, 3 scales of 16x16 PatchGANs, and the VGG loss
        config = _hd_config(scales=3, norm="instance", gan_loss="lsgan", feature_matching_weight=10.0,
                            l1_weight=0.0, perceptual_weights=_vgg_weights_file(tmp_path / "vgg.weights.h5"))
        config = config.replace(model=dict(disc_layers=1))
        vgg_model = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
        vgg_model.load_weights(config.train.perceptual_weights)
        vgg = keras.Model(vgg_model.input, [vgg_model.get_layer(f"block{k}_conv1").output for k in range(1, 6)])
    train = config.train
    ours, twin = _twin_models(config)
    start = [weight.copy() for weight in ours.generator.get_weights()]
    g_adam = _TorchAdam(twin.generator.trainable_variables)
    d_adam = _TorchAdam(twin.discriminator.trainable_variables)
    for real_a, real_b in _batches(64):
        metrics = ours.compiled_train_step(real_a, real_b)
        _pix2pixhd_step(twin, g_adam, d_adam, real_a, real_b, train.gan_loss, train.feature_matching_weight,
                        train.l1_weight, vgg, train.perceptual_weight)
    if config.model.norm == "instance":
        # A conv bias right before instance norm cancels out: its gradient is rounding noise, which
        # Adam's first steps blow up to +-lr. Those biases then differ between the two steps (the
        # compiled one rounds differently), and the next gradients of a few weights downstream
        # carry that noise: at most 1 in 1,000 weights may differ, by no more than Adam's two
        # steps can move them (2 lr). Every other weight must agree.
        lr = train.learning_rate
        differences = np.concatenate([
            np.abs(a.numpy() - b.numpy()).ravel() for network in ("generator", "discriminator")
            for a, b in zip(getattr(ours, network).weights, getattr(twin, network).weights)
            if not (a.path.endswith("bias") and _normalized(a.path.split("/")[-2]))])
        assert (differences > 1e-5).mean() < 1e-3 and differences.max() < 2 * lr + 1e-5
    else:
        assert _largest_difference(ours, twin) < 5e-6
    assert max(float(np.abs(a - b).max()) for a, b in zip(ours.generator.get_weights(), start)) > 1e-4
    assert float(metrics["g_fm"]) > 0 and ("g_vgg" in metrics) == (vgg is not None)
    expected = (train.gan_weight * metrics["g_gan"] + train.l1_weight * metrics["g_recon"]
                + train.feature_matching_weight * metrics["g_fm"]
                + (train.perceptual_weight * metrics["g_vgg"] if vgg is not None else 0.0))
    assert float(metrics["g_loss"]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("term", ["feature_matching", "perceptual"])
def test_each_term_moves_only_the_generator_and_vanishes_at_weight_0(term, tmp_path):
    """In the reference order D is updated before G's loss is formed: a G-only term leaves D's update
    as it was and changes G's; at weight 0 the step is the plain one (nothing built for it)."""
    weights_file = _vgg_weights_file(tmp_path / "vgg.weights.h5") if term == "perceptual" else ""
    settings = {"feature_matching": {"feature_matching_weight": 10.0},
                "perceptual": {"perceptual_weights": weights_file, "perceptual_weight": 10.0}}[term]
    off = {"feature_matching": {"feature_matching_weight": 0.0},
           "perceptual": {"perceptual_weights": weights_file, "perceptual_weight": 0.0}}[term]
    results = {}
    for name, extra in (("plain", {}), ("on", settings), ("off", off)):
        keras.utils.set_random_seed(0)
        model = Pix2Pix(_hd_config(scales=2, **extra), steps_per_epoch=10)
        metrics = model.compiled_train_step(*_batches(64, steps=1)[0])
        results[name] = (model, metrics)
    plain, on, off_model = results["plain"][0], results["on"][0], results["off"][0]
    d_difference = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(
        plain.discriminator.trainable_weights, on.discriminator.trainable_weights))  # (feature matching's
    # extra pass over the real pair moves batch norm's moving statistics, which D never uses)
    g_difference = max(float(np.abs(a - b).max()) for a, b in zip(plain.generator.get_weights(),
                                                                    on.generator.get_weights()))
    assert d_difference < 1e-6 and g_difference > 1e-5
    assert _largest_difference(plain, off_model) < 1e-6
    key = {"feature_matching": "g_fm", "perceptual": "g_vgg"}[term]
    assert key in results["on"][1] and key not in results["off"][1]
    assert [term.name for term in off_model.loss_terms] == ["gan", "recon"] and not off_model.matches_features


def test_multiscale_feature_matching_in_bfloat16_and_the_nonfinite_guard():
    model = Pix2Pix(_hd_config(scales=2, feature_matching_weight=10.0, mixed_precision="bfloat16"), 10)
    before = [variable.numpy() for variable in model.generator.trainable_variables]
    metrics = model.compiled_train_step(*_batches(64, steps=1)[0])
    assert all(np.isfinite(float(value)) for value in metrics.values()) and float(metrics["nonfinite"]) == 0
    assert all(not np.array_equal(a, b.numpy()) for a, b in zip(before, model.generator.trainable_variables))
    before = [variable.numpy() for variable in model.generator.trainable_variables]
    metrics = model.compiled_train_step(tf.fill([2, 64, 64, 3], float("nan")), tf.zeros([2, 64, 64, 3]))
    assert float(metrics["nonfinite"]) == 1.0
    for value, variable in zip(before, model.generator.trainable_variables):
        np.testing.assert_array_equal(value, variable.numpy())


def test_step_flops_count_every_scale_at_its_size_and_the_extra_passes():
    plain = _hd_config(size=128, scales=1)
    patchgan = build_discriminator(plain.model)
    half = speed.model_flops(patchgan, 64)
    assert speed.step_flops(_hd_config(size=128, scales=2)) == pytest.approx(speed.step_flops(plain) + 8 * half)
    # Feature matching in the reference order judges the real pair once more with the updated D.
    full = speed.model_flops(patchgan, 128)
    assert speed.step_flops(_hd_config(size=128, scales=2, feature_matching_weight=10.0)) == pytest.approx(
        speed.step_flops(plain) + 8 * half + full + half)


def test_vgg_weights_file_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="--perceptual_weights=.*missing.h5: no such file"):
        perceptual.vgg19_features(str(tmp_path / "missing.h5"))
    other = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(other)
    with pytest.raises(ValueError, match="other.weights.h5 is not a weights file of VGG19"):
        perceptual.vgg19_features(str(other))


@pytest.mark.slow
def test_hd_preset_trains_from_the_command_line_resumes_and_its_generator_exports(paired_folder, tmp_path):
    from conftest import run_cli

    workdir, tiny = tmp_path / "run", ["--image_size=64", "--filters=8", "--disc_filters=8", "--num_samples=2",
                                       "--val_every=0", f"--data={paired_folder}", f"--workdir={tmp_path / 'run'}"]
    result = run_cli("train", "--preset=hd", "--steps=2", *tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = Config.load(workdir / "config.json")
    assert (saved.model.disc_scales, saved.model.norm, saved.train.feature_matching_weight) == (2, "instance", 10.0)
    assert "g_fm" in result.stdout + result.stderr  # the progress lines show the feature-matching term
    # The discriminators are part of the run: resuming with another number of scales is refused.
    refused = run_cli("train", "--steps=3", "--disc_scales=1", *tiny)
    assert refused.returncode != 0 and "model.disc_scales: 2 in the checkpoint, 1 now" in refused.stderr
    assert run_cli("train", "--steps=3", *tiny).returncode == 0
    exported = run_cli("export", f"--workdir={workdir}", f"--out={tmp_path / 'export'}", "--formats=saved_model")
    assert exported.returncode == 0, exported.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("generator, size, scales", [("unet", 512, 3), ("resnet", 64, 2)])
def test_multiscale_discriminators_train_and_export_with_the_unet_at_512_px_and_the_resnet(
        generator, size, scales, paired_folder, tmp_path):
    from pix2pix_tf.deploy import saved_model
    from pix2pix_tf.training.train import train_and_evaluate

    config = tiny_config(paired_folder, steps=1, val_every=0, batch_size=1, num_samples=1,
                         feature_matching_weight=10.0)
    config = config.replace(
        model=dict(generator=generator, filters=4, disc_filters=4, disc_scales=scales,
                                  resnet_blocks=2),
        data=dict(image_size=size))
    train_and_evaluate(config, tmp_path / "run")
    from pix2pix_tf import run_folder

    generator_model, loaded_config = run_folder.load_generator(tmp_path / "run")
    assert loaded_config.model.disc_scales == scales
    loaded = saved_model.load_saved_model(
        saved_model.export_saved_model(generator_model, loaded_config, tmp_path / "saved", "eval"))
    image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    assert loaded.serve(image).shape == (1, size, size, 3)
