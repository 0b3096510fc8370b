"""The library's networks by name, and `describe`: what a built or loaded network is.

`NETWORKS` maps each network name (`"av_mt_vgg_rnn"`, `"mt_vgg"`, ...) to its builder and
the facts its consumers need before they have a model (a recipe choosing records, face
size and modalities). `describe(model)` answers the same questions for a model in hand:
the builders' output, a `.keras` file loaded back, a model cut by `affectkeras.models.surgery`,
or (through `describe_signature`) a SavedModel's serving signature. The predictor,
evaluation, export and the recipes read these answers instead of each inferring them
from input shapes again.

Example:
    >>> from affectkeras.models import NETWORKS, describe
    >>> model = NETWORKS["av_mt_vgg_rnn"].build(width=0.05, rnn_units=16)
    >>> description = describe(model)
    >>> description.network, description.sequence_length, description.audio_shape
    ('av_mt_vgg_rnn', 80, (50, 64, 1))
"""

import dataclasses
import importlib

from affectkeras.constants import (
    AUDIO_INPUT,
    EXPR_OUTPUT,
    FACES_INPUT,
    LABELS_INPUT,
    LANDMARK_POINTS,
    LANDMARKS_INPUT,
    MODALITIES,
    SEQUENCE_LENGTH,
    TASK_OUTPUTS,
)
from affectkeras.errors import InvalidArgumentError, check_choice


@dataclasses.dataclass(frozen=True)
class Network:
    """One network of the papers, as the library builds it.

    Attributes:
        name: str. The registry name, also the built model's default `name`.
        builder: str. The builder's name in `affectkeras.models` (`build_<name>`).
        sequence: bool. Takes sequences of faces `(batch, time, size, size, 3)` (CNN-RNN).
        face_size: int. The builder's default face side (96 VGG-Face, 112 ArcFace nets).
        audio: bool. Also takes one log-mel window per frame (`audio`).
        arcface: bool. Trains with the expression labels as an input (`expression_labels`).
    """

    name: str
    sequence: bool
    face_size: int
    audio: bool = False
    arcface: bool = False

    @property
    def builder(self):
        return f"build_{self.name}"

    @property
    def modalities(self):
        """tuple of str. The dataset inputs the network takes (`faces`, and `audio`)."""
        return (FACES_INPUT, AUDIO_INPUT) if self.audio else (FACES_INPUT,)

    def build(self, **kwargs):
        """Calls the builder with `kwargs` (see its docstring) and returns the `keras.Model`."""
        return getattr(importlib.import_module("affectkeras.models"), self.builder)(**kwargs)


NETWORKS = {
    network.name: network
    for network in (
        Network("cnn_rnn", sequence=True, face_size=96),
        Network("mt_vgg_rnn", sequence=True, face_size=96),
        Network("av_mt_vgg_rnn", sequence=True, face_size=96, audio=True),
        Network("mt_vgg", sequence=False, face_size=96),
        Network("mt_arcres", sequence=False, face_size=112, arcface=True),
        Network("mt_arcvgg", sequence=False, face_size=112, arcface=True),
    )
}
# What `affectkeras.models.surgery` makes of a network (described, not built by name).
DERIVED = ("frame_classifier", "audio_classifier")
# Name suffixes that surgery and `inference_model` add to the network they start from.
_SUFFIXES = ("_inference", "_new_heads")


def get_network(name):
    """The `Network` registered as `name`; an error lists the names when there is none."""
    check_choice("network", name, tuple(NETWORKS))
    return NETWORKS[name]


@dataclasses.dataclass(frozen=True)
class ModelDescription:
    """What a model takes and gives, as `describe` reads it.

    Attributes:
        network: str. A name of `NETWORKS` (or `DERIVED`): the model's own name when it is
            one (a suffix such as `_inference` removed), else the family its structure shows.
        sequence_length: int or None. The frames a sequence network is run on at once: its
            time length, or 80 when built with `sequence_length=None`; None for per-frame
            and audio-only networks.
        face_size: int or None. Side of the `faces` crops; None when the network takes any
            size or no faces.
        audio_shape: tuple or None. One log-mel window, e.g. `(50, 64, 1)`; None without audio.
        audio_windows: int or None. Windows per clip of an audio-only network; None otherwise.
        tasks: tuple of str. Among `"va"`, `"expr"`, `"au"`, in that order.
        outputs: dict. Output name -> units, in the order `valence_arousal`, `expression`,
            `action_units`.
        inputs: tuple of str. The input names (`faces`, `audio`, `landmarks`, `expression_labels`).
    """

    network: str
    sequence_length: int = None
    face_size: int = None
    audio_shape: tuple = None
    audio_windows: int = None
    tasks: tuple = ()
    outputs: dict = dataclasses.field(default_factory=dict)
    inputs: tuple = ()

    @property
    def sequence(self):
        """bool. A sequence (CNN-RNN) network."""
        return self.sequence_length is not None

    @property
    def modalities(self):
        """tuple of str. The data inputs (`faces`, `audio`, `landmarks`), without training-only labels."""
        return tuple(name for name in MODALITIES if name in self.inputs)

    @property
    def takes_labels(self):
        """bool. Trains with `expression_labels` as an input (ArcFace; see `inference_model`)."""
        return LABELS_INPUT in self.inputs


def describe(model):
    """Describes a network of the library: its family, window, face size, audio and tasks.

    Args:
        model: keras.Model. Built by `affectkeras.models` (or loaded from a `.keras` file),
            possibly cut by `affectkeras.models.surgery` or `inference_model`.

    Returns:
        `ModelDescription`.

    Raises:
        InvalidArgumentError: `model` is not a network of the library (inputs other than
            `faces`, `audio`, `expression_labels`, or none of the task outputs).

    Example:
        >>> describe(build_mt_arcvgg(width=0.05)).takes_labels
        True
    """
    from affectkeras.models.heads import named_outputs

    inputs = {tensor.name: tuple(tensor.shape[1:]) for tensor in model.inputs}
    outputs = {name: tensor.shape[-1] for name, tensor in named_outputs(model).items()}
    return describe_signature(inputs, outputs, name=model.name, source=model.name, layers=_layer_names(model))


def describe_signature(inputs, outputs, *, name=None, source=None, layers=()):
    """`describe` from input shapes and output sizes alone (e.g. a SavedModel's signature).

    Args:
        inputs: dict. Input name -> shape without the batch axis.
        outputs: dict. Output name -> units.
        name: str or None. The model's name, if known.
        source: str or None. What to call the model in errors.
        layers: collection of str. Layer names inside the model, when known (they tell
            the backbone of an ArcFace or a CNN-RNN network apart).

    Returns:
        `ModelDescription`.
    """
    source = source or name or "the model"
    faces, audio = inputs.get(FACES_INPUT), inputs.get(AUDIO_INPUT)
    unknown = sorted(set(inputs) - {FACES_INPUT, AUDIO_INPUT, LABELS_INPUT, LANDMARKS_INPUT})
    if (faces is None and audio is None) or unknown or (faces is not None and (len(faces) not in (3, 4)
                                                                                or faces[-1] != 3)):
        raise InvalidArgumentError(
            f"{source} is not an affectkeras network: it must take `faces` (batch, [time,] size, size, 3) "
            f"and / or `audio`. Received: inputs={inputs}"
        )
    points = inputs.get(LANDMARKS_INPUT)
    if points is not None and (faces is None or tuple(points[:-1]) != tuple(faces[:-3])
                               or points[-1] != 2 * LANDMARK_POINTS):
        raise InvalidArgumentError(
            f"{source}: the `landmarks` input must be (batch, [time,] {2 * LANDMARK_POINTS}) beside `faces`. "
            f"Received: landmarks shape {points}"
        )
    sequence_length = None
    if faces is not None and len(faces) == 4:
        sequence_length = faces[0] or SEQUENCE_LENGTH
    audio_shape = audio_windows = None
    if audio is not None:
        audio_shape = tuple(audio[1:]) if sequence_length or faces is None else tuple(audio)
        if faces is None:
            audio_windows = audio[0]
        if len(audio_shape) != 3 or None in audio_shape or audio_shape[-1] != 1:
            raise InvalidArgumentError(
                f"{source}: the `audio` input must be (batch, [time,] steps, n_mels, 1). "
                f"Received: audio shape {audio}"
            )
    ordered = {output: int(outputs[output]) for output in TASK_OUTPUTS.values() if output in outputs}
    if not ordered:
        raise InvalidArgumentError(
            f"{source} has none of the outputs {list(TASK_OUTPUTS.values())}. Received: outputs={sorted(outputs)}"
        )
    description = ModelDescription(
        network="",
        sequence_length=sequence_length,
        face_size=None if faces is None else faces[-2],
        audio_shape=audio_shape,
        audio_windows=audio_windows,
        tasks=tuple(task for task, output in TASK_OUTPUTS.items() if output in ordered),
        outputs=ordered,
        inputs=tuple(inputs),
    )
    return dataclasses.replace(description, network=_network_name(name, description, set(layers)))


def _network_name(name, description, layers):
    """The registry name: the model's own (less a surgery suffix), else its structure's family."""
    for candidate in (name, *(name[: -len(suffix)] for suffix in _SUFFIXES if name and name.endswith(suffix))):
        if candidate in NETWORKS or candidate in DERIVED:
            return candidate
    if FACES_INPUT not in description.inputs:
        return "audio_classifier"
    if description.sequence:
        return "av_mt_vgg_rnn" if description.audio_shape else "cnn_rnn"
    if description.takes_labels or EXPR_OUTPUT in layers and "embedding_bn" in layers:
        return "mt_arcres" if any(layer.startswith("resnet50") for layer in layers) else "mt_arcvgg"
    return "mt_vgg"


def _layer_names(model):
    """Names of every layer inside `model`, nested models included."""
    return {layer.name for layer in model._flatten_layers(include_self=False, recursive=True)}


__all__ = ["DERIVED", "NETWORKS", "ModelDescription", "Network", "describe", "describe_signature", "get_network"]
