"""Streaming Keras metrics that give the exact value over a whole epoch.

Keras's own metrics average per-batch values, which for CCC and F1 is not the value over
the dataset. These keep running sums instead: co-moments merged batch by batch (Chan et
al.'s parallel update, stable in float32) for CCC, a confusion matrix for expressions and
per-AU counts for AUs. Frames whose target is the "not annotated" sentinel are ignored;
`sample_weight` (`(batch,)` or `(batch, time)`) weights rows. keras.ops only.
"""

import keras
from keras import ops

from affectkeras import _labels
from affectkeras.constants import AU_MASK, EXPR_MASK, VA_MASK, VA_NAMES
from affectkeras.errors import InvalidArgumentError, check_positive


def _safe_divide(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (NaN stays NaN)."""
    zero = ops.equal(denominator, 0.0)
    return ops.where(zero, 0.0, numerator / ops.where(zero, 1.0, denominator))


@keras.saving.register_keras_serializable(package="affectkeras")
class ConcordanceCorrelation(keras.metrics.Metric):
    """Concordance correlation coefficient over every frame seen since the last reset.

    The value after an epoch equals the CCC computed over all its frames at once,
    whatever the batching (not a mean of per-batch values).

    Args:
        target: str or int. `"valence"` (column 0), `"arousal"` (column 1), `"mean"` (the
            mean over all columns, the ABAW VA score) or a column index.
        num_columns: int. Width of the output, 2 for `valence_arousal`.
        mask_value: float or None. The "not annotated" sentinel of the targets (-5).
        name: str. Name of the metric; defaults to `ccc_<target>`.

    Example:
        >>> model.compile(..., metrics={"valence_arousal": [
        ...     ConcordanceCorrelation("valence"), ConcordanceCorrelation("arousal")]})
    """

    def __init__(self, target="mean", num_columns=2, mask_value=VA_MASK, name=None, **kwargs):
        check_positive("num_columns", num_columns, integer=True)
        columns = {"mean": None, **{label: i for i, label in enumerate(VA_NAMES[:num_columns])}}
        if target not in columns and not (isinstance(target, int) and 0 <= target < num_columns):
            raise InvalidArgumentError(
                f"`target` must be one of {list(columns)} or a column index in "
                f"[0, {num_columns}). Received: target={target!r}"
            )
        super().__init__(name=name or f"ccc_{target}", **kwargs)
        self.target = target
        self.num_columns = num_columns
        self.mask_value = mask_value
        self._column = columns.get(target, target)
        moments = ("count", "mean_true", "mean_pred", "m2_true", "m2_pred", "co_moment")
        self._moments = [
            self.add_variable(shape=(num_columns,), initializer="zeros", dtype="float32", name=m)
            for m in moments
        ]

    def update_state(self, y_true, y_pred, sample_weight=None):
        x = _labels.rows(y_true, self.num_columns)
        y = _labels.rows(y_pred, self.num_columns)
        w = _labels.row_weights(sample_weight, ops.shape(x)[0])[:, None]
        if self.mask_value is not None:
            w = w * ops.cast(ops.not_equal(x, self.mask_value), "float32")
        # Moments of this batch, then merged into the running ones.
        n_b = ops.sum(w, axis=0)
        mx_b = _safe_divide(ops.sum(w * x, axis=0), n_b)
        my_b = _safe_divide(ops.sum(w * y, axis=0), n_b)
        dx, dy = x - mx_b, y - my_b
        m2x_b, m2y_b = ops.sum(w * dx * dx, axis=0), ops.sum(w * dy * dy, axis=0)
        c_b = ops.sum(w * dx * dy, axis=0)

        n_a, mx_a, my_a, m2x_a, m2y_a, c_a = (ops.convert_to_tensor(v) for v in self._moments)
        n = n_a + n_b
        delta_x, delta_y = mx_b - mx_a, my_b - my_a
        share_b = _safe_divide(n_b, n)
        cross = _safe_divide(n_a * n_b, n)
        updated = (
            n,
            mx_a + delta_x * share_b,
            my_a + delta_y * share_b,
            m2x_a + m2x_b + delta_x * delta_x * cross,
            m2y_a + m2y_b + delta_y * delta_y * cross,
            c_a + c_b + delta_x * delta_y * cross,
        )
        for variable, value in zip(self._moments, updated):
            variable.assign(value)

    def per_column(self):
        """The CCC of every column (0 where undefined), a `(num_columns,)` tensor."""
        n, mx, my, m2x, m2y, c = (ops.convert_to_tensor(v) for v in self._moments)
        return _safe_divide(2.0 * c, m2x + m2y + n * ops.square(mx - my))

    def result(self):
        values = self.per_column()
        return ops.mean(values) if self._column is None else values[self._column]

    def get_config(self):
        return {
            **super().get_config(),
            "target": self.target,
            "num_columns": self.num_columns,
            "mask_value": self.mask_value,
        }


class _ExpressionConfusion(keras.metrics.Metric):
    """Accumulates the confusion matrix (rows: true class, columns: predicted class)."""

    def __init__(self, num_classes=8, mask_value=EXPR_MASK, name=None, **kwargs):
        check_positive("num_classes", num_classes, integer=True)
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.mask_value = mask_value
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", dtype="float32", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, annotated, invalid = _labels.sparse_labels(y_true, self.num_classes, self.mask_value)
        predicted = ops.argmax(_labels.rows(y_pred, self.num_classes), axis=-1)
        w = annotated * _labels.row_weights(sample_weight, ops.shape(labels)[0])
        true_one_hot = ops.one_hot(labels, self.num_classes) * w[:, None]
        update = ops.matmul(ops.transpose(true_one_hot), ops.one_hot(predicted, self.num_classes))
        self.confusion.assign(_labels.poison(ops.convert_to_tensor(self.confusion) + update, invalid))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "mask_value": self.mask_value}


@keras.saving.register_keras_serializable(package="affectkeras")
class ExpressionF1(_ExpressionConfusion):
    """Macro F1 of the expression head over every frame since the last reset.

    As scikit-learn's `f1_score(average="macro")`, the mean runs over the classes that
    occur in the targets or the predictions. Predictions are argmax of `(..., C)` scores.

    Args:
        num_classes: int. Number of expression classes (7 or 8 on Aff-Wild2).
        mask_value: int. The "not annotated" sentinel (-1).
        name: str. Name of the metric.
    """

    def __init__(self, num_classes=8, mask_value=EXPR_MASK, name="expression_f1", **kwargs):
        super().__init__(num_classes=num_classes, mask_value=mask_value, name=name, **kwargs)

    def result(self):
        cm = ops.convert_to_tensor(self.confusion)
        true_positive = ops.diagonal(cm)
        support, predicted = ops.sum(cm, axis=1), ops.sum(cm, axis=0)
        f1 = _safe_divide(2.0 * true_positive, support + predicted)
        present = ops.cast(ops.not_equal(support + predicted, 0.0), "float32")
        return _safe_divide(ops.sum(f1 * present), ops.sum(present))


@keras.saving.register_keras_serializable(package="affectkeras")
class ExpressionAccuracy(_ExpressionConfusion):
    """Accuracy of the expression head over every annotated frame since the last reset.

    Args:
        num_classes: int. Number of expression classes.
        mask_value: int. The "not annotated" sentinel (-1).
        name: str. Name of the metric.
    """

    def __init__(self, num_classes=8, mask_value=EXPR_MASK, name="expression_accuracy", **kwargs):
        super().__init__(num_classes=num_classes, mask_value=mask_value, name=name, **kwargs)

    def result(self):
        cm = ops.convert_to_tensor(self.confusion)
        return _safe_divide(ops.trace(cm), ops.sum(cm))


class _AUCounts(keras.metrics.Metric):
    """Accumulates true/false positives/negatives per AU (rows of `counts`)."""

    def __init__(self, num_aus=12, threshold=0.5, mask_value=AU_MASK, name=None, **kwargs):
        check_positive("num_aus", num_aus, integer=True)
        super().__init__(name=name, **kwargs)
        self.num_aus = num_aus
        self.threshold = threshold
        self.mask_value = mask_value
        self.counts = self.add_variable(
            shape=(4, num_aus), initializer="zeros", dtype="float32", name="counts"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        target, annotated, invalid = _labels.binary_labels(y_true, self.num_aus, self.mask_value)
        positive = ops.cast(target >= 0.5, "float32")
        predicted = ops.cast(_labels.rows(y_pred, self.num_aus) >= self.threshold, "float32")
        w = annotated * _labels.row_weights(sample_weight, ops.shape(target)[0])[:, None]
        update = ops.stack(
            [
                ops.sum(w * positive * predicted, axis=0),  # true positives
                ops.sum(w * (1.0 - positive) * predicted, axis=0),  # false positives
                ops.sum(w * positive * (1.0 - predicted), axis=0),  # false negatives
                ops.sum(w * (1.0 - positive) * (1.0 - predicted), axis=0),  # true negatives
            ]
        )
        self.counts.assign(_labels.poison(ops.convert_to_tensor(self.counts) + update, invalid))

    def get_config(self):
        return {
            **super().get_config(),
            "num_aus": self.num_aus,
            "threshold": self.threshold,
            "mask_value": self.mask_value,
        }


@keras.saving.register_keras_serializable(package="affectkeras")
class AUF1(_AUCounts):
    """Mean over AUs of each AU's F1, over every annotated frame since the last reset.

    An AU with no positive among its targets and predictions has F1 0 (as scikit-learn's
    `f1_score(..., zero_division=0)` and the ABAW scripts).

    Args:
        num_aus: int. Number of AUs (8 or 12 on Aff-Wild2).
        threshold: float. Score at or above which an AU counts as present (0.5 for
            sigmoid outputs, 0.0 for logits).
        mask_value: int. The "not annotated" sentinel (-1).
        name: str. Name of the metric.
    """

    def __init__(self, num_aus=12, threshold=0.5, mask_value=AU_MASK, name="au_f1", **kwargs):
        super().__init__(num_aus=num_aus, threshold=threshold, mask_value=mask_value, name=name, **kwargs)

    def per_au(self):
        """The F1 of every AU, a `(num_aus,)` tensor."""
        tp, fp, fn, _ = ops.unstack(ops.convert_to_tensor(self.counts))
        return _safe_divide(2.0 * tp, 2.0 * tp + fp + fn)

    def result(self):
        return ops.mean(self.per_au())


@keras.saving.register_keras_serializable(package="affectkeras")
class AUAccuracy(_AUCounts):
    """Accuracy over every annotated (frame, AU) element since the last reset.

    Args:
        num_aus: int. Number of AUs.
        threshold: float. Score at or above which an AU counts as present.
        mask_value: int. The "not annotated" sentinel (-1).
        name: str. Name of the metric.
    """

    def __init__(self, num_aus=12, threshold=0.5, mask_value=AU_MASK, name="au_accuracy", **kwargs):
        super().__init__(num_aus=num_aus, threshold=threshold, mask_value=mask_value, name=name, **kwargs)

    def result(self):
        tp, fp, fn, tn = ops.unstack(ops.convert_to_tensor(self.counts))
        return _safe_divide(ops.sum(tp + tn), ops.sum(tp + fp + fn + tn))


__all__ = ["AUF1", "AUAccuracy", "ConcordanceCorrelation", "ExpressionAccuracy", "ExpressionF1"]
