"""A small CNN over one frame's log-mel spectrogram window: the audio stream."""

import keras
from keras import layers

from affectkeras.backbones import _common
from affectkeras.errors import check_positive

_FILTERS = (32, 64, 128, 256)


def AudioCNN(
    *,
    input_shape=(64, 64, 1),
    embedding_dim=128,
    width=1.0,
    weights=None,
    name="audio_cnn",
):
    """Builds the audio stream: a 4-block CNN over a log-mel window, to an embedding.

    Four blocks of 3x3 conv (32, 64, 128, 256 filters) + batch norm + ReLU + 2x2 max
    pooling ("same" padding, so any window size works), global average pooling, and a
    `Dense(embedding_dim)` + ReLU. The A/V-MT-VGG-RNN network applies it to the audio
    window around every video frame (under `TimeDistributed`) and concatenates its
    embedding with the visual features before the RNN.

    Full size at 64x64x1 with a 128-d embedding: 422,176 parameters and about 58 M
    multiply-adds per frame, against 18.9 M parameters and 18.9 M multiply-adds for
    VGGFace's fc6 alone at 96x96 (and about 2.8 G multiply-adds for its conv part).

    Layer names are prefixed by `name`: `{name}_block{i}_conv`, `_bn`, `_relu`, `_pool`
    (i = 1..4), `{name}_gap`, `{name}_embedding`, `{name}_embedding_relu`.

    Args:
        input_shape: tuple. `(steps, n_mels, channels)` of one window, e.g. 64 STFT steps
            (0.64 s at a 10 ms hop) x 64 mel bands x 1; each dimension >= 1.
        embedding_dim: int. Size of the output embedding (not scaled by `width`).
        width: float. Multiplies every filter count (rounded, at least 1); 1.0 is the
            full network.
        weights: None or path. A weights file loaded by layer name (no preset exists).
        name: str. Model name and layer name prefix.

    Returns:
        A `keras.Model` from log-mel windows `(batch, steps, n_mels, channels)` to
        embeddings `(batch, embedding_dim)`.

    Example:
        >>> audio = AudioCNN(input_shape=(64, 64, 1))
        >>> audio.output.shape
        (None, 128)

    Reference:
        Kollias, Zafeiriou, "Expression, Affect, Action Unit Recognition: Aff-Wild2,
        Multi-Task Learning and ArcFace", BMVC 2019 (A/V-MT-VGG-RNN).
    """
    input_shape = _common.check_image_shape(input_shape, min_size=1)
    check_positive("embedding_dim", embedding_dim, integer=True)
    check_positive("width", width)
    _common.check_name(name)
    weights = _common.check_weights(weights, backbone="audio_cnn")

    inputs = keras.Input(input_shape, name=f"{name}_input")
    x = inputs
    for index, filters in enumerate(_FILTERS, start=1):
        prefix = f"{name}_block{index}"
        x = layers.Conv2D(
            _common.scaled(filters, width), 3, padding="same", use_bias=False,
            name=f"{prefix}_conv",
        )(x)
        x = layers.BatchNormalization(axis=-1, name=f"{prefix}_bn")(x)
        x = layers.Activation("relu", name=f"{prefix}_relu")(x)
        x = layers.MaxPooling2D(2, strides=2, padding="same", name=f"{prefix}_pool")(x)
    x = layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    x = layers.Dense(embedding_dim, name=f"{name}_embedding")(x)
    x = layers.Activation("relu", name=f"{name}_embedding_relu")(x)

    model = keras.Model(inputs, x, name=name)
    return _common.load_backbone_weights(model, weights, ())


__all__ = ["AudioCNN"]
