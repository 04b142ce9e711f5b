"""The layers the networks are built from: normalization and initialization as the paper, the
layers of the inference graphs (per-image and moving-statistics batch norm, fixed dropout), precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import tensorflow as tf
from keras import layers

from pix2pix_tf.config import NORMS, check_choice


def conv_initializer() -> keras.initializers.Initializer:
    """Convolution weights ~ N(0, 0.02), as in the paper."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def maybe(layer: layers.Layer | None, x):
    """``layer(x)``, or ``x`` where the layer is None (no normalization)."""
    return x if layer is None else layer(x)


def normalization(norm: str, name: str) -> layers.Layer | None:
    """The normalization layer for ``norm``, or None for ``"none"``.

    Batch norm uses PyTorch's momentum (0.1, i.e. 0.9 here) and epsilon, with gamma ~ N(1, 0.02).
    ``sync_batch`` is batch norm whose statistics span every replica of a distribution strategy
    (the global batch); on one device it is plain batch norm.
    Instance norm has no affine parameters, like PyTorch's ``InstanceNorm2d`` default.
    """
    check_choice("norm", norm, NORMS)
    if norm in ("batch", "sync_batch"):
        return FusedBatchNormalization(
            synchronized=norm == "sync_batch",
            momentum=0.9,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
            name=name,
        )
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False, name=name)
    return None


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class FusedBatchNormalization(layers.BatchNormalization):
    """Keras' BatchNormalization, trained with TensorFlow's fused batch-norm kernel.

    Same variables, same math, same moving-statistics update (biased batch variance, as Keras);
    only the kernel differs. In training, on (batch, height, width, channels) inputs, Keras
    computes the statistics with a dozen element-wise ops in float32, casting bfloat16 or float16
    activations up and back, and differentiates through all of them; FusedBatchNormV3 reads the
    activations in their own dtype, keeps the statistics in float32 and has a one-op gradient
    (oneDNN's on CPU). Everything else (inference, masks, synchronized statistics across
    replicas, other ranks) is Keras' own code.
    """

    _FUSED_DTYPES = ("float32", "bfloat16", "float16")

    def call(self, inputs, training=None, mask=None):
        fused = (training and self.trainable and mask is None and not self.synchronized and not self.renorm
                 and len(inputs.shape) == 4 and self.axis in (-1, 3) and inputs.dtype.name in self._FUSED_DTYPES)
        if not fused:
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=scale, offset=offset, mean=tf.zeros([0]), variance=tf.zeros([0]),
            epsilon=self.epsilon, data_format="NHWC", is_training=True)
        # The kernel returns the unbiased variance (n / (n - 1), or 1 where n = 1); Keras keeps the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
        variance = variance * tf.maximum(count - 1.0, 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)


#: Convolutions with at most ``MATMUL_GRADIENT_POSITIONS`` positions per image on their small side
#: (a conv's output, a transposed conv's input) and at least ``MATMUL_GRADIENT_CHANNEL_PAIRS`` pairs
#: of input and output channels per such position train as matmuls over patches instead of
#: through oneDNN's convolution kernels: the filter gradient always, and for the U-Net's 4x4
#: stride-2 levels the forward pass and the input gradient too (a transposed conv as one matmul
#: giving each pixel's 4x4 footprint, overlap-added by output phase). These are the U-Net's levels
#: at 16 px and below at full width: many weights, few positions. There oneDNN's kernels ran 1.2
#: to 2.9 times slower than the matmuls, in bfloat16 most of all, and reordered the weights into
#: their blocked layouts on every step; on narrow levels the matmul lost
#: (``benchmarks/small_conv_gradients.py``). Below ``MATMUL_MIN_CHANNEL_PAIRS`` in all (the tests'
#: 8-filter networks) the extra ops cost more than the kernels save: they trained 19 % slower.
#: Same math and variables. Inference (``training`` false: sample grids, evaluation, exports) runs
#: Keras' own layer.
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
    """What Conv2D and Conv2DTranspose share: whether a layer trains as matmuls, from its sides."""

    def _sides(self, input_shape) -> tuple[tuple, tuple]:
        """(small, large): the (height, width) of the layer's small and large sides, None where unknown."""
        raise NotImplementedError

    def trains_as_matmuls(self, input_shape) -> bool:
        """Whether a training call on ``input_shape`` (batch, height, width, channels) runs as matmuls:
        at most ``MATMUL_GRADIENT_POSITIONS`` positions on the small side, enough channel pairs."""
        small, large = self._sides(input_shape)
        if (self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1)
                or getattr(self, "output_padding", None) is not None or getattr(self, "groups", 1) != 1
                or None in (*small, *large)):
            return False
        positions, pairs = small[0] * small[1], input_shape[-1] * self.filters
        return (positions <= MATMUL_GRADIENT_POSITIONS and pairs >= MATMUL_MIN_CHANNEL_PAIRS
                and pairs >= MATMUL_GRADIENT_CHANNEL_PAIRS * positions)

    def _halves(self, input_shape) -> bool:
        """Whether the layer is a 4x4 stride-2 SAME conv between sides of exactly 1 : 2 (the U-Net's levels)."""
        small, large = self._sides(input_shape)
        return (tuple(self.kernel_size) == (4, 4) and tuple(self.strides) == (2, 2) and self.padding == "same"
                and tuple(large) == (2 * small[0], 2 * small[1]))


def _bias_and_activation(layer: layers.Layer, outputs: tf.Tensor) -> tf.Tensor:
    if layer.use_bias:
        outputs = tf.nn.bias_add(outputs, tf.convert_to_tensor(layer.bias))
    return layer.activation(outputs)


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class Conv2D(_MatmulLevel, layers.Conv2D):
    """Keras' Conv2D; in training, where its output is small and its filters many
    (``MATMUL_GRADIENT_POSITIONS``), it runs as matmuls: its filter gradient is patches(inputs)ᵀ ·
    output gradient, and a 4x4 stride-2 level's forward pass and input gradient are matmuls too.
    Same variables; outputs equal up to rounding."""

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

        return _bias_and_activation(self, convolution(inputs, kernel))


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class Conv2DTranspose(_MatmulLevel, layers.Conv2DTranspose):
    """Keras' Conv2DTranspose; in training, where its input is small and its filters many
    (``MATMUL_GRADIENT_POSITIONS``), it runs as matmuls: its input and filter gradients come from the
    patches of the output gradient, and a 4x4 stride-2 level's forward pass is a matmul too. Same
    variables; outputs equal up to rounding."""

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

        return _bias_and_activation(self, convolution(inputs, kernel))


def conv_bias(norm: str) -> bool:
    """Convolutions followed by batch norm carry no bias: the norm's beta replaces it."""
    return norm not in ("batch", "sync_batch")


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring, without repeating the edge pixel.

    Input (batch, height, width, channels) -> (batch, height + 2p, width + 2p, channels).
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return keras.ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = lambda size: None if size is None else size + 2 * self.padding  # noqa: E731
        return (batch, grow(height), grow(width), channels)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class BilinearUpsampling2D(layers.Layer):
    """Doubles height and width by bilinear interpolation (half-pixel centres), for inputs whose
    size is known only when they arrive (Keras' UpSampling2D needs it when the graph is traced,
    which a SavedModel taking any size cannot give). One TFLite RESIZE_BILINEAR op.

    Input (batch, height, width, channels) -> (batch, 2 height, 2 width, channels), same dtype.
    """

    def call(self, inputs):
        shape = tf.shape(inputs)
        outputs = tf.image.resize(inputs, tf.stack([2 * shape[1], 2 * shape[2]]), method="bilinear")
        return tf.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        double = lambda size: None if size is None else 2 * size  # noqa: E731
        return (batch, double(height), double(width), channels)


class _InferenceNormalization(layers.Layer):
    """Batch norm for inference graphs: ``statistics`` says which mean and variance, whatever
    ``training`` says. Input (batch, height, width, channels) -> same shape, computed in float32
    (as BatchNormalization computes its statistics, even under mixed precision)."""

    _shared = ("gamma", "beta")

    def __init__(self, epsilon: float = 1e-5, center: bool = True, scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    @classmethod
    def sharing(cls, batch_norm: layers.BatchNormalization) -> _InferenceNormalization:
        """A layer of ``batch_norm``'s name that reads ``batch_norm``'s own variables (nothing copied)."""
        layer = cls(batch_norm.epsilon, batch_norm.center, batch_norm.scale, name=batch_norm.name,
                    dtype=batch_norm.dtype_policy)
        for name in cls._shared:
            setattr(layer, name, getattr(batch_norm, name))
        layer.built = True
        return layer

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma") if self.scale else None
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta") if self.center else None

    def _statistics(self, values):
        raise NotImplementedError

    def call(self, inputs, mask=None):
        # ``mask`` is accepted (and unused) because clone_model replays BatchNormalization's call
        # arguments on this layer.
        values = keras.ops.cast(inputs, "float32")
        mean, variance = self._statistics(values)
        outputs = (values - mean) * keras.ops.rsqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * self.gamma
        if self.center:
            outputs = outputs + self.beta
        return keras.ops.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class PerImageBatchNormalization(_InferenceNormalization):
    """Batch norm with the statistics of each image alone, as the paper evaluates (``paper`` mode).

    Each image is normalized with its own mean and variance over height and width, then scaled
    by gamma and shifted by beta. With a batch of one this is what
    ``BatchNormalization(training=True)`` computes, but an image's output never depends on the
    rest of its batch and no moving statistics are updated.
    """

    def _statistics(self, values):
        return keras.ops.moments(values, axes=(1, 2), keepdims=True)


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class MovingStatisticsBatchNormalization(_InferenceNormalization):
    """Batch norm with its moving mean and variance (``eval`` mode), even when called with
    ``training=True``; updates nothing."""

    _shared = ("gamma", "beta", "moving_mean", "moving_variance")

    def build(self, input_shape):
        super().build(input_shape)
        shape = (input_shape[-1],)
        self.moving_mean = self.add_weight(shape=shape, initializer="zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape=shape, initializer="ones", name="moving_variance",
                                               trainable=False)

    def _statistics(self, values):
        return self.moving_mean, self.moving_variance


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class FixedDropout(layers.Layer):
    """Dropout that is always on, with one mask fixed by ``seed``: deterministic inference.

    Input (batch, height, width, channels) -> same shape. The mask, of shape
    (1, height, width, channels), is drawn by a stateless generator from ``seed`` and the input
    size, so every call and every image of a batch drops the same units; kept units are scaled
    by 1 / (1 - rate), as in training. Where the input size is fixed when the graph is traced
    (TFLite), the mask is drawn once and enters the graph as a constant: TFLite has no kernel for
    the random ops, and its converter folds them into constants only for small masks.
    """

    def __init__(self, rate: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"FixedDropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = int(seed)

    def _keep(self, height, width, channels):
        """Boolean (1, height, width, channels): the units this layer keeps at this size."""
        return keras.random.uniform((1, height, width, channels), seed=self.seed) >= self.rate

    def call(self, inputs):
        size = tuple(inputs.shape[1:])
        if None not in size:
            with tf.init_scope():  # drawn eagerly: a constant of the traced graph
                keep = self._keep(*size)
        else:
            shape = keras.ops.shape(inputs)
            keep = self._keep(shape[1], shape[2], shape[3])
        # A multiplication by the scaled mask (not a select): TFLite's XNNPACK runs MUL, in float and
        # int8, where SELECT_V2 would split the graph and fall back to LiteRT's reference kernels.
        scale = keras.ops.cast(keep, inputs.dtype) * keras.ops.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return inputs * scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}



# TrainConfig.mixed_precision -> Keras dtype policy.
DTYPE_POLICIES = {  # keys: MIXED_PRECISIONS
    "none": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


@contextlib.contextmanager
def dtype_policy(mixed_precision: str = "none") -> Iterator[None]:
    """Layers built inside compute in the chosen precision (variables stay float32)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(DTYPE_POLICIES[mixed_precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
