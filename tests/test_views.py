"""Test-time views: `layers.FaceViews` / `ViewAverage`, `models.average_views`, the ferplus preset's views."""

import keras
import numpy as np
import pytest
from PIL import Image

import affectkeras
from affectkeras.errors import InvalidArgumentError
from affectkeras.layers import FaceViews, ViewAverage
from affectkeras.models import average_views
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


def _tiny_network():
    return affectkeras.build_mt_vgg(input_size=SIZE, width=0.05, feature_layer="fc6")


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


def test_the_ferplus_preset_predicts_over_its_views():
    from affectkeras.inference import load_predictor
    from affectkeras.weights import get_preset, load_preset_model

    crop = get_preset("ferplus").test_time_crop
    assert 0 < crop < 1
    wrapped = load_preset_model("ferplus", average_views=True)
    assert wrapped.get_layer("face_views").crop == crop
    faces = _faces(2, size=64)
    single = load_preset_model("ferplus")
    views = keras.ops.convert_to_numpy(FaceViews(crop=crop)(faces)).reshape(4, 2, 64, 64, 3)
    expected = np.mean([single.predict_on_batch({"faces": view})["expression"] for view in views], axis=0)
    np.testing.assert_allclose(wrapped.predict_on_batch({"faces": faces})["expression"], expected, atol=1e-5)
    predictor = load_predictor("ferplus", precision="float32")
    np.testing.assert_allclose(predictor.predict_batch(faces)["expression"], expected, atol=1e-5)
