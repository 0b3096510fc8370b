"""Whole-prediction (numpy) scores of the ABAW challenges on Aff-Wild2.

These take all the frames of a validation or test set at once, as the official evaluation
scripts do: VA = mean CCC of valence and arousal; EXPR = macro F1 (ABAW 2020 / 2021:
0.67 F1 + 0.33 accuracy); AU = mean F1 over AUs (ABAW 2020 / 2021: 0.5 F1 + 0.5 accuracy);
MTL = P_VA + P_EXPR + P_AU. Frames whose target is the "not annotated" sentinel are left out.
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

    Returns:
        A float for 1-D input, an array with one CCC per column for 2-D input. A column
        with no annotated frame, or with zero variance on both sides, gives NaN.

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
        keep = np.ones(len(x), bool) if mask_value is None else x[:, column] != mask_value
        xc, yc = x[keep, column], y[keep, column]
        if len(xc) == 0:
            continue
        denominator = xc.var() + yc.var() + (xc.mean() - yc.mean()) ** 2
        if denominator > 0:
            values[column] = 2.0 * np.mean((xc - xc.mean()) * (yc - yc.mean())) / denominator
    return values


def _edition(edition):
    return ABAW_EDITIONS[check_choice("edition", edition, ABAW_EDITIONS)]


def _annotated(y_true, mask_value):
    y_true = np.asarray(y_true)
    return y_true != mask_value if y_true.ndim == 1 else np.all(y_true != mask_value, axis=-1)


def _class_predictions(y_pred):
    y_pred = np.asarray(y_pred)
    return y_pred.argmax(axis=-1) if y_pred.ndim == 2 else y_pred.astype(int)


def va_score(y_true, y_pred):
    """ABAW VA score: CCC of valence and of arousal, and their mean.

    Args:
        y_true: array-like `(frames, 2)`, columns valence, arousal; -5 = not annotated.
        y_pred: array-like `(frames, 2)`.

    Returns:
        dict with `valence`, `arousal` and `score` (their mean, P_VA).
    """
    valence, arousal = ccc(y_true, y_pred)
    return {"valence": valence, "arousal": arousal, "score": (valence + arousal) / 2.0}


def expr_score(y_true, y_pred, *, edition=LATEST_EDITION, classes="all"):
    """ABAW EXPR score.

    Args:
        y_true: array-like `(frames,)` of class indices; -1 = not annotated.
        y_pred: array-like `(frames,)` of class indices or `(frames, C)` probabilities.
        edition: int. ABAW edition (2020 ... 2025); sets the classes (7 or 8) and the
            weights of F1 and accuracy.
        classes: str. `"all"` (the challenges' formula): the macro F1 averages over every
            class of the edition; `"present"`: only over the classes in the targets or the
            predictions (scikit-learn's default; two classes predicted perfectly score 1.0
            where the challenges' formula gives 2 / 8).

    Returns:
        dict with `f1` (macro), `accuracy` and `score`.

    Example:
        >>> expr_score([0, 0, 1, 1], [0, 0, 1, 1])["f1"]  # 2 of 8 classes, perfect
        0.25
    """
    check_choice("classes", classes, ("all", "present"))
    settings = _edition(edition)
    f1_weight, accuracy_weight = settings["expr_weights"]
    y_true = np.asarray(y_true).astype(int)
    keep = _annotated(y_true, EXPR_MASK)
    y_true, y_pred = y_true[keep], _class_predictions(y_pred)[keep]
    labels = list(range(settings["num_expressions"])) if classes == "all" else None
    f1 = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    accuracy = accuracy_score(y_true, y_pred)
    return {"f1": f1, "accuracy": accuracy, "score": f1_weight * f1 + accuracy_weight * accuracy}


def au_score(y_true, y_pred, *, edition=LATEST_EDITION, threshold=0.5):
    """ABAW AU score.

    Args:
        y_true: array-like `(frames, num_aus)` of 0/1; -1 = not annotated.
        y_pred: array-like `(frames, num_aus)` of probabilities or 0/1 decisions.
        edition: int. ABAW edition (2020 ... 2025); sets the weights of F1 and accuracy.
        threshold: float. Probability above which an AU counts as present.

    Returns:
        dict with `f1` (mean over AUs), `per_au_f1`, `accuracy` (over all annotated
        elements) and `score`.
    """
    f1_weight, accuracy_weight = _edition(edition)["au_weights"]
    y_true = np.asarray(y_true).astype(int)
    y_pred = (np.asarray(y_pred) >= threshold).astype(int)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise InvalidArgumentError(
            "`y_true` and `y_pred` must both have shape (frames, num_aus). "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    per_au = []
    for au in range(y_true.shape[1]):
        keep = y_true[:, au] != AU_MASK
        per_au.append(f1_score(y_true[keep, au], y_pred[keep, au], zero_division=0))
    keep = y_true != AU_MASK
    accuracy = float(np.mean(y_true[keep] == y_pred[keep])) if keep.any() else 0.0
    f1 = float(np.mean(per_au))
    return {
        "f1": f1,
        "per_au_f1": per_au,
        "accuracy": accuracy,
        "score": f1_weight * f1 + accuracy_weight * accuracy,
    }


def mtl_score(va_true, va_pred, expr_true, expr_pred, au_true, au_pred, *, edition=LATEST_EDITION, threshold=0.5):
    """ABAW multi-task score P_VA + P_EXPR + P_AU (ABAW 2022 onwards: F1 only).

    `edition` sets the expression classes the F1 averages over (`expr_score`).

    Returns:
        dict with `va`, `expr`, `au` (each the track score) and `score` (their sum).
    """
    va = va_score(va_true, va_pred)["score"]
    expr = expr_score(expr_true, expr_pred, edition=edition)["f1"]
    au = au_score(au_true, au_pred, threshold=threshold)["f1"]
    return {"va": va, "expr": expr, "au": au, "score": va + expr + au}


__all__ = ["au_score", "ccc", "expr_score", "mtl_score", "va_score"]
