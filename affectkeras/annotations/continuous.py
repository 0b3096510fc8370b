"""Continuous per-frame labels from a RECOLA-style CSV, resampled to the library's 30 fps."""

import csv
import dataclasses
import fractions
import pathlib

import numpy as np

from affectkeras.annotations._text import column_index
from affectkeras.annotations.fusion import resample_to_fps
from affectkeras.constants import FPS
from affectkeras.errors import DataFormatError, check_positive

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
):
    """Reads a per-frame continuous label CSV (RECOLA style) and resamples it to `dst_fps`.

    RECOLA's gold standard is at 25 fps (40 ms steps); the papers train at 30 fps, so by
    default the values are resampled linearly to 30 fps with `resample_to_fps` (time
    convention: output frame j at `times[0] + j / dst_fps`). An empty cell or `nan` is a
    frame not annotated. For RECOLA's individual ratings (one column per annotator), read
    the annotator columns and fuse them with `choose_fusion`.

    Args:
        path: str or path. The CSV file (first line a header).
        time_column: str. Column of the times in seconds (matched without case).
        value_columns: sequence of str. Columns of the values.
        src_fps: number or None. Source frame rate; None infers it from the time steps
            (which must then be even).
        dst_fps: number or None. Target frame rate (default `FPS` = 30); None keeps the
            source frames.
        delimiter: str or None. The CSV delimiter; None picks `;` when the header has one
            and no comma, else `,`.

    Returns:
        A `ContinuousLabels`.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: a missing column, a short row, a non-number, times that do not
            increase or are unevenly spaced; the message names the file and line.

    Example:
        >>> gold = read_continuous_csv("recola/gs_train_1.csv", time_column="time",
        ...                            value_columns=("valence", "arousal"))
        >>> gold.fps, gold.values.shape
        (30.0, (9000, 2))
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    value_columns = tuple(value_columns)
    with open(path, encoding="utf-8-sig", newline="") as f:
        first = f.readline()
        if not first.strip():
            raise DataFormatError(
                path, 1, f"empty file; expected a header with {time_column!r} and {value_columns}"
            )
        if delimiter is None:
            delimiter = ";" if ";" in first and "," not in first else ","
        f.seek(0)
        reader = csv.reader(f, delimiter=delimiter)
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
    steps = np.diff(times)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise DataFormatError(path, lines[i], f"times must increase; {times[i]:g} follows {times[i - 1]:g}")
    if src_fps is None:
        if len(times) < 2:
            raise DataFormatError(
                path, None, "cannot infer the frame rate from fewer than 2 rows; pass src_fps"
            )
        step = float(np.median(steps))
        uneven = np.abs(steps - step) > 0.01 * step
        if uneven.any():
            i = int(np.argmax(uneven)) + 1
            raise DataFormatError(
                path,
                lines[i],
                f"times are not evenly spaced (step {steps[i - 1]:g} s, expected {step:g} s); pass src_fps",
            )
        src_fps = float(fractions.Fraction(1 / step).limit_denominator(1001))
    check_positive("src_fps", src_fps)
    mask = np.isfinite(values)
    if dst_fps is None:
        return ContinuousLabels(value_columns, times, values.astype(np.float32), mask, float(src_fps))
    out, out_mask = resample_to_fps(values, src_fps, dst_fps, kind="linear", mask=mask)
    out_times = times[0] + np.arange(len(out)) / float(dst_fps) if len(times) else np.zeros(0)
    return ContinuousLabels(value_columns, out_times, out.astype(np.float32), out_mask, float(dst_fps))


