"""ResNet-50 for faces, with the layer names of keras-vggface's RESNET50 (VGGFace2)."""

import keras
from keras import layers

from affectkeras.backbones import _common

# (stage, blocks, (reduce, 3x3, increase) filters, first block's stride) of ResNet-50.
_STAGES = (
    (2, 3, (64, 64, 256), 1),
    (3, 4, (128, 128, 512), 2),
    (4, 6, (256, 256, 1024), 2),
    (5, 3, (512, 512, 2048), 2),
)
_HEAD_LAYERS = ("classifier",)


def _conv_bn(x, filters, kernel_size, name, strides=1, relu=True):
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same" if kernel_size > 1 else "valid",
        use_bias=False, name=name,
    )(x)
    x = layers.BatchNormalization(axis=-1, name=f"{name}_bn")(x)
    if relu:
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def _bottleneck(x, filters, stage, block, strides):
    """keras-vggface's `resnet_conv_block` (block 1, with `_1x1_proj`) and
    `resnet_identity_block` (the others)."""
    reduce, middle, increase = filters
    prefix = f"conv{stage}_{block}"
    shortcut = x
    y = _conv_bn(x, reduce, 1, f"{prefix}_1x1_reduce", strides=strides)
    y = _conv_bn(y, middle, 3, f"{prefix}_3x3")
    y = _conv_bn(y, increase, 1, f"{prefix}_1x1_increase", relu=False)
    if block == 1:
        shortcut = _conv_bn(x, increase, 1, f"{prefix}_1x1_proj", strides=strides, relu=False)
    y = layers.Add(name=f"{prefix}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{prefix}_relu")(y)


def ResNet50Face(
    *,
    include_top=True,
    weights=None,
    input_shape=(96, 96, 3),
    pooling=None,
    classes=8631,
    width=1.0,
    name="resnet50_face",
):
    """Builds ResNet-50 with the layer names of keras-vggface's RESNET50 (VGGFace2).

    The structure of keras-vggface's `RESNET50`: a 7x7/2 conv without bias, batch norm,
    ReLU, 3x3/2 max pooling, then 3-4-6-3 bottleneck blocks (convs without bias, each
    followed by batch norm; the first block of a stage has a projection shortcut and,
    from stage 3 on, stride 2 in its first 1x1 conv).

    Names: keras-vggface's, with every `/` replaced by `_` (Keras 3 forbids `/`; its
    weight files load through `affectkeras.weights.load_weights`, which maps them):
    `conv1/7x7_s2` -> `conv1_7x7_s2`, `conv1/7x7_s2/bn` -> `conv1_7x7_s2_bn`,
    `conv{s}_{b}_1x1_reduce`, `conv{s}_{b}_1x1_reduce/bn` -> `conv{s}_{b}_1x1_reduce_bn`,
    `conv{s}_{b}_3x3` (+ `_bn`), `conv{s}_{b}_1x1_increase` (+ `_bn`),
    `conv{s}_{b}_1x1_proj` (+ `_bn`) for stage s in 2..5 and block b from 1, `avg_pool`,
    `classifier`. Layers keras-vggface leaves unnamed (no weights) get names too:
    `<conv>_relu` after a batch norm (`conv1_7x7_s2_relu`, `conv2_1_3x3_relu`, ...),
    `pool1`, `conv{s}_{b}_add`, `conv{s}_{b}_relu`.
    keras-vggface's top is a 7x7 average pooling named `avg_pool` (which needs 224x224
    input) and `classifier`; here `avg_pool` is a global average pooling, the same at
    224x224 and valid at any size.

    The inputs must be normalised already: `VGGFacePreprocessing(version=2)` for the
    VGGFace2 presets, `FaceRescaling` otherwise.

    Full size: the conv part has 23,561,152 parameters (53,120 of them the batch norms'
    moving statistics), the 8631-class classifier 17,684,919 more.

    Args:
        include_top: bool. True: `avg_pool` and the softmax `classifier`,
            `(batch, classes)`; False: the last block's output `(batch, h', w', 2048)`
            (h' = 3 at 96x96, 4 at 112x112, 7 at 224x224), or pooled by `pooling`.
        weights: None, str, `WeightsPreset` or path. None (random), a preset
            (`"vggface2_resnet50"`, `"vggface2_resnet50_notop"`) or a weights file, loaded
            by layer name; `classifier` may be missing or of another shape (it then keeps
            its random initialisation, with a warning).
        input_shape: tuple. `(height, width, channels)`, height and width >= 32: the
            papers' `(96, 96, 3)`, or `(112, 112, 3)` for the ArcFace networks.
        pooling: None, "avg" or "max". With `include_top=False`: global pooling to
            `(batch, 2048)` (layer `avg_pool` or `max_pool`).
        classes: int. Units of `classifier` (8631 VGGFace2 identities).
        width: float. Multiplies every filter count (rounded, at least 1), for tiny test
            models; 1.0 is the full network.
        name: str. Model name.

    Returns:
        A `keras.Model` from images `(batch, height, width, channels)` to the output
        described under `include_top`.

    Example:
        >>> cnn = ResNet50Face(include_top=False, pooling="avg", input_shape=(112, 112, 3))
        >>> cnn.output.shape
        (None, 2048)

    Reference:
        He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016;
        Cao, Shen, Xie, Parkhi, Zisserman, "VGGFace2: A dataset for recognising faces
        across pose and age", FG 2018; Malli, "keras-vggface"
        (https://github.com/rcmalli/keras-vggface), `models.RESNET50`.
    """
    _common.check_head(include_top, pooling, classes, width)
    input_shape = _common.check_image_shape(input_shape, min_size=32)
    _common.check_name(name)
    weights = _common.check_weights(weights, backbone="resnet50_face")

    inputs = keras.Input(input_shape, name=f"{name}_input")
    x = _conv_bn(inputs, _common.scaled(64, width), 7, "conv1_7x7_s2", strides=2)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, blocks, filters, stride in _STAGES:
        filters = tuple(_common.scaled(f, width) for f in filters)
        for block in range(1, blocks + 1):
            x = _bottleneck(x, filters, stage, block, strides=stride if block == 1 else 1)

    x = _common.pooled_top(x, include_top=include_top, pooling=pooling, classes=classes, head='classifier')

    model = keras.Model(inputs, x, name=name)
    return _common.load_backbone_weights(model, weights, _HEAD_LAYERS)


__all__ = ["ResNet50Face"]
