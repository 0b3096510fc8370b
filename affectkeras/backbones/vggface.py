"""VGG-Face: the VGG-16 face network, with keras-vggface's layer names."""

import keras
from keras import layers

from affectkeras.backbones import _common

# (block, number of convs, filters) of VGG-16.
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
_FC_UNITS = 4096
_HEAD_LAYERS = ("fc6", "fc7", "fc8")


def VGGFace(
    *,
    include_top=True,
    weights=None,
    input_shape=(96, 96, 3),
    pooling=None,
    classes=2622,
    width=1.0,
    name="vggface",
):
    """Builds VGG-Face (VGG-16: 13 conv layers, fc6, fc7, fc8), named like keras-vggface.

    Layers: `conv1_1`, `conv1_2`, `pool1`, ..., `conv5_3`, `pool5` (3x3 convs with ReLU,
    2x2 max pooling), then `flatten`, `fc6` + `fc6_relu` (4096), `fc7` + `fc7_relu`
    (4096), `fc8` (classes) + `fc8_softmax`. keras-vggface's `fc6/relu`, `fc7/relu`,
    `fc8/softmax` are spelled with `_` here, as Keras 3 forbids `/` in names (its weight
    files load through `affectkeras.weights.load_weights`, which maps the names). There
    is no dropout, as in keras-vggface.

    The Aff-Wild / Aff-Wild2 networks feed the RNN with the first fully connected layer:
    `include_top="fc6"` returns the `fc6_relu` output, `(batch, 4096)`. The inputs must be
    normalised already: put `affectkeras.layers.FaceRescaling` (training from scratch,
    the papers' [-1, 1]) or `VGGFacePreprocessing(version=1)` (the VGGFace presets) in
    front.

    Full size at 96x96x3: the conv part has 14,714,688 parameters, fc6 18,878,464
    (pool5 is 3x3x512 = 4608 features) and fc7 16,781,312.

    Args:
        include_top: bool or str. `True`: up to `fc8_softmax`, `(batch, classes)`;
            `"fc7"`: up to `fc7_relu`, `(batch, 4096)`; `"fc6"`: up to `fc6_relu`,
            `(batch, 4096)`; `False`: the conv part, `pool5` `(batch, h/32, w/32, 512)`,
            or pooled by `pooling`.
        weights: None, str, `WeightsPreset` or path. None (random), a preset
            (`"vggface1_vgg16"`, `"vggface1_vgg16_notop"`) or a weights file, loaded by
            layer name. The fc layers may be missing from the file (notop presets) or
            have other shapes (fc6 at an input other than 224x224): they then keep
            their random initialisation, with a warning.
        input_shape: tuple. `(height, width, channels)`, height and width >= 32; the
            papers use `(96, 96, 3)`, the VGGFace weights were trained at 224x224.
        pooling: None, "avg" or "max". With `include_top=False`: global pooling of
            pool5 to `(batch, 512)`.
        classes: int. Units of fc8 (2622 VGGFace identities).
        width: float. Multiplies every filter and unit count (rounded, at least 1), for
            tiny test models; 1.0 is the full network.
        name: str. Model name.

    Returns:
        A `keras.Model` from images `(batch, height, width, channels)` to the output
        described under `include_top`.

    Example:
        >>> cnn = VGGFace(include_top="fc6", input_shape=(96, 96, 3))
        >>> cnn.output.shape
        (None, 4096)

    Reference:
        Parkhi, Vedaldi, Zisserman, "Deep Face Recognition", BMVC 2015; Malli,
        "keras-vggface" (https://github.com/rcmalli/keras-vggface), `models.VGG16`;
        Kollias, Zafeiriou, "Aff-Wild2: Extending the Aff-Wild Database for Affect
        Recognition", arXiv:1811.07770, 2018.
    """
    _common.check_head(include_top, pooling, classes, width, extra_tops=("fc6", "fc7"))
    input_shape = _common.check_image_shape(input_shape, min_size=32)
    _common.check_name(name)
    weights = _common.check_weights(weights, backbone="vggface")

    inputs = keras.Input(input_shape, name=f"{name}_input")
    x = inputs
    for block, convs, filters in _BLOCKS:
        for index in range(1, convs + 1):
            x = layers.Conv2D(
                _common.scaled(filters, width),
                3,
                padding="same",
                activation="relu",
                name=f"conv{block}_{index}",
            )(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"pool{block}")(x)

    if include_top is False:
        if pooling == "avg":
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif pooling == "max":
            x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    else:
        units = _common.scaled(_FC_UNITS, width)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(units, name="fc6")(x)
        x = layers.Activation("relu", name="fc6_relu")(x)
        if include_top in (True, "fc7"):
            x = layers.Dense(units, name="fc7")(x)
            x = layers.Activation("relu", name="fc7_relu")(x)
        if include_top is True:
            x = layers.Dense(classes, name="fc8")(x)
            x = layers.Activation("softmax", name="fc8_softmax")(x)

    model = keras.Model(inputs, x, name=name)
    return _common.load_backbone_weights(model, weights, _HEAD_LAYERS)


__all__ = ["VGGFace"]
