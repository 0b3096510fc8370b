"""Pretrained weight presets, and loading weights into a model by layer name.

A *preset* names a published weights file: its URL, its hash, the backbone it fits and the
input normalisation it was trained with (`WeightsPreset.expects`):

| preset | builder | file | expects |
| --- | --- | --- | --- |
| `vggface1_vgg16` | `VGGFace`, top | `rcmalli_vggface_tf_vgg16.h5` | `"vggface1"` |
| `vggface1_vgg16_notop` | `VGGFace` | `rcmalli_vggface_tf_notop_vgg16.h5` | `"vggface1"` |
| `vggface2_resnet50` | `ResNet50Face`, top | `rcmalli_vggface_tf_resnet50.h5` | `"vggface2"` |
| `vggface2_resnet50_notop` | `ResNet50Face` | `rcmalli_vggface_tf_notop_resnet50.h5` | `vggface2` |
| `imagenet_densenet121_notop` | `DenseNet121` | `densenet121_..._notop.h5` | `"imagenet_torch"` |

The keras-vggface files are its release v2.0
(`https://github.com/rcmalli/keras-vggface/releases/download/v2.0/`), the DenseNet file
keras-applications' (`densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5`).

`expects` values: `"vggface1"` = `affectkeras.layers.VGGFacePreprocessing(version=1)` on RGB
faces in [0, 255]; `"vggface2"` = `VGGFacePreprocessing(version=2)`; `"imagenet_torch"` =
`keras.applications.densenet.preprocess_input` (x / 255, minus the ImageNet mean, divided
by its std). Models trained from scratch use the papers' `FaceRescaling` ([-1, 1]).

Hashes: keras-vggface publishes no checksum for its release files, so its presets have
`file_hash=None` and are downloaded unverified (with a warning); pin one with
`fetch_preset(..., file_hash=...)` or a `WeightsPreset` of your own. The DenseNet-121 preset
carries the md5 that Keras itself checks. `keras.utils.get_file` accepts an md5 (32 hex
digits) or a sha256 (64 hex digits) and tells them apart by length.

Loading by name: `load_weights(model, weights)` matches the file's layers to the model's
layers by name, so a file saved from a backbone loads into a bigger model that contains
the backbone's layers (flat or as a nested sub-model), and a file without a top loads
into a model with a new top (`allow_missing`). Three file layouts are read:

- Keras 2 / legacy HDF5 (`.h5`, as keras-vggface and keras-applications published them):
  root attribute `layer_names`, one group per layer with attribute `weight_names` (e.g.
  `conv1_1/kernel:0`), possibly under a `model_weights` group (full-model files). Keras 2
  allowed `/` in layer names (keras-vggface's `conv1/7x7_s2/bn`, `fc6/relu`); Keras 3 does
  not, so a legacy name maps to ours by replacing every `/` with `_`
  (`legacy_layer_name`): `conv1/7x7_s2` -> `conv1_7x7_s2`, `conv1/7x7_s2/bn` ->
  `conv1_7x7_s2_bn`, `conv2_1_1x1_reduce/bn` -> `conv2_1_1x1_reduce_bn`, `conv1/conv`
  -> `conv1_conv`. Kernels have the same layout in Keras 2 and 3; a layer's weights are
  matched by their short names (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`,
  `moving_variance`), in file order when those differ.
- Keras 3 weights files (`.weights.h5`), where each layer's group records its name.
- Keras 3 model archives (`.keras`), through the `model.weights.h5` they contain.
"""

import dataclasses
import io
import os
import tempfile
import warnings
import zipfile

import h5py
import keras
import numpy as np

from affectkeras.errors import InvalidArgumentError, WeightsError

__all__ = [
    "PRESETS",
    "LoadReport",
    "WeightsPreset",
    "fetch_preset",
    "get_preset",
    "legacy_layer_name",
    "list_presets",
    "load_weights",
    "resolve_weights",
]

CACHE_SUBDIR = "affectkeras"

_VGGFACE_RELEASE = "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
_KERAS_DENSENET = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"


@dataclasses.dataclass(frozen=True)
class WeightsPreset:
    """A published weights file: where it lives, its hash, what it fits and expects.

    Args:
        url: str. Download URL (`https://...`, or `file://...` for a local copy).
        file_hash: str or None. sha256 (64 hex digits) or md5 (32 hex digits) of the file,
            checked after download by `keras.utils.get_file`; None where the publisher
            gave none (the file is then not verified and a warning says so).
        file_name: str. Name of the file in the cache (`~/.keras/affectkeras/`).
        expects: str. Input normalisation the weights were trained with: `"vggface1"`,
            `"vggface2"` or `"imagenet_torch"` (see the module docstring).
        legacy: bool. True for a Keras 2 HDF5 file whose layer names may hold `/`.
        backbone: str. The builder it fits: `"vggface"`, `"resnet50_face"`,
            `"densenet121"`.
        include_top: bool. Whether the file holds the classification top.
        description: str. One line for humans.

    Example:
        >>> preset = WeightsPreset(
        ...     url="file:///data/vggface_notop.h5", file_hash="9f86d0...",
        ...     file_name="vggface_notop.h5", expects="vggface1")
        >>> model = VGGFace(include_top=False, weights=preset)

    Reference:
        Malli, "keras-vggface" (https://github.com/rcmalli/keras-vggface), release v2.0.
    """

    url: str
    file_hash: str | None
    file_name: str
    expects: str
    legacy: bool = True
    backbone: str = "vggface"
    include_top: bool = False
    description: str = ""


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
}


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What `load_weights` did, layer by layer (names are the model's layer names).

    Attributes:
        path: str. The file read.
        loaded: tuple of str. Layers whose weights were set from the file.
        mismatched: tuple of str. Layers skipped because their shapes differ
            (`skip_mismatch`); they keep their current weights.
        missing: tuple of str. Layers with weights that the file lacks (`allow_missing`);
            they keep their current weights.
        unused: tuple of str. Layers of the file (mapped names) that the model lacks.
    """

    path: str
    loaded: tuple = ()
    mismatched: tuple = ()
    missing: tuple = ()
    unused: tuple = ()


def list_presets(backbone=None):
    """Returns the preset names, all of them or those that fit one backbone.

    Args:
        backbone: str or None. `"vggface"`, `"resnet50_face"`, `"densenet121"`, or None
            for all.

    Returns:
        A sorted list of preset names.

    Example:
        >>> list_presets("vggface")
        ['vggface1_vgg16', 'vggface1_vgg16_notop']
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


def legacy_layer_name(name):
    """Maps a Keras 2 layer name to its Keras 3 spelling: every `/` becomes `_`.

    Args:
        name: str. A layer name from a Keras 2 HDF5 file, e.g. `"conv1/7x7_s2/bn"`.

    Returns:
        The name the affectkeras backbones use, e.g. `"conv1_7x7_s2_bn"`.

    Example:
        >>> legacy_layer_name("conv2_1_1x1_reduce/bn")
        'conv2_1_1x1_reduce_bn'
    """
    return name.replace("/", "_")


def fetch_preset(preset, *, cache_dir=None, file_hash=None):
    """Downloads a preset's file (once; later calls use the cache) and returns its path.

    Goes through `keras.utils.get_file(file_name, origin=url, file_hash=...,
    cache_subdir="affectkeras")`, which verifies the hash after a download and downloads
    again when a cached copy does not match it.

    Args:
        preset: str or WeightsPreset. A preset name or a preset.
        cache_dir: str or None. Cache root; None for Keras's home (`$KERAS_HOME`, else
            `~/.keras`). The file lands in `<cache_dir>/affectkeras/`.
        file_hash: str or None. A sha256 or md5 that overrides the preset's hash (to pin
            a preset published without one).

    Returns:
        The local path of the file, a str.

    Raises:
        WeightsError: the download failed or its hash does not match (a cached copy that
            does not match is downloaded again on the next call).

    Example:
        >>> path = fetch_preset("vggface1_vgg16_notop")

    Reference:
        `keras.utils.get_file` (https://keras.io/api/utils/python_utils/#getfile-function).
    """
    if isinstance(preset, str):
        name, preset = preset, get_preset(preset)
    elif isinstance(preset, WeightsPreset):
        name = preset.file_name
    else:
        raise InvalidArgumentError(
            f"`preset` must be a preset name or a WeightsPreset. Received: preset={preset!r}"
        )
    file_hash = file_hash if file_hash is not None else preset.file_hash
    if file_hash is None:
        warnings.warn(
            f"Weights preset {name!r} has no published hash: {preset.url} is used unverified. "
            "Pass file_hash= to fetch_preset (or a WeightsPreset with file_hash) to pin it.",
            stacklevel=2,
        )
    if cache_dir is not None:
        # get_file falls back to /tmp/.keras when the folder does not exist yet.
        cache_dir = os.path.expanduser(os.fspath(cache_dir))
        os.makedirs(cache_dir, exist_ok=True)
    try:
        return keras.utils.get_file(
            preset.file_name,
            origin=preset.url,
            file_hash=file_hash,
            cache_subdir=CACHE_SUBDIR,
            cache_dir=cache_dir,
        )
    except ValueError as error:  # get_file's hash check
        raise WeightsError(
            f"The file downloaded for weights preset {name!r} from {preset.url} does not "
            f"match its hash {file_hash} ({error}); get_file downloads it again on the "
            "next call."
        ) from error
    except Exception as error:  # network errors: get_file raises a bare Exception
        raise WeightsError(
            f"Cannot download weights preset {name!r} from {preset.url}: {error}. Without "
            "internet access, download the file elsewhere and pass its path as `weights`."
        ) from error


def resolve_weights(weights, *, backbone=None):
    """Checks a builder's `weights` argument without loading anything.

    Args:
        weights: None, a preset name, a `WeightsPreset`, or a path (str or PathLike).
        backbone: str or None. If given, a preset must fit this backbone.

    Returns:
        None, a `WeightsPreset`, or the path as a str.

    Raises:
        InvalidArgumentError: an unknown preset name that is not an existing file either,
            or a preset for another backbone.

    Example:
        >>> resolve_weights("vggface1_vgg16_notop", backbone="vggface").expects
        'vggface1'
    """
    if weights is None or isinstance(weights, WeightsPreset):
        preset = weights
    elif isinstance(weights, str) and weights in PRESETS:
        preset = PRESETS[weights]
    elif isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if not os.path.isfile(path):
            valid = list_presets(backbone)
            raise InvalidArgumentError(
                "`weights` must be None, a preset name (one of "
                f"{valid}) or the path of an existing .h5 / .weights.h5 / .keras file. "
                f"Received: weights={weights!r}"
            )
        return path
    else:
        raise InvalidArgumentError(
            "`weights` must be None, a preset name, a WeightsPreset or a file path. "
            f"Received: weights={weights!r}"
        )
    if preset is not None and backbone is not None and preset.backbone != backbone:
        raise InvalidArgumentError(
            f"Weights preset {weights!r} is for the {preset.backbone!r} backbone, not "
            f"{backbone!r}; presets for it: {list_presets(backbone)}. Received: weights={weights!r}"
        )
    return preset


def load_weights(
    model_or_layer, weights, *, skip_mismatch=False, allow_missing=False, strict=False,
    cache_dir=None,
):
    """Loads weights into a model (or one layer) by layer name.

    Every layer of the model that has weights (layers of nested functional / sequential
    sub-models included) takes the weights of the file's layer of the same name; legacy
    Keras 2 names are mapped with `legacy_layer_name` (`/` -> `_`). Nothing is changed
    unless every check passes.

    Args:
        model_or_layer: keras.Model or keras.layers.Layer. Built (it has its weights).
        weights: None (does nothing), a preset name (see `PRESETS`), a `WeightsPreset`
            (downloaded through `fetch_preset`), or the path of a `.h5` (Keras 2 / legacy
            layout), `.weights.h5` or `.keras` file.
        skip_mismatch: bool or collection of str. Layers whose weight shapes differ from
            the file's keep their current weights instead of raising: all of them (True)
            or those named (e.g. `["fc6", "fc7"]` when the input size differs from the
            file's). Default: raise.
        allow_missing: bool or collection of str. Layers with weights that the file lacks
            keep their current weights instead of raising: all of them (True) or those
            named (a new top for fine-tuning, e.g. `["fc8"]`). Default: raise.
        strict: bool. Also raise when the file holds weights for a layer the model lacks
            (by default those are ignored: a full-model file loads into a model without
            a top).
        cache_dir: str or None. Cache root for presets (see `fetch_preset`).

    Returns:
        A `LoadReport` (None when `weights` is None).

    Raises:
        WeightsError: a shape mismatch or a missing layer (the message names the first
            such layer, its expected and found shapes, and the file), a layer name that
            appears twice in the file or the model, or an unreadable file.
        InvalidArgumentError: `weights` is not a preset and not an existing file.

    Example:
        >>> model = VGGFace(include_top="fc6", input_shape=(96, 96, 3))
        >>> report = load_weights(model, "vggface1_vgg16_notop", allow_missing=["fc6"])
        >>> report.missing
        ('fc6',)

    Reference:
        Keras 2 `Model.load_weights(..., by_name=True)`, whose file layout this reads.
    """
    target = resolve_weights(weights)
    if target is None:
        return None
    if isinstance(target, WeightsPreset):
        path = fetch_preset(target, cache_dir=cache_dir)
    else:
        path = target
    if not isinstance(model_or_layer, keras.layers.Layer):
        raise InvalidArgumentError(
            "`model_or_layer` must be a Keras model or layer. "
            f"Received: model_or_layer={model_or_layer!r}"
        )
    options = _Options(
        path=str(path),
        skip_mismatch=_name_filter("skip_mismatch", skip_mismatch),
        allow_missing=_name_filter("allow_missing", allow_missing),
        strict=bool(strict),
    )
    with _open_weights_file(options.path) as handle:
        source = _read_source(handle, options.path)
        if source.kind == "legacy" or not isinstance(model_or_layer, keras.Model):
            return _load_into_layers(model_or_layer, source, options)
        return _load_keras3_into_model(model_or_layer, source, options)


# ---------------------------------------------------------------------------------------
# Implementation.


@dataclasses.dataclass(frozen=True)
class _Options:
    path: str
    skip_mismatch: object
    allow_missing: object
    strict: bool


def _name_filter(arg, value):
    """Returns a predicate on layer names for a `bool | collection of names` argument."""
    if isinstance(value, bool):
        return lambda name: value
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise InvalidArgumentError(
            f"`{arg}` must be a bool or a collection of layer names. Received: {arg}={value!r}"
        )
    names = frozenset(value)
    return lambda name: name in names


@dataclasses.dataclass
class _SourceLayer:
    file_name: str  # the name as written in the file
    weights: list  # [(short name or relative path, h5py.Dataset)]


@dataclasses.dataclass
class _Source:
    kind: str  # "legacy" or "keras3"
    layers: dict  # our layer name -> _SourceLayer
    duplicates: dict  # our layer name -> [file names] that collide on it


class _open_weights_file:
    """Context manager: an open h5py.File for `.h5` / `.weights.h5` / `.keras` paths."""

    def __init__(self, path):
        self.path = path
        self.file = None

    def __enter__(self):
        try:
            if zipfile.is_zipfile(self.path):
                with zipfile.ZipFile(self.path) as archive:
                    names = archive.namelist()
                    if "model.weights.h5" not in names:
                        raise WeightsError(
                            f"{self.path}: this .keras archive holds no model.weights.h5 "
                            f"(it holds {names})."
                        )
                    data = archive.read("model.weights.h5")
                self.file = h5py.File(io.BytesIO(data), "r")
            else:
                self.file = h5py.File(self.path, "r")
        except WeightsError:
            raise
        except (OSError, zipfile.BadZipFile) as error:
            raise WeightsError(
                f"{self.path}: not a readable HDF5 weights file or .keras archive ({error})."
            ) from error
        return self.file

    def __exit__(self, *exc_info):
        if self.file is not None:
            self.file.close()


def _attr_list(group, name):
    """Reads a string-list attribute, also when Keras 2 split it into `name0`, `name1`..."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, index = [], 0
        while f"{name}{index}" in group.attrs:
            values.extend(group.attrs[f"{name}{index}"])
            index += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _short_weight_name(weight_name):
    """`conv1/7x7_s2/bn/moving_mean:0` -> `moving_mean`."""
    return weight_name.split("/")[-1].split(":")[0]


def _read_source(handle, path):
    legacy_root = None
    if "layer_names" in handle.attrs or "layer_names0" in handle.attrs:
        legacy_root = handle
    elif "model_weights" in handle and (
        "layer_names" in handle["model_weights"].attrs
        or "layer_names0" in handle["model_weights"].attrs
    ):
        legacy_root = handle["model_weights"]
    if legacy_root is not None:
        return _read_legacy(legacy_root, path)
    if "layers" in handle or "vars" in handle:
        units = {}
        duplicates = {}
        for name, group in _keras3_units(handle):
            entry = _SourceLayer(name, sorted(_keras3_datasets(group).items()))
            if not entry.weights:
                continue
            if name in units:
                duplicates.setdefault(name, [name]).append(name)
            units[name] = entry
        return _Source("keras3", units, duplicates)
    raise WeightsError(
        f"{path}: not a Keras weights file (no `layer_names` attribute, `model_weights` "
        "group or Keras 3 `layers` group)."
    )


def _read_legacy(root, path):
    layers, duplicates = {}, {}
    for file_name in _attr_list(root, "layer_names"):
        try:
            group = root[file_name]
        except KeyError as error:
            raise WeightsError(
                f"{path}: layer {file_name!r} is listed in `layer_names` but has no group."
            ) from error
        weight_names = _attr_list(group, "weight_names")
        if not weight_names:
            continue
        try:
            weights = [(_short_weight_name(w), group[w]) for w in weight_names]
        except KeyError as error:
            raise WeightsError(
                f"{path}: layer {file_name!r} lists weights {weight_names} but lacks one "
                f"of them ({error})."
            ) from error
        name = legacy_layer_name(file_name)
        if name in layers:
            duplicates.setdefault(name, [layers[name].file_name]).append(file_name)
        layers[name] = _SourceLayer(file_name, weights)
    return _Source("legacy", layers, duplicates)


def _keras3_units(group, under_layers=False):
    """Yields (layer name, group) for every layer group of a Keras 3 weights file.

    Layer groups are the children of `layers` groups; their `vars` group records the
    layer's name (the group itself is named after the layer's class).
    """
    for key, child in group.items():
        if not isinstance(child, h5py.Group):
            continue
        if under_layers and "vars" in child and isinstance(child["vars"], h5py.Group):
            name = child["vars"].attrs.get("name", key)
            name = name.decode("utf8") if isinstance(name, bytes) else str(name)
            yield name, child
        if key == "layers":
            yield from _keras3_units(child, under_layers=True)
        elif under_layers:
            # A nested model keeps its own layers in `<model group>/layers`.
            if "layers" in child and isinstance(child["layers"], h5py.Group):
                yield from _keras3_units(child["layers"], under_layers=True)


def _keras3_datasets(group, prefix=""):
    """Relative path -> dataset under a layer group, leaving out nested models' layers."""
    found = {}
    for key, child in group.items():
        if key == "layers":
            continue
        path = f"{prefix}{key}"
        if isinstance(child, h5py.Dataset):
            found[path] = child
        else:
            found.update(_keras3_datasets(child, path + "/"))
    return found


def _flatten_layers(model_or_layer):
    """Layers with weights, in order, looking through nested models."""
    if not isinstance(model_or_layer, keras.Model):
        return [model_or_layer] if model_or_layer.weights else []
    found = []
    for layer in model_or_layer.layers:
        if isinstance(layer, keras.Model):
            found.extend(_flatten_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


def _shapes(arrays):
    return [tuple(int(d) for d in a.shape) for a in arrays]


def _kind(model_or_layer):
    return "model" if isinstance(model_or_layer, keras.Model) else "layer"


def _fail_mismatch(model_or_layer, options, name, entry, expected, found):
    raise WeightsError(
        f"Cannot load {options.path} into {_kind(model_or_layer)} "
        f"{model_or_layer.name!r}: layer {name!r} expects weights of shapes {expected}, "
        f"but the file's layer {entry.file_name!r} holds {found}. Pass "
        f"skip_mismatch=True (or skip_mismatch=[{name!r}, ...]) to keep the current "
        "weights of mismatched layers (e.g. fc6 at another input size)."
    )


def _fail_missing(model_or_layer, options, missing, source):
    shown = ", ".join(repr(n) for n in missing[:5]) + (", ..." if len(missing) > 5 else "")
    file_layers = list(source.layers)
    sample = ", ".join(file_layers[:5]) + (", ..." if len(file_layers) > 5 else "")
    raise WeightsError(
        f"Cannot load {options.path} into {_kind(model_or_layer)} "
        f"{model_or_layer.name!r}: layer {missing[0]!r} is not in the file ({len(missing)} "
        f"layer(s) with weights missing: {shown}; the file holds {len(file_layers)} "
        f"layer(s) with weights: {sample}). Pass allow_missing=True (or "
        f"allow_missing=[{missing[0]!r}, ...], e.g. a new top) to keep their current weights."
    )


def _check_duplicates(source, names, options):
    for name in names:
        if name in source.duplicates:
            raise WeightsError(
                f"{options.path}: layers {source.duplicates[name]} of the file all map to "
                f"the name {name!r}; cannot tell which one to load."
            )


def _finish(model_or_layer, source, options, problems, matched):
    """Raises for the first problem (in model layer order), then for `strict`."""
    if problems:
        first = problems[0]
        if first[0] == "mismatch":
            _fail_mismatch(model_or_layer, options, *first[1:])
        missing = [p[1] for p in problems if p[0] == "missing"]
        _fail_missing(model_or_layer, options, missing, source)
    unused = [n for n in source.layers if n not in matched]
    if options.strict and unused:
        raise WeightsError(
            f"Cannot load {options.path} into {_kind(model_or_layer)} "
            f"{model_or_layer.name!r} with strict=True: the file's layer(s) {unused} "
            "have no layer of that name in the model."
        )


def _report(source, options, loaded, mismatched, missing, matched):
    return LoadReport(
        options.path, tuple(loaded), tuple(mismatched), tuple(missing),
        tuple(n for n in source.layers if n not in matched),
    )


def _load_into_layers(model_or_layer, source, options):
    """Legacy files (and plain layers): assign each layer's weights in order."""
    layers = _flatten_layers(model_or_layer)
    seen = set()
    for layer in layers:
        if layer.name in seen:
            raise WeightsError(
                f"Two layers of {_kind(model_or_layer)} {model_or_layer.name!r} are named "
                f"{layer.name!r}; loading by name needs unique names."
            )
        seen.add(layer.name)
    _check_duplicates(source, seen, options)
    plan, loaded, mismatched, missing, problems, matched = [], [], [], [], [], set()
    for layer in layers:
        entry = source.layers.get(layer.name)
        if entry is None:
            if options.allow_missing(layer.name):
                missing.append(layer.name)
            else:
                problems.append(("missing", layer.name))
            continue
        matched.add(layer.name)
        variables = list(layer.weights)
        datasets = _order_like(variables, entry, source.kind)
        expected = _shapes(variables)
        if datasets is None or _shapes(datasets) != expected:
            if options.skip_mismatch(layer.name):
                mismatched.append(layer.name)
            else:
                found = _shapes([d for _, d in entry.weights])
                problems.append(("mismatch", layer.name, entry, expected, found))
            continue
        plan.append((variables, datasets))
        loaded.append(layer.name)
    _finish(model_or_layer, source, options, problems, matched)
    for variables, datasets in plan:
        for variable, dataset in zip(variables, datasets):
            variable.assign(np.asarray(dataset[()]))
    return _report(source, options, loaded, mismatched, missing, matched)


def _order_like(variables, entry, kind):
    """The file's datasets in the order of `variables`, or None if the counts differ."""
    if len(variables) != len(entry.weights):
        return None
    if kind == "keras3":
        # `vars/0`, `vars/1`, ... of a layer without sublayers: the order of its weights.
        keys = [k for k, _ in entry.weights]
        if not all(k.startswith("vars/") and k[5:].isdigit() for k in keys):
            raise WeightsError(
                f"The file's layer {entry.file_name!r} has nested weights {keys}: load a "
                "Keras 3 file into the model that contains the layer, not into the layer."
            )
        return [d for _, d in sorted(entry.weights, key=lambda kv: int(kv[0][5:]))]
    by_name = {}
    for short, dataset in entry.weights:
        by_name.setdefault(short, dataset)
    wanted = [v.name.split("/")[-1].split(":")[0] for v in variables]
    if len(by_name) == len(entry.weights) and set(wanted) == set(by_name):
        return [by_name[n] for n in wanted]
    return [d for _, d in entry.weights]


def _load_keras3_into_model(model, source, options):
    """Keras 3 files into a model.

    The model's own weights are written to a temporary `.weights.h5` (which gives each
    variable's place in Keras's layout), the matched layers' datasets are copied over,
    and Keras loads the result back: exact for any layer, sublayers included.
    """
    with tempfile.TemporaryDirectory() as folder:
        scratch = os.path.join(folder, "scratch.weights.h5")
        model.save_weights(scratch)
        with h5py.File(scratch, "r+") as handle:
            units = [
                (name, _keras3_datasets(group))
                for name, group in _keras3_units(handle)
            ]
            units = [(name, d) for name, d in units if d]
            names = [name for name, _ in units]
            if len(set(names)) != len(names):
                twice = sorted({n for n in names if names.count(n) > 1})
                raise WeightsError(
                    f"Layers {twice} appear twice in model {model.name!r}; loading by "
                    "name needs unique names."
                )
            _check_duplicates(source, names, options)
            plan, loaded, mismatched, missing, problems, matched = [], [], [], [], [], set()
            for name, datasets in units:
                entry = source.layers.get(name)
                if entry is None:
                    if options.allow_missing(name):
                        missing.append(name)
                    else:
                        problems.append(("missing", name))
                    continue
                matched.add(name)
                keys = sorted(datasets)
                found_map = dict(entry.weights)
                fits = sorted(found_map) == keys and all(
                    found_map[k].shape == datasets[k].shape for k in keys
                )
                if not fits:
                    if options.skip_mismatch(name):
                        mismatched.append(name)
                    else:
                        expected = _shapes([datasets[k] for k in keys])
                        found = _shapes([d for _, d in entry.weights])
                        problems.append(("mismatch", name, entry, expected, found))
                    continue
                plan.extend((datasets[k], found_map[k]) for k in keys)
                loaded.append(name)
            _finish(model, source, options, problems, matched)
            for target, dataset in plan:
                target[...] = dataset[()]
        model.load_weights(scratch)
    return _report(source, options, loaded, mismatched, missing, matched)
