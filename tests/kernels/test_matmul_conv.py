"""The convolutions that train as matmuls where small and wide (pix2pix_tf/kernels/matmul_conv.py)
train as Keras' own: same outputs and gradients, only where the thresholds say."""

import dataclasses
import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.kernels.matmul_conv import MatmulConv2D, MatmulConv2DTranspose
from pix2pix_tf.kernels.policy import CPU_LAYERS
from pix2pix_tf.models.generators import unet_generator
from pix2pix_tf.models.layers import dtype_policy

OURS = {"Conv2D": MatmulConv2D, "Conv2DTranspose": MatmulConv2DTranspose}

CASES = [  # (layer, size, kwargs): the U-Net's levels, odd sizes, valid padding, 1x1 and 3x3, stride 1
    ("Conv2D", 8, dict(filters=6, kernel_size=4, strides=2, padding="same")),
    ("Conv2D", 7, dict(filters=6, kernel_size=4, strides=2, padding="same")),
    ("Conv2D", 2, dict(filters=5, kernel_size=4, strides=2, padding="same")),
    ("Conv2D", 9, dict(filters=4, kernel_size=4, strides=2, padding="valid", use_bias=True)),
    ("Conv2D", 6, dict(filters=4, kernel_size=3, strides=1, padding="same", use_bias=True, activation="tanh")),
    ("Conv2D", 5, dict(filters=4, kernel_size=1)),
    ("Conv2DTranspose", 4, dict(filters=6, kernel_size=4, strides=2, padding="same")),
    ("Conv2DTranspose", 1, dict(filters=5, kernel_size=4, strides=2, padding="same", use_bias=True)),
    ("Conv2DTranspose", 3, dict(filters=4, kernel_size=3, strides=2, padding="same")),
    ("Conv2DTranspose", 5, dict(filters=4, kernel_size=4, strides=2, padding="valid", use_bias=True)),
]


def _outputs_and_gradients(layer, images, out_grad, training):
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = layer(images, training=training)
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * out_grad)
    return [outputs, *tape.gradient(loss, [images, *layer.trainable_variables])]


@pytest.mark.parametrize("precision, tolerance", [("none", 1e-5), ("bfloat16", 2e-2)])
@pytest.mark.parametrize("name, size, kwargs", CASES)
def test_small_convolutions_train_with_keras_outputs_and_gradients(name, size, kwargs, precision, tolerance):
    images = tf.random.stateless_normal([2, size, size, 3], seed=[1, 2])
    with dtype_policy(precision):
        ours = OURS[name](**kwargs, kernel_initializer="glorot_uniform", bias_initializer="ones",
                          channel_pairs=0, min_channel_pairs=0)  # these layers are narrow
        assert ours.trains_as_matmuls(images.shape)
        keras_layer = getattr(keras.layers, name)(**kwargs)
        ours.build(images.shape)
        keras_layer.build(images.shape)
        keras_layer.set_weights(ours.get_weights())
        reference = _outputs_and_gradients(keras_layer, images, 1.0, training=True)
        out_grad = tf.random.stateless_normal(reference[0].shape, seed=[3, 4])
        reference = _outputs_and_gradients(keras_layer, images, out_grad, training=True)
        got = _outputs_and_gradients(ours, images, out_grad, training=True)
    assert [t.dtype for t in got] == [t.dtype for t in reference] and [t.shape for t in got] == [
        t.shape for t in reference]
    for mine, theirs in zip(got, reference):
        mine, theirs = (tf.cast(t, tf.float32).numpy() for t in (mine, theirs))
        np.testing.assert_allclose(mine, theirs, atol=tolerance * (1 + np.abs(theirs).max()))


def test_the_unet_trains_through_matmul_gradients_at_its_small_levels_only():
    """The training graph of a 64 px U-Net takes the matmul gradient where a level has at most 4 x 4
    positions (the thresholds lowered to see both kinds in a narrow U-Net), oneDNN's elsewhere; same
    gradients as the U-Net of Keras' layers with the same weights."""
    images = tf.random.stateless_uniform([1, 64, 64, 3], seed=[5, 6], minval=-1, maxval=1)
    weights = unet_generator(image_size=64, filters=4, dropout=0.0).get_weights()

    def gradients(layer_types):
        generator = unet_generator(image_size=64, filters=4, dropout=0.0, layer_types=layer_types)
        generator.set_weights(weights)

        @tf.function
        def step(images):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.abs(generator(images, training=True)))
            return tape.gradient(loss, generator.trainable_variables)

        graph = step.get_concrete_function(images).graph.as_graph_def()
        ops = [node.op for node in graph.node] + [node.op for f in graph.library.function for node in f.node_def]
        return step(images), ops

    thresholds = dict(positions=16, channel_pairs=0, min_channel_pairs=0)
    lowered = dataclasses.replace(CPU_LAYERS, conv=functools.partial(MatmulConv2D, **thresholds),
                                  conv_transpose=functools.partial(MatmulConv2DTranspose, **thresholds))
    reference, reference_ops = gradients(dataclasses.replace(CPU_LAYERS, conv=keras.layers.Conv2D,
                                                             conv_transpose=keras.layers.Conv2DTranspose))
    got, ops = gradients(lowered)
    assert "ExtractImagePatches" not in reference_ops and "ExtractImagePatches" in ops
    assert "Conv2DBackpropFilter" in ops  # the large levels keep oneDNN's
    assert ops.count("Conv2DBackpropFilter") < reference_ops.count("Conv2DBackpropFilter")
    for mine, theirs in zip(got, reference):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)


def test_only_small_levels_of_many_channels_take_the_matmul_gradient():
    """At 256 px: the U-Net's levels at 16 px and below (256 channels and more); at 64 px the narrow
    levels of the same size keep oneDNN's gradient, which is faster there."""
    def chosen(size, channels_in, filters, transposed):
        layer = (MatmulConv2DTranspose if transposed else MatmulConv2D)(filters, 4, strides=2, padding="same")
        return layer.trains_as_matmuls((1, size, size, channels_in))

    assert chosen(32, 256, 512, transposed=False) and chosen(16, 1024, 256, transposed=True)
    assert not chosen(64, 128, 256, transposed=False) and not chosen(32, 512, 128, transposed=True)
    assert not chosen(32, 64, 128, transposed=False) and not chosen(16, 256, 64, transposed=True)
    assert not chosen(2, 64, 64, transposed=False) and not chosen(1, 64, 64, transposed=True)  # the tests' nets
    unknown = MatmulConv2D(512, 4, strides=2, padding="same")  # sizes unknown when traced
    assert not unknown.trains_as_matmuls((None, None, None, 512))


def test_inference_graphs_hold_no_matmul_gradient():
    thresholds = dict(positions=1024, channel_pairs=0, min_channel_pairs=0)  # every level would train as matmuls
    generator = unet_generator(image_size=32, filters=4, layer_types=dataclasses.replace(
        CPU_LAYERS, conv=functools.partial(MatmulConv2D, **thresholds),
        conv_transpose=functools.partial(MatmulConv2DTranspose, **thresholds)))
    graph = tf.function(lambda images: generator(images, training=False)).get_concrete_function(
        tf.TensorSpec([1, 32, 32, 3])).graph.as_graph_def()
    assert not {"IdentityN", "ExtractImagePatches"} & {node.op for node in graph.node}
