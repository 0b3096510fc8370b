"""Whole-prediction (numpy) scores of the ABAW challenges on Aff-Wild2.

These take all the frames of a validation or test set at once, as the official evaluation
scripts do: VA = mean CCC of valence and arousal; EXPR = macro F1 (ABAW 2020 / 2021:
0.67 F1 + 0.33 accuracy); AU = mean F1 over AUs (ABAW 2020 / 2021: 0.5 F1 + 0.5 accuracy);
MTL = P_VA + P_EXPR + P_AU. Frames whose target is the "not annotated" sentinel (VA -5, EXPR
-1, AU -1) or NaN are left out. A track without any annotated frame has no score: its
figures are NaN (undefined, as `affectkeras.evaluation` reports it; None in `metrics.json`),
never 0; an AU without any annotated frame is left out of the mean AU F1 (its per-AU F1 is
NaN). Arrays of the wrong shape and an AU `threshold` outside (0, 1) raise
`InvalidArgumentError`.
The macro F1 of EXPR averages over all C classes of the edition, as the challenges define
it (P_EXPR = sum of the C per-class F1 / C, C = 7 in 2020-2021 and 8 from 2022): a class
that neither occurs nor is predicted scores 0, as does any undefined F1 (scikit-learn's
`f1_score` with `labels=range(C)`, `zero_division=0`). AU F1 averages over all the AUs.
"""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from affectkeras.constants import ABAW_EDITIONS, AU_MASK, EXPR_MASK, LATEST_EDITION, VA_MASK
from affectkeras.errors import InvalidArgumentError, check_choice


def ccc(y_true, y_pred, mask_value=VA_MASK):
    """Concordance correlation coefficient over all rows.

    Args:
        y_true: array-like. Targets, shape `(frames,)` or `(frames, columns)`.
        y_pred: array-like. Predictions, same shape.
        mask_value: float or None. Targets equal to it (VA: -5) are ignored, per column.
            NaN targets are always ignored (not annotated), whatever `mask_value`.

    Returns:
        A float for 1-D input, an array with one CCC per column for 2-D input. A column
        with no annotated frame, or with zero variance on both sides, gives NaN.

    Raises:
        InvalidArgumentError: `y_true` and `y_pred` differ in shape, or are not 1-D or 2-D.

    Example:
        >>> ccc(np.array([0.1, 0.5, -0.2]), np.array([0.1, 0.5, -0.2]))
        1.0
    """
    x = np.asarray(y_true, dtype=np.float64)
    y = np.asarray(y_pred, dtype=np.float64)
    if x.shape != y.shape or x.ndim not in (1, 2):
        raise InvalidArgumentError(
            "`y_true` and `y_pred` must have the same shape (frames,) or (frames, columns). "
            f"Received: y_true.shape={x.shape}, y_pred.shape={y.shape}"
        )
    if x.ndim == 1:
        return float(ccc(x[:, None], y[:, None], mask_value)[0])
    values = np.full(x.shape[1], np.nan)
    for column in range(x.shape[1]):
        keep = annotated(x[:, column], mask_value)
        xc, yc = x[keep, column], y[keep, column]
        if len(xc) == 0:
            continue
        denominator = xc.var() + yc.var() + (xc.mean() - yc.mean()) ** 2
        if denominator > 0:
            values[column] = 2.0 * np.mean((xc - xc.mean()) * (yc - yc.mean())) / denominator
    return values


def _edition(edition):
    return ABAW_EDITIONS[check_choice("edition", edition, ABAW_EDITIONS)]


def annotated(y_true, mask_value):
    """Which targets are labels: neither the "not annotated" sentinel nor NaN.

    Args:
        y_true: array-like. Targets.
        mask_value: number or None. The sentinel (VA -5, EXPR -1, AU -1); None: only NaN.

    Returns:
        bool array of `y_true`'s shape.

    Example:
        >>> annotated([0, -1, float("nan"), 3], -1)
        array([ True, False, False,  True])
    """
    y_true = np.asarray(y_true)
    keep = np.ones(y_true.shape, bool) if mask_value is None else y_true != mask_value
    if y_true.dtype.kind in "fc":  # astype(int) would turn NaN into a huge negative class
        keep &= ~np.isnan(y_true)
    return keep


def _shape_error(names, y_true, y_pred, expected):
    return InvalidArgumentError(
        f"`{names[0]}` and `{names[1]}` must have shapes {expected}. "
        f"Received: {names[0]}.shape={y_true.shape}, {names[1]}.shape={y_pred.shape}"
    )


def check_threshold(threshold, name="threshold"):
    """Raises `InvalidArgumentError` unless `threshold` is a number in (0, 1).

    The bounds are excluded: 0 would call every AU present and 1 (almost) none, so neither
    is a decision threshold (and a NaN would silently call every AU absent).

    Args:
        threshold: the AU decision threshold to check.
        name: str. The argument's name in the message.

    Returns:
        `threshold` as a float.

    Example:
        >>> check_threshold(0.5)
        0.5
    """
    number = isinstance(threshold, (int, float, np.integer, np.floating))
    ok = number and not isinstance(threshold, (bool, np.bool_))
    if not ok or not 0.0 < threshold < 1.0:  # also refuses NaN
        raise InvalidArgumentError(
            f"`{name}` must be a number in (0, 1) (an AU probability). Received: {name}={threshold!r}"
        )
    return float(threshold)


def _va_arrays(y_true, y_pred, names=("y_true", "y_pred")):
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 2 or y_true.shape[1] != 2:
        raise _shape_error(names, y_true, y_pred, "(frames, 2) (valence, arousal), the same for both")
    return y_true, y_pred


def _expr_arrays(y_true, y_pred, names=("y_true", "y_pred")):
    """The annotated frames' true and predicted classes (int arrays)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim not in (1, 2) or len(y_pred) != len(y_true):
        raise _shape_error(names, y_true, y_pred, "(frames,) and (frames,) or (frames, C)")
    keep = annotated(y_true, EXPR_MASK)
    y_pred = y_pred.argmax(axis=-1) if y_pred.ndim == 2 else y_pred
    return y_true[keep].astype(int), y_pred[keep].astype(int)


def _au_arrays(y_true, y_pred, threshold, names=("y_true", "y_pred")):
    """Targets, 0/1 decisions and the annotated elements (bool), all `(frames, num_aus)`."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    # Shapes first: comparing a wrong-shaped y_pred with the threshold would hide the mistake.
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise _shape_error(names, y_true, y_pred, "(frames, num_aus), the same for both")
    check_threshold(threshold)
    keep = annotated(y_true, AU_MASK)
    y_true = np.where(keep, y_true, AU_MASK).astype(int)
    return y_true, (y_pred >= threshold).astype(int), keep


def va_score(y_true, y_pred):
    """ABAW VA score: CCC of valence and of arousal, and their mean.

    Args:
        y_true: array-like `(frames, 2)`, columns valence, arousal; -5 or NaN = not
            annotated (per column).
        y_pred: array-like `(frames, 2)`.

    Returns:
        dict with `valence`, `arousal` and `score` (their mean, P_VA). A dimension without
        any annotated frame (or constant on both sides) has a NaN CCC, and then a NaN score.

    Raises:
        InvalidArgumentError: the arrays are not both `(frames, 2)`.

    Example:
        >>> va_score([[0.1, 0.2], [0.5, -0.3]], [[0.1, 0.2], [0.5, -0.3]])["score"]
        1.0
    """
    valence, arousal = ccc(*_va_arrays(y_true, y_pred))
    return {"valence": valence, "arousal": arousal, "score": (valence + arousal) / 2.0}


def expr_score(y_true, y_pred, *, edition=LATEST_EDITION, classes="all"):
    """ABAW EXPR score.

    Args:
        y_true: array-like `(frames,)` of class indices; -1 or NaN = not annotated.
        y_pred: array-like `(frames,)` of class indices or `(frames, C)` probabilities.
        edition: int. ABAW edition (2020 ... 2025); sets the classes (7 or 8) and the
            weights of F1 and accuracy.
        classes: str. `"all"` (the challenges' formula): the macro F1 averages over every
            class of the edition; `"present"`: only over the classes in the targets or the
            predictions (scikit-learn's default; two classes predicted perfectly score 1.0
            where the challenges' formula gives 2 / 8).

    Returns:
        dict with `f1` (macro), `accuracy` and `score`; all three NaN (undefined) when no
        frame is annotated.

    Raises:
        InvalidArgumentError: `y_true` is not `(frames,)`, or `y_pred` not `(frames,)` or
            `(frames, C)` with the same frames.

    Example:
        >>> expr_score([0, 0, 1, 1], [0, 0, 1, 1])["f1"]  # 2 of 8 classes, perfect
        0.25
    """
    check_choice("classes", classes, ("all", "present"))
    settings = _edition(edition)
    f1_weight, accuracy_weight = settings["expr_weights"]
    y_true, y_pred = _expr_arrays(y_true, y_pred)
    if not len(y_true):  # no annotated frame: undefined, not 0 (scikit-learn refuses empty input)
        return {"f1": np.nan, "accuracy": np.nan, "score": np.nan}
    labels = list(range(settings["num_expressions"])) if classes == "all" else None
    f1 = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    accuracy = accuracy_score(y_true, y_pred)
    return {"f1": f1, "accuracy": accuracy, "score": f1_weight * f1 + accuracy_weight * accuracy}


def au_score(y_true, y_pred, *, edition=LATEST_EDITION, threshold=0.5):
    """ABAW AU score.

    Args:
        y_true: array-like `(frames, num_aus)` of 0/1; -1 or NaN = not annotated.
        y_pred: array-like `(frames, num_aus)` of probabilities or 0/1 decisions.
        edition: int. ABAW edition (2020 ... 2025); sets the weights of F1 and accuracy.
        threshold: float in (0, 1). Probability from which an AU counts as present.

    Returns:
        dict with `f1` (mean over the AUs with at least one annotated frame), `per_au_f1`
        (list of float, one per AU column; NaN for an AU without any annotated frame),
        `accuracy` (over all annotated elements) and `score`. With no annotated element
        at all, `f1`, `accuracy` and `score` are NaN (undefined).

    Raises:
        InvalidArgumentError: the arrays are not both `(frames, num_aus)`, or `threshold`
            is not in (0, 1).

    Example:
        >>> au_score([[1, -1], [0, -1]], [[0.9, 0.2], [0.1, 0.7]])["per_au_f1"]
        [1.0, nan]
    """
    f1_weight, accuracy_weight = _edition(edition)["au_weights"]
    y_true, y_pred, annotated = _au_arrays(y_true, y_pred, threshold)
    per_au = [np.nan] * y_true.shape[1]
    for au in range(y_true.shape[1]):
        keep = annotated[:, au]
        if keep.any():  # an AU nobody annotated has no F1: left out of the mean, not a 0
            per_au[au] = float(f1_score(y_true[keep, au], y_pred[keep, au], zero_division=0))
    if not annotated.any():
        return {"f1": np.nan, "per_au_f1": per_au, "accuracy": np.nan, "score": np.nan}
    accuracy = float(np.mean(y_true[annotated] == y_pred[annotated]))
    f1 = float(np.nanmean(per_au))
    return {
        "f1": f1,
        "per_au_f1": per_au,
        "accuracy": accuracy,
        "score": f1_weight * f1 + accuracy_weight * accuracy,
    }


def mtl_score(va_true, va_pred, expr_true, expr_pred, au_true, au_pred, *, edition=LATEST_EDITION, threshold=0.5):
    """ABAW multi-task score P_VA + P_EXPR + P_AU (ABAW 2022 onwards: F1 only).

    `edition` sets the expression classes the F1 averages over (`expr_score`).

    Args:
        va_true, va_pred: VA targets and predictions, as `va_score` takes them.
        expr_true, expr_pred: EXPR targets and predictions, as `expr_score` takes them.
        au_true, au_pred: AU targets and predictions, as `au_score` takes them.
        edition: int. ABAW edition (2020 ... 2025).
        threshold: float in (0, 1). AU probability from which an AU counts as present.

    Returns:
        dict with `va`, `expr`, `au` (each the track score) and `score` (their sum). A
        track without any annotated frame is NaN, and so is the sum.

    Raises:
        InvalidArgumentError: an array of the wrong shape (the message names it), or
            `threshold` not in (0, 1).

    Example:
        >>> va = [[0.1, 0.2], [0.5, -0.3]]
        >>> mtl_score(va, va, [0, 1], [0, 1], [[1, 0]], [[0.9, 0.1]])["score"]  # 1 + 2/8 + (1 + 0) / 2
        1.75
    """
    # Every argument is checked before any track is scored, with the names the caller used.
    check_threshold(threshold)
    va_true, va_pred = _va_arrays(va_true, va_pred, ("va_true", "va_pred"))
    _expr_arrays(expr_true, expr_pred, ("expr_true", "expr_pred"))
    _au_arrays(au_true, au_pred, threshold, ("au_true", "au_pred"))
    va = va_score(va_true, va_pred)["score"]
    expr = expr_score(expr_true, expr_pred, edition=edition)["f1"]
    au = au_score(au_true, au_pred, threshold=threshold)["f1"]
    return {"va": va, "expr": expr, "au": au, "score": va + expr + au}


__all__ = ["au_score", "ccc", "expr_score", "mtl_score", "va_score"]
