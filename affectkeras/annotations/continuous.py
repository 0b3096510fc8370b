"""Continuous per-frame labels from a RECOLA-style CSV, resampled to the library's 30 fps."""

import csv
import dataclasses
import decimal
import fractions
import io
import pathlib

import numpy as np

from affectkeras.annotations._text import column_index, read_text
from affectkeras.annotations.fusion import resample_to_fps
from affectkeras.constants import FPS
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_positive

__all__ = ["ContinuousLabels", "read_continuous_csv"]


@dataclasses.dataclass
class ContinuousLabels:
    """Continuous per-frame values (e.g. RECOLA valence and arousal).

    Args:
        names: tuple of str. The value columns.
        times: np.ndarray of float64 `(frames,)`. Seconds.
        values: np.ndarray of float32 `(frames, k)`; NaN where not annotated.
        mask: np.ndarray of bool `(frames, k)`. True = annotated.
        fps: float. Frame rate of `times` / `values`.
    """

    names: tuple
    times: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    fps: float


def read_continuous_csv(
    path,
    *,
    time_column="time",
    value_columns=("valence", "arousal"),
    src_fps=None,
    dst_fps=FPS,
    delimiter=None,
    value_range=(-1.0, 1.0),
):
    """Reads a per-frame continuous label CSV (RECOLA style) and resamples it to `dst_fps`.

    RECOLA's gold standard is at 25 fps (40 ms steps); the papers train at 30 fps, so by
    default the values are resampled linearly to 30 fps with `resample_to_fps` (time
    convention: output frame j at `times[0] + j / dst_fps`). Values must lie in
    `value_range` ([-1, 1] by default); a database rated on another scale (0 to 1, a 1-9
    rating) is mapped linearly onto [-1, 1], the range of the networks' valence and arousal
    outputs. An empty cell or `nan` is a frame not annotated. For RECOLA's individual ratings (one column
    per annotator), read the annotator columns and fuse them with `choose_fusion`.

    Without `src_fps`, the rate is inferred from the span of the times,
    `(n - 1) / (t_last - t_first)`, and every step must match it within the rounding of the
    printed times (30 fps printed in ms: steps of 0.033 and 0.034 s) or 1 %.

    Args:
        path: str or path. The CSV file (first line a header).
        time_column: str. Column of the times in seconds (matched without case).
        value_columns: sequence of str. Columns of the values.
        src_fps: number or None. Source frame rate; None infers it from the times (which
            must then be evenly spaced).
        dst_fps: number or None. Target frame rate (default `FPS` = 30); None keeps the
            source frames.
        delimiter: str or None. The CSV delimiter; None picks `;` when the header has one
            and no comma, else `,`.
        value_range: (low, high). The scale the values are on; they are mapped linearly
            from it onto [-1, 1] (`(1, 9)`: 1 -> -1, 5 -> 0, 9 -> 1).

    Returns:
        A `ContinuousLabels`.

    Raises:
        FileNotFoundError: the file does not exist.
        InvalidArgumentError: `value_range` is not two finite numbers, low < high.
        DataFormatError: a missing column, a short row, a non-number, a value outside
            `value_range` (`inf` included), times that do not increase or are unevenly spaced
            (e.g. a missing row); the message names the file and line.

    Example:
        >>> gold = read_continuous_csv("recola/gs_train_1.csv", time_column="time",
        ...                            value_columns=("valence", "arousal"))
        >>> gold.fps, gold.values.shape
        (30.0, (9000, 2))
    """
    low, high = _checked_range(value_range)
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    value_columns = tuple(value_columns)
    text = read_text(path)
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise DataFormatError(
            path, 1, f"empty file; expected a header with {time_column!r} and {value_columns}"
        )
    if delimiter is None:
        delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    columns = [column_index(path, header, c) for c in (time_column,) + value_columns]
    lines, rows = [], []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(columns):
            raise DataFormatError(
                path, reader.line_num, f"expected {len(header)} values, found {len(row)}"
            )
        lines.append(reader.line_num)
        rows.append([row[c].strip() for c in columns])
    data = np.empty((len(rows), len(columns)), np.float64)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            try:
                data[i, j] = float(cell) if (cell or j == 0) else np.nan
            except ValueError:
                raise DataFormatError(
                    path, lines[i], f"{header[columns[j]].strip()} must be a number, found {cell!r}"
                ) from None
    times, values = data[:, 0], data[:, 1:]
    if not np.isfinite(times).all():
        i = int(np.argmin(np.isfinite(times)))
        raise DataFormatError(path, lines[i], f"{time_column} must be a finite number")
    # NaN (not annotated) compares False; `inf` is a value out of range, not a missing one.
    invalid = (values < low) | (values > high)
    if invalid.any():
        i, j = (int(k) for k in np.argwhere(invalid)[0])
        raise DataFormatError(
            path,
            lines[i],
            f"{header[columns[j + 1]].strip()} = {rows[i][j + 1]} is not valid; "
            f"expected a number in [{low:g}, {high:g}] or an empty cell (not annotated)"
            + ("" if (low, high) != (-1.0, 1.0) else "; labels on another scale need value_range (--value-range)"),
        )
    if (low, high) != (-1.0, 1.0):
        values = 2.0 * (values - low) / (high - low) - 1.0  # onto [-1, 1], the networks' tanh range
    steps = np.diff(times)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise DataFormatError(path, lines[i], f"times must increase; {times[i]:g} follows {times[i - 1]:g}")
    if src_fps is None:
        src_fps = _infer_fps(path, lines, times, [row[0] for row in rows])
    check_positive("src_fps", src_fps)
    mask = np.isfinite(values)
    if dst_fps is None:
        return ContinuousLabels(value_columns, times, values.astype(np.float32), mask, float(src_fps))
    out, out_mask = resample_to_fps(values, src_fps, dst_fps, kind="linear", mask=mask)
    out_times = times[0] + np.arange(len(out)) / float(dst_fps) if len(times) else np.zeros(0)
    return ContinuousLabels(value_columns, out_times, out.astype(np.float32), out_mask, float(dst_fps))


def _checked_range(value_range):
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        low = high = np.nan
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidArgumentError(
            f"`value_range` must be two finite numbers (low, high), low < high. Received: value_range={value_range!r}"
        )
    return low, high


def _infer_fps(path, lines, times, cells):
    """Infers the frame rate of evenly spaced times (see `read_continuous_csv`).

    Args:
        path: str or path. The file, for error messages.
        lines: list of int. The 1-based file line of each time.
        times: np.ndarray of float64. The times in seconds, increasing.
        cells: list of str. The times as printed in the file.

    Returns:
        float: an integer or NTSC rate (`k * 1000 / 1001`) when the times allow it, else
        the rate of the mean step.

    Raises:
        DataFormatError: fewer than 2 times, or a step that differs from the mean step by
            more than the rounding of the printed times and 1 % (e.g. a missing row); the
            message names the line of the worst step.
    """
    if len(times) < 2:
        raise DataFormatError(path, None, "cannot infer the frame rate from fewer than 2 rows; pass src_fps")
    intervals = len(times) - 1
    step = (times[-1] - times[0]) / intervals  # the span's mean; a median would be one rounded step
    # Each printed time is within half a unit of its last decimal, so a printed step is within
    # one unit of the true step, and the mean step within unit / intervals of it. The finest
    # unit counts: formats such as %g drop trailing zeros (0.1 for 0.100). 1e-9 * step covers
    # the float error of the subtractions.
    unit = min(10.0 ** decimal.Decimal(cell).as_tuple().exponent for cell in cells)
    eps = 1e-9 * step
    steps = np.diff(times)
    deviation = np.abs(steps - step)
    if (deviation > max(0.01 * step, unit * (1 + 1 / intervals)) + eps).any():
        i = int(np.argmax(deviation)) + 1  # the worst step: a missing row rather than its neighbours
        raise DataFormatError(
            path,
            lines[i],
            f"times are not evenly spaced (step {steps[i - 1]:g} s, expected {step:g} s); pass src_fps",
        )
    # Rounded times cannot tell 30 from 29.99 fps: take the usual rate the rounding allows.
    fps = 1 / step
    for candidate in (fractions.Fraction(round(fps)), fractions.Fraction(round(fps * 1.001) * 1000, 1001)):
        if candidate > 0 and abs(1 / candidate - step) <= unit / intervals + eps:
            return float(candidate)
    return float(fractions.Fraction(fps).limit_denominator(1001))
