"""Streaming metrics and ABAW scorers against numpy and scikit-learn references."""

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from affectkeras import metrics
from affectkeras.constants import VA_MASK
from affectkeras.errors import InvalidArgumentError
from tests.test_losses import random_va, reference_ccc

pytestmark = pytest.mark.keras_core  # CI runs these on the JAX backend too

UNEVEN_BATCHES = [1, 7, 30, 2, 55, 13, 40, 9, 3, 80]  # 10 batches, 240 frames


def split(array, sizes=UNEVEN_BATCHES):
    return np.split(array, np.cumsum(sizes)[:-1])


def stream(metric, y_true, y_pred):
    metric.reset_state()
    for t, p in zip(split(y_true), split(y_pred)):
        metric.update_state(t, p)
    return float(metric.result())


@pytest.mark.parametrize("masked_fraction", [0.0, 0.25])
def test_numpy_ccc_matches_reference_and_ignores_masked_values(masked_fraction):
    y_true, y_pred = random_va(np.random.default_rng(0), (300, 2), masked_fraction)
    values = metrics.ccc(y_true, y_pred)
    assert values.shape == (2,)
    for column in range(2):
        keep = y_true[:, column] != VA_MASK
        assert values[column] == pytest.approx(reference_ccc(y_true[keep, column], y_pred[keep, column]))
    one = metrics.ccc(y_true[:, 0], y_pred[:, 0])
    assert isinstance(one, float) and one == pytest.approx(values[0])


def test_numpy_ccc_rejects_mismatched_shapes():
    with pytest.raises(InvalidArgumentError, match=r"y_pred.shape=\(3,\)"):
        metrics.ccc(np.zeros((4,)), np.zeros((3,)))


@pytest.mark.parametrize("masked_fraction", [0.0, 0.25])
def test_streaming_ccc_over_uneven_batches_equals_one_shot(masked_fraction):
    y_true, y_pred = random_va(np.random.default_rng(1), (240, 2), masked_fraction)
    one_shot = metrics.ccc(y_true, y_pred)
    expected = {"valence": one_shot[0], "arousal": one_shot[1], "mean": one_shot.mean()}
    for target, value in expected.items():
        got = stream(metrics.ConcordanceCorrelation(target), y_true, y_pred)
        assert got == pytest.approx(value, abs=1e-5), target


def test_streaming_ccc_accepts_sequences_and_resets():
    y_true, y_pred = random_va(np.random.default_rng(2), (6, 40, 2), 0.1)
    metric = metrics.ConcordanceCorrelation("arousal")
    for i in range(0, 6, 2):
        metric.update_state(y_true[i : i + 2], y_pred[i : i + 2])
    expected = metrics.ccc(y_true.reshape(-1, 2), y_pred.reshape(-1, 2))[1]
    assert float(metric.result()) == pytest.approx(expected, abs=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_streaming_ccc_checks_its_target():
    with pytest.raises(InvalidArgumentError, match="target='dominance'"):
        metrics.ConcordanceCorrelation("dominance")


def expression_data(seed, frames=240, classes=8):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, frames)
    scores = rng.normal(size=(frames, classes)) + 2.0 * np.eye(classes)[labels] * (rng.random(frames) < 0.5)[:, None]
    labels[rng.random(frames) < 0.3] = -1
    return labels.astype("float32"), scores.astype("float32")


def test_expression_f1_and_accuracy_match_sklearn_on_annotated_frames():
    labels, scores = expression_data(3)
    keep = labels != -1
    predicted = scores.argmax(-1)
    f1 = f1_score(labels[keep], predicted[keep], average="macro")
    accuracy = accuracy_score(labels[keep], predicted[keep])
    assert stream(metrics.ExpressionF1(8), labels, scores) == pytest.approx(f1, abs=1e-6)
    assert stream(metrics.ExpressionAccuracy(8), labels, scores) == pytest.approx(accuracy, abs=1e-6)


def test_expression_f1_averages_over_present_classes_like_sklearn():
    labels = np.array([0, 0, 1, 1, -1], "float32")
    scores = np.eye(7, dtype="float32")[[0, 1, 1, 1, 5]]
    keep = labels != -1
    expected = f1_score(labels[keep], scores[keep].argmax(-1), average="macro")
    assert stream_once(metrics.ExpressionF1(7), labels, scores) == pytest.approx(expected)


def stream_once(metric, y_true, y_pred):
    metric.update_state(y_true, y_pred)
    return float(metric.result())


def au_data(seed, frames=240, aus=12):
    rng = np.random.default_rng(seed)
    targets = (rng.random((frames, aus)) < rng.uniform(0.05, 0.5, aus)).astype("float32")
    probs = np.clip(0.5 * targets + rng.uniform(0, 0.6, targets.shape), 0, 1).astype("float32")
    targets[rng.random(targets.shape) < 0.3] = -1
    return targets, probs


def test_au_f1_and_accuracy_match_sklearn_on_annotated_elements():
    targets, probs = au_data(4)
    predicted = (probs >= 0.5).astype(int)
    per_au = []
    for au in range(12):
        keep = targets[:, au] != -1
        per_au.append(f1_score(targets[keep, au], predicted[keep, au], zero_division=0))
    keep = targets != -1
    accuracy = accuracy_score(targets[keep], predicted[keep])
    assert stream(metrics.AUF1(12), targets, probs) == pytest.approx(np.mean(per_au), abs=1e-6)
    assert stream(metrics.AUAccuracy(12), targets, probs) == pytest.approx(accuracy, abs=1e-6)


def test_out_of_range_labels_make_the_metric_nan():
    assert np.isnan(stream_once(metrics.ExpressionF1(7), np.array([0.0, 7.0]), np.eye(7)[[0, 1]]))
    assert np.isnan(stream_once(metrics.AUF1(2), np.array([[0.0, 3.0]]), np.array([[0.2, 0.9]])))


def test_abaw_scores_follow_each_edition():
    labels, scores = expression_data(5, classes=7)
    keep = labels != -1
    f1 = f1_score(labels[keep], scores[keep].argmax(-1), average="macro")  # the 7 classes all occur
    accuracy = accuracy_score(labels[keep], scores[keep].argmax(-1))
    assert metrics.expr_score(labels, scores, edition=2020)["score"] == pytest.approx(0.67 * f1 + 0.33 * accuracy)
    # From 2022 the challenges have 8 classes: the one never seen nor predicted counts 0 in the average.
    assert metrics.expr_score(labels, scores, edition=2022)["score"] == pytest.approx(7 * f1 / 8)
    assert metrics.expr_score(labels, scores, edition=2022, classes="present")["score"] == pytest.approx(f1)

    targets, probs = au_data(6, aus=8)
    au = metrics.au_score(targets, probs, edition=2020)
    assert au["score"] == pytest.approx(0.5 * au["f1"] + 0.5 * au["accuracy"])
    assert au["f1"] == pytest.approx(stream(metrics.AUF1(8), targets, probs), abs=1e-6)
    with pytest.raises(InvalidArgumentError, match="edition=2019"):
        metrics.au_score(targets, probs, edition=2019)


def test_expr_score_averages_over_all_the_classes_of_the_edition():
    # ABAW: P_EXPR = sum of the per-class F1 / C. Two classes of eight, predicted perfectly: 2 / 8.
    perfect = metrics.expr_score([0, 0, 1, 1, -1], [0, 0, 1, 1, 5])
    assert perfect["f1"] == pytest.approx(0.25) and perfect["accuracy"] == 1.0
    assert metrics.expr_score([0, 0, 1, 1], [0, 0, 1, 1], edition=2020)["f1"] == pytest.approx(2 / 7)
    assert metrics.expr_score([0, 0, 1, 1], [0, 0, 1, 1], classes="present")["f1"] == 1.0
    with pytest.raises(InvalidArgumentError, match="classes"):
        metrics.expr_score([0], [0], classes="some")


def test_mtl_score_is_the_sum_of_the_track_scores():
    va_true, va_pred = random_va(np.random.default_rng(7), (240, 2), 0.2)
    labels, scores = expression_data(8)
    targets, probs = au_data(9)
    got = metrics.mtl_score(va_true, va_pred, labels, scores, targets, probs)
    va = np.mean(metrics.ccc(va_true, va_pred))
    expr = metrics.expr_score(labels, scores)["f1"]
    au = metrics.au_score(targets, probs)["f1"]
    assert got["score"] == pytest.approx(va + expr + au)
    assert (got["va"], got["expr"], got["au"]) == pytest.approx((va, expr, au))


def test_au_without_any_annotated_frame_is_left_out_of_the_mean_f1():
    targets = np.array([[1, -1, 0], [0, -1, 1], [1, -1, 1]])
    probs = np.array([[0.9, 0.8, 0.1], [0.2, 0.1, 0.3], [0.7, 0.6, 0.8]])
    got = metrics.au_score(targets, probs, edition=2021)
    assert got["per_au_f1"][0] == 1.0 and np.isnan(got["per_au_f1"][1])
    assert got["per_au_f1"][2] == pytest.approx(f1_score([0, 1, 1], [0, 0, 1]))
    assert got["f1"] == pytest.approx((1.0 + got["per_au_f1"][2]) / 2)  # not / 3, not NaN
    assert got["accuracy"] == pytest.approx(5 / 6)  # the masked column counts in no element
    nothing = metrics.au_score(np.full((3, 3), -1), probs)  # no AU annotated at all: undefined
    assert all(np.isnan(nothing[key]) for key in ("f1", "accuracy", "score"))
    assert np.isnan(nothing["per_au_f1"]).all()


def test_expr_score_without_any_annotated_frame_is_undefined():
    got = metrics.expr_score([-1, -1, -1], np.eye(8)[[0, 1, 2]], edition=2021)
    assert all(np.isnan(got[key]) for key in ("f1", "accuracy", "score"))
    assert np.isnan(metrics.expr_score(np.array([np.nan, -1.0]), [0, 1])["f1"])


def test_nan_targets_count_as_not_annotated():
    assert metrics.expr_score(np.array([0.0, np.nan, 1.0]), [0, 3, 1])["accuracy"] == 1.0
    au = metrics.au_score(np.array([[1.0, np.nan], [0.0, np.nan], [np.nan, 1.0]]), [[0.9, 0.9], [0.1, 0.9], [0.0, 0.9]])
    assert au["per_au_f1"] == [1.0, 1.0] and au["accuracy"] == 1.0
    va_true = np.array([[0.1, 0.2], [np.nan, 0.4], [0.5, VA_MASK], [-0.3, 0.0]])
    va = metrics.va_score(va_true, np.nan_to_num(va_true, nan=9.0))  # a NaN target, predicted 9: left out
    assert va["valence"] == pytest.approx(1.0) and va["arousal"] == pytest.approx(1.0)


def test_abaw_scorers_refuse_wrong_shapes_naming_the_arguments():
    with pytest.raises(InvalidArgumentError, match=r"y_true.shape=\(3,\), y_pred.shape=\(2,\)"):
        metrics.expr_score([0, 1, 1], [0, 1])
    with pytest.raises(InvalidArgumentError, match=r"y_pred.shape=\(2, 8\)"):
        metrics.expr_score([0, 1, 1], np.eye(8)[[0, 1]])
    with pytest.raises(InvalidArgumentError, match=r"y_true.shape=\(3, 3\)"):
        metrics.va_score(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(InvalidArgumentError, match=r"y_true.shape=\(3,\)"):
        metrics.va_score(np.zeros(3), np.zeros(3))
    with pytest.raises(InvalidArgumentError, match=r"y_pred.shape=\(2, 2\)"):  # before the threshold is looked at
        metrics.au_score(np.zeros((3, 2)), np.zeros((2, 2)), threshold=7)
    va, expr, au = np.zeros((2, 2)), [0, 1], np.zeros((2, 3))
    with pytest.raises(InvalidArgumentError, match=r"au_true.shape=\(2, 3\), au_pred.shape=\(2, 2\)"):
        metrics.mtl_score(va, va, expr, expr, au, np.zeros((2, 2)))
    with pytest.raises(InvalidArgumentError, match=r"va_pred.shape=\(3, 2\)"):
        metrics.mtl_score(va, np.zeros((3, 2)), expr, expr, au, au)


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.5, 1.5, float("nan"), True, "0.5"])
def test_au_threshold_outside_0_1_is_refused(threshold):
    targets, probs = np.array([[1, 0]]), np.array([[0.9, 0.1]])
    with pytest.raises(InvalidArgumentError, match="`threshold` must be a number in \\(0, 1\\)"):
        metrics.au_score(targets, probs, threshold=threshold)
    va = np.zeros((1, 2))
    with pytest.raises(InvalidArgumentError, match="threshold="):
        metrics.mtl_score(va, va, [0], [0], targets, probs, threshold=threshold)


@pytest.mark.parametrize(
    "metric",
    [
        metrics.ConcordanceCorrelation("valence"),
        metrics.ExpressionF1(7),
        metrics.ExpressionAccuracy(7),
        metrics.AUF1(8, threshold=0.0),
        metrics.AUAccuracy(8),
    ],
)
def test_metric_config_round_trip(metric):
    restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(restored) is type(metric)
    assert restored.get_config() == metric.get_config()
