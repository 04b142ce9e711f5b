"""pix2pixHD's VGG perceptual loss: L1 between VGG19 features of the generated and the target image.

The VGG19 weights are not downloaded unless asked: pass a local weights file of
``keras.applications.VGG19(include_top=False)`` (the ``.h5`` Keras publishes, or a ``.weights.h5``
saved from it), or "imagenet" to let Keras fetch them once.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras
import tensorflow as tf

# pix2pixHD's VGGLoss: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, weighted 1/32 ... 1.
VGG_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
# keras.applications.vgg19.preprocess_input ("caffe"): BGR, 0-255, ImageNet means subtracted.
_BGR_MEANS = (103.939, 116.779, 123.68)


def vgg19_features(weights: str) -> Callable[[tf.Tensor], list[tf.Tensor]]:
    """A frozen function images -> the five VGG19 feature maps of ``VGG_LAYERS``.

    Args:
      weights: path to a weights file of ``VGG19(include_top=False)``, or "imagenet".
    Returns:
      f(images) with images (batch, H, W, 1 or 3) float in [-1, 1] (gray repeated to RGB;
      H, W >= 16) -> 5 tensors (batch, H/2^k, W/2^k, 64 ... 512) in the layer's compute dtype.
    Raises:
      ValueError naming the file when it is missing or not VGG19's weights.
    """
    local = weights != "imagenet"
    if local and not os.path.isfile(weights):
        raise ValueError(f"--perceptual_weights={weights}: no such file (a weights file of "
                         "keras.applications.VGG19(include_top=False), or 'imagenet')")
    vgg = keras.applications.VGG19(include_top=False, weights=None if local else "imagenet",
                                   input_shape=(None, None, 3))
    if local:
        try:
            vgg.load_weights(weights)
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"{weights} is not a weights file of VGG19(include_top=False): {error}") from error
    vgg.trainable = False
    extractor = keras.Model(vgg.input, [vgg.get_layer(name).output for name in VGG_LAYERS], name="vgg19_features")
    means = tf.constant(_BGR_MEANS, tf.float32)

    def features(images: tf.Tensor) -> list[tf.Tensor]:
        images = tf.cast(images, tf.float32)
        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        bgr = (images[..., ::-1] + 1.0) * 127.5 - means
        return list(extractor(bgr, training=False))

    features.model = extractor  # the Keras model, for its variables and summary
    return features


def perceptual_loss(features: Callable[[tf.Tensor], list[tf.Tensor]], target: tf.Tensor,
                    output: tf.Tensor) -> tf.Tensor:
    """Σ_k w_k·mean|VGG_k(output) - VGG_k(target)| (w = ``VGG_LAYER_WEIGHTS``); the target's
    features carry no gradient. Images (batch, H, W, C) in [-1, 1]; returns a float32 scalar."""
    target_features = features(target)
    output_features = features(output)
    terms = [weight * tf.reduce_mean(tf.abs(tf.cast(out, tf.float32) - tf.stop_gradient(tf.cast(real, tf.float32))))
             for weight, out, real in zip(VGG_LAYER_WEIGHTS, output_features, target_features, strict=True)]
    return tf.add_n(terms)
