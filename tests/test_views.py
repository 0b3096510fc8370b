"""Test-time averaging: views (`layers.FaceViews` / `ViewAverage`, `models.average_views`), ensembles
(`models.average_models`), and the ferplus preset scored over both."""

import keras
import numpy as np
import pytest
from PIL import Image

import affectkeras
from affectkeras.errors import InvalidArgumentError
from affectkeras.layers import FaceViews, ViewAverage
from affectkeras.models import average_models, average_views
from affectkeras.models.surgery import with_precision

SIZE = 32


def _faces(count=3, size=SIZE, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def _pillow_crop(face, crop):
    """The centre crop resized back with Pillow's bilinear filter: the reference."""
    size = face.shape[0]
    margin = round(size * (1 - crop) / 2)
    channels = [np.asarray(Image.fromarray(face[margin:size - margin, margin:size - margin, c].astype(np.float32),
                                           mode="F").resize((size, size), Image.BILINEAR)) for c in range(3)]
    return np.stack(channels, axis=-1)


@pytest.mark.keras_core  # CI runs these on the JAX backend too
def test_face_views_stack_face_mirror_and_centre_crop_in_order():
    faces = _faces()
    views = keras.ops.convert_to_numpy(FaceViews(crop=0.75)(faces))
    assert views.shape == (12, SIZE, SIZE, 3) and views.dtype == np.uint8
    np.testing.assert_array_equal(views[0:3], faces)
    np.testing.assert_array_equal(views[3:6], faces[:, :, ::-1])
    np.testing.assert_array_equal(views[9:12], views[6:9][:, :, ::-1])
    reference = np.stack([_pillow_crop(face, 0.75) for face in faces])
    assert np.abs(views[6:9].astype(np.float32) - reference).max() <= 1.0  # rounding to pixel values


@pytest.mark.keras_core  # CI runs these on the JAX backend too
def test_face_views_keep_float_faces_unrounded():
    faces = _faces().astype(np.float32) / 3.0
    views = keras.ops.convert_to_numpy(FaceViews(crop=0.75)(faces))
    assert views.dtype == np.float32
    reference = np.stack([_pillow_crop(face, 0.75) for face in faces])
    np.testing.assert_allclose(views[6:9], reference, atol=1e-3)


@pytest.mark.keras_core  # CI runs these on the JAX backend too
def test_view_average_is_the_mean_over_views():
    values = np.random.default_rng(1).normal(size=(4 * 5, 7)).astype(np.float32)
    averaged = keras.ops.convert_to_numpy(ViewAverage(4)(values))
    np.testing.assert_allclose(averaged, values.reshape(4, 5, 7).mean(axis=0), rtol=1e-6)


@pytest.mark.keras_core
@pytest.mark.parametrize("crop", [0, 1, 1.2, -0.5])
def test_face_views_reject_a_crop_outside_zero_one(crop):
    with pytest.raises(InvalidArgumentError, match=rf"`crop` must be in \(0, 1\).*Received: crop={crop}"):
        FaceViews(crop=crop)


def _tiny_network(name="mt_vgg", seed=0):
    keras.utils.set_random_seed(seed)
    return affectkeras.build_mt_vgg(input_size=SIZE, width=0.05, feature_layer="fc6", name=name)


@pytest.mark.keras_core  # CI runs these on the JAX backend too
def test_average_views_averages_the_network_over_the_four_views(tmp_path):
    network = _tiny_network()
    wrapped = average_views(network, crop=0.75)
    faces = _faces()
    views = keras.ops.convert_to_numpy(FaceViews(crop=0.75)(faces)).reshape(4, 3, SIZE, SIZE, 3)
    outputs = wrapped.predict_on_batch({"faces": faces})
    assert set(outputs) == set(network.output_names) and wrapped.name == network.name
    for name, value in outputs.items():
        expected = np.mean([network.predict_on_batch({"faces": view})[name] for view in views], axis=0)
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-5)
    # Saved and read back, and rebuilt in bf16, it is the same network.
    wrapped.save(tmp_path / "views.keras")
    loaded = keras.saving.load_model(tmp_path / "views.keras")
    for name, value in loaded.predict_on_batch({"faces": faces}).items():
        np.testing.assert_allclose(value, outputs[name], rtol=1e-5, atol=1e-6)
    bf16 = with_precision(wrapped, "mixed_bfloat16")
    convolutions = [layer for layer in bf16._flatten_layers() if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and all(layer.dtype_policy.name == "mixed_bfloat16" for layer in convolutions)
    np.testing.assert_allclose(bf16.predict_on_batch({"faces": faces})["expression"], outputs["expression"],
                               atol=0.05)


@pytest.mark.keras_core  # CI runs these on the JAX backend too
def test_average_views_rejects_a_sequence_network():
    sequence = affectkeras.build_mt_vgg_rnn(input_size=SIZE, width=0.05, rnn_units=4, sequence_length=2)
    with pytest.raises(InvalidArgumentError, match=r"per-frame network whose only input is `faces`.*Received"):
        average_views(sequence)


@pytest.mark.keras_core  # CI runs these on the JAX backend too
def test_average_models_is_the_mean_of_the_members(tmp_path):
    members = [_tiny_network(name, seed) for seed, name in enumerate(("first", "second", "third"))]
    ensemble = average_models(members, name="ensemble")
    faces = _faces()
    outputs = ensemble.predict_on_batch({"faces": faces})
    assert ensemble.name == "ensemble" and set(outputs) == set(members[0].output_names)
    singles = [member.predict_on_batch({"faces": faces}) for member in members]
    assert not np.allclose(singles[0]["expression"], singles[1]["expression"])  # the seeds made different networks
    for name, value in outputs.items():
        np.testing.assert_allclose(value, np.mean([single[name] for single in singles], axis=0), rtol=1e-5, atol=1e-6)
    # Over views too, saved and read back.
    views = average_views(ensemble, crop=0.75)
    views.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(loaded.predict_on_batch({"faces": faces})["expression"],
                               views.predict_on_batch({"faces": faces})["expression"], rtol=1e-5, atol=1e-6)
    assert average_models(members[:1]) is members[0]


@pytest.mark.keras_core
def test_average_models_rejects_members_that_do_not_match():
    network = _tiny_network("first")
    with pytest.raises(InvalidArgumentError, match="at least one network"):
        average_models([])
    other_size = affectkeras.build_mt_vgg(input_size=2 * SIZE, width=0.05, feature_layer="fc6", name="big")
    with pytest.raises(InvalidArgumentError, match="same inputs and outputs: first has .*big has"):
        average_models([network, other_size])
    other_tasks = affectkeras.build_mt_vgg(input_size=SIZE, width=0.05, feature_layer="fc6", tasks=("expr",),
                                           name="expression_only")
    with pytest.raises(InvalidArgumentError, match="same inputs and outputs"):
        average_models([network, other_tasks])
    with pytest.raises(InvalidArgumentError, match=r"distinct names. Received: \['first', 'first'\]"):
        average_models([network, _tiny_network("first", seed=1)])


def test_the_ferplus_preset_predicts_over_its_ensemble_and_views():
    from affectkeras.inference import load_predictor
    from affectkeras.weights import get_preset, load_preset_model

    preset = get_preset("ferplus")
    assert 0 < preset.test_time_crop < 1
    scored = load_preset_model("ferplus", test_time=True)
    assert scored.get_layer("face_views").crop == preset.test_time_crop
    faces = _faces(2, size=64)
    views = keras.ops.convert_to_numpy(FaceViews(crop=preset.test_time_crop)(faces)).reshape(4, 2, 64, 64, 3)
    networks = [load_preset_model(name) for name in ("ferplus",) + preset.ensemble]
    expected = np.mean([network.predict_on_batch({"faces": view})["expression"]
                        for network in networks for view in views], axis=0)
    np.testing.assert_allclose(scored.predict_on_batch({"faces": faces})["expression"], expected, atol=1e-5)
    predictor = load_predictor("ferplus", precision="float32")
    np.testing.assert_allclose(predictor.predict_batch(faces)["expression"], expected, atol=1e-5)
