"""Tests of affectkeras.layers: every layer against an independent numpy computation."""

import math

import keras
import numpy as np
import pytest

from affectkeras.errors import InvalidArgumentError
from affectkeras.layers import (
    ArcFace,
    FaceRescaling,
    FoldedTimeDistributed,
    IndRNN,
    IndRNNCell,
    RecurrentMaxAbs,
    TemporalAttention,
    VGGFacePreprocessing,
)

pytestmark = pytest.mark.keras_core  # CI runs these on the JAX backend too

RNG = np.random.default_rng(0)


def _random(*shape):
    return RNG.normal(size=shape).astype("float32")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _assert_round_trip(model, inputs, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        _numpy(loaded(inputs, training=False)), _numpy(model(inputs, training=False))
    )


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)  # reproducible initial weights


# ArcFace ------------------------------------------------------------------------------


def _cosine_numpy(embeddings, kernel):
    x = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
    w = kernel / np.linalg.norm(kernel, axis=0, keepdims=True)
    return np.clip(x @ w, -1.0, 1.0)


def _arcface_numpy(embeddings, kernel, labels, scale, margin, easy_margin):
    cosine = _cosine_numpy(embeddings, kernel).astype("float64")
    logits = cosine.copy()
    for row, label in enumerate(labels):
        if label < 0:
            continue
        c = cosine[row, label]
        with_margin = math.cos(math.acos(c) + margin)
        if easy_margin:
            logits[row, label] = with_margin if c > 0 else c
        else:
            use_margin = c > math.cos(math.pi - margin)
            logits[row, label] = with_margin if use_margin else c - math.sin(margin) * margin
    return scale * logits


def _arcface_case(num_classes=4, dim=6):
    """Embeddings near (+) and opposite (-) their class centres: both threshold branches."""
    kernel = _random(dim, num_classes)
    labels = np.array([0, 1, 2, 3, 1, 2, -1, 0])
    signs = np.array([1, 1, -1, -1, 0.3, -0.3, 1, 0.05])[:, None]
    embeddings = signs * kernel.T[np.maximum(labels, 0)] + 0.3 * _random(len(labels), dim)
    return embeddings.astype("float32"), kernel, labels


def _built_arcface(kernel, **kwargs):
    layer = ArcFace(kernel.shape[1], **kwargs)
    layer.build((None, kernel.shape[0]))
    layer.kernel.assign(kernel)
    return layer


def test_arcface_without_margin_is_scaled_cosine():
    embeddings, kernel, labels = _arcface_case()
    layer = _built_arcface(kernel, scale=10.0, margin=0.0)
    expected = 10.0 * _cosine_numpy(embeddings, kernel)
    np.testing.assert_allclose(_numpy(layer([embeddings, labels])), expected, atol=1e-5)
    np.testing.assert_allclose(_numpy(layer(embeddings)), expected, atol=1e-5)


@pytest.mark.parametrize(
    "margin, easy_margin", [(0.5, False), (1.2, False), (0.5, True), (1.2, True)]
)
def test_arcface_margin_matches_numpy(margin, easy_margin):
    embeddings, kernel, labels = _arcface_case()
    layer = _built_arcface(kernel, scale=64.0, margin=margin, easy_margin=easy_margin)
    true_cosine = _cosine_numpy(embeddings, kernel)[np.arange(len(labels)), labels]
    annotated = labels >= 0
    threshold = 0.0 if easy_margin else math.cos(math.pi - margin)
    assert np.any(true_cosine[annotated] > threshold)  # both branches are exercised
    assert np.any(true_cosine[annotated] <= threshold)

    expected = _arcface_numpy(embeddings, kernel, labels, 64.0, margin, easy_margin)
    # Unannotated rows and the other classes keep s * cos (checked by the same numpy array).
    np.testing.assert_allclose(_numpy(layer([embeddings, labels])), expected, atol=2e-4)
    np.testing.assert_allclose(_numpy(layer(embeddings, labels=labels)), expected, atol=2e-4)


def test_arcface_accepts_float_and_column_labels():
    embeddings, kernel, labels = _arcface_case()
    layer = _built_arcface(kernel)
    expected = _numpy(layer([embeddings, labels.astype("int32")]))
    np.testing.assert_array_equal(_numpy(layer([embeddings, labels.astype("float32")])), expected)
    np.testing.assert_array_equal(_numpy(layer([embeddings, labels[:, None]])), expected)


def test_arcface_time_axis_matches_flat_rows():
    embeddings, kernel, labels = _arcface_case()
    layer = _built_arcface(kernel)
    flat = _numpy(layer([embeddings, labels]))
    timed = _numpy(layer([embeddings.reshape(2, 4, -1), labels.reshape(2, 4)]))
    assert timed.shape == (2, 4, 4)
    np.testing.assert_allclose(timed.reshape(8, 4), flat, atol=1e-5)


def test_arcface_out_of_range_labels_give_nan_rows():
    embeddings, kernel, _ = _arcface_case()
    layer = _built_arcface(kernel)
    labels = np.array([0, 4, -2, 1.5, 3, -1, np.nan, 2], dtype="float32")
    logits = _numpy(layer([embeddings, labels]))
    bad = np.array([False, True, True, True, False, False, True, False])
    assert np.all(np.isnan(logits[bad]))
    assert np.all(np.isfinite(logits[~bad]))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape")
def test_arcface_gradients_are_finite_and_nonzero():
    import tensorflow as tf

    embeddings, kernel, labels = _arcface_case()
    # Edge cases: an embedding on its class centre (cos = 1) and a zero embedding.
    embeddings[0] = kernel[:, labels[0]]
    embeddings[1] = 0.0
    layer = _built_arcface(kernel, margin=0.5)
    x = tf.Variable(embeddings)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.log_softmax(layer([x, labels]))[:, 0])
    grad_x, grad_w = tape.gradient(loss, [x, layer.kernel.value])
    for grad in (grad_x, grad_w):
        assert np.all(np.isfinite(grad.numpy()))
        assert np.any(grad.numpy() != 0.0)


def test_arcface_trains_under_mixed_precision(mixed_precision):
    embeddings_in = keras.Input((6,))
    labels_in = keras.Input((), dtype="int32")
    hidden = keras.layers.Dense(8)(embeddings_in)
    head = ArcFace(3, scale=16.0, margin=0.3)
    logits = head([hidden, labels_in])
    model = keras.Model([embeddings_in, labels_in], logits)
    assert head.compute_dtype == "float32" and head.kernel.dtype == "float32"
    assert hidden.dtype == "float16" and logits.dtype == "float32"

    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    labels = np.arange(24) % 3
    embeddings = _random(24, 6) + 2.0 * np.eye(3, 6, dtype="float32")[labels]
    history = model.fit([embeddings, labels], labels, batch_size=8, epochs=5, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert model.predict([embeddings, labels], verbose=0).dtype == np.float32


def test_arcface_argument_and_shape_errors():
    with pytest.raises(InvalidArgumentError, match="margin"):
        ArcFace(3, margin=-0.1)
    with pytest.raises(InvalidArgumentError, match="num_classes"):
        ArcFace(0)
    with pytest.raises(InvalidArgumentError, match="embeddings"):
        ArcFace(3)(np.zeros((4,), "float32"))
    with pytest.raises(InvalidArgumentError, match="labels"):
        ArcFace(3)([np.zeros((4, 5), "float32"), np.zeros((4, 2), "int32")])


def test_arcface_round_trip(tmp_path):
    embeddings_in = keras.Input((6,))
    labels_in = keras.Input((), dtype="int32")
    head = ArcFace(4, margin=0.4, easy_margin=True, kernel_regularizer="l2")
    model = keras.Model([embeddings_in, labels_in], head([embeddings_in, labels_in]))
    embeddings, _, labels = _arcface_case()
    _assert_round_trip(model, [embeddings, labels], tmp_path)


# TemporalAttention ----------------------------------------------------------------------


def _attention_numpy(layer, h, mask=None):
    key, query, query_bias, v, out_kernel, out_bias = (
        _numpy(w)
        for w in (
            layer.key_kernel,
            layer.query_kernel,
            layer.query_bias,
            layer.score_vector,
            layer.output_kernel,
            layer.output_bias,
        )
    )
    batch, time, dim = h.shape
    outputs = np.zeros((batch, time, out_kernel.shape[1]))
    for b in range(batch):
        for t in range(time):
            window = range(max(0, t - layer.attention_length + 1), t + 1)
            window = [j for j in window if mask is None or mask[b, j]]
            context = np.zeros(dim)
            if window:
                query_t = h[b, t] @ query + query_bias
                scores = np.array([v @ np.tanh(h[b, j] @ key + query_t) for j in window])
                weights = np.exp(scores - scores.max())
                weights /= weights.sum()
                context = sum(w * h[b, j] for w, j in zip(weights, window))
            outputs[b, t] = np.concatenate([h[b, t], context]) @ out_kernel + out_bias
    return outputs


def test_attention_output_shape():
    h = _random(2, 7, 5)
    assert TemporalAttention(3)(h).shape == (2, 7, 5)
    layer = TemporalAttention(3, attention_units=4, units=6)
    assert layer(h).shape == (2, 7, 6)
    assert layer.compute_output_shape((None, None, 5)) == (None, None, 6)


@pytest.mark.parametrize("attention_length", [1, 3, 10])
def test_attention_matches_numpy_loop(attention_length):
    h = _random(2, 7, 5)
    layer = TemporalAttention(attention_length, attention_units=4, units=6)
    layer.build(h.shape)
    layer.query_bias.assign(_random(4))  # non-zero, so the bias is checked too
    np.testing.assert_allclose(_numpy(layer(h)), _attention_numpy(layer, h), atol=1e-5)


def test_attention_large_scores_with_mask_match_numpy():
    # Scores far apart (|v| large): padded and masked positions must not push the
    # softmax of the valid ones into underflow.
    h = _random(2, 6, 4)
    mask = np.ones((2, 6), bool)
    mask[0, 3] = False
    layer = TemporalAttention(4)
    layer.build(h.shape)
    layer.score_vector.assign(100.0 * np.sign(_random(4)))
    outputs = _numpy(layer(h, mask=mask))
    np.testing.assert_allclose(outputs, _attention_numpy(layer, h, mask), atol=1e-4)


def test_attention_is_causal_and_local():
    length, step = 3, 4
    h = _random(1, 10, 4)
    layer = TemporalAttention(length)
    changed = h.copy()
    changed[:, step] += 1.0
    diff = np.abs(_numpy(layer(changed)) - _numpy(layer(h))).max(axis=-1)[0]
    assert np.all(diff[:step] == 0.0)  # nothing before the step
    assert np.all(diff[step : step + length] > 0.0)  # the steps whose window holds it
    assert np.all(diff[step + length :] == 0.0)  # nothing after the window


def test_attention_masked_steps_have_no_influence():
    h = _random(2, 8, 4)
    mask = np.ones((2, 8), bool)
    mask[0, [1, 4]] = False
    mask[1, 5:] = False
    layer = TemporalAttention(3)
    outputs = _numpy(layer(h, mask=mask))
    np.testing.assert_allclose(outputs, _attention_numpy(layer, h, mask), atol=1e-5)

    changed = np.where(mask[..., None], h, _random(2, 8, 4))
    changed_outputs = _numpy(layer(changed, mask=mask))
    np.testing.assert_allclose(changed_outputs[mask], outputs[mask], atol=1e-6)
    assert layer.compute_mask(h, mask) is mask


def test_attention_fully_masked_sequence_is_finite():
    h = _random(2, 5, 4)
    layer = TemporalAttention(3)
    outputs = _numpy(layer(h, mask=np.zeros((2, 5), bool)))
    assert np.all(np.isfinite(outputs))
    # No attended step: the context is zero, only the projection of h_t remains.
    expected = h @ _numpy(layer.output_kernel)[:4] + _numpy(layer.output_bias)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_attention_after_masking_layer():
    h = _random(1, 6, 4)
    h[0, 2] = 0.0
    inputs = keras.Input((6, 4))
    layer = TemporalAttention(3)
    model = keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs)))
    mask = np.ones((1, 6), bool)
    mask[0, 2] = False
    changed = h.copy()
    changed[0, 2] = _random(4)
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_allclose(
        _numpy(model(h))[0, keep], _numpy(layer(changed, mask=mask))[0, keep], atol=1e-6
    )


def test_attention_trains_after_gru():
    inputs = keras.Input((6, 3))
    x = keras.layers.GRU(4, return_sequences=True)(inputs)
    x = TemporalAttention(4, units=4)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    x_train, y_train = _random(8, 6, 3), _random(8, 6, 1)
    losses = model.fit(x_train, y_train, batch_size=4, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_attention_round_trip(tmp_path):
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, TemporalAttention(3, attention_units=2, units=5)(inputs))
    _assert_round_trip(model, _random(2, 6, 4), tmp_path)


def test_attention_argument_errors():
    with pytest.raises(InvalidArgumentError, match="attention_length"):
        TemporalAttention(0)
    with pytest.raises(InvalidArgumentError, match="inputs"):
        TemporalAttention(3)(_random(2, 4))


# IndRNN ---------------------------------------------------------------------------------


def _indrnn_numpy(cell, x, mask=None):
    kernel, u, bias = (_numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    state = np.zeros((x.shape[0], kernel.shape[1]))
    outputs = []
    for t in range(x.shape[1]):
        new_state = np.maximum(x[:, t] @ kernel + u * state + bias, 0.0)
        if mask is not None:  # a masked step keeps the previous state, as any Keras RNN
            new_state = np.where(mask[:, t, None], new_state, state)
        state = new_state
        outputs.append(state)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_indrnn_matches_numpy_loop(return_sequences):
    x = _random(2, 6, 3)
    layer = IndRNN(4, return_sequences=return_sequences, bias_initializer="ones")
    outputs = _numpy(layer(x))
    expected = _indrnn_numpy(layer.cell, x)
    expected = expected if return_sequences else expected[:, -1]
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_indrnn_masking():
    x = _random(2, 5, 3)
    mask = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 0, 0]], bool)
    layer = IndRNN(4, return_sequences=True)
    outputs = _numpy(layer(x, mask=mask))
    expected = _indrnn_numpy(layer.cell, x, mask)
    np.testing.assert_allclose(outputs[mask], expected[mask], atol=1e-5)


def test_indrnn_recurrent_weights_are_clipped_after_a_step():
    inputs = keras.Input((5, 3))
    layer = IndRNN(4, recurrent_max_abs=0.5)
    model = keras.Model(inputs, layer(inputs))
    layer.cell.recurrent_kernel.assign(np.array([2.0, -3.0, 0.4, 1.0], "float32"))
    # A zero learning rate leaves the constraint as the only thing that moves u.
    model.compile(keras.optimizers.SGD(0.0), "mse")
    model.fit(_random(4, 5, 3), _random(4, 4), batch_size=4, epochs=1, verbose=0)
    u = _numpy(layer.cell.recurrent_kernel)
    np.testing.assert_array_equal(u, np.array([0.5, -0.5, 0.4, 0.5], "float32"))
    np.testing.assert_allclose(RecurrentMaxAbs(1.0)(np.array([-2.0, 0.3, 2.0])), [-1.0, 0.3, 1.0])


def test_stacked_indrnn_trains():
    inputs = keras.Input((6, 3))
    x = IndRNN(8, return_sequences=True)(inputs)
    x = IndRNN(8)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    x_train, y_train = _random(16, 6, 3), _random(16, 1)
    losses = model.fit(x_train, y_train, batch_size=8, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_indrnn_config_and_round_trip(tmp_path):
    layer = IndRNN(4, recurrent_max_abs=2.0, return_sequences=True, go_backwards=True)
    config = layer.get_config()
    assert "cell" not in config and config["recurrent_max_abs"] == 2.0
    clone = IndRNN.from_config(config)
    assert clone.units == 4 and clone.go_backwards and clone.cell.recurrent_max_abs == 2.0

    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, layer(inputs))
    _assert_round_trip(model, _random(2, 5, 3), tmp_path)

    cell_model = keras.Model(inputs, keras.layers.RNN(IndRNNCell(3, recurrent_max_abs=None))(inputs))
    _assert_round_trip(cell_model, _random(2, 5, 3), tmp_path)


# Preprocessing ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_face_rescaling(dtype):
    faces = RNG.integers(0, 256, size=(2, 4, 4, 3)).astype(dtype)
    outputs = FaceRescaling()(faces)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    np.testing.assert_allclose(_numpy(outputs), faces.astype("float64") / 127.5 - 1.0, atol=1e-6)
    extremes = FaceRescaling()(np.array([0, 255], "uint8"))
    np.testing.assert_array_equal(_numpy(extremes), [-1.0, 1.0])


def test_face_rescaling_to_gray_matches_pillow_and_round_trips(tmp_path):
    from PIL import Image

    faces = RNG.integers(0, 256, size=(2, 6, 6, 3)).astype("uint8")
    layer = FaceRescaling(grayscale=True)
    gray = _numpy(layer(faces))
    assert gray.shape == faces.shape
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])  # the same luma on every channel
    pillow = np.stack([np.asarray(Image.fromarray(face).convert("L"), "float64") for face in faces])
    np.testing.assert_allclose((gray[..., 0] + 1.0) * 127.5, pillow, atol=0.51)  # Pillow rounds to integers
    inputs = keras.Input((6, 6, 3), dtype="uint8")
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "gray.keras")
    np.testing.assert_array_equal(_numpy(keras.saving.load_model(tmp_path / "gray.keras")(faces)), gray)
    with pytest.raises(InvalidArgumentError, match="grayscale"):
        FaceRescaling(grayscale=True)(np.zeros((1, 4, 4, 1), "float32"))


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_vggface_preprocessing(version, dtype):
    means = {1: [93.5940, 104.7624, 129.1863], 2: [91.4953, 103.8827, 131.0912]}[version]
    faces = RNG.integers(0, 256, size=(2, 4, 4, 3)).astype(dtype)
    expected = faces[..., ::-1].astype("float64") - np.array(means)
    outputs = _numpy(VGGFacePreprocessing(version)(faces))
    np.testing.assert_allclose(outputs, expected, atol=1e-4)


def test_vggface_preprocessing_errors():
    with pytest.raises(InvalidArgumentError, match="version"):
        VGGFacePreprocessing(3)
    with pytest.raises(InvalidArgumentError, match="inputs"):
        VGGFacePreprocessing()(np.zeros((2, 4, 4, 1), "float32"))


def test_preprocessing_round_trip(tmp_path):
    inputs = keras.Input((4, 4, 3), dtype="uint8")
    model = keras.Model(
        inputs, [FaceRescaling()(inputs), VGGFacePreprocessing(version=2)(inputs)]
    )
    faces = RNG.integers(0, 256, size=(2, 4, 4, 3)).astype("uint8")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(loaded(faces), model(faces)):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))


# --- FoldedTimeDistributed -------------------------------------------------------------


def _frame_cnn():
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.GlobalAveragePooling2D(),
    ])


def test_folded_time_distributed_matches_keras_time_distributed_at_inference():
    cnn = _frame_cnn()
    x = np.random.default_rng(0).normal(size=(3, 5, 8, 8, 3)).astype("float32")
    folded = FoldedTimeDistributed(cnn)(x)
    looped = keras.layers.TimeDistributed(cnn)(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(folded), keras.ops.convert_to_numpy(looped), atol=1e-6)
    assert tuple(folded.shape) == (3, 5, 4)


def test_folded_time_distributed_normalises_over_every_frame_of_the_batch():
    """In training, batch-norm sees all batch x time frames at once, not one step at a time."""
    cnn = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization(center=False, scale=False)])
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(4, 6, 2)) + np.arange(6)[None, :, None] * 3.0).astype("float32")  # steps differ
    out = keras.ops.convert_to_numpy(FoldedTimeDistributed(cnn)(x, training=True))
    flat = x.reshape(-1, 2)
    expected = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-3)
    np.testing.assert_allclose(out.reshape(-1, 2), expected, atol=1e-4)


def test_folded_time_distributed_round_trip(tmp_path):
    inputs = keras.Input((5, 8, 8, 3))
    model = keras.Model(inputs, FoldedTimeDistributed(_frame_cnn(), name="cnn")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("cnn"), FoldedTimeDistributed)
    x = np.random.default_rng(2).normal(size=(2, 5, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
