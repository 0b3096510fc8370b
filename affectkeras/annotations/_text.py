"""Small helpers shared by the annotation readers: lines, CSV columns, media files, number rows.

Every error raised here names the file and the 1-based line number, so a user can open the
file at the offending line.
"""

import csv
import io
import os
import pathlib

import numpy as np

from affectkeras.errors import DataFormatError


def read_text(path):
    """The text of a UTF-8 file (a byte-order mark, written by some spreadsheet tools, dropped).

    Raises:
        DataFormatError: the file is in another encoding (e.g. a spreadsheet's Windows-1252
            export); the message names the first line that is not UTF-8.
    """
    data = pathlib.Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataFormatError(
            path, line, f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8"
        ) from None


def csv_rows(path, **reader_options):
    """`csv.reader` over a UTF-8 file (see `read_text`); its `line_num` numbers the file's lines."""
    return csv.reader(io.StringIO(read_text(path), newline=""), **reader_options)


def read_lines(path):
    """Reads a text file as a list of lines, dropping trailing blank lines.

    Universal newlines make `\\r\\n` files read like `\\n` files; a UTF-8 byte-order mark
    (written by some spreadsheet tools) is dropped.

    Args:
        path: str or path. The file.

    Returns:
        A list of str, one per line, without line endings; line `i` of the list is line
        `i + 1` of the file.

    Raises:
        FileNotFoundError: when the file does not exist (the message names it).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Annotation file not found: {path}")
    lines = read_text(path).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def split_header(line):
    """Splits a CSV header into stripped names."""
    return tuple(name.strip() for name in line.split(","))


def column_index(path, header, name):
    """Returns the position of column `name` (matched without case) in a CSV header.

    Raises:
        DataFormatError: no such column; the message (line 1 of `path`) lists the columns.
    """
    lowered = [h.strip().lower() for h in header]
    if name.lower() not in lowered:
        raise DataFormatError(
            path, 1, f"no column {name!r}; the columns are {', '.join(h.strip() for h in header)}"
        )
    return lowered.index(name.lower())


def list_files(folder, extensions):
    """Returns the files below `folder` (recursively) whose lower-case ending is in `extensions`, sorted.

    Linked folders are followed (a database assembled from links to another's folders), each
    real folder once (a link back up does not loop); `Path.rglob` skips them before Python 3.13.
    Hidden files and folders (a name starting with `.`: macOS's `._name.png` companions of
    copied files, `.cache/`) are no data and are skipped.
    """
    found, seen = [], set()
    for top, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            folders.clear()
            continue
        seen.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [pathlib.Path(top, name) for name in files
                  if not name.startswith(".") and pathlib.Path(name).suffix.lower() in extensions]
    return sorted(p for p in found if p.is_file())


def parse_number_rows(path, rows, first_line, names):
    """Converts rows of number strings to a float64 array, naming the first bad line.

    Args:
        path: str or path. The file, for error messages.
        rows: list of list of str. One list of cells per line; all must have `len(names)`
            cells (checked here).
        first_line: int. The 1-based file line number of `rows[0]`.
        names: sequence of str. The column names, for error messages.

    Returns:
        A float64 array `(len(rows), len(names))`.

    Raises:
        DataFormatError: a row with the wrong number of cells, a cell that is not a finite
            number.
    """
    width = len(names)
    for offset, cells in enumerate(rows):
        if len(cells) != width:
            raise DataFormatError(
                path,
                first_line + offset,
                f"expected {width} comma-separated values ({','.join(names)}), "
                f"found {len(cells)}: {','.join(cells)!r}",
            )
    if not rows:
        return np.zeros((0, width), np.float64)
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        values = None  # find the offending cell below, line by line
    if values is None:
        for offset, cells in enumerate(rows):
            for name, cell in zip(names, cells):
                try:
                    float(cell)
                except ValueError:
                    raise DataFormatError(
                        path, first_line + offset, f"{name} must be a number, found {cell!r}"
                    ) from None
        raise AssertionError("unreachable: numpy rejected a row that float() accepts")
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataFormatError(
            path, first_line + int(row), f"{names[col]} must be a finite number, found {rows[row][col]!r}"
        )
    return values


def first_bad(path, values, invalid, first_line, names, expected):
    """Raises `DataFormatError` for the first True cell of `invalid` (no-op if none).

    Args:
        path: str or path. The file.
        values: array `(rows, k)`. The parsed values.
        invalid: bool array `(rows, k)`. True where a value is not allowed.
        first_line: int. The 1-based file line of row 0.
        names: sequence of str. Column names.
        expected: str. What a valid value is, for the message.
    """
    if not invalid.any():
        return
    row, col = np.argwhere(invalid)[0]
    value = values[row, col]
    shown = int(value) if float(value).is_integer() else float(value)
    raise DataFormatError(
        path, first_line + int(row), f"{names[col]} = {shown} is not valid; expected {expected}"
    )
