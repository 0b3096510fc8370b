"""Losses of the Aff-Wild / Aff-Wild2 networks, masked by the Aff-Wild2 sentinels.

Every loss flattens the leading axes (batch, time, ...) into rows and ignores the rows
(or, for AUs and VA, the elements) whose target equals the "not annotated" sentinel:
VA -5, expression -1, AU -1. A batch in which a task has no annotated element gives a
loss of exactly 0 and zero gradients for that head, never NaN. Losses are computed in
float32 whatever the model's dtype policy (so they work under `mixed_float16`).

Each loss is a plain function plus a thin `keras.losses.Loss` class for `model.compile`.
A loss returns one scalar for the batch: CCC is not a sum over samples, and the masked
means divide by the number of annotated elements rather than by the batch size.
`sample_weight` (shape `(batch,)` or `(batch, time)`) multiplies the annotation mask.

Out-of-range labels (an expression outside `[0, C)` or an AU value outside [0, 1] that is
not the sentinel, or NaN) make the loss NaN: see `affectkeras._labels.poison`. NaN in the
predictions propagates to the loss as usual.
"""

import keras
from keras import ops

from affectkeras import _labels
from affectkeras.constants import AU_MASK, EXPR_MASK, VA_MASK
from affectkeras.errors import InvalidArgumentError, check_fraction

_EPSILON = 1e-7


def _safe_divide(numerator, denominator):
    return numerator / ops.maximum(denominator, _EPSILON)


def concordance_correlation(y_true, y_pred, *, mask_value=VA_MASK, sample_weight=None):
    """Concordance correlation coefficient of each output column, over all rows.

    CCC = 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2) with population moments. Elements
    whose target equals `mask_value` are left out of their column's moments.

    Args:
        y_true: tensor. Targets, shape `(..., columns)`, e.g. `(batch, time, 2)`.
        y_pred: tensor. Predictions, same shape.
        mask_value: float or None. The "not annotated" sentinel (VA: -5); None keeps all.
        sample_weight: tensor or None. Row weights, shape `(batch,)` or `(batch, time)`.

    Returns:
        A pair `(ccc, count)` of float32 tensors of shape `(columns,)`: the CCC of each
        column (0 where it is undefined) and the weight each column was computed from.

    Example:
        >>> ccc, count = concordance_correlation(y_true, y_pred)  # (2,) each for VA

    Reference:
        Lin, "A concordance correlation coefficient to evaluate reproducibility",
        Biometrics 1989.
    """
    width = y_pred.shape[-1]
    x = _labels.rows(y_true, width)
    y = _labels.rows(y_pred, width)
    w = _labels.row_weights(sample_weight, ops.shape(x)[0])[:, None]
    if mask_value is not None:
        w = w * ops.cast(ops.not_equal(x, mask_value), "float32")
    count = ops.sum(w, axis=0)
    mean_x = _safe_divide(ops.sum(w * x, axis=0), count)
    mean_y = _safe_divide(ops.sum(w * y, axis=0), count)
    dx, dy = x - mean_x, y - mean_y
    var_x = _safe_divide(ops.sum(w * dx * dx, axis=0), count)
    var_y = _safe_divide(ops.sum(w * dy * dy, axis=0), count)
    cov = _safe_divide(ops.sum(w * dx * dy, axis=0), count)
    ccc = _safe_divide(2.0 * cov, var_x + var_y + ops.square(mean_x - mean_y))
    return ccc, count


def ccc_loss(y_true, y_pred, *, mask_value=VA_MASK, sample_weight=None):
    """1 - CCC, averaged over the output columns that have annotated elements.

    For VA outputs `(..., 2)` this is the papers' loss 1 - (CCC_valence + CCC_arousal) / 2.

    Args:
        y_true: tensor. Targets `(..., columns)`; `mask_value` = not annotated.
        y_pred: tensor. Predictions, same shape.
        mask_value: float or None. The sentinel (VA: -5).
        sample_weight: tensor or None. Row weights `(batch,)` or `(batch, time)`.

    Returns:
        A float32 scalar; 0 when no column has an annotated element.
    """
    ccc, count = concordance_correlation(
        y_true, y_pred, mask_value=mask_value, sample_weight=sample_weight
    )
    has_labels = ops.cast(ops.greater(count, 0.0), "float32")
    return _safe_divide(ops.sum((1.0 - ccc) * has_labels), ops.sum(has_labels))


def va_loss(y_true, y_pred, *, sample_weight=None):
    """The papers' VA loss 1 - (CCC_arousal + CCC_valence) / 2 on `(..., 2)` outputs.

    Reference:
        Kollias & Zafeiriou, "Expression, Affect, Action Unit Recognition: Aff-Wild2,
        Multi-Task Learning and ArcFace", BMVC 2019.
    """
    if y_pred.shape[-1] != 2:
        raise InvalidArgumentError(
            f"va_loss expects (valence, arousal) outputs with a last axis of 2. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}"
        )
    return ccc_loss(y_true, y_pred, mask_value=VA_MASK, sample_weight=sample_weight)


def masked_categorical_crossentropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    class_weights=None,
    label_smoothing=0.0,
    mask_value=EXPR_MASK,
    sample_weight=None,
):
    """Cross-entropy of integer class targets, averaged over annotated rows.

    Args:
        y_true: tensor. Class indices `(...)` or `(..., 1)`; `mask_value` = not annotated.
        y_pred: tensor. Probabilities (or logits with `from_logits=True`), `(..., C)`.
        from_logits: bool. Whether `y_pred` holds logits.
        class_weights: sequence of C floats or None. Weight of each true class (for class
            imbalance); the mean is then weighted (divided by the sum of the weights).
        label_smoothing: float in [0, 1). Mixes the one-hot target with the uniform one.
        mask_value: int. The sentinel (expressions: -1).
        sample_weight: tensor or None. Row weights `(batch,)` or `(batch, time)`.

    Returns:
        A float32 scalar; 0 when no row is annotated.
    """
    num_classes = y_pred.shape[-1]
    labels, annotated, invalid = _labels.sparse_labels(y_true, num_classes, mask_value)
    logits_or_probs = _labels.rows(y_pred, num_classes)
    if from_logits:
        log_probs = ops.log_softmax(logits_or_probs, axis=-1)
    else:
        log_probs = ops.log(ops.clip(logits_or_probs, _EPSILON, 1.0 - _EPSILON))
    target = ops.one_hot(labels, num_classes)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    per_row = -ops.sum(target * log_probs, axis=-1)
    w = annotated * _labels.row_weights(sample_weight, ops.shape(per_row)[0])
    if class_weights is not None:
        w = w * ops.take(ops.convert_to_tensor(class_weights, "float32"), labels)
    loss = _safe_divide(ops.sum(w * per_row), ops.sum(w))
    return _labels.poison(loss, invalid)


def masked_binary_crossentropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    pos_weight=None,
    mask_value=AU_MASK,
    sample_weight=None,
):
    """Binary cross-entropy per AU, averaged over the annotated (row, AU) elements.

    Args:
        y_true: tensor. 0/1 targets `(..., num_aus)`; `mask_value` = not annotated.
        y_pred: tensor. Probabilities (or logits with `from_logits=True`), same shape.
        from_logits: bool. Whether `y_pred` holds logits.
        pos_weight: sequence of num_aus floats or None. Weight of the positive term of each
            AU (as in `torch.nn.BCEWithLogitsLoss`), e.g. negatives / positives per AU.
        mask_value: int. The sentinel (AUs: -1).
        sample_weight: tensor or None. Row weights `(batch,)` or `(batch, time)`.

    Returns:
        A float32 scalar; 0 when no element is annotated.
    """
    width = y_pred.shape[-1]
    target, annotated, invalid = _labels.binary_labels(y_true, width, mask_value)
    p = _labels.rows(y_pred, width)
    if from_logits:
        log_p, log_not_p = -ops.softplus(-p), -ops.softplus(p)  # stable log(sigmoid)
    else:
        p = ops.clip(p, _EPSILON, 1.0 - _EPSILON)
        log_p, log_not_p = ops.log(p), ops.log(1.0 - p)
    positive = target * log_p
    if pos_weight is not None:
        positive = positive * ops.convert_to_tensor(pos_weight, "float32")
    per_element = -(positive + (1.0 - target) * log_not_p)
    w = annotated * _labels.row_weights(sample_weight, ops.shape(p)[0])[:, None]
    loss = _safe_divide(ops.sum(w * per_element), ops.sum(w))
    return _labels.poison(loss, invalid)


class _MaskedLoss(keras.losses.Loss):
    """Base of the loss classes: passes `sample_weight` to the function as row weights."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self._compute(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        return self._compute(y_true, y_pred, None)

    def _compute(self, y_true, y_pred, sample_weight):
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="affectkeras")
class CCCLoss(_MaskedLoss):
    """1 - CCC per output column, averaged over the columns; masked by `mask_value`.

    Args:
        mask_value: float or None. The "not annotated" sentinel (VA: -5); None keeps all.
        name: str. Name of the loss.

    Example:
        >>> model.compile(loss={"valence_arousal": CCCLoss()}, optimizer="adam")
    """

    def __init__(self, mask_value=VA_MASK, name="ccc_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.mask_value = mask_value

    def _compute(self, y_true, y_pred, sample_weight):
        return ccc_loss(y_true, y_pred, mask_value=self.mask_value, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@keras.saving.register_keras_serializable(package="affectkeras")
class MaskedCategoricalCrossentropy(_MaskedLoss):
    """`masked_categorical_crossentropy` as a Keras loss (expressions, integer targets).

    Args:
        from_logits: bool. Whether predictions are logits (ArcFace heads output logits).
        class_weights: list of C floats or None. Weight of each true class.
        label_smoothing: float in [0, 1).
        mask_value: int. The sentinel (-1).
        name: str. Name of the loss.
    """

    def __init__(
        self,
        from_logits=False,
        class_weights=None,
        label_smoothing=0.0,
        mask_value=EXPR_MASK,
        name="masked_categorical_crossentropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        check_fraction("label_smoothing", label_smoothing)
        self.from_logits = from_logits
        self.class_weights = None if class_weights is None else [float(c) for c in class_weights]
        self.label_smoothing = float(label_smoothing)
        self.mask_value = mask_value

    def _compute(self, y_true, y_pred, sample_weight):
        return masked_categorical_crossentropy(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            class_weights=self.class_weights,
            label_smoothing=self.label_smoothing,
            mask_value=self.mask_value,
            sample_weight=sample_weight,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "class_weights": self.class_weights,
            "label_smoothing": self.label_smoothing,
            "mask_value": self.mask_value,
        }


@keras.saving.register_keras_serializable(package="affectkeras")
class MaskedBinaryCrossentropy(_MaskedLoss):
    """`masked_binary_crossentropy` as a Keras loss (action units, 0/1 targets).

    Args:
        from_logits: bool. Whether predictions are logits.
        pos_weight: list of floats (one per AU) or None. Weight of each AU's positive term.
        mask_value: int. The sentinel (-1).
        name: str. Name of the loss.
    """

    def __init__(
        self,
        from_logits=False,
        pos_weight=None,
        mask_value=AU_MASK,
        name="masked_binary_crossentropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits
        self.pos_weight = None if pos_weight is None else [float(p) for p in pos_weight]
        self.mask_value = mask_value

    def _compute(self, y_true, y_pred, sample_weight):
        return masked_binary_crossentropy(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            pos_weight=self.pos_weight,
            mask_value=self.mask_value,
            sample_weight=sample_weight,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "pos_weight": self.pos_weight,
            "mask_value": self.mask_value,
        }


__all__ = [
    "ccc_loss",
    "CCCLoss",
    "concordance_correlation",
    "masked_binary_crossentropy",
    "masked_categorical_crossentropy",
    "MaskedBinaryCrossentropy",
    "MaskedCategoricalCrossentropy",
    "va_loss",
]
