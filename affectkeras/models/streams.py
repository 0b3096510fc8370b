"""The per-frame streams every network is made of: face normalisation + CNN, and audio CNN.

A stream maps one frame to one feature vector; the sequence networks run it over time with
`TimeDistributed`. The top-level layer holding the visual CNN is always named
`visual_cnn` (and the audio one `audio_cnn`), which is what the training strategies of
`affectkeras.training` freeze and copy.
"""

import keras

from affectkeras.backbones import AudioCNN, DenseNet121, ResNet50Face, VGGFace
from affectkeras.backbones._common import scaled  # noqa: F401 (how `width` shrinks units; re-exported)
from affectkeras.constants import AUDIO_CNN, VISUAL_CNN
from affectkeras.errors import InvalidArgumentError, check_choice, check_positive
from affectkeras.layers import FaceRescaling, VGGFacePreprocessing
from affectkeras.weights.provenance import mark_pretrained

# Pretraining tags of the Aff-Wild2 paper's tables -> the weights preset of each backbone.
# VGGFace pretrained on VGGFace2 or on both (the paper's VGGFACE2 / VGGFACE1-2 rows) has no
# public file: pass the path of your own weights file as `pretraining`.
PRETRAINING = {
    "vggface": {"vggface1": "vggface1_vgg16_notop"},
    "resnet50": {"vggface2": "vggface2_resnet50_notop"},
    "densenet121": {"imagenet": "imagenet_densenet121_notop"},
}
# The feature each backbone can hand to the RNN (first entry = the papers' choice).
FEATURE_LAYERS = {"vggface": ("fc6", "fc7", "pool5"), "resnet50": ("pool5",), "densenet121": ("pool5",)}
NORMALIZATIONS = ("papers", "gray", "vggface1", "vggface2", "imagenet_torch", "affwildnet")


def face_normalization(kind, name="face_normalization"):
    """The layer that maps uint8 / [0, 255] faces to what the CNN was trained on.

    Args:
        kind: str. `"papers"` ([-1, 1], the Aff-Wild2 networks trained from scratch or
            fine-tuned), `"gray"` (grey, then [-1, 1]: networks trained on grey faces such
            as FER+), `"vggface1"` / `"vggface2"` (keras-vggface mean subtraction, for
            its weights), `"imagenet_torch"` (ImageNet mean/std, for DenseNet weights),
            `"affwildnet"` (`(x - 128) / 128`, what the released AffWildNet code feeds its
            network; `checkpoints.convert_affwildnet` builds with it).
        name: str. Layer name.
    """
    check_choice("normalization", kind, NORMALIZATIONS)
    if kind in ("papers", "gray"):
        return FaceRescaling(grayscale=kind == "gray", name=name)
    if kind.startswith("vggface"):
        return VGGFacePreprocessing(version=int(kind[-1]), name=name)
    if kind == "affwildnet":
        return keras.layers.Rescaling(1 / 128, offset=-1.0, name=name)
    return keras.layers.Normalization(
        mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
        variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
        name=name,
    )


def visual_cnn(
    backbone="vggface",
    *,
    input_size=96,
    feature_layer=None,
    pretraining=None,
    normalization=None,
    width=1.0,
    name=VISUAL_CNN,
):
    """Builds the visual stream: uint8 face `(size, size, 3)` -> feature vector.

    Args:
        backbone: str. `"vggface"`, `"resnet50"` or `"densenet121"`.
        input_size: int. Face crop size in pixels (papers: 96; ArcFace networks: 112).
        feature_layer: str or None. VGGFace: `"fc6"` (papers, 4096), `"fc7"` or `"pool5"`
            (global average of the last conv block); ResNet / DenseNet: `"pool5"` (global
            average of the last conv block). None = the first choice.
        pretraining: str or None. A tag of the paper's tables (`"vggface1"` for VGGFace,
            `"vggface2"` for ResNet-50, `"imagenet"` for DenseNet-121), a preset name of
            `affectkeras.weights`, or a weights file; None = random initialisation.
        normalization: str or None. See `face_normalization`; None = what the pretrained
            weights expect, else `"papers"`.
        width: float. Multiplies every filter and unit count (tiny test models).
        name: str. Name of the stream model.

    Returns:
        A `keras.Model` from `(batch, size, size, 3)` faces (uint8 or float in [0, 255])
        to `(batch, features)`.
    """
    check_choice("backbone", backbone, tuple(PRETRAINING))
    check_positive("input_size", input_size, integer=True)
    feature_layer = feature_layer or FEATURE_LAYERS[backbone][0]
    check_choice("feature_layer", feature_layer, FEATURE_LAYERS[backbone])
    weights = PRETRAINING[backbone].get(pretraining, pretraining)
    if normalization is None:
        normalization = _expected_normalization(weights)

    shape = (input_size, input_size, 3)
    if backbone == "vggface":
        pooled = feature_layer == "pool5"
        cnn = VGGFace(
            include_top=False if pooled else feature_layer,
            pooling="avg" if pooled else None,
            input_shape=shape,
            width=width,
            weights=weights,
        )
    elif backbone == "resnet50":
        cnn = ResNet50Face(include_top=False, pooling="avg", input_shape=shape, width=width, weights=weights)
    else:
        cnn = DenseNet121(include_top=False, pooling="avg", input_shape=shape, width=width, weights=weights)

    faces = keras.Input(shape, name=f"{name}_faces")
    features = cnn(face_normalization(normalization, name=f"{name}_normalization")(faces))
    return keras.Model(faces, features, name=name)


def _expected_normalization(weights):
    """The normalisation a weights preset was trained with; "papers" for anything else."""
    from affectkeras.weights import PRESETS, WeightsPreset

    if isinstance(weights, str):
        weights = PRESETS.get(weights)
    return weights.expects if isinstance(weights, WeightsPreset) else "papers"


def audio_cnn(*, window_steps=64, n_mels=64, embedding_dim=128, width=1.0, pretraining=None, name="spectrogram_cnn"):
    """Builds the audio stream: one frame's log-mel window `(steps, n_mels, 1)` -> embedding.

    Args:
        window_steps, n_mels: int. The window's shape.
        embedding_dim: int. Embedding size at width 1.0 (scaled by `width`).
        width: float. Multiplies every filter count and the embedding size.
        pretraining: str, Path or None. The trained audio stream to start from: a network
            preset (`"ravdess_audio"`, speech emotions from RAVDESS), a `.keras` file or a
            run folder of a network with an audio stream; None = random initialisation.
        name: str. Name of the stream model.

    Raises:
        InvalidArgumentError: the pretrained stream has another shape (width, window).
    """
    stream = AudioCNN(
        input_shape=(window_steps, n_mels, 1),
        embedding_dim=scaled(embedding_dim, width),
        width=width,
        name=name,
    )
    if pretraining is not None:
        _copy_trained_stream(stream, pretraining, width=width)
    return stream


def _copy_trained_stream(stream, pretraining, *, width):
    """Sets `stream`'s weights to those of the audio stream inside `pretraining` (same shapes)."""
    from affectkeras import weights
    from affectkeras.models.surgery import audio_stream
    from affectkeras.runs import load_trained_model

    if weights.is_network_preset(pretraining):
        source = audio_stream(weights.load_preset_model(str(pretraining)))
        built_with = weights.get_preset(str(pretraining)).network
    else:
        source, built_with = audio_stream(load_trained_model(pretraining)), None
    shapes = [tuple(w.shape) for w in stream.weights]
    trained = [tuple(w.shape) for w in source.weights]
    if shapes != trained:
        hint = f" (built with {built_with})" if built_with else ""
        raise InvalidArgumentError(
            f"The audio stream of {str(pretraining)!r}{hint} has another shape than this network's audio stream "
            f"(width={width}, window {tuple(stream.inputs[0].shape[1:3])}): build the network at the width and "
            f"window of the trained stream. Received: audio_pretraining={str(pretraining)!r}"
        )
    stream.set_weights(source.get_weights())
    mark_pretrained(stream)


def finish_model(inputs, outputs, name, weights):
    """`keras.Model(inputs, outputs, name=name)`, then `weights` (a `.weights.h5` file) loaded last."""
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(weights)
        mark_pretrained(model)
    return model


__all__ = [
    "AUDIO_CNN",
    "FEATURE_LAYERS",
    "NORMALIZATIONS",
    "PRETRAINING",
    "VISUAL_CNN",
    "audio_cnn",
    "face_normalization",
    "finish_model",
    "visual_cnn",
]
