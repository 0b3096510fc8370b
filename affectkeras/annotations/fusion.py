"""Annotator fusion (mean, median-filtered mean, chosen by MAIC) and label-stream resampling.

Aff-Wild2's valence and arousal were annotated by several experts per video. The paper
compared two ways of making the final label: (i) the mean of the annotators, (ii) a
per-annotator median filter of 5, 15 or 30 frames followed by the mean, and kept the one
with the highest MAIC (mean of average inter-annotator correlation). These functions
reproduce that procedure; call them once per dimension (valence, then arousal), as the
paper did.

Reference:
    D. Kollias, S. Zafeiriou. "Aff-Wild2: Extending the Aff-Wild Database for Affect
    Recognition." arXiv:1811.07770, 2018 (section II-D, final annotation selection).
"""

import fractions
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from affectkeras.constants import FPS
from affectkeras.errors import InvalidArgumentError, check_choice, check_positive

# Median filter sizes the paper examined (0.1, 0.5 and 1 s at 30 fps).
PAPER_WINDOWS = (5, 15, 30)


def _annotations_2d(annotations, name="annotations", min_annotators=1):
    x = np.asarray(annotations, np.float64)
    if x.ndim != 2:
        raise InvalidArgumentError(
            f"`{name}` must have shape (annotators, frames). Received: {name} with shape {x.shape}"
        )
    if x.shape[0] < min_annotators:
        raise InvalidArgumentError(
            f"`{name}` needs at least {min_annotators} annotators. Received: {name} with shape {x.shape}"
        )
    if not np.isfinite(x).all():
        raise InvalidArgumentError(
            f"`{name}` must hold finite numbers only (no NaN or inf). Received: {name}"
        )
    return x


def _videos(annotations, min_annotators):
    """Returns `(list of (annotators, frames) arrays, given_as_list)`."""
    if isinstance(annotations, (list, tuple)) and annotations and np.ndim(annotations[0]) == 2:
        videos = [
            _annotations_2d(a, "annotations[%d]" % i, min_annotators) for i, a in enumerate(annotations)
        ]
        if len({v.shape[0] for v in videos}) != 1:
            raise InvalidArgumentError(
                "Every video must have the same annotators (same first dimension). "
                f"Received: annotator counts {[v.shape[0] for v in videos]}"
            )
        return videos, True
    return [_annotations_2d(annotations, min_annotators=min_annotators)], False


def median_filter(values, window):
    """Median-filters each stream along its last axis (frames).

    Window alignment: frame `i` uses frames `i - window // 2` ... `i + (window - 1) // 2`,
    so an odd window is centred and an even window (e.g. 30) has one more frame before `i`
    than after (as `scipy.ndimage.median_filter`). The median of an even number of values is
    the mean of the two middle ones (as `numpy.median`). At the edges the window is cut to
    the frames that exist (no padding value is invented, so the ends are not pulled
    towards zero as with zero padding).

    Args:
        values: array-like `(frames,)` or `(streams, frames)`.
        window: int. Filter length in frames, >= 1 (1 = no filtering).

    Returns:
        float64 array of the same shape.

    Example:
        >>> median_filter([0.0, 1.0, 0.0, 0.0, 5.0], 3)
        array([0.5, 0. , 0. , 0. , 2.5])
    """
    check_positive("window", window, integer=True)
    x = np.asarray(values, np.float64)
    if x.ndim not in (1, 2):
        raise InvalidArgumentError(
            f"`values` must have shape (frames,) or (streams, frames). Received: shape {x.shape}"
        )
    n = x.shape[-1]
    if window == 1 or n == 0:
        return x.copy()
    before, after = window // 2, (window - 1) // 2
    pad = [(0, 0)] * (x.ndim - 1) + [(before, after)]
    windows = sliding_window_view(np.pad(x, pad, constant_values=np.nan), window, axis=-1)
    out = np.empty_like(x)
    full = np.arange(before, n - after)  # frames whose window lies inside the stream
    if full.size:
        out[..., full] = np.median(windows[..., full, :], axis=-1)
    edges = np.setdiff1d(np.arange(n), full)
    if edges.size:
        out[..., edges] = np.nanmedian(windows[..., edges, :], axis=-1)
    return out


def fuse_mean(annotations):
    """Fuses annotators by the plain per-frame mean (the paper's approach (i)).

    Args:
        annotations: array-like `(annotators, frames)`. One stream per annotator.

    Returns:
        float64 array `(frames,)`.

    Example:
        >>> fuse_mean([[0.0, 0.2], [0.2, 0.4]])
        array([0.1, 0.3])
    """
    return _annotations_2d(annotations).mean(axis=0)


def fuse_median_filtered(annotations, window):
    """Median-filters each annotator, then averages (the paper's approach (ii)).

    Args:
        annotations: array-like `(annotators, frames)`.
        window: int. Median filter length in frames (the paper: 5, 15 or 30); see
            `median_filter` for edges and even windows.

    Returns:
        float64 array `(frames,)`.

    Example:
        >>> fused = fuse_median_filtered(valence_by_annotator, 30)
    """
    return median_filter(_annotations_2d(annotations), window).mean(axis=0)


def _correlation_matrix(x):
    """Pearson correlations between the rows of `x`; NaN where a row is constant."""
    centred = x - x.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred**2).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (centred @ centred.T) / np.outer(norms, norms)
    r[np.outer(norms, norms) == 0] = np.nan
    return np.clip(r, -1.0, 1.0)


def average_correlations(annotations):
    """Each annotator's average Pearson correlation with every other annotator.

    Correlations are computed over all frames of all videos together (the paper: "the
    correlations of each one of the four annotators with all other annotators, over all
    videos"). A pair whose correlation is undefined (an annotator constant over all
    frames) is left out of the average.

    Args:
        annotations: array-like `(annotators, frames)`, or a list of such arrays, one per
            video, with the annotators in the same order.

    Returns:
        float64 array `(annotators,)` (NaN for an annotator with no defined correlation).

    Example:
        >>> average_correlations(np.stack([a1, a2, a3, a4]))  # four numbers
    """
    videos, _ = _videos(annotations, min_annotators=2)
    r = _correlation_matrix(np.concatenate(videos, axis=1))
    np.fill_diagonal(r, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN on purpose
        return np.nanmean(r, axis=1)


def maic(annotations):
    """Mean of average inter-annotator correlation (MAIC), as defined in the Aff-Wild2 paper.

    For each annotator, the average of its Pearson correlations with each other annotator
    (over all frames of all videos); MAIC is the mean of these averages over annotators.

    Args:
        annotations: array-like `(annotators, frames)`, or a list of such arrays (one per
            video, same annotators). At least 2 annotators.

    Returns:
        float. NaN when no correlation is defined.

    Example:
        >>> maic(np.stack([a1, a2, a3, a4]))
        0.62
    """
    averages = average_correlations(annotations)
    if np.isnan(averages).all():
        return float("nan")
    return float(np.nanmean(averages))


def choose_fusion(annotations, windows=PAPER_WINDOWS):
    """Picks mean or median-filtered mean by MAIC and returns the fused labels.

    Candidates: the raw annotations (fusion = mean) and the annotations median-filtered
    with each window (fusion = median-filtered mean). The MAIC of each candidate is
    computed on the (filtered) annotator streams; the candidate with the highest MAIC wins
    (ties, within 1e-12, go to the earlier candidate: mean first, then the smaller window, i.e. the one
    that changes the annotators' values least). Filtering is done per video, never across
    video boundaries.

    Args:
        annotations: array-like `(annotators, frames)`, or a list of such arrays (one per
            video, same annotators).
        windows: sequence of int. Median filter lengths to try (the paper: 5, 15, 30).

    Returns:
        `(fused, report)`: `fused` a float64 array `(frames,)` (a list of them, one per
        video, when a list was given); `report` a dict with `"maic"` (candidate name ->
        MAIC; names `"mean"`, `"median_5"`, ...), `"best"` (the chosen name), `"window"`
        (its filter length, None for the mean) and `"average_correlations"` (the chosen
        candidate's per-annotator averages, a list).

    Example:
        >>> fused, report = choose_fusion(valence_by_annotator)
        >>> report["best"], report["maic"]
        ('median_30', {'mean': 0.60, 'median_5': 0.603, 'median_15': 0.62, 'median_30': 0.63})
    """
    videos, as_list = _videos(annotations, min_annotators=2)
    candidates = {"mean": (None, videos)}
    for window in windows:
        check_positive("window", window, integer=True)
        candidates[f"median_{window}"] = (window, [median_filter(v, window) for v in videos])
    scores, best = {}, "mean"
    for name, (_, streams) in candidates.items():
        scores[name] = maic(streams)
        # A tie (within rounding) keeps the earlier, less smoothing candidate.
        if not np.isnan(scores[name]) and (np.isnan(scores[best]) or scores[name] > scores[best] + 1e-12):
            best = name
    window, streams = candidates[best]
    fused = [s.mean(axis=0) for s in streams]
    report = {
        "maic": scores,
        "best": best,
        "window": window,
        "average_correlations": average_correlations(streams).tolist(),
    }
    return (fused if as_list else fused[0]), report


# ----------------------------------------------------------------------------------------
# Resampling label streams


def _rational(name, fps):
    """`fps` as an exact fraction (29.97 -> 2997/100)."""
    if isinstance(fps, fractions.Fraction) and fps > 0:
        return fps
    if isinstance(fps, np.number):
        fps = fps.item()
    check_positive(name, fps)
    # repr() gives the shortest decimal that round-trips (29.97, not 29.969999...).
    return fractions.Fraction(fps) if isinstance(fps, int) else fractions.Fraction(repr(float(fps)))


def resampled_length(num_frames, src_fps, dst_fps=FPS):
    """Number of frames a stream of `num_frames` at `src_fps` has at `dst_fps`.

    `round(duration * dst_fps)` with `duration = num_frames / src_fps`, rounding halves up,
    computed exactly in rational arithmetic (so 250 frames at 25 fps are exactly 300 at 30).

    Args:
        num_frames: int. Source frame count.
        src_fps: number. Source frame rate.
        dst_fps: number. Target frame rate (default `FPS` = 30).

    Returns:
        int.

    Example:
        >>> resampled_length(250, 25)
        300
    """
    check_positive("num_frames", num_frames, integer=True, allow_zero=True)
    ratio = num_frames * _rational("dst_fps", dst_fps) / _rational("src_fps", src_fps)
    return int((2 * ratio.numerator + ratio.denominator) // (2 * ratio.denominator))


def resample_to_fps(values, src_fps, dst_fps=FPS, *, kind="linear", mask=None, fill_value=None):
    """Resamples a per-frame label stream to another frame rate, keeping its mask.

    Time convention: the frame at 0-based position `i` (Aff-Wild2 frame index `i + 1`) is
    at time `i / fps`, and a stream of `n` frames lasts `n / fps` seconds. Output frame `j`
    (0-based) is at `j / dst_fps`; there are `resampled_length(n, src_fps, dst_fps)` of
    them. An output time past the last source frame takes the last frame's value.

    - `kind="linear"` (continuous values: valence, arousal) interpolates between the two
      source frames around the output time. The output is masked if either of them is
      masked (only the one source frame counts when the time falls exactly on it).
    - `kind="nearest"` (classes, AUs) copies the nearest source frame (halves go to the
      later frame); the output is masked if that frame is.

    Args:
        values: array-like `(frames,)` or `(frames, k)`.
        src_fps: number. Source frame rate (e.g. 25 for RECOLA).
        dst_fps: number. Target frame rate (default `FPS` = 30).
        kind: str. `"linear"` or `"nearest"`.
        mask: array-like of bool or None. True = annotated; shape `(frames,)` or the shape
            of `values`. None = every frame annotated.
        fill_value: number or None. Value written at masked output frames. None: NaN for
            `"linear"`, and for `"nearest"` the nearest source value (so sentinels carry
            over).

    Returns:
        `(values, mask)`: values `(new_frames,)` or `(new_frames, k)` (float for
        `"linear"`, the input dtype for `"nearest"`), mask of bool with the input mask's
        trailing shape.

    Example:
        >>> v, m = resample_to_fps(np.arange(50) / 25, 25)  # a 2 s ramp at 25 fps
        >>> v.shape, v[:4]
        ((60,), array([0.  , 0.0333, 0.0667, 0.1   ]))
    """
    check_choice("kind", kind, ("linear", "nearest"))
    values = np.asarray(values)
    if values.ndim not in (1, 2):
        raise InvalidArgumentError(
            f"`values` must have shape (frames,) or (frames, k). Received: shape {values.shape}"
        )
    n = len(values)
    if mask is None:
        mask = np.ones(n, bool)
    mask = np.asarray(mask, bool)
    if mask.shape not in ((n,), values.shape):
        raise InvalidArgumentError(
            f"`mask` must have shape {(n,)} or {values.shape} (that of `values`). "
            f"Received: mask with shape {mask.shape}"
        )
    src, dst = _rational("src_fps", src_fps), _rational("dst_fps", dst_fps)
    m = resampled_length(n, src, dst)
    if n == 0 or m == 0:
        out_dtype = np.result_type(values.dtype, np.float32) if kind == "linear" else values.dtype
        return np.zeros((m,) + values.shape[1:], out_dtype), np.zeros((m,) + mask.shape[1:], bool)

    # Source position of output j is j * src / dst = num / den, exactly.
    scale = src / dst
    num = np.arange(m, dtype=np.int64) * scale.numerator
    den = scale.denominator
    if kind == "nearest":
        idx = np.minimum((2 * num + den) // (2 * den), n - 1)
        out, out_mask = values[idx].copy(), mask[idx]
        if fill_value is not None:
            out[_broadcast_mask(out_mask, out)] = fill_value
        return out, out_mask

    lo = num // den
    weight = (num % den) / den
    past_end = lo >= n - 1
    lo = np.minimum(lo, n - 1)
    weight[past_end] = 0.0
    hi = np.minimum(lo + 1, n - 1)
    out_dtype = np.result_type(values.dtype, np.float32)
    v = values.astype(out_dtype)
    w = weight.astype(out_dtype).reshape((-1,) + (1,) * (values.ndim - 1))
    out = (1 - w) * v[lo] + w * v[hi]
    exact = (weight == 0).reshape((-1,) + (1,) * (mask.ndim - 1))
    out_mask = mask[lo] & (exact | mask[hi])
    out[_broadcast_mask(out_mask, out)] = np.nan if fill_value is None else fill_value
    return out, out_mask


def _broadcast_mask(mask, values):
    """Boolean index of masked (not annotated) entries of `values` for a 1-D or full mask."""
    unmasked = mask if mask.shape == values.shape else np.broadcast_to(mask[:, None], values.shape)
    return ~unmasked


__all__ = [
    "PAPER_WINDOWS",
    "average_correlations",
    "choose_fusion",
    "fuse_mean",
    "fuse_median_filtered",
    "maic",
    "median_filter",
    "resample_to_fps",
    "resampled_length",
]
