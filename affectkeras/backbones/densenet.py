"""DenseNet-121, built like `keras.applications.DenseNet121`, with a width multiplier."""

import keras
from keras import layers

from affectkeras.backbones import _common
from affectkeras.errors import InvalidArgumentError

_BN_EPSILON = 1.001e-5  # keras.applications' value
_GROWTH_RATE = 32
_STEM_FILTERS = 64
_HEAD_LAYERS = ("predictions",)


def _bn_relu(x, name):
    x = layers.BatchNormalization(axis=-1, epsilon=_BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _dense_block(x, blocks, growth_rate, name):
    for index in range(1, blocks + 1):
        prefix = f"{name}_block{index}"
        y = _bn_relu(x, f"{prefix}_0")
        y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{prefix}_1_conv")(y)
        y = _bn_relu(y, f"{prefix}_1")
        y = layers.Conv2D(
            growth_rate, 3, padding="same", use_bias=False, name=f"{prefix}_2_conv"
        )(y)
        x = layers.Concatenate(axis=-1, name=f"{prefix}_concat")([x, y])
    return x


def _transition_block(x, name):
    x = _bn_relu(x, name)
    filters = max(1, int(x.shape[-1] * 0.5))
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def DenseNet121(
    *,
    include_top=True,
    weights=None,
    input_shape=(96, 96, 3),
    pooling=None,
    classes=1000,
    width=1.0,
    blocks=(6, 12, 24, 16),
    name="densenet121",
):
    """Builds DenseNet-121 with the layers and names of `keras.applications.DenseNet121`.

    `keras.applications.densenet` fixes the growth rate (32) and the stem (64 filters), so
    this builder re-creates the same graph (same layer names, same parameter count:
    7,037,504 for the conv part at full size) with two knobs for tiny test models:
    `width` (multiplies the growth rate and the stem) and `blocks` (layers per dense
    block). keras-applications' ImageNet file loads by name (preset
    `"imagenet_densenet121_notop"`; its Keras 2 names `conv1/conv`, `conv1/bn` map to
    `conv1_conv`, `conv1_bn`).

    The Aff-Wild2 DenseNet-GRU feeds the RNN with the last conv output
    (`include_top=False`). The inputs must be normalised already:
    `keras.applications.densenet.preprocess_input` for the ImageNet preset,
    `affectkeras.layers.FaceRescaling` otherwise.

    Args:
        include_top: bool. True: global average pooling (`avg_pool`) and the softmax
            `predictions` layer, `(batch, classes)`; False: the final `relu` output
            `(batch, h/32, w/32, 1024)`, or pooled by `pooling`.
        weights: None, str, `WeightsPreset` or path. None (random), the preset
            `"imagenet_densenet121_notop"`, or a weights file, loaded by layer name;
            `predictions` may be missing (it then keeps its random initialisation, with
            a warning).
        input_shape: tuple. `(height, width, channels)`, height and width >= 32.
        pooling: None, "avg" or "max". With `include_top=False`: global pooling to
            `(batch, channels)` (`avg_pool` or `max_pool`).
        classes: int. Units of `predictions`.
        width: float. Multiplies the growth rate (32) and the stem filters (64), rounded,
            at least 1; 1.0 is the full network.
        blocks: tuple of 4 ints. Layers in each dense block; (6, 12, 24, 16) is
            DenseNet-121.
        name: str. Model name.

    Returns:
        A `keras.Model` from images `(batch, height, width, channels)` to the output
        described under `include_top`.

    Example:
        >>> cnn = DenseNet121(include_top=False, input_shape=(96, 96, 3))
        >>> cnn.output.shape
        (None, 3, 3, 1024)

    Reference:
        Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional
        Networks", CVPR 2017; `keras.applications.DenseNet121`
        (https://keras.io/api/applications/densenet/).
    """
    _common.check_head(include_top, pooling, classes, width)
    input_shape = _common.check_image_shape(input_shape, min_size=32)
    ok = isinstance(blocks, (tuple, list)) and len(blocks) == 4
    if not (ok and all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in blocks)):
        raise InvalidArgumentError(
            f"`blocks` must be 4 integers >= 1, e.g. (6, 12, 24, 16). Received: blocks={blocks!r}"
        )
    _common.check_name(name)
    weights = _common.check_weights(weights, backbone="densenet121")

    growth_rate = _common.scaled(_GROWTH_RATE, width)
    inputs = keras.Input(input_shape, name=f"{name}_input")
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = layers.Conv2D(
        _common.scaled(_STEM_FILTERS, width), 7, strides=2, use_bias=False, name="conv1_conv"
    )(x)
    x = _bn_relu(x, "conv1")
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = _dense_block(x, count, growth_rate, name=f"conv{stage}")
        if stage < 5:
            x = _transition_block(x, name=f"pool{stage}")
    x = layers.BatchNormalization(axis=-1, epsilon=_BN_EPSILON, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)

    x = _common.pooled_top(x, include_top=include_top, pooling=pooling, classes=classes, head='predictions')

    model = keras.Model(inputs, x, name=name)
    return _common.load_backbone_weights(model, weights, _HEAD_LAYERS)


__all__ = ["DenseNet121"]
