"""Audio clip corpora listed in a CSV file: `path,label,subject`, any labels (EMO-DB, CREMA-D, ...).

Speech emotion corpora name their classes differently (CREMA-D's six, EMO-DB's seven in
German, RAVDESS's eight), so a clip list keeps its own class names: the classes are the
distinct labels of the file, sorted, unless the caller fixes them (`classes=`). Labels are
matched without case ("Happy" and "happy" are one class, named as first written).
"""

import dataclasses
import pathlib

from affectkeras.annotations._text import column_index, csv_rows
from affectkeras.errors import DataFormatError


@dataclasses.dataclass
class ClipRecord:
    """One labelled audio clip.

    Args:
        path: str. The audio file.
        label: int. Index of `label_name` in the corpus's classes.
        label_name: str. The class, as `classes` names it.
        subject: str. The speaker (the unit no split divides).
    """

    path: str
    label: int
    label_name: str
    subject: str


def read_clip_csv(path, *, classes=None, root=None, path_column="path", label_column="label",
                  subject_column="subject"):
    """Reads a list of audio clips with their class and speaker.

    Args:
        path: str or path. The CSV file, with a header naming at least the three columns.
        classes: sequence of str or None. The class names, in the order of the model's
            outputs; None = the distinct labels of the file (without case), sorted.
        root: str or path or None. Folder that relative clip paths are relative to;
            default the CSV file's folder.
        path_column, label_column, subject_column: str. Column names (matched without case).

    Returns:
        `(records, classes)`: a list of `ClipRecord` in file order, and the tuple of class names.

    Raises:
        FileNotFoundError: the CSV file does not exist.
        DataFormatError: a missing column, a short row, an empty label or subject, a clip
            that does not exist, a label outside `classes`; the message names the file and
            the line.

    Example:
        >>> records, classes = read_clip_csv("crema-d.csv")
        >>> classes
        ('ANG', 'DIS', 'FEA', 'HAP', 'NEU', 'SAD')
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    base = pathlib.Path(root) if root is not None else path.parent
    rows = []
    reader = csv_rows(path)
    header = next(reader, None)
    if header is None:
        raise DataFormatError(path, 1, f"empty file; expected a header {path_column},{label_column},{subject_column}")
    columns = [column_index(path, header, name) for name in (path_column, label_column, subject_column)]
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(columns):
            raise DataFormatError(path, line, f"expected {len(header)} values, found {len(row)}")
        clip, label, subject = (row[i].strip() for i in columns)
        if not label or not subject:
            raise DataFormatError(path, line, f"empty {label_column if not label else subject_column}")
        clip = clip.replace("\\", "/")  # a list written on Windows
        clip_path = base / clip
        if not clip_path.is_file():
            raise DataFormatError(path, line, f"audio file {clip!r} not found (looked for {clip_path})")
        rows.append((line, str(clip_path), label, subject))
    if not rows:
        raise DataFormatError(path, None, "lists no clip")
    if classes is None:  # each class named as first written ("Happy", "happy ", "HAPPY" are one)
        first = {}
        for _, _, label, _ in rows:
            first.setdefault(label.casefold(), label)
        classes = sorted(first.values(), key=str.casefold)
    classes = tuple(classes)
    index = {name.casefold(): i for i, name in enumerate(classes)}
    records = []
    for line, clip_path, label, subject in rows:
        if label.casefold() not in index:
            raise DataFormatError(path, line, f"label {label!r} is not one of the classes {list(classes)}")
        k = index[label.casefold()]
        records.append(ClipRecord(clip_path, k, classes[k], subject))
    return records, classes


__all__ = ["ClipRecord", "read_clip_csv"]
