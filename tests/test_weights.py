"""Tests of affectkeras.weights: presets through get_file, loading by name, clear errors."""

import hashlib
import pathlib

import h5py
import keras
import numpy as np
import pytest

import affectkeras.weights as weights_module
from affectkeras.backbones import AudioCNN, DenseNet121, ResNet50Face, VGGFace
from affectkeras.errors import AffectKerasError, InvalidArgumentError, WeightsError
from affectkeras.weights import (
    PRESETS,
    LoadReport,
    WeightsPreset,
    fetch_preset,
    get_preset,
    legacy_layer_name,
    list_presets,
    load_weights,
    resolve_weights,
)
from affectkeras.weights import presets as presets_module

TINY = 1 / 16
RNG = np.random.default_rng(0)


def _vgg(**kwargs):
    kwargs.setdefault("include_top", False)
    kwargs.setdefault("width", TINY)
    kwargs.setdefault("input_shape", (32, 32, 3))
    return VGGFace(**kwargs)


def _resnet(**kwargs):
    kwargs.setdefault("include_top", False)
    kwargs.setdefault("width", TINY)
    kwargs.setdefault("input_shape", (32, 32, 3))
    return ResNet50Face(**kwargs)


def _to_keras_vggface_name(name):
    """Our name -> keras-vggface's (the inverse of legacy_layer_name for its layers)."""
    if name.startswith("conv1_7x7_s2"):
        name = "conv1/7x7_s2" + name[len("conv1_7x7_s2"):]
    if name.endswith("_bn"):
        name = name[: -len("_bn")] + "/bn"
    if name.endswith(("_relu", "_softmax")) and name.startswith("fc"):
        name = name.replace("_", "/", 1)
    return name


def _write_legacy_h5(path, model, *, rename=_to_keras_vggface_name, drop=(), extra=(),
                     full_model=False, chunk_names=False, reverse_bn=False):
    """Writes `model`'s layers in the Keras 2 HDF5 layout with random weights.

    Every layer (weightless ones too, as Keras 2 did) gets a group named after its
    keras-vggface name, with a `weight_names` attribute and datasets
    `<layer>/<weight>:0`. Returns {our layer name: [arrays in layer.weights order]}.
    """
    written = {}
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if full_model else f
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        names = []
        for layer in model.layers:
            if layer.name in drop or isinstance(layer, keras.layers.InputLayer):
                continue
            legacy = rename(layer.name)
            names.append(legacy)
            group = root.create_group(legacy)
            entries = []
            arrays = []
            for variable in layer.weights:
                array = RNG.normal(size=variable.shape).astype("float32")
                if "variance" in variable.name:
                    array = np.abs(array) + 0.5
                entries.append((f"{legacy}/{variable.name}:0", array))
                arrays.append(array)
            if reverse_bn and isinstance(layer, keras.layers.BatchNormalization):
                entries = entries[::-1]  # the loader matches weights by their short names
            group.attrs["weight_names"] = np.array([n.encode() for n, _ in entries], dtype="S")
            for weight_name, array in entries:
                group.create_dataset(weight_name, data=array)
            if arrays:
                written[layer.name] = arrays
        for legacy, shape in extra:
            names.append(legacy)
            group = root.create_group(legacy)
            group.attrs["weight_names"] = np.array([f"{legacy}/kernel:0".encode()], dtype="S")
            group.create_dataset(f"{legacy}/kernel:0", data=np.zeros(shape, "float32"))
        encoded = np.array([n.encode() for n in names], dtype="S")
        if chunk_names:  # Keras 2 splits attributes larger than 64 kB like this
            half = len(encoded) // 2
            root.attrs["layer_names0"] = encoded[:half]
            root.attrs["layer_names1"] = encoded[half:]
        else:
            root.attrs["layer_names"] = encoded
    return written


def _assert_loaded(model, written):
    for name, arrays in written.items():
        layer = model.get_layer(name)
        assert len(layer.weights) == len(arrays), name
        for variable, array in zip(layer.weights, arrays):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), array)


def _values(model):
    return [keras.ops.convert_to_numpy(w).copy() for w in model.weights]


def _sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------- legacy VGGFace


@pytest.mark.parametrize("full_model", [False, True])
def test_legacy_vggface_file_loads_by_name(tmp_path, full_model):
    source = _vgg(include_top="fc7")
    path = tmp_path / "vggface.h5"
    written = _write_legacy_h5(path, source, full_model=full_model)
    assert set(written) == {f"conv{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
                            for i in range(1, n + 1)} | {"fc6", "fc7"}
    model = _vgg(include_top="fc7")
    report = load_weights(model, str(path))
    assert isinstance(report, LoadReport)
    assert set(report.loaded) == set(written)
    assert report.missing == report.mismatched == report.unused == ()
    _assert_loaded(model, written)


def test_legacy_file_with_top_loads_into_a_model_without_top(tmp_path):
    path = tmp_path / "vggface_top.h5"
    written = _write_legacy_h5(path, _vgg(include_top=True, classes=5))
    model = _vgg(include_top=False)
    report = load_weights(model, path)
    assert set(report.unused) == {"fc6", "fc7", "fc8"}
    _assert_loaded(model, {k: v for k, v in written.items() if k.startswith("conv")})
    with pytest.raises(WeightsError, match=r"strict=True.*fc6"):
        load_weights(_vgg(include_top=False), path, strict=True)


def test_notop_file_into_a_model_with_fc_layers(tmp_path):
    path = tmp_path / "vggface_notop.h5"
    written = _write_legacy_h5(path, _vgg(include_top=False))
    model = _vgg(include_top="fc6")
    with pytest.raises(WeightsError, match=r"layer 'fc6' is not in the file") as info:
        load_weights(model, path)
    assert str(path) in str(info.value) and "allow_missing" in str(info.value)
    report = load_weights(model, path, allow_missing=["fc6"])
    assert report.missing == ("fc6",)
    _assert_loaded(model, written)
    # The builder treats fc6-fc8 as a head that may be missing, with a warning.
    with pytest.warns(UserWarning, match=r"\['fc6'\].*random initialisation"):
        built = _vgg(include_top="fc6", weights=str(path))
    _assert_loaded(built, written)


def test_wrong_shape_raises_naming_layer_shapes_and_file(tmp_path):
    path = tmp_path / "narrow.h5"
    _write_legacy_h5(path, _vgg(width=TINY / 2))
    model = _vgg(width=TINY)
    before = _values(model)
    with pytest.raises(WeightsError) as info:
        load_weights(model, path)
    message = str(info.value)
    assert "layer 'conv1_1'" in message
    assert "[(3, 3, 3, 4), (4,)]" in message  # expected
    assert "[(3, 3, 3, 2), (2,)]" in message  # found
    assert str(path) in message
    assert isinstance(info.value, (AffectKerasError, ValueError))
    for old, new in zip(before, _values(model)):  # nothing changed
        np.testing.assert_array_equal(old, new)


def test_skip_mismatch_keeps_current_weights(tmp_path):
    source = _vgg(include_top="fc6", input_shape=(64, 64, 3))  # fc6 sees 2x2x32 features
    path = tmp_path / "vgg64.h5"
    written = _write_legacy_h5(path, source)
    model = _vgg(include_top="fc6", input_shape=(32, 32, 3))  # fc6 sees 1x1x32
    fc6_before = _values(model.get_layer("fc6"))
    with pytest.raises(WeightsError, match=r"layer 'fc6' expects .*\(32, 256\).*\(128, 256\)"):
        load_weights(model, path)
    report = load_weights(model, path, skip_mismatch=["fc6"])
    assert report.mismatched == ("fc6",)
    for old, new in zip(fc6_before, _values(model.get_layer("fc6"))):
        np.testing.assert_array_equal(old, new)
    _assert_loaded(model, {k: v for k, v in written.items() if k != "fc6"})
    assert load_weights(_vgg(include_top="fc6"), path, skip_mismatch=True).mismatched == ("fc6",)


def test_missing_layer_raises_naming_it(tmp_path):
    path = tmp_path / "holey.h5"
    _write_legacy_h5(path, _vgg(), drop={"conv3_2"})
    model = _vgg()
    with pytest.raises(WeightsError, match=r"layer 'conv3_2' is not in the file") as info:
        load_weights(model, path)
    assert str(path) in str(info.value)
    report = load_weights(model, path, allow_missing=True)
    assert report.missing == ("conv3_2",)


def test_chunked_layer_names_attribute(tmp_path):
    path = tmp_path / "chunked.h5"
    written = _write_legacy_h5(path, _vgg(), chunk_names=True)
    model = _vgg()
    load_weights(model, path)
    _assert_loaded(model, written)


# -------------------------------------------------------------- legacy ResNet50Face


def test_legacy_resnet_file_with_slashes_loads(tmp_path):
    source = _resnet(include_top=True, classes=3)
    path = tmp_path / "resnet50.h5"
    written = _write_legacy_h5(path, source, reverse_bn=True)
    with h5py.File(path) as f:  # the file really holds keras-vggface's names
        names = [n.decode() for n in f.attrs["layer_names"]]
    assert "conv1/7x7_s2" in names and "conv1/7x7_s2/bn" in names
    assert "conv2_1_1x1_reduce/bn" in names and "conv5_3_1x1_increase/bn" in names
    model = _resnet(include_top=True, classes=3)
    report = load_weights(model, path)
    assert len(report.loaded) == 107
    _assert_loaded(model, written)
    bn = model.get_layer("conv1_7x7_s2_bn")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(bn.moving_variance), written["conv1_7x7_s2_bn"][3]
    )
    # Batch norm uses the loaded statistics at inference.
    x = RNG.normal(size=(1, 32, 32, 3)).astype("float32")
    assert np.isfinite(keras.ops.convert_to_numpy(model(x, training=False))).all()


def test_resnet_builder_loads_notop_file_and_warns_for_the_classifier(tmp_path):
    path = tmp_path / "resnet50_notop.h5"
    written = _write_legacy_h5(path, _resnet(include_top=False))
    model = _resnet(include_top=False, pooling="avg", weights=path)
    _assert_loaded(model, written)
    with pytest.warns(UserWarning, match="classifier"):
        top = _resnet(include_top=True, classes=4, weights=path)
    _assert_loaded(top, written)


def test_resnet_wrong_shape_names_the_bn_layer(tmp_path):
    path = tmp_path / "resnet_bad.h5"
    _write_legacy_h5(path, _resnet())
    with h5py.File(path, "r+") as f:
        group = f["conv2_2_3x3/bn"]
        del group["conv2_2_3x3/bn/gamma:0"]
        group.create_dataset("conv2_2_3x3/bn/gamma:0", data=np.ones(99, "float32"))
    expected = r"layer 'conv2_2_3x3_bn' .*'conv2_2_3x3/bn' holds \[\(99,\)"
    with pytest.raises(WeightsError, match=expected):
        load_weights(_resnet(), path)


# ------------------------------------------------------------------- Keras 3 files


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_keras3_files_load_by_name_into_a_bigger_model(tmp_path, suffix):
    backbone = _vgg(include_top="fc6")
    path = tmp_path / f"backbone{suffix}"
    if suffix == ".keras":
        backbone.save(path)
    else:
        backbone.save_weights(path)
    # A new model that nests a fresh backbone and adds a head.
    inner = _vgg(include_top="fc6")
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(2, name="head")(inner(inputs))
    model = keras.Model(inputs, outputs, name="bigger")
    with pytest.raises(WeightsError, match="layer 'head' is not in the file"):
        load_weights(model, path)
    report = load_weights(model, path, allow_missing=["head"])
    assert report.missing == ("head",)
    for name in ("conv1_1", "conv5_3", "fc6"):
        for ours, theirs in zip(inner.get_layer(name).weights, backbone.get_layer(name).weights):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
            )


def test_keras3_file_with_nested_variables_and_batch_norm(tmp_path):
    def build(units):
        inputs = keras.Input((5, 3))
        x = keras.layers.GRU(4, return_sequences=True, name="gru")(inputs)
        x = keras.layers.BatchNormalization(name="norm")(x)
        return keras.Model(inputs, keras.layers.Dense(units, name="out")(x))

    source = build(2)
    source.get_layer("norm").moving_mean.assign(np.arange(4, dtype="float32"))
    path = tmp_path / "gru.weights.h5"
    source.save_weights(path)
    model = build(3)
    with pytest.raises(WeightsError, match=r"layer 'out' expects .*\(4, 3\).*\(4, 2\)"):
        load_weights(model, path)
    report = load_weights(model, path, skip_mismatch=["out"])
    assert set(report.loaded) == {"gru", "norm"} and report.mismatched == ("out",)
    for name in ("gru", "norm"):
        for ours, theirs in zip(model.get_layer(name).weights, source.get_layer(name).weights):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
            )


@pytest.mark.parametrize("wrapper", [keras.layers.TimeDistributed, "folded"])
def test_keras3_file_loads_the_model_a_wrapper_holds(tmp_path, wrapper):
    from affectkeras.layers import FoldedTimeDistributed

    wrap = FoldedTimeDistributed if wrapper == "folded" else wrapper

    def build(seed):
        keras.utils.set_random_seed(seed)
        inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")], name="inner")
        inputs = keras.Input((5, 4))
        x = wrap(inner, name="per_step")(inputs)
        return keras.Model(inputs, keras.layers.Dense(2, name="out")(x))

    source, model = build(0), build(1)
    path = tmp_path / "wrapped.weights.h5"
    source.save_weights(path)
    report = load_weights(model, path, strict=True)  # the wrapped model's layers were skipped, unreported
    assert set(report.loaded) == {"inner_dense", "out"} and not (report.missing or report.unused)
    for ours, theirs in zip(model.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_load_into_a_single_layer(tmp_path):
    path = tmp_path / "vgg.h5"
    written = _write_legacy_h5(path, _vgg())
    layer = _vgg().get_layer("conv2_1")
    load_weights(layer, path)
    for variable, array in zip(layer.weights, written["conv2_1"]):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), array)


# ------------------------------------------------------------------------- presets


def _local_preset(path, file_hash):
    return WeightsPreset(
        url=pathlib.Path(path).resolve().as_uri(),
        file_hash=file_hash,
        file_name="tiny_vggface_notop.h5",
        expects="vggface1",
        backbone="vggface",
    )


def test_file_url_preset_downloads_through_get_file_and_loads(tmp_path):
    source_path = tmp_path / "published.h5"
    written = _write_legacy_h5(source_path, _vgg())
    cache = tmp_path / "cache"
    preset = _local_preset(source_path, _sha256(source_path))
    assert preset.url.startswith("file://")
    model = _vgg()
    report = load_weights(model, preset, cache_dir=str(cache))
    cached = cache / "affectkeras" / "tiny_vggface_notop.h5"
    assert cached.is_file() and report.path == str(cached)
    _assert_loaded(model, written)
    # md5 works too (get_file tells the algorithms apart by length).
    md5 = hashlib.md5(source_path.read_bytes()).hexdigest()
    assert fetch_preset(_local_preset(source_path, md5), cache_dir=str(cache)) == str(cached)


def test_wrong_hash_is_rejected(tmp_path, monkeypatch):
    source_path = tmp_path / "published.h5"
    _write_legacy_h5(source_path, _vgg())
    preset = _local_preset(source_path, "0" * 64)
    with pytest.raises(WeightsError, match=r"does not match its hash 0000"):
        load_weights(_vgg(), preset, cache_dir=str(tmp_path / "cache"))
    # A builder goes through the same path (its cache redirected away from ~/.keras).
    monkeypatch.setitem(weights_module.load_weights.__kwdefaults__, "cache_dir", str(tmp_path))
    with pytest.raises(ValueError, match="hash"):
        _vgg(weights=preset)


def test_unpinned_preset_warns(tmp_path):
    source_path = tmp_path / "published.h5"
    _write_legacy_h5(source_path, _vgg())
    with pytest.warns(UserWarning, match="no published hash"):
        fetch_preset(_local_preset(source_path, None), cache_dir=str(tmp_path / "cache"))


def test_unreachable_url_gives_a_clear_error(tmp_path):
    preset = _local_preset(tmp_path / "absent.h5", "0" * 64)
    with pytest.raises(WeightsError, match="Cannot download"):
        fetch_preset(preset, cache_dir=str(tmp_path / "cache"))


def test_bundled_preset_loads_from_the_package_without_network(tmp_path, monkeypatch):
    # A preset shipped as package data: its file lies under the (redirected) package folder.
    monkeypatch.setattr(presets_module, "PACKAGE_DIR", tmp_path)
    (tmp_path / "files").mkdir()
    bundled = tmp_path / "files" / "tiny.weights.h5"
    source = _vgg()
    source.save_weights(bundled)
    preset = WeightsPreset(
        url=None, file_hash=_sha256(bundled), file_name="tiny.weights.h5",
        expects="vggface1", legacy=False, backbone="vggface",
        package_file="files/tiny.weights.h5",
    )
    assert preset.bundled and not PRESETS["vggface1_vgg16"].bundled
    monkeypatch.setitem(PRESETS, "tiny_bundled", preset)

    def no_network(*args, **kwargs):
        raise AssertionError("a bundled preset must not download")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    assert fetch_preset("tiny_bundled") == str(bundled)
    assert resolve_weights("tiny_bundled", backbone="vggface") is preset
    model = _vgg()
    report = load_weights(model, "tiny_bundled", cache_dir=str(tmp_path / "cache"))
    assert report.path == str(bundled) and not (tmp_path / "cache").exists()
    for ours, theirs in zip(model.weights, source.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        )
    built = _vgg(weights="tiny_bundled")  # the builders go through the same path
    for ours, theirs in zip(built.weights, source.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        )
    # Its hash is checked when given; a file left out of the installation is named.
    with pytest.raises(WeightsError, match=r"does not match its hash 0000"):
        fetch_preset("tiny_bundled", file_hash="0" * 64)
    bundled.unlink()
    with pytest.raises(WeightsError, match=r"tiny.weights.h5, but that file is missing"):
        fetch_preset("tiny_bundled")


def test_a_network_preset_builds_loads_predicts_and_starts_other_networks(tmp_path, monkeypatch):
    import affectkeras
    from affectkeras.inference import load_predictor
    from affectkeras.pretraining import build_expression_network
    from affectkeras.weights import load_preset_model

    monkeypatch.setattr(presets_module, "PACKAGE_DIR", tmp_path)
    (tmp_path / "files").mkdir()
    trained = build_expression_network(width=0.05, input_size=32, dropout=0.5)
    trained.save_weights(tmp_path / "files" / "tiny_net.weights.h5")
    network = {"network": "mt_vgg", "width": 0.05, "input_size": 32, "dropout": 0.5, "feature_layer": "fc6",
               "normalization": "gray", "tasks": ("expr",), "name": "tiny_net"}
    monkeypatch.setitem(PRESETS, "tiny_net", WeightsPreset(
        url=None, file_hash=None, file_name="tiny_net.weights.h5", expects="gray", legacy=False,
        backbone="vggface", package_file="files/tiny_net.weights.h5", network=network,
    ))
    faces = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    loaded = load_preset_model("tiny_net")
    assert loaded.name == "tiny_net"
    np.testing.assert_allclose(loaded.predict_on_batch({"faces": faces})["expression"],
                               trained.predict_on_batch({"faces": faces})["expression"], atol=1e-6)
    predictor = load_predictor("tiny_net")  # a preset name where no such file exists
    assert (predictor.face_size, predictor.window, list(predictor.outputs)) == (32, None, ["expression"])
    # The preset's stream starts another network of the same width and face size.
    sequence = affectkeras.build_mt_vgg_rnn(pretraining="tiny_net", width=0.05, input_size=32, sequence_length=4)
    stream = sequence.get_layer("visual_cnn").layer
    np.testing.assert_allclose(keras.ops.convert_to_numpy(stream(faces)),
                               keras.ops.convert_to_numpy(trained.get_layer("visual_cnn")(faces)), atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="holds a backbone's weights"):
        load_preset_model("vggface1_vgg16_notop")


def test_a_preset_is_either_a_download_or_bundled():
    fields = {"file_hash": None, "file_name": "x.h5", "expects": "vggface1"}
    with pytest.raises(InvalidArgumentError, match="exactly one of `url`"):
        WeightsPreset(url=None, **fields)
    with pytest.raises(InvalidArgumentError, match="exactly one of `url`"):
        WeightsPreset(url="https://example.org/x.h5", package_file="files/x.h5", **fields)
    for outside in ("/tmp/x.h5", "../x.h5", "files/../../x.h5"):
        with pytest.raises(InvalidArgumentError, match="package_file"):
            WeightsPreset(url=None, package_file=outside, **fields)


def test_published_presets():
    assert list_presets("vggface") == ["ferplus", "ferplus_2", "vggface1_vgg16", "vggface1_vgg16_notop"]
    assert list_presets("resnet50_face") == ["vggface2_resnet50", "vggface2_resnet50_notop"]
    release = "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
    for name, preset in PRESETS.items():
        if preset.bundled:  # shipped with the package: tested on their own
            continue
        assert preset.url.endswith("/" + preset.file_name), name
        assert preset.expects in {"vggface1", "vggface2", "imagenet_torch"}
        assert preset.include_top == (not name.endswith("_notop"))
        if preset.backbone != "densenet121":
            assert preset.url.startswith(release) and preset.legacy
    assert get_preset("vggface1_vgg16_notop").file_name == "rcmalli_vggface_tf_notop_vgg16.h5"
    assert get_preset("vggface2_resnet50").file_name == "rcmalli_vggface_tf_resnet50.h5"
    with pytest.raises(InvalidArgumentError, match=r"Received: name='vggface3'"):
        get_preset("vggface3")


@pytest.mark.parametrize("name, input_name, input_shape, classes", [
    ("ferplus", "faces", (None, 64, 64, 3), None),  # the library's expressions
    ("ferplus_2", "faces", (None, 64, 64, 3), None),  # int8 kernels
    ("ravdess_audio", "audio", (None, None, 50, 64, 1), "ravdess"),  # any number of 0.5 s windows
    ("ravdess_audio_2", "audio", (None, None, 50, 64, 1), "ravdess"),  # the second network of its ensemble
])
def test_the_shipped_presets_load_from_the_package_without_network(monkeypatch, name, input_name, input_shape,
                                                                   classes):
    from affectkeras.constants import RAVDESS_EMOTIONS
    from affectkeras.weights import load_preset_model

    def no_network(*args, **kwargs):
        raise AssertionError("a shipped preset must not download")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    preset = get_preset(name)
    path = pathlib.Path(fetch_preset(name))  # its sha256 is checked
    assert preset.bundled and path.is_file() and path.stat().st_size <= 20 * 2**20
    assert preset.classes == (RAVDESS_EMOTIONS if classes == "ravdess" else None)
    model = load_preset_model(name)
    assert model.name == name and model.output["expression"].shape == (None, 8)
    assert model.input[input_name].shape == input_shape


def test_densenet_preset_names_map_to_keras_applications_names(tmp_path):
    # keras-applications' DenseNet files name layers `conv1/conv`, `conv1/bn`.
    def build():
        return DenseNet121(
            include_top=False, width=0.125, blocks=(1, 1, 1, 1), input_shape=(32, 32, 3)
        )

    model = build()
    path = tmp_path / "densenet.h5"
    written = _write_legacy_h5(
        path, model, rename=lambda n: {"conv1_conv": "conv1/conv", "conv1_bn": "conv1/bn"}.get(n, n)
    )
    fresh = build()
    load_weights(fresh, path)
    _assert_loaded(fresh, written)


# ------------------------------------------------------------------------ arguments


def test_legacy_layer_name():
    assert legacy_layer_name("conv1/7x7_s2") == "conv1_7x7_s2"
    assert legacy_layer_name("conv1/7x7_s2/bn") == "conv1_7x7_s2_bn"
    assert legacy_layer_name("fc6/relu") == "fc6_relu"
    assert legacy_layer_name("conv1_1") == "conv1_1"


def test_weights_argument_checks(tmp_path):
    model = _vgg()
    assert load_weights(model, None) is None
    with pytest.raises(InvalidArgumentError, match=r"vggface1_vgg16.*Received: weights='nope.h5'"):
        load_weights(model, "nope.h5")
    with pytest.raises(InvalidArgumentError, match=r"Received: allow_missing='fc8'"):
        path = tmp_path / "v.h5"
        _write_legacy_h5(path, model)
        load_weights(model, path, allow_missing="fc8")
    not_weights = tmp_path / "not_weights.h5"
    not_weights.write_text("hello")
    with pytest.raises(WeightsError, match="not a readable HDF5"):
        load_weights(model, not_weights)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("something")
    with pytest.raises(WeightsError, match="not a Keras weights file"):
        load_weights(model, empty)


def test_colliding_legacy_names_are_refused(tmp_path):
    path = tmp_path / "collide.h5"
    _write_legacy_h5(path, _vgg(), extra=[("conv1/1", (3, 3, 3, 4))])  # -> conv1_1 twice
    with pytest.raises(WeightsError, match=r"map to the name 'conv1_1'"):
        load_weights(_vgg(), path)


def test_audio_cnn_weights_round_trip_by_path(tmp_path):
    source = AudioCNN(input_shape=(16, 16, 1), width=0.125, embedding_dim=4)
    path = tmp_path / "audio.weights.h5"
    source.save_weights(path)
    model = AudioCNN(input_shape=(16, 16, 1), width=0.125, embedding_dim=4, weights=path)
    for ours, theirs in zip(model.weights, source.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        )


def test_float16_weights_file_is_half_the_size_and_loads_back_into_float32(tmp_path):
    from affectkeras.weights.saving import save_weights

    inputs = keras.Input((256,))
    x = keras.layers.Dense(1024, name="dense")(inputs)  # 1 MB in float32: the file's overhead is small
    model = keras.Model(inputs, keras.layers.BatchNormalization(name="norm")(x))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    full, half = tmp_path / "full.weights.h5", tmp_path / "half.weights.h5"
    save_weights(model, full)
    save_weights(model, half, dtype="float16")
    with h5py.File(half) as file:
        assert file["layers/dense/vars/0"].dtype == np.float16
    assert half.stat().st_size < 0.6 * full.stat().st_size
    for path, tolerance in ((full, 0.0), (half, 2.0 ** -11)):
        for loader in (lambda m: m.load_weights(path), lambda m: load_weights(m, path)):  # Keras's, by name
            copy = keras.models.clone_model(model)
            loader(copy)
            for ours, theirs in zip(copy.get_weights(), model.get_weights()):
                assert ours.dtype == np.float32
                np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=1e-7)
    with pytest.raises(InvalidArgumentError, match="dtype"):
        save_weights(model, half, dtype="bfloat16")
    assert half.is_file()  # a refused write leaves the earlier file


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, on the file of another network
def test_int8_weights_file_is_a_quarter_of_the_size_and_reads_back_within_half_a_step(tmp_path):
    from affectkeras.weights.saving import INT8_SCALE, read_weights, save_weights

    inputs = keras.Input((8, 8, 16))
    x = keras.layers.Conv2D(64, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, keras.layers.Dense(256, name="dense")(x))
    rng = np.random.default_rng(0)
    # Channels of very different magnitudes, one all zero: each gets its own scale.
    model.set_weights([(rng.normal(size=w.shape) * rng.uniform(0.01, 10, size=w.shape[-1:])).astype("float32")
                       for w in model.get_weights()])
    kernel = model.get_layer("dense").kernel
    kernel.assign(keras.ops.convert_to_numpy(kernel) * (np.arange(256) != 7))
    full, small = tmp_path / "full.weights.h5", tmp_path / "int8.weights.h5"
    save_weights(model, full)
    save_weights(model, small, dtype="int8")
    assert small.stat().st_size < 0.3 * full.stat().st_size
    with h5py.File(small) as file:
        stored = file["layers/dense/vars/0"]
        assert stored.dtype == np.int8 and stored.attrs[INT8_SCALE].shape == (256,)
        assert file["layers/dense/vars/1"].dtype == np.float32  # biases stay exact
    for loader in (lambda m: read_weights(m, small), lambda m: load_weights(m, small)):  # whole file, by name
        copy = keras.models.clone_model(model)
        loader(copy)
        for ours, theirs in zip(copy.get_weights(), model.get_weights()):
            assert ours.dtype == np.float32
            if theirs.ndim == 1:
                np.testing.assert_array_equal(ours, theirs)
                continue
            channel_max = np.abs(theirs.reshape(-1, theirs.shape[-1])).max(axis=0)
            assert np.all(np.abs(ours - theirs) <= channel_max / 254 * (1 + 1e-5))  # half a step of 1/127
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(copy.get_layer("dense").kernel)[:, 7], 0)
    read_weights(keras.models.clone_model(model), full)  # a float32 file reads as Keras reads it
    wider = keras.Model(inputs, keras.layers.Dense(128, name="dense")(model.get_layer("norm").output))
    for path in (full, small):  # a file of another network: its name and the shapes that differ
        with pytest.raises(WeightsError, match=rf"{path.name}: does not fit .*shape=\(2304, 128\)") as caught:
            read_weights(wider, path)
        assert "value=" not in str(caught.value)
    with pytest.raises(WeightsError, match=r"test_weights.py: cannot be read as a weights file"):
        read_weights(model, __file__)


def test_an_int8_dataset_with_scales_of_the_wrong_shape_is_refused(tmp_path):
    from affectkeras.weights.saving import INT8_SCALE, stored_array

    with h5py.File(tmp_path / "bad.weights.h5", "w") as file:
        dataset = file.create_dataset("kernel", data=np.ones((3, 4), np.int8))
        dataset.attrs[INT8_SCALE] = np.ones(3, np.float32)
        with pytest.raises(WeightsError, match=r"bad.weights.h5: dataset /kernel has int8_scale of shape \(3,\)"):
            stored_array(dataset)


def test_the_shipped_files_fit_the_package_and_every_ensemble_member_is_a_shipped_network():
    bundled = [name for name, preset in PRESETS.items() if preset.bundled]
    assert {"ferplus", "ravdess_audio"} <= set(bundled)
    files = {pathlib.Path(fetch_preset(name)) for name in bundled}
    assert sum(path.stat().st_size for path in files) <= 20 * 2**20  # the package's weights stay compact
    for name in bundled:
        for member in PRESETS[name].ensemble:
            assert get_preset(member).bundled and get_preset(member).network is not None
