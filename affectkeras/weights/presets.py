"""The weights presets, as data: `WeightsPreset` and the `PRESETS` table.

A preset is either a download (`url`, checked against `file_hash`, cached by
`keras.utils.get_file`) or a file shipped inside the package (`package_file`, a path
relative to this folder, `affectkeras/weights/`, e.g. `files/ferplus.weights.h5`), read
without any network. Fetching and loading live in `affectkeras.weights.loading`; the
table of published presets is in the `affectkeras.weights` docstring.
"""

import dataclasses
import os
import pathlib

from affectkeras.constants import RAVDESS_EMOTIONS
from affectkeras.errors import InvalidArgumentError

__all__ = ["PACKAGE_DIR", "PRESETS", "PresetName", "WeightsPreset", "get_preset", "is_network_preset", "list_presets"]

# The folder `WeightsPreset.package_file` is relative to (`files/` below it holds the
# bundled weights files, installed as package data).
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent

_VGGFACE_RELEASE = "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
_KERAS_DENSENET = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"


@dataclasses.dataclass(frozen=True)
class WeightsPreset:
    """A weights file: where it lives (online or in the package), its hash, what it fits.

    Args:
        url: str or None. Download URL (`https://...`, or `file://...` for a local copy);
            None for a file shipped in the package (`package_file`).
        file_hash: str or None. sha256 (64 hex digits) or md5 (32 hex digits) of the file,
            checked after download by `keras.utils.get_file` (and on a bundled file, when
            given); None where the publisher gave none (a download is then not verified
            and a warning says so).
        file_name: str. Name of the file in the cache (`~/.keras/affectkeras/`); for a
            bundled preset, the file's name.
        expects: str. Input normalisation the weights were trained with: `"vggface1"`,
            `"vggface2"`, `"imagenet_torch"`, `"gray"` (faces), or `"db"` (log-mel windows
            in dB, audio) (see the `affectkeras.weights` docstring).
        legacy: bool. True for a Keras 2 HDF5 file whose layer names may hold `/`.
        backbone: str. The builder it fits: `"vggface"`, `"resnet50_face"`, `"audio_cnn"`,
            `"densenet121"`.
        include_top: bool. Whether the file holds the classification top.
        description: str. One line for humans.
        package_file: str or None. Path of a file shipped inside the installed package,
            relative to the `affectkeras/weights/` folder (`PACKAGE_DIR`), e.g.
            `"files/ferplus.weights.h5"`: `fetch_preset` returns its path without any
            network. Exactly one of `url` and `package_file` is given.
        network: dict or None. For a file that holds a whole trained network (not only a
            backbone): `{"network": <affectkeras.models.NETWORKS name, or
            "audio_classifier" for `pretraining.build_speech_network`>, **builder arguments}`,
            which `load_preset_model` builds before loading the file.
        classes: tuple of str or None. The class names of the network's `expression`
            output, in order, when they are not the Aff-Wild2 expressions.
        test_time_crop: float or None. For a whole face network: predictions average four
            views of each face (`models.average_views`: the face, mirrored, a centre crop of
            this share of its side, mirrored), as the network was scored;
            `load_preset_model(name, test_time=True)` and `affectkeras predict` run it so.
            None: one view.
        ensemble: tuple of str. Other network presets (same inputs and outputs) whose
            predictions are averaged with this one's as the preset was scored
            (`models.average_models`); `load_preset_model(name, test_time=True)` and
            `affectkeras predict` run them so. Empty: this network alone.

    Raises:
        InvalidArgumentError: both or neither of `url` and `package_file`, or a
            `package_file` that is absolute or leaves the package folder.

    Example:
        >>> preset = WeightsPreset(
        ...     url="file:///data/vggface_notop.h5", file_hash="9f86d0...",
        ...     file_name="vggface_notop.h5", expects="vggface1")
        >>> model = VGGFace(include_top=False, weights=preset)
        >>> bundled = WeightsPreset(
        ...     url=None, file_hash=None, file_name="ferplus.weights.h5",
        ...     expects="vggface1", legacy=False, package_file="files/ferplus.weights.h5")

    Reference:
        Malli, "keras-vggface" (https://github.com/rcmalli/keras-vggface), release v2.0.
    """

    url: str | None
    file_hash: str | None
    file_name: str
    expects: str
    legacy: bool = True
    backbone: str = "vggface"
    include_top: bool = False
    description: str = ""
    package_file: str | None = None
    network: dict | None = dataclasses.field(default=None, hash=False)
    classes: tuple | None = None
    test_time_crop: float | None = None
    ensemble: tuple = ()

    def __post_init__(self):
        if (self.url is None) == (self.package_file is None):
            raise InvalidArgumentError(
                "A WeightsPreset needs exactly one of `url` (a download) and `package_file` "
                f"(a file shipped in the package). Received: url={self.url!r}, "
                f"package_file={self.package_file!r}"
            )
        if self.package_file is not None:
            parts = pathlib.PurePosixPath(self.package_file.replace(os.sep, "/")).parts
            if not parts or os.path.isabs(self.package_file) or ".." in parts:
                raise InvalidArgumentError(
                    "`package_file` must be a path relative to the affectkeras/weights "
                    f"folder, inside it. Received: package_file={self.package_file!r}"
                )

    @property
    def bundled(self):
        """True for a file shipped in the package (`package_file`), False for a download."""
        return self.package_file is not None


PRESETS = {
    "vggface1_vgg16": WeightsPreset(
        url=_VGGFACE_RELEASE + "rcmalli_vggface_tf_vgg16.h5",
        file_hash=None,
        file_name="rcmalli_vggface_tf_vgg16.h5",
        expects="vggface1",
        backbone="vggface",
        include_top=True,
        description="VGG-16 trained on VGGFace (2622 identities), with fc6-fc8; 224x224 input",
    ),
    "vggface1_vgg16_notop": WeightsPreset(
        url=_VGGFACE_RELEASE + "rcmalli_vggface_tf_notop_vgg16.h5",
        file_hash=None,
        file_name="rcmalli_vggface_tf_notop_vgg16.h5",
        expects="vggface1",
        backbone="vggface",
        description="VGG-16 trained on VGGFace, 13 conv layers only; any input >= 32",
    ),
    "vggface2_resnet50": WeightsPreset(
        url=_VGGFACE_RELEASE + "rcmalli_vggface_tf_resnet50.h5",
        file_hash=None,
        file_name="rcmalli_vggface_tf_resnet50.h5",
        expects="vggface2",
        backbone="resnet50_face",
        include_top=True,
        description="ResNet-50 trained on VGGFace2 (8631 identities), with its classifier",
    ),
    "vggface2_resnet50_notop": WeightsPreset(
        url=_VGGFACE_RELEASE + "rcmalli_vggface_tf_notop_resnet50.h5",
        file_hash=None,
        file_name="rcmalli_vggface_tf_notop_resnet50.h5",
        expects="vggface2",
        backbone="resnet50_face",
        description="ResNet-50 trained on VGGFace2, conv part only",
    ),
    "imagenet_densenet121_notop": WeightsPreset(
        url=_KERAS_DENSENET + "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        # The md5 keras.applications.DenseNet121 checks.
        file_hash="30ee3e1110167f948a6b9946edeeb738",
        file_name="densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        expects="imagenet_torch",
        backbone="densenet121",
        description="DenseNet-121 trained on ImageNet (keras-applications), conv part only",
    ),
    # Trained here: recipes/pretrain.py (command, seed and figures in files/README.md and the README).
    "ferplus": WeightsPreset(
        url=None,
        file_hash="7aa0df62eb42643abf984362caa4382e07e300c88c49ac8993d97a985d754007",
        file_name="ferplus.weights.h5",
        expects="gray",
        legacy=False,
        backbone="vggface",
        description="FER+ expression network: MT-VGG's VGG-Face stream to fc6 at width 0.5, 64 px grey faces, "
                    "8 expressions; with ferplus_2, an ensemble of two seeds (FER+ Test 0.840 over 4 views; this "
                    "network on one view 0.830; majority vote)",
        package_file="files/ferplus.weights.h5",
        network={"network": "mt_vgg", "width": 0.5, "input_size": 64, "feature_layer": "fc6", "normalization": "gray",
                 "dropout": 0.5, "tasks": ("expr",), "num_expressions": 8, "name": "ferplus"},
        # Chosen on FER+ Valid among crops 0.85 / 0.9 / 0.95 (README, "Results").
        test_time_crop=0.85,
        # Chosen on FER+ Valid over the 4 views: the two seeds averaged 0.849, this one alone 0.848.
        ensemble=("ferplus_2",),
    ),
    # Trained here: recipes/pretrain_speech.py (command, seed and figures in files/README.md and the README).
    "ravdess_audio": WeightsPreset(
        url=None,
        file_hash="412c756d280cd82a0b5bd285e64997241cade4ab58b87ee569531b7cf418c946",
        file_name="ravdess_audio.weights.h5",
        expects="db",
        legacy=False,
        backbone="audio_cnn",
        description="RAVDESS speech-emotion network: the A/V audio stream at width 0.5 on 0.5 s log-mel windows, "
                    "embeddings averaged over the clip, 8 emotions; with ravdess_audio_2, an ensemble of two seeds "
                    "(actors 21-24 held out: accuracy 0.575, whole clips 0.629)",
        package_file="files/ravdess_audio.weights.h5",
        network={"network": "audio_classifier", "width": 0.5, "pooling": "mean", "dropout": 0.3,
                 "name": "ravdess_audio"},
        classes=RAVDESS_EMOTIONS,
        # Chosen on actors 17-20 (trained on 01-04, 13-16): two seeds averaged 0.533, alone 0.517 / 0.525.
        ensemble=("ravdess_audio_2",),
    ),
}


def _second_seed(name, file_hash, description):
    """`<name>_2`: the preset `name`'s recipe from seed 1, the second network of its ensemble."""
    first = PRESETS[name]
    return dataclasses.replace(first, file_hash=file_hash, file_name=f"{name}_2.weights.h5",
                               package_file=f"files/{name}_2.weights.h5", description=description,
                               network={**first.network, "name": f"{name}_2"}, ensemble=())


# Stored in int8, so the package's files stay under 20 MB.
PRESETS["ferplus_2"] = _second_seed(
    "ferplus", "e082cdf062f38b2f3d050a9d7cf04d73280a6a03610b4c75eb9776cb958f2761",
    "ferplus's recipe from seed 1, kernels stored in int8 (the second network of its ensemble; FER+ Valid "
    "0.844 over 4 views alone)")
PRESETS["ravdess_audio_2"] = _second_seed(
    "ravdess_audio", "9fab32e192458cb273328aef895105498c73c2b34c559a03d6c83ad89fab491a",
    "ravdess_audio's recipe from seed 1 (the second network of its ensemble; actors 21-24 held out: accuracy "
    "0.604 alone)")


def list_presets(backbone=None):
    """Returns the preset names, all of them or those that fit one backbone.

    Args:
        backbone: str or None. `"vggface"`, `"resnet50_face"`, `"densenet121"`,
            `"audio_cnn"`, or None for all.

    Returns:
        A sorted list of preset names.

    Example:
        >>> list_presets("vggface")
        ['ferplus', 'vggface1_vgg16', 'vggface1_vgg16_notop']
    """
    return sorted(n for n, p in PRESETS.items() if backbone is None or p.backbone == backbone)


def get_preset(name):
    """Returns the `WeightsPreset` called `name`.

    Args:
        name: str. A key of `PRESETS`.

    Returns:
        The `WeightsPreset`.

    Raises:
        InvalidArgumentError: for an unknown name; the message lists the presets.

    Example:
        >>> get_preset("vggface2_resnet50_notop").expects
        'vggface2'
    """
    if name not in PRESETS:
        raise InvalidArgumentError(
            f"Unknown weights preset. Valid presets: {list_presets()}. Received: name={name!r}"
        )
    return PRESETS[name]


class PresetName(str):
    """A preset's name that never means a path.

    A plain string that names a preset means the preset only where no file or folder of that
    name exists (`is_network_preset`). The library's defaults (`inference.DEFAULT_MODEL`,
    `speech.DEFAULT_SPEECH_MODEL`) are `PresetName`s, so that a folder called `ferplus` or
    `ravdess_audio` in the working directory (an output folder, a run) cannot take the place
    of the shipped model when no model is given.
    """

    __slots__ = ()


def is_network_preset(name):
    """True when `name` names a preset holding a whole network and no file or folder of that name exists.

    Where a model is given by path (`affectkeras predict --model`, `finetune.py --model`),
    this is how a shipped network (`"ferplus"`) is told apart from a path. A `PresetName`
    is a preset whatever exists on disk.
    """
    preset = PRESETS.get(str(name)) if isinstance(name, (str, os.PathLike)) else None
    return (preset is not None and preset.network is not None
            and (isinstance(name, PresetName) or not os.path.exists(name)))
