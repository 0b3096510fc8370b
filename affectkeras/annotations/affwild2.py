"""Readers for the Aff-Wild2 annotation files as distributed for the ABAW challenges.

Three kinds of per-video files (`<video>.txt`, a header line then one line per frame, line
k + 1 = frame k = face crop `cropped_aligned/<video>/%05d.jpg`), the multi-task CSV of
ABAW 2022 and the challenge folder layouts. The readers return the per-frame `Labels` and
`FrameTable` of `affectkeras.annotations.frames`, which merges the three tasks into one
table and aligns labels to the frames that have a face crop.
"""

import pathlib
import re

import numpy as np

from affectkeras.annotations._text import first_bad, parse_number_rows, read_lines, split_header
from affectkeras.annotations.frames import TASKS, FrameTable, Labels
from affectkeras.constants import (
    AU_MASK,
    AUS_8,
    AUS_12,
    EXPR_MASK,
    EXPRESSIONS_7,
    EXPRESSIONS_8,
    VA_MASK,
    VA_NAMES,
)
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice

__all__ = [
    "MTL_HEADER",
    "SPLIT_FOLDERS",
    "TASK_FOLDERS",
    "detect_task",
    "find_annotation_files",
    "find_annotation_folder",
    "read_annotation_file",
    "read_annotation_set",
    "read_mtl_csv",
    "source_video",
]

# Every header a per-video file may start with, and the task it means.
_HEADERS = (
    ("VA", VA_NAMES),
    ("EXPR", EXPRESSIONS_8),
    ("EXPR", EXPRESSIONS_7),
    ("AU", AUS_12),
    ("AU", AUS_8),
)

# Challenge folders, newest layout first (ABAW 2021+, then ABAW 2020).
TASK_FOLDERS = {
    "VA": ("VA_Estimation_Challenge", "VA_Set"),
    "EXPR": ("EXPR_Recognition_Challenge", "EXPR_Classification_Challenge", "EXPR_Set"),
    "AU": ("AU_Detection_Challenge", "AU_Set"),
}
SPLIT_FOLDERS = {
    "train": ("Train_Set", "Training_Set"),
    "validation": ("Validation_Set",),
    "test": ("Test_Set",),
}
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "train_set": "train",
    "training_set": "train",
    "validation": "validation",
    "val": "validation",
    "valid": "validation",
    "validation_set": "validation",
    "test": "test",
    "test_set": "test",
}

# Header of the ABAW 2022 multi-task (MTL) CSV.
MTL_HEADER = ("image",) + VA_NAMES + ("expression",) + AUS_12
# The headers `read_mtl_csv` accepts (lower case): every column named, or the released
# files' `...,expression,aus`, where `aus` stands for the 12 AU columns.
_MTL_HEADERS = (tuple(h.lower() for h in MTL_HEADER), MTL_HEADER[:4] + ("aus",))

_SIDE = re.compile(r"^(?P<source>.+)_(?P<side>left|right)$", re.IGNORECASE)


# ----------------------------------------------------------------------------------------
# Per-video annotation files


def detect_task(header):
    """Returns `(task, names)` for an annotation file header line, or None if unknown.

    Args:
        header: str. The first line of a per-video annotation file.

    Returns:
        `("VA", VA_NAMES)`, `("EXPR", 7 or 8 class names)`, `("AU", 8 or 12 AU names)`, or
        None. Names are compared without case or surrounding spaces.

    Example:
        >>> detect_task("valence,arousal")
        ('VA', ('valence', 'arousal'))
    """
    found = tuple(name.lower() for name in split_header(header))
    for task, names in _HEADERS:
        if found == tuple(name.lower() for name in names):
            return task, names
    return None


def read_annotation_file(path, task=None, *, video=None):
    """Reads one per-video Aff-Wild2 annotation file (VA, EXPR or AU).

    The task and the class / AU set come from the header line (`valence,arousal`; the 8- or
    7-class expression header; the 12- or 8-AU header). Line k + 1 holds frame k.
    VA: two floats in [-1, 1], `-5` = not annotated (a line with only one `-5` makes the
    whole frame unannotated: both values become `-5`). EXPR: one integer in [0, C), `-1` =
    not annotated. AU: one 0/1 per AU, `-1` = that AU not annotated. Trailing blank lines
    and `\\r\\n` line ends are accepted.

    Args:
        path: str or path. The `<video>.txt` file.
        task: str or None. `"VA"`, `"EXPR"` or `"AU"` to insist on a task (a file of another
            task is an error); None accepts any.
        video: str or None. The video name; default the file name without `.txt`.

    Returns:
        A `Labels` with frame indices `1..N`.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: unknown header, a line with too few or too many values, a value
            that is not a number, not an integer (EXPR, AU) or out of range. The message
            names the file and the line.

    Example:
        >>> labels = read_annotation_file("AU_Detection_Challenge/Train_Set/video1.txt")
        >>> labels.names[:3], labels.values.shape
        (('AU1', 'AU2', 'AU4'), (1200, 12))
    """
    if task is not None:
        check_choice("task", task, TASKS)
    path = pathlib.Path(path)
    lines = read_lines(path)
    if not lines:
        raise DataFormatError(path, 1, "empty file; expected a header line such as 'valence,arousal'")
    detected = detect_task(lines[0])
    if detected is None:
        valid = " | ".join(",".join(names) for _, names in _HEADERS)
        raise DataFormatError(path, 1, f"unknown header {lines[0].strip()!r}; expected one of: {valid}")
    found_task, names = detected
    if task is not None and found_task != task:
        raise DataFormatError(
            path, 1, f"this is a {found_task} file (header {lines[0].strip()!r}); expected a {task} file"
        )
    rows = [[cell.strip() for cell in line.split(",")] for line in lines[1:]]
    columns = ("expression",) if found_task == "EXPR" else names  # EXPR: one class index per line
    raw = parse_number_rows(path, rows, 2, columns)
    values, mask = _check_values(path, found_task, names, raw, first_line=2)
    return Labels(video or path.stem, found_task, names, values, mask)


def _check_values(path, task, names, raw, first_line):
    """Checks parsed rows of one task and returns `(values, mask)` (see `read_annotation_file`)."""
    if task == "VA":
        sentinel = raw == VA_MASK
        first_bad(
            path,
            raw,
            ~sentinel & (np.abs(raw) > 1.0),
            first_line,
            names,
            f"a number in [-1, 1] or {VA_MASK:g} (not annotated)",
        )
        mask = ~sentinel.any(axis=1)
        values = np.where(mask[:, None], raw, VA_MASK).astype(np.float32)
        return values, mask
    integral = raw == np.floor(raw)
    if task == "EXPR":
        num_classes = len(names)
        ok = integral & (((raw >= 0) & (raw < num_classes)) | (raw == EXPR_MASK))
        first_bad(
            path,
            raw,
            ~ok,
            first_line,
            ("expression",),
            f"an integer in [0, {num_classes}) or {EXPR_MASK} (not annotated)",
        )
        values = raw[:, 0].astype(np.int64)
        return values, values != EXPR_MASK
    ok = integral & ((raw == 0) | (raw == 1) | (raw == AU_MASK))
    first_bad(path, raw, ~ok, first_line, names, f"0, 1 or {AU_MASK} (not annotated)")
    values = raw.astype(np.int64)
    return values, values != AU_MASK


# ----------------------------------------------------------------------------------------
# Challenge folders


def _normalise_split(split):
    key = str(split).lower()
    if key not in _SPLIT_ALIASES:
        raise InvalidArgumentError(
            f"`split` must be one of {sorted(SPLIT_FOLDERS)} (or a folder name such as "
            f"'Train_Set', 'Training_Set', 'Validation_Set'). Received: split={split!r}"
        )
    return _SPLIT_ALIASES[key]


def find_annotation_folder(root, task, split):
    """Returns the folder that holds one task's annotation files for one split.

    Looks for the ABAW 2021+ layout first (`VA_Estimation_Challenge/Train_Set`,
    `EXPR_Recognition_Challenge/...` or `EXPR_Classification_Challenge/...`,
    `AU_Detection_Challenge/...`), then ABAW 2020's (`VA_Set/Training_Set`, `EXPR_Set/...`,
    `AU_Set/...`).

    Args:
        root: str or path. The annotations root (the folder holding the task folders).
        task: str. `"VA"`, `"EXPR"` or `"AU"`.
        split: str. `"train"`, `"validation"` or `"test"` (folder names like `"Train_Set"`
            are accepted too).

    Returns:
        A `pathlib.Path`.

    Raises:
        FileNotFoundError: none of the candidate folders exists; the message lists them.

    Example:
        >>> find_annotation_folder("annotations", "VA", "train")
        PosixPath('annotations/VA_Estimation_Challenge/Train_Set')
    """
    check_choice("task", task, TASKS)
    split = _normalise_split(split)
    root = pathlib.Path(root)
    candidates = [root / t / s for t in TASK_FOLDERS[task] for s in SPLIT_FOLDERS[split]]
    for folder in candidates:
        if folder.is_dir():
            return folder
    tried = "\n  ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"No {task} {split} annotation folder under {root}; looked for:\n  {tried}")


def find_annotation_files(root, task, split):
    """Returns the sorted `*.txt` annotation files of one task and split under `root`.

    Args:
        root: str or path. The annotations root.
        task: str. `"VA"`, `"EXPR"` or `"AU"`.
        split: str. `"train"`, `"validation"` or `"test"`.

    Returns:
        A list of `pathlib.Path`, sorted by name.

    Raises:
        FileNotFoundError: no folder of either layout exists (see `find_annotation_folder`).

    Example:
        >>> files = find_annotation_files("annotations", "EXPR", "validation")
    """
    folder = find_annotation_folder(root, task, split)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".txt")


def read_annotation_set(root, task, split):
    """Reads every annotation file of one task and split.

    Args:
        root: str or path. The annotations root.
        task: str. `"VA"`, `"EXPR"` or `"AU"`.
        split: str. `"train"`, `"validation"` or `"test"`.

    Returns:
        A dict video name -> `Labels`, in name order.

    Example:
        >>> va = read_annotation_set("annotations", "VA", "train")
    """
    return {p.stem: read_annotation_file(p, task) for p in find_annotation_files(root, task, split)}


def source_video(name):
    """Maps an annotation name to `(source video name, side)`.

    Two people annotated in one video have files `<video>_left.txt` and `<video>_right.txt`;
    both share the video file (and audio track) `<video>`.

    Args:
        name: str. An annotation name (file stem), e.g. `"10-60-1280x720_right"`.

    Returns:
        `(source, side)`, side `"left"`, `"right"` or None.

    Example:
        >>> source_video("10-60-1280x720_right")
        ('10-60-1280x720', 'right')
        >>> source_video("10-60-1280x720")
        ('10-60-1280x720', None)
    """
    match = _SIDE.match(name)
    if match is None:
        return name, None
    return match.group("source"), match.group("side").lower()


# ----------------------------------------------------------------------------------------
# Multi-task CSV (ABAW 2022)


def read_mtl_csv(path):
    """Reads the ABAW 2022 multi-task learning CSV into one `FrameTable` per video.

    Header `image,valence,arousal,expression,AU1,...,AU26`, or the shorter
    `image,valence,arousal,expression,aus` of the challenge's released files, where `aus`
    names the 12 AU values that follow on every line; `image` is like `video/00001.jpg` (the
    frame index is the number in the file name). Sentinels as in the
    per-video files: VA `-5`, expression `-1`, AU `-1`. Only the frames listed appear in a
    table (no gaps are filled in).

    Args:
        path: str or path. The CSV file.

    Returns:
        A dict video -> `FrameTable` (8 expressions, 12 AUs), videos in order of first
        appearance, frames sorted.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: a wrong header, a short or long line, a bad image name, a frame
            listed twice, a non-number or a value out of range; the message names the file
            and the line.

    Example:
        >>> tables = read_mtl_csv("training_set_annotations.txt")
        >>> tables["10-60-1280x720"].expression
    """
    path = pathlib.Path(path)
    lines = read_lines(path)
    if not lines:
        raise DataFormatError(path, 1, f"empty file; expected the header {','.join(MTL_HEADER)}")
    header = tuple(h.lower() for h in split_header(lines[0]))
    if header not in _MTL_HEADERS:
        raise DataFormatError(
            path, 1, f"unknown header {lines[0].strip()!r}; expected {' or '.join(map(','.join, _MTL_HEADERS))}"
        )
    images, rows = [], []
    for offset, line in enumerate(lines[1:]):
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(MTL_HEADER):
            raise DataFormatError(
                path,
                offset + 2,
                f"expected {len(MTL_HEADER)} comma-separated values ({','.join(MTL_HEADER)}), "
                f"found {len(cells)}",
            )
        images.append(cells[0])
        rows.append(cells[1:])
    raw = parse_number_rows(path, rows, 2, MTL_HEADER[1:])
    va, va_mask = _check_values(path, "VA", VA_NAMES, raw[:, 0:2], first_line=2)
    expr, expr_mask = _check_values(path, "EXPR", EXPRESSIONS_8, raw[:, 2:3], first_line=2)
    aus, aus_mask = _check_values(path, "AU", AUS_12, raw[:, 3:], first_line=2)

    groups, seen = {}, {}
    for row, image in enumerate(images):
        video, _, name = image.replace("\\", "/").rpartition("/")
        stem = name.rsplit(".", 1)[0]
        if not video or not stem.isdigit():
            raise DataFormatError(path, row + 2, f"image must look like 'video/00001.jpg', found {image!r}")
        frame = int(stem)
        if (video, frame) in seen:
            raise DataFormatError(
                path, row + 2, f"frame {frame} of {video!r} already listed on line {seen[video, frame]}"
            )
        seen[video, frame] = row + 2
        groups.setdefault(video, []).append((frame, row))
    tables = {}
    for video, items in groups.items():
        items.sort()
        frames = np.array([f for f, _ in items], np.int64)
        rows_ = np.array([r for _, r in items], np.int64)
        tables[video] = FrameTable(
            video=video,
            frame_indices=frames,
            va=va[rows_],
            va_mask=va_mask[rows_],
            expression=expr[rows_],
            expression_mask=expr_mask[rows_],
            aus=aus[rows_],
            aus_mask=aus_mask[rows_],
            expression_names=EXPRESSIONS_8,
            au_names=AUS_12,
        )
    return tables
