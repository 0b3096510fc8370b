"""Losses against independent numpy references, masking, gradients and bad labels."""

import keras
import numpy as np
import pytest

from affectkeras import losses
from affectkeras.constants import VA_MASK
from affectkeras.errors import InvalidArgumentError

pytestmark = pytest.mark.keras_core  # CI runs these on the JAX backend too


def reference_ccc(x, y):
    """CCC from Pearson's rho and standard deviations (a different path than the library)."""
    rho = np.corrcoef(x, y)[0, 1]
    sx, sy = np.std(x), np.std(y)
    return 2 * rho * sx * sy / (sx**2 + sy**2 + (np.mean(x) - np.mean(y)) ** 2)


def random_va(rng, shape, masked_fraction=0.0):
    y_true = rng.uniform(-1, 1, shape).astype("float32")
    y_pred = np.clip(0.6 * y_true + rng.normal(0.1, 0.3, shape), -1, 1).astype("float32")
    if masked_fraction:
        y_true[rng.random(shape) < masked_fraction] = VA_MASK
    return y_true, y_pred


def gradient(fn, y_pred):
    """The loss and its gradient with respect to `y_pred`, on the active Keras backend."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        loss, grad = jax.value_and_grad(fn)(jax.numpy.asarray(y_pred))
        return np.asarray(loss), np.asarray(grad)
    if backend != "tensorflow":
        pytest.skip(f"no gradient helper for the {backend} backend")
    import tensorflow as tf

    y_pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        loss = fn(y_pred)
    return loss.numpy(), tape.gradient(loss, y_pred).numpy()


@pytest.mark.parametrize("shape", [(5, 2), (100, 2), (4, 80, 2), (3, 7, 1)])
@pytest.mark.parametrize("masked_fraction", [0.0, 0.3])
def test_ccc_matches_numpy_reference(shape, masked_fraction):
    rng = np.random.default_rng(sum(shape))
    y_true, y_pred = random_va(rng, shape, masked_fraction)
    ccc, count = losses.concordance_correlation(y_true, y_pred)
    x, y = y_true.reshape(-1, shape[-1]), y_pred.reshape(-1, shape[-1])
    for column in range(shape[-1]):
        keep = x[:, column] != VA_MASK
        expected = reference_ccc(x[keep, column], y[keep, column])
        np.testing.assert_allclose(ccc[column], expected, rtol=1e-4, atol=1e-5)
        assert count[column] == keep.sum()
    expected_loss = 1 - np.mean(ccc)
    np.testing.assert_allclose(losses.ccc_loss(y_true, y_pred), expected_loss, rtol=1e-5)


def test_ccc_perfect_constant_and_negated():
    x = np.linspace(-1, 1, 50, dtype="float32")[:, None]
    assert float(losses.concordance_correlation(x, x)[0][0]) == pytest.approx(1.0, abs=1e-6)
    constant = np.full_like(x, 0.3)
    assert float(losses.concordance_correlation(x, constant)[0][0]) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.concordance_correlation(x, -x)[0][0]) == pytest.approx(-1.0, abs=1e-5)


def test_va_loss_is_one_minus_mean_ccc_and_checks_shape():
    y_true, y_pred = random_va(np.random.default_rng(1), (4, 10, 2))
    ccc, _ = losses.concordance_correlation(y_true, y_pred)
    np.testing.assert_allclose(losses.va_loss(y_true, y_pred), 1 - np.mean(ccc), rtol=1e-6)
    with pytest.raises(InvalidArgumentError, match="y_pred.shape"):
        losses.va_loss(y_true[..., :1], y_pred[..., :1])


def test_ccc_loss_gradient_is_finite_for_a_constant_prediction():
    y_true, _ = random_va(np.random.default_rng(2), (4, 20, 2))
    loss, grad = gradient(lambda p: losses.ccc_loss(y_true, p), np.zeros_like(y_true))
    assert np.isfinite(loss) and loss == pytest.approx(1.0)
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_masked_elements_contribute_nothing():
    rng = np.random.default_rng(3)
    y_true, y_pred = random_va(rng, (4, 20, 2), masked_fraction=0.3)
    other = y_pred.copy()
    other[y_true == VA_MASK] = rng.uniform(-1, 1, (y_true == VA_MASK).sum())
    np.testing.assert_allclose(losses.ccc_loss(y_true, y_pred), losses.ccc_loss(y_true, other))
    _, grad = gradient(lambda p: losses.ccc_loss(y_true, p), y_pred)
    assert np.all(grad[y_true == VA_MASK] == 0)


@pytest.mark.parametrize(
    "fn, y_true, width",
    [
        (losses.ccc_loss, np.full((2, 5, 2), VA_MASK, "float32"), 2),
        (losses.masked_categorical_crossentropy, np.full((2, 5), -1.0, "float32"), 8),
        (losses.masked_binary_crossentropy, np.full((2, 5, 12), -1.0, "float32"), 12),
    ],
)
def test_a_batch_without_labels_gives_zero_loss_and_zero_gradient(fn, y_true, width):
    y_pred = np.random.default_rng(4).uniform(0.1, 0.9, (2, 5, width)).astype("float32")
    loss, grad = gradient(lambda p: fn(y_true, p), y_pred)
    assert loss == 0.0
    assert np.all(grad == 0)


def test_categorical_crossentropy_matches_keras_on_annotated_rows():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(4, 10, 8)).astype("float32")
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    labels = rng.integers(0, 8, (4, 10)).astype("float32")
    labels[rng.random(labels.shape) < 0.3] = -1
    keep = labels != -1
    expected = keras.losses.SparseCategoricalCrossentropy()(labels[keep], probs[keep])
    np.testing.assert_allclose(losses.masked_categorical_crossentropy(labels, probs), expected, rtol=1e-5)
    from_logits = losses.masked_categorical_crossentropy(labels, logits, from_logits=True)
    np.testing.assert_allclose(from_logits, expected, rtol=1e-4)

    smoothed = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(
        np.eye(8)[labels[keep].astype(int)], probs[keep]
    )
    np.testing.assert_allclose(
        losses.masked_categorical_crossentropy(labels, probs, label_smoothing=0.1), smoothed, rtol=1e-5
    )

    weights = rng.uniform(0.5, 3.0, 8)
    per_row = -np.log(probs[keep][np.arange(keep.sum()), labels[keep].astype(int)])
    row_weight = weights[labels[keep].astype(int)]
    np.testing.assert_allclose(
        losses.masked_categorical_crossentropy(labels, probs, class_weights=weights),
        np.sum(row_weight * per_row) / np.sum(row_weight),
        rtol=1e-5,
    )


def test_binary_crossentropy_matches_numpy_on_annotated_elements():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(4, 10, 12)).astype("float32")
    probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
    targets = rng.integers(0, 2, logits.shape).astype("float32")
    targets[rng.random(targets.shape) < 0.3] = -1
    keep = targets != -1
    pos_weight = rng.uniform(1, 5, 12)
    pw = np.broadcast_to(pos_weight, targets.shape)[keep]
    t, p = targets[keep], probs[keep]
    expected = np.mean(-(pw * t * np.log(p) + (1 - t) * np.log(1 - p)))
    for y_pred, from_logits in [(probs.astype("float32"), False), (logits, True)]:
        got = losses.masked_binary_crossentropy(
            targets, y_pred, from_logits=from_logits, pos_weight=pos_weight
        )
        np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_sample_weight_zero_removes_a_sequence():
    rng = np.random.default_rng(7)
    y_true, y_pred = random_va(rng, (3, 10, 2))
    weighted = losses.ccc_loss(y_true, y_pred, sample_weight=np.array([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(weighted, losses.ccc_loss(y_true[[0, 2]], y_pred[[0, 2]]), rtol=1e-5)
    loss = losses.CCCLoss()
    np.testing.assert_allclose(loss(y_true, y_pred, sample_weight=np.array([1.0, 0.0, 1.0])), weighted)


@pytest.mark.parametrize("bad", [8.0, -2.0, 1.5, np.nan])
def test_out_of_range_expression_labels_give_nan(bad):
    labels = np.array([[0, 3, -1, bad]], "float32")
    probs = np.full((1, 4, 8), 1 / 8, "float32")
    assert np.isnan(losses.masked_categorical_crossentropy(labels, probs))


@pytest.mark.parametrize("bad", [2.0, -2.0, np.nan])
def test_out_of_range_au_labels_give_nan(bad):
    labels = np.array([[0, 1, -1, bad]], "float32")
    assert np.isnan(losses.masked_binary_crossentropy(labels, np.full((1, 4), 0.5, "float32")))


def test_nan_predictions_propagate():
    y_true, y_pred = random_va(np.random.default_rng(8), (2, 5, 2))
    y_pred[0, 0, 0] = np.nan
    assert np.isnan(losses.ccc_loss(y_true, y_pred))


def test_label_smoothing_is_checked():
    with pytest.raises(InvalidArgumentError, match="label_smoothing=1.0"):
        losses.MaskedCategoricalCrossentropy(label_smoothing=1.0)


@pytest.mark.parametrize(
    "loss",
    [
        losses.CCCLoss(mask_value=-5.0),
        losses.MaskedCategoricalCrossentropy(from_logits=True, class_weights=[1, 2], label_smoothing=0.1),
        losses.MaskedBinaryCrossentropy(pos_weight=[2.0, 3.0]),
    ],
)
def test_loss_config_round_trip(loss):
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
