"""Turns Aff-Wild2-style targets (with "not annotated" sentinels) into values and weights.

Shared by `affectkeras.losses` and `affectkeras.metrics`: both flatten every leading axis
(batch, time, ...) into rows, so a batch of 4 sequences of 80 frames is 320 rows, and both
weight each row by "annotated" times the optional `sample_weight`. keras.ops only.
"""

from keras import ops


def rows(x, width):
    """Reshapes `(..., width)` to `(rows, width)` in float32."""
    return ops.reshape(ops.cast(x, "float32"), (-1, width))


def row_weights(sample_weight, num_rows):
    """Per-row weights `(rows,)` from an optional `sample_weight` of shape `(batch, ...)`.

    A `sample_weight` that covers fewer axes than the targets (for example one weight per
    sequence for `(batch, time)` targets) is repeated over the remaining axes.
    """
    if sample_weight is None:
        return ops.ones((num_rows,), "float32")
    weight = ops.cast(sample_weight, "float32")
    weight = ops.reshape(weight, (ops.shape(weight)[0], -1))  # (batch, k)
    per_weight = num_rows // (ops.shape(weight)[0] * ops.shape(weight)[1])
    weight = ops.repeat(ops.reshape(weight, (-1,)), per_weight, axis=0)
    return ops.reshape(weight, (num_rows,))


def sparse_labels(y_true, num_classes, mask_value):
    """Splits integer class targets into `(labels, annotated, invalid)` over rows.

    Args:
        y_true: tensor. Class indices, shape `(...)` or `(..., 1)`; `mask_value` = not
            annotated.
        num_classes: int. Number of classes C.
        mask_value: number. The "not annotated" sentinel.

    Returns:
        `labels` int32 `(rows,)` (0 where not annotated), `annotated` float32 `(rows,)`,
        and `invalid`, a scalar bool that is True when any label is neither the sentinel
        nor an integer in `[0, C)` (NaN included).
    """
    y = ops.reshape(ops.cast(y_true, "float32"), (-1,))
    annotated = ops.not_equal(y, mask_value)
    in_range = ops.logical_and(
        ops.logical_and(ops.greater_equal(y, 0.0), ops.less(y, float(num_classes))),
        ops.equal(y, ops.floor(y)),
    )
    invalid = ops.any(ops.logical_and(annotated, ops.logical_not(in_range)))
    labels = ops.cast(ops.where(in_range, y, 0.0), "int32")
    return labels, ops.cast(ops.logical_and(annotated, in_range), "float32"), invalid


def binary_labels(y_true, width, mask_value):
    """Splits multi-label 0/1 targets `(..., width)` into `(values, annotated, invalid)`.

    Values may be soft (anything in [0, 1]); `invalid` is a scalar bool that is True when any
    value is neither the sentinel nor in [0, 1] (NaN included).
    """
    y = rows(y_true, width)
    annotated = ops.not_equal(y, mask_value)
    in_range = ops.logical_and(ops.greater_equal(y, 0.0), ops.less_equal(y, 1.0))
    invalid = ops.any(ops.logical_and(annotated, ops.logical_not(in_range)))
    values = ops.where(in_range, y, 0.0)
    return values, ops.cast(ops.logical_and(annotated, in_range), "float32"), invalid


def poison(value, invalid):
    """Returns NaN where `invalid` is True: the in-graph signal for out-of-range labels.

    Raising from inside a compiled graph is backend specific; a NaN loss or metric stops
    `keras.callbacks.TerminateOnNaN` and is impossible to overlook, unlike a label that is
    silently treated as "not annotated".
    """
    return ops.where(invalid, ops.cast(float("nan"), value.dtype), value)
