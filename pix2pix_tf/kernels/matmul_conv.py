"""Small, wide convolutions trained as matmuls over patches: Keras' Conv2D and Conv2DTranspose,
the same variables, where oneDNN's convolution kernels were measured slower.

A convolution with at most ``MATMUL_GRADIENT_POSITIONS`` positions per image on its small side (a
conv's output, a transposed conv's input) and at least ``MATMUL_GRADIENT_CHANNEL_PAIRS`` pairs of
input and output channels per such position trains as matmuls over patches instead of through
oneDNN's convolution kernels: the filter gradient always, and for the U-Net's 4x4 stride-2 levels
the forward pass and the input gradient too (a transposed conv as one matmul giving each pixel's
4x4 footprint, overlap-added by output phase). These are the U-Net's levels at 16 px and below at
full width: many weights, few positions. There oneDNN's kernels ran 1.2 to 2.9 times slower than
the matmuls, in bfloat16 most of all, and reordered the weights into their blocked layouts on
every step; on narrow levels the matmul lost (``benchmarks/small_conv_gradients.py``). Below
``MATMUL_MIN_CHANNEL_PAIRS`` in all (the tests' 8-filter networks) the extra ops cost more than
the kernels save: they trained 19 % slower. Inference (``training`` false: sample grids,
evaluation, exports) runs Keras' own layer. Each threshold is also a constructor argument, so a
test or a benchmark can move it for one layer.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

MATMUL_GRADIENT_POSITIONS = 256
MATMUL_GRADIENT_CHANNEL_PAIRS = 256
MATMUL_MIN_CHANNEL_PAIRS = 128 * 128


def _patches(images: tf.Tensor, kernel_size: tuple[int, int], strides: tuple[int, int], padding: str,
             out_size: tuple[int, int]) -> tf.Tensor:
    """(batch * out_h * out_w, kh * kw * channels): what each output position of a convolution of
    ``images`` (NHWC, static height and width, dilation 1) sees, in a conv kernel's (kh, kw, in) order."""
    if padding == "same":
        pads = []
        for size, out, kernel, stride in zip(images.shape[1:3], out_size, kernel_size, strides):
            total = max((out - 1) * stride + kernel - size, 0)
            pads.append([total // 2, total - total // 2])  # TensorFlow's SAME: the extra pixel after
        images = tf.pad(images, [[0, 0], *pads, [0, 0]])
    patches = tf.image.extract_patches(images, [1, *kernel_size, 1], [1, *strides, 1], [1, 1, 1, 1], "VALID")
    return tf.reshape(patches, [-1, kernel_size[0] * kernel_size[1] * images.shape[-1]])


def _transposed_conv_by_matmul(inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """``conv2d_transpose(inputs, kernel, strides=2, padding="SAME")`` for a 4x4 kernel (kh, kw, out,
    in): (batch, h, w, in) -> (batch, 2h, 2w, out). One matmul gives each input pixel's 4x4
    footprint; kernel row kh = 2q + r lands on row 2(i + q) + r of the 2h + 2 uncropped rows, so
    the footprints add up as four shifted copies per output phase (r_h, r_w)."""
    height, width, channels, batch = inputs.shape[1], inputs.shape[2], kernel.shape[2], tf.shape(inputs)[0]
    footprints = tf.matmul(tf.reshape(inputs, [-1, kernel.shape[3]]), tf.reshape(kernel, [-1, kernel.shape[3]]),
                           transpose_b=True)
    footprints = tf.reshape(footprints, [batch, height, width, 2, 2, 2, 2, channels])  # q_h, r_h, q_w, r_w
    phases = 0
    for q_h in (0, 1):
        for q_w in (0, 1):
            shifted = tf.reshape(footprints[:, :, :, q_h, :, q_w], [batch, height, width, 4 * channels])
            phases += tf.pad(shifted, [[0, 0], [q_h, 1 - q_h], [q_w, 1 - q_w], [0, 0]])
    return tf.nn.depth_to_space(phases, 2)[:, 1:1 + 2 * height, 1:1 + 2 * width]


class _MatmulLevel:
    """What MatmulConv2D and MatmulConv2DTranspose share: the thresholds, and whether a layer trains
    as matmuls, from its sides."""

    def __init__(self, *args, positions: int = MATMUL_GRADIENT_POSITIONS,
                 channel_pairs: int = MATMUL_GRADIENT_CHANNEL_PAIRS,
                 min_channel_pairs: int = MATMUL_MIN_CHANNEL_PAIRS, **kwargs):
        super().__init__(*args, **kwargs)
        self.positions, self.channel_pairs, self.min_channel_pairs = positions, channel_pairs, min_channel_pairs

    def get_config(self):
        return {**super().get_config(), "positions": self.positions, "channel_pairs": self.channel_pairs,
                "min_channel_pairs": self.min_channel_pairs}

    def _sides(self, input_shape) -> tuple[tuple, tuple]:
        """(small, large): the (height, width) of the layer's small and large sides, None where unknown."""
        raise NotImplementedError

    def trains_as_matmuls(self, input_shape) -> bool:
        """Whether a training call on ``input_shape`` (batch, height, width, channels) runs as matmuls:
        at most ``positions`` positions on the small side, enough channel pairs."""
        small, large = self._sides(input_shape)
        if (self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1)
                or getattr(self, "output_padding", None) is not None or getattr(self, "groups", 1) != 1
                or None in (*small, *large)):
            return False
        positions, pairs = small[0] * small[1], input_shape[-1] * self.filters
        return (positions <= self.positions and pairs >= self.min_channel_pairs
                and pairs >= self.channel_pairs * positions)

    def _halves(self, input_shape) -> bool:
        """Whether the layer is a 4x4 stride-2 SAME conv between sides of exactly 1 : 2 (the U-Net's levels)."""
        small, large = self._sides(input_shape)
        return (tuple(self.kernel_size) == (4, 4) and tuple(self.strides) == (2, 2) and self.padding == "same"
                and tuple(large) == (2 * small[0], 2 * small[1]))

    def _bias_and_activation(self, outputs: tf.Tensor) -> tf.Tensor:
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, tf.convert_to_tensor(self.bias))
        return self.activation(outputs)


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class MatmulConv2D(_MatmulLevel, layers.Conv2D):
    """Keras' Conv2D; in training, where its output is small and its filters many, it runs as
    matmuls: its filter gradient is patches(inputs)ᵀ · output gradient, and a 4x4 stride-2 level's
    forward pass and input gradient are matmuls too. Same variables; outputs equal up to rounding."""

    def _sides(self, input_shape) -> tuple[tuple, tuple]:
        return tuple(self.compute_output_shape(input_shape)[1:3]), tuple(input_shape[1:3])

    def call(self, inputs, training=None):
        if not training or not self.trains_as_matmuls(inputs.shape):
            return super().call(inputs)
        strides, padding, filters = tuple(self.strides), self.padding, self.filters
        sizes, _ = self._sides(inputs.shape)
        halves = self._halves(inputs.shape)
        kernel = tf.convert_to_tensor(self.kernel)  # (kh, kw, in, filters)

        @tf.custom_gradient
        def convolution(inputs, kernel):
            patches = _patches(inputs, self.kernel_size, strides, padding, sizes)
            if halves:
                outputs = tf.reshape(tf.matmul(patches, tf.reshape(kernel, [-1, filters])),
                                     tf.concat([tf.shape(inputs)[:1], [*sizes, filters]], 0))
            else:
                outputs = tf.nn.conv2d(inputs, kernel, strides, padding.upper())

            def gradient(out_grad):
                if halves:  # the transposed conv of the output gradient, with the kernel as (kh, kw, in, filters)
                    input_grad = _transposed_conv_by_matmul(out_grad, kernel)
                else:
                    input_grad = tf.raw_ops.Conv2DBackpropInput(
                        input_sizes=tf.shape(inputs), filter=kernel, out_backprop=out_grad,
                        strides=[1, *strides, 1], padding=padding.upper())
                kernel_grad = tf.matmul(patches, tf.reshape(out_grad, [-1, filters]), transpose_a=True)
                return input_grad, tf.reshape(kernel_grad, kernel.shape)

            return outputs, gradient

        return self._bias_and_activation(convolution(inputs, kernel))


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class MatmulConv2DTranspose(_MatmulLevel, layers.Conv2DTranspose):
    """Keras' Conv2DTranspose; in training, where its input is small and its filters many, it runs
    as matmuls: its input and filter gradients come from the patches of the output gradient, and a
    4x4 stride-2 level's forward pass is a matmul too. Same variables; outputs equal up to rounding."""

    def _sides(self, input_shape) -> tuple[tuple, tuple]:
        return tuple(input_shape[1:3]), tuple(self.compute_output_shape(input_shape)[1:3])

    def call(self, inputs, training=None):
        if not training or not self.trains_as_matmuls(inputs.shape):
            return super().call(inputs)
        strides, padding = tuple(self.strides), self.padding
        _, sizes = self._sides(inputs.shape)
        halves = self._halves(inputs.shape)
        kernel = tf.convert_to_tensor(self.kernel)  # (kh, kw, filters, in)

        @tf.custom_gradient
        def convolution(inputs, kernel):
            if halves:
                outputs = _transposed_conv_by_matmul(inputs, kernel)
            else:
                output_shape = tf.stack([tf.shape(inputs)[0], *sizes, self.filters])
                outputs = tf.nn.conv2d_transpose(inputs, kernel, output_shape, strides, padding.upper())
                outputs = tf.ensure_shape(outputs, [inputs.shape[0], *sizes, self.filters])

            def gradient(out_grad):
                patches = _patches(out_grad, self.kernel_size, strides, padding, inputs.shape[1:3])
                channels = inputs.shape[-1]
                input_grad = tf.matmul(patches, tf.reshape(kernel, [-1, channels]))
                kernel_grad = tf.matmul(patches, tf.reshape(inputs, [-1, channels]), transpose_a=True)
                return tf.reshape(input_grad, tf.shape(inputs)), tf.reshape(kernel_grad, kernel.shape)

            return outputs, gradient

        return self._bias_and_activation(convolution(inputs, kernel))
