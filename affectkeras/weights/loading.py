"""Fetching presets and loading weights files into a model by layer name.

`load_weights` reads three layouts (Keras 2 / legacy HDF5, Keras 3 `.weights.h5`, Keras 3
`.keras` archives; see the `affectkeras.weights` docstring) and sets the weights of every
layer of the model that has a layer of the same name in the file. Two ways write them,
through one by-name loop (`_load_by_name`): layer by layer (legacy files, or a single
layer), or through a scratch copy of the model's own Keras 3 weights file (Keras 3 files
into a model, exact for sublayers too).
"""

import dataclasses
import hashlib
import io
import os
import tempfile
import warnings
import zipfile

import h5py
import keras
import numpy as np

from affectkeras.errors import InvalidArgumentError, WeightsError
from affectkeras.weights import presets
from affectkeras.weights.presets import PRESETS, WeightsPreset, get_preset, is_network_preset, list_presets
from affectkeras.weights.provenance import mark_pretrained
from affectkeras.weights.saving import read_weights, stored_array

__all__ = [
    "LoadReport",
    "fetch_preset",
    "is_network_preset",
    "legacy_layer_name",
    "load_preset_model",
    "load_preset_networks",
    "load_weights",
    "resolve_weights",
]

CACHE_SUBDIR = "affectkeras"


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
    again when a cached copy does not match it. A bundled preset (`package_file`) needs
    no network: its path inside the installed package is returned (after checking its
    hash, when one is given); `cache_dir` does not apply to it.

    Args:
        preset: str or WeightsPreset. A preset name or a preset.
        cache_dir: str or None. Cache root; None for Keras's home (`$KERAS_HOME`, else
            `~/.keras`). The file lands in `<cache_dir>/affectkeras/`.
        file_hash: str or None. A sha256 or md5 that overrides the preset's hash (to pin
            a preset published without one).

    Returns:
        The local path of the file, a str.

    Raises:
        InvalidArgumentError: an unknown preset name.
        WeightsError: the download failed or its hash does not match (a cached copy that
            does not match is downloaded again on the next call), or a bundled file is
            missing from the installation or does not match its hash.

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
    if preset.bundled:
        return _bundled_file(name, preset, file_hash)
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


def _bundled_file(name, preset, file_hash):
    """The path of a preset's file shipped in the package, checked; no network."""
    path = os.path.join(presets.PACKAGE_DIR, preset.package_file)
    if not os.path.isfile(path):
        raise WeightsError(
            f"Weights preset {name!r} is shipped with affectkeras as {path}, but that file "
            "is missing: this installation lacks the package data of affectkeras/weights; "
            "reinstall affectkeras."
        )
    if file_hash is not None:
        # keras.utils.get_file's rule: 64 hex digits are a sha256, anything else an md5.
        algorithm = hashlib.sha256 if len(file_hash) == 64 else hashlib.md5
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, algorithm).hexdigest()
        if digest != file_hash.lower():
            raise WeightsError(
                f"The file {path} shipped for weights preset {name!r} does not match its "
                f"hash {file_hash} (it has {digest}); reinstall affectkeras."
            )
    return path


def load_preset_model(preset, *, test_time=False):
    """The whole network a preset holds (`WeightsPreset.network`), built and loaded; no download.

    Args:
        preset: str or WeightsPreset. E.g. `"ferplus"`, the FER+ expression network that
            ships with affectkeras.
        test_time: bool. The preset as it was scored and as `affectkeras predict` runs it:
            its network averaged with those of its `ensemble` (`models.average_models`), then
            over four views of each face when it has a `test_time_crop`
            (`models.average_views`). False: the network itself (to fine-tune it, or to
            predict fast with one network on one view).

    Returns:
        A `keras.Model`, named after the preset.

    Raises:
        InvalidArgumentError: an unknown preset, or one that holds only a backbone's weights.
        WeightsError: its file (or a member's) is missing or damaged.

    Example:
        >>> model = load_preset_model("ferplus")
        >>> model.output["expression"].shape
        (None, 8)
    """
    name, preset = (preset, get_preset(preset)) if isinstance(preset, str) else (preset.file_name, preset)
    if preset.network is None:
        raise InvalidArgumentError(
            f"Weights preset {name!r} holds a backbone's weights, not a whole network: pass it as "
            f"`pretraining=` / `weights=` of a builder. Presets with a network: "
            f"{sorted(n for n, p in presets.PRESETS.items() if p.network)}. Received: preset={name!r}"
        )
    if test_time:
        from affectkeras.models import average_models, average_views

        model = average_models(load_preset_networks(preset))
        return average_views(model, crop=preset.test_time_crop) if preset.test_time_crop else model
    arguments = dict(preset.network)
    network = arguments.pop("network")
    if network == "audio_classifier":  # a clip classifier over the audio stream (no registry builder)
        from affectkeras.pretraining import build_speech_network

        model = build_speech_network(**arguments)
    else:
        from affectkeras.models import get_network

        model = get_network(network).build(**arguments)
    path = fetch_preset(preset)
    try:
        read_weights(model, path)
    except Exception as error:  # h5py and Keras raise many kinds on a damaged or foreign file
        raise WeightsError(f"Cannot load weights preset {name!r} from {path}: {error}") from None
    mark_pretrained(model)
    return model


def load_preset_networks(preset):
    """The networks of a preset's ensemble, each on its own: the preset's, then its `ensemble`'s.

    For callers that average the networks' outputs in their own way (`speech.SpeechModel`
    averages per window and per clip); `load_preset_model(name, test_time=True)` averages
    them in one model.

    Returns:
        A list of `keras.Model`s (one for a preset without an ensemble).
    """
    members = (get_preset(preset) if isinstance(preset, str) else preset).ensemble
    return [load_preset_model(preset)] + [load_preset_model(member) for member in members]


def resolve_weights(weights, *, backbone=None):
    """Checks a builder's `weights` argument without loading anything.

    Args:
        weights: None, a preset name, a `WeightsPreset`, or a path (str or PathLike).
        backbone: str or None. If given, a preset must fit this backbone.

    Returns:
        None, a `WeightsPreset`, or the path as a str. A bundled preset also resolves to
        its `WeightsPreset` (nothing is downloaded here in any case); `fetch_preset` gives
        its file's path inside the package.

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
            (downloaded through `fetch_preset`, or read from the package without any
            network when bundled), or the path of a `.h5` (Keras 2 / legacy layout),
            `.weights.h5` or `.keras` file.
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
            # A nested model keeps its own layers in `<model group>/layers`; a wrapper
            # (`TimeDistributed`) the model it holds in `<wrapper group>/layer/layers`.
            for holder in (child, child.get("layer")):
                if isinstance(holder, h5py.Group) and isinstance(holder.get("layers"), h5py.Group):
                    yield from _keras3_units(holder["layers"], under_layers=True)


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
    """Layers with weights, in order, looking through nested models and the models that
    wrappers (`TimeDistributed`) hold, as a Keras 3 file stores them."""
    if not isinstance(model_or_layer, keras.Model):
        return [model_or_layer] if model_or_layer.weights else []
    found = []
    for layer in model_or_layer.layers:
        if isinstance(layer, keras.layers.Wrapper) and isinstance(layer.layer, keras.Model):
            layer = layer.layer
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


def _load_by_name(model_or_layer, source, options, units, match, assign):
    """The by-name loop of both loaders: checks every unit, then writes all or nothing.

    Args:
        model_or_layer: what is loaded (for the messages).
        source: the file's `_Source`.
        options: `_Options`.
        units: list of (layer name, target), in model order, names unique.
        match: `match(target, entry)` -> (pairs, expected): `pairs`, the list of
            (destination, dataset) to write when the file's `_SourceLayer` fits the
            target, else None; `expected`, the target's weight shapes.
        assign: `assign(destination, dataset)` writes one dataset.

    Returns:
        The `LoadReport`.
    """
    _check_duplicates(source, [name for name, _ in units], options)
    plan, loaded, mismatched, missing, problems, matched = [], [], [], [], [], set()
    for name, target in units:
        entry = source.layers.get(name)
        if entry is None:
            if options.allow_missing(name):
                missing.append(name)
            else:
                problems.append(("missing", name))
            continue
        matched.add(name)
        pairs, expected = match(target, entry)
        if pairs is None:
            if options.skip_mismatch(name):
                mismatched.append(name)
            else:
                found = _shapes([d for _, d in entry.weights])
                problems.append(("mismatch", name, entry, expected, found))
            continue
        plan.extend(pairs)
        loaded.append(name)
    _finish(model_or_layer, source, options, problems, matched)
    for destination, dataset in plan:
        assign(destination, dataset)
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
    units = [(layer.name, list(layer.weights)) for layer in layers]
    return _load_by_name(
        model_or_layer, source, options, units,
        lambda variables, entry: _match_variables(variables, entry, source.kind),
        _assign_variable,
    )


def _match_variables(variables, entry, kind):
    """A layer's variables paired with the file's datasets (None if they do not fit)."""
    expected = _shapes(variables)
    datasets = _order_like(variables, entry, kind)
    if datasets is None or _shapes(datasets) != expected:
        return None, expected
    return list(zip(variables, datasets)), expected


def _assign_variable(variable, dataset):
    variable.assign(np.asarray(stored_array(dataset)))


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
            report = _load_by_name(
                model, source, options, units, _match_datasets, _write_dataset
            )
        model.load_weights(scratch)
    return report


def _match_datasets(datasets, entry):
    """A scratch layer group's datasets paired with the file's (None if they do not fit)."""
    keys = sorted(datasets)
    found_map = dict(entry.weights)
    expected = _shapes([datasets[k] for k in keys])
    fits = sorted(found_map) == keys and all(
        found_map[k].shape == datasets[k].shape for k in keys
    )
    if not fits:
        return None, expected
    return [(datasets[k], found_map[k]) for k in keys], expected


def _write_dataset(target, dataset):
    target[...] = stored_array(dataset)
