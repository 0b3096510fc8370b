"""Readers for the Aff-Wild2 annotation files as distributed for the ABAW challenges.

Three kinds of per-video files (`<video>.txt`, a header line then one line per frame, line
k + 1 = frame k = face crop `cropped_aligned/<video>/%05d.jpg`), the multi-task CSV of
ABAW 2022, the challenge folder layouts, and the helpers that merge the three tasks into
one per-frame table and align labels to the frames that have a face crop.

Labels are always indexed by their 1-based frame index (`frame_indices`), never by
position: frames without a detected face have no crop, so the n-th crop is not frame n.
"""

import dataclasses
import pathlib
import re

import numpy as np

from affectkeras.annotations._text import first_bad, parse_number_rows, read_lines, split_header
from affectkeras.constants import (
    AU_MASK,
    AUS_8,
    AUS_12,
    EXPR_MASK,
    EXPRESSIONS_7,
    EXPRESSIONS_8,
    LATEST_EDITION,
    ABAW_EDITIONS,
    VA_MASK,
    VA_NAMES,
    au_names,
    expression_names,
)
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice

# The three ABAW tasks, by the names the challenge folders and file headers use.
TASKS = ("VA", "EXPR", "AU")

# Sentinel and dtype of each task's values.
_SENTINEL = {"VA": VA_MASK, "EXPR": EXPR_MASK, "AU": AU_MASK}
_DTYPE = {"VA": np.float32, "EXPR": np.int64, "AU": np.int64}

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

_SIDE = re.compile(r"^(?P<source>.+)_(?P<side>left|right)$", re.IGNORECASE)


def _frame_range(n):
    return np.arange(1, n + 1, dtype=np.int64)


@dataclasses.dataclass
class Labels:
    """The labels of one task for one video, indexed by 1-based frame index.

    Values at frames that are not annotated hold the task's sentinel (`VA_MASK`,
    `EXPR_MASK`, `AU_MASK` from `affectkeras.constants`), so they can be written as they are
    into a dataset whose losses skip sentinels.

    Args:
        video: str. Annotation name, e.g. `"10-60-1280x720_left"`.
        task: str. `"VA"`, `"EXPR"` or `"AU"`.
        names: tuple of str. Column names: `VA_NAMES`, the expression classes, or the AUs.
        values: np.ndarray. VA: float32 `(frames, 2)`; EXPR: int64 `(frames,)`;
            AU: int64 `(frames, num_aus)`.
        mask: np.ndarray of bool. True = annotated. VA and EXPR: `(frames,)`;
            AU: `(frames, num_aus)`.
        frame_indices: np.ndarray of int64 `(frames,)`. 1-based frame numbers; default
            `1..frames` (a per-video file lists every frame).

    Example:
        >>> labels = read_annotation_file("VA_Estimation_Challenge/Train_Set/1-30-1280x720.txt")
        >>> labels.values[labels.mask]  # annotated (valence, arousal) pairs
    """

    video: str
    task: str
    names: tuple
    values: np.ndarray
    mask: np.ndarray
    frame_indices: np.ndarray = None

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        self.names = tuple(self.names)
        self.values = np.asarray(self.values, _DTYPE[self.task])
        self.mask = np.asarray(self.mask, bool)
        if self.frame_indices is None:
            self.frame_indices = _frame_range(len(self.values))
        self.frame_indices = np.asarray(self.frame_indices, np.int64)
        if len(self.frame_indices) != len(self.values) or len(self.mask) != len(self.values):
            raise InvalidArgumentError(
                "`values`, `mask` and `frame_indices` must have the same number of frames. "
                f"Received: {len(self.values)}, {len(self.mask)}, {len(self.frame_indices)}"
            )

    def __len__(self):
        return len(self.values)

    @property
    def sentinel(self):
        """The "not annotated" value of this task."""
        return _SENTINEL[self.task]

    @property
    def frame_mask(self):
        """bool `(frames,)`: True where the frame has at least one annotated value."""
        return self.mask.any(axis=1) if self.mask.ndim == 2 else self.mask

    def at_frames(self, frame_indices):
        """Returns these labels at the given 1-based frame indices (see `align_to_frames`)."""
        frame_indices = _check_frame_indices(frame_indices)
        idx, found = _lookup(self.frame_indices, frame_indices)
        return Labels(
            video=self.video,
            task=self.task,
            names=self.names,
            values=_gather(self.values, idx, found, self.sentinel),
            mask=_gather(self.mask, idx, found, False),
            frame_indices=frame_indices,
        )


@dataclasses.dataclass
class FrameTable:
    """All three tasks' labels of one video on one set of frames.

    A task without labels for a frame (no file for that task, a frame past its end, or a
    sentinel in the file) has its sentinel there and mask False.

    Args:
        video: str. Annotation name.
        frame_indices: np.ndarray of int64 `(frames,)`. 1-based frame numbers, sorted.
        va: np.ndarray of float32 `(frames, 2)`. Valence, arousal.
        va_mask: np.ndarray of bool `(frames,)`.
        expression: np.ndarray of int64 `(frames,)`. Class index.
        expression_mask: np.ndarray of bool `(frames,)`.
        aus: np.ndarray of int64 `(frames, num_aus)`. 0/1 per AU.
        aus_mask: np.ndarray of bool `(frames, num_aus)`.
        expression_names: tuple of str. The 7 or 8 expression classes.
        au_names: tuple of str. The 8 or 12 AUs.

    Example:
        >>> table = merge_labels([va_labels, expr_labels])  # no AU file: AUs all masked
        >>> table.labels("EXPR").values
    """

    video: str
    frame_indices: np.ndarray
    va: np.ndarray
    va_mask: np.ndarray
    expression: np.ndarray
    expression_mask: np.ndarray
    aus: np.ndarray
    aus_mask: np.ndarray
    expression_names: tuple
    au_names: tuple

    def __len__(self):
        return len(self.frame_indices)

    def labels(self, task):
        """Returns one task's `Labels` over this table's frames."""
        check_choice("task", task, TASKS)
        values, mask, names = {
            "VA": (self.va, self.va_mask, VA_NAMES),
            "EXPR": (self.expression, self.expression_mask, self.expression_names),
            "AU": (self.aus, self.aus_mask, self.au_names),
        }[task]
        return Labels(self.video, task, names, values, mask, self.frame_indices)

    def at_frames(self, frame_indices):
        """Returns this table at the given 1-based frame indices (see `align_to_frames`)."""
        parts = {task: self.labels(task).at_frames(frame_indices) for task in TASKS}
        return _table(self.video, parts["VA"].frame_indices, parts, self.expression_names, self.au_names)


def _table(video, frame_indices, parts, expr_names, au_names_):
    return FrameTable(
        video=video,
        frame_indices=np.asarray(frame_indices, np.int64),
        va=parts["VA"].values,
        va_mask=parts["VA"].mask,
        expression=parts["EXPR"].values,
        expression_mask=parts["EXPR"].mask,
        aus=parts["AU"].values,
        aus_mask=parts["AU"].mask,
        expression_names=tuple(expr_names),
        au_names=tuple(au_names_),
    )


def _check_frame_indices(frame_indices):
    frame_indices = np.asarray(frame_indices)
    if frame_indices.ndim != 1 or (frame_indices.size and not np.issubdtype(frame_indices.dtype, np.integer)):
        raise InvalidArgumentError(
            f"`frame_indices` must be a 1-D sequence of integers. Received: frame_indices={frame_indices!r}"
        )
    if frame_indices.size and frame_indices.min() < 1:
        raise InvalidArgumentError(
            "`frame_indices` are 1-based (face crop 00001.jpg is frame 1). "
            f"Received: frame_indices with minimum {frame_indices.min()}"
        )
    return frame_indices.astype(np.int64)


def _lookup(source_frames, wanted):
    """Positions of `wanted` frame indices in `source_frames`, and whether each exists."""
    if len(source_frames) == 0:
        return np.zeros(len(wanted), np.int64), np.zeros(len(wanted), bool)
    order = np.argsort(source_frames, kind="stable")
    ordered = source_frames[order]
    pos = np.minimum(np.searchsorted(ordered, wanted), len(ordered) - 1)
    return order[pos], ordered[pos] == wanted


def _gather(array, idx, found, fill):
    out = array[idx] if len(array) else np.zeros((len(idx),) + array.shape[1:], array.dtype)
    out = out.copy()
    out[~found] = fill
    return out


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
# Merging tasks and aligning to face crops


def _names_for(task, given, found, default):
    if found is not None and given is not None and len(found) != given:
        raise InvalidArgumentError(
            f"The {task} labels have {len(found)} columns but {given} were requested. "
            f"Received: {'num_expressions' if task == 'EXPR' else 'num_aus'}={given}"
        )
    if found is not None:
        return found
    return default(given)


def merge_labels(labels, *, video=None, num_expressions=None, num_aus=None):
    """Merges one video's VA / EXPR / AU labels into one per-frame table.

    The table's frames are the union of the tasks' frames; a task with no labels (no file)
    or no label at a frame is masked there and holds its sentinel.

    Args:
        labels: iterable of `Labels`. At most one per task, all of one video.
        video: str or None. The video name; default the labels' (which must agree).
        num_expressions: int or None. 7 or 8; only needed when there are no EXPR labels
            (default: the latest ABAW edition's).
        num_aus: int or None. 8 or 12; only needed when there are no AU labels.

    Returns:
        A `FrameTable`.

    Raises:
        InvalidArgumentError: two labels of one task, labels of different videos, or a
            class / AU count that contradicts the labels.

    Example:
        >>> table = merge_labels([va["v1"], expr["v1"]], num_aus=12)
    """
    by_task = {}
    for item in labels:
        if item.task in by_task:
            raise InvalidArgumentError(
                f"Two {item.task} labels given for one video. Received: {item.video!r}"
            )
        by_task[item.task] = item
    videos = {item.video for item in by_task.values()}
    if video is None:
        if len(videos) != 1:
            raise InvalidArgumentError(
                "`labels` must hold labels of exactly one video (or pass `video`). "
                f"Received videos: {sorted(videos)}"
            )
        video = videos.pop()
    latest = ABAW_EDITIONS[LATEST_EDITION]
    expr_names = _names_for(
        "EXPR",
        num_expressions,
        by_task["EXPR"].names if "EXPR" in by_task else None,
        lambda n: expression_names(n or latest["num_expressions"]),
    )
    au_names_ = _names_for(
        "AU",
        num_aus,
        by_task["AU"].names if "AU" in by_task else None,
        lambda n: au_names(n or latest["num_aus"]),
    )
    frames = np.unique(
        np.concatenate([item.frame_indices for item in by_task.values()] + [np.zeros(0, np.int64)])
    )
    empty = {
        "VA": Labels(video, "VA", VA_NAMES, np.zeros((0, 2)), np.zeros(0, bool), np.zeros(0)),
        "EXPR": Labels(video, "EXPR", expr_names, np.zeros(0), np.zeros(0, bool), np.zeros(0)),
        "AU": Labels(
            video,
            "AU",
            au_names_,
            np.zeros((0, len(au_names_))),
            np.zeros((0, len(au_names_)), bool),
            np.zeros(0),
        ),
    }
    parts = {task: by_task.get(task, empty[task]).at_frames(frames) for task in TASKS}
    return _table(video, frames, parts, expr_names, au_names_)


def merge_annotation_sets(va=None, expr=None, au=None, *, num_expressions=None, num_aus=None):
    """Merges per-task dicts of `Labels` (as from `read_annotation_set`) video by video.

    Args:
        va: dict video -> `Labels` or None.
        expr: dict video -> `Labels` or None.
        au: dict video -> `Labels` or None.
        num_expressions: int or None. See `merge_labels`.
        num_aus: int or None. See `merge_labels`.

    Returns:
        A dict video -> `FrameTable` over the union of the videos, in name order. Every
        table has the same expression classes and AUs: those of the set's files (so a
        video without an AU file gets masked columns of the AU set the others use).

    Raises:
        InvalidArgumentError: files of one task with different class / AU sets.

    Example:
        >>> tables = merge_annotation_sets(
        ...     va=read_annotation_set(root, "VA", "train"), au=read_annotation_set(root, "AU", "train"))
    """
    sets = [s or {} for s in (va, expr, au)]
    num_expressions = _common_width("EXPR", sets[1], num_expressions)
    num_aus = _common_width("AU", sets[2], num_aus)
    videos = sorted(set().union(*sets))
    return {
        v: merge_labels(
            [s[v] for s in sets if v in s], video=v, num_expressions=num_expressions, num_aus=num_aus
        )
        for v in videos
    }


def _common_width(task, labels_by_video, given):
    """The one class / AU count of a set of labels (or `given`), checking they agree."""
    widths = {len(labels.names) for labels in labels_by_video.values()}
    if given is not None:
        widths.add(given)
    if len(widths) > 1:
        raise InvalidArgumentError(
            f"The {task} labels mix class / AU sets of sizes {sorted(widths)}; merge them separately"
        )
    return widths.pop() if widths else None


def list_face_frames(directory, extensions=(".jpg", ".jpeg", ".png", ".bmp")):
    """Returns the sorted 1-based frame indices of the face crops in one video's folder.

    Args:
        directory: str or path. `cropped_aligned/<video>/`, files named like `00001.jpg`.
        extensions: tuple of str. Image file name endings to consider (others are ignored).

    Returns:
        np.ndarray of int64 `(crops,)`, sorted.

    Raises:
        FileNotFoundError: the folder does not exist.
        DataFormatError: an image whose name is not a frame number.

    Example:
        >>> list_face_frames("cropped_aligned/10-60-1280x720")
        array([1, 2, 5, ...])
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"Face crop folder not found: {directory}")
    frames = []
    for path in directory.iterdir():
        if path.suffix.lower() not in extensions:
            continue
        if not path.stem.isdigit():
            raise DataFormatError(
                path, None, "a face crop must be named by its 1-based frame number, like 00001.jpg"
            )
        frames.append(int(path.stem))
    return np.array(sorted(frames), np.int64)


def align_to_frames(labels, frame_indices):
    """Returns labels for exactly the given frame indices (matched by index, never position).

    Use it with `list_face_frames` to keep the labels of the frames that have a face crop.
    A frame the labels do not cover (past the end of the annotation file, say) is masked
    and holds the task's sentinel.

    Args:
        labels: `Labels` or `FrameTable`.
        frame_indices: sequence of int. 1-based frame indices, in the order wanted.

    Returns:
        The same type as `labels`, with one row per requested frame.

    Example:
        >>> crops = list_face_frames("cropped_aligned/1-30-1280x720")
        >>> aligned = align_to_frames(read_annotation_file("1-30-1280x720.txt"), crops)
    """
    if not isinstance(labels, (Labels, FrameTable)):
        raise InvalidArgumentError(
            f"`labels` must be a Labels or a FrameTable. Received: labels={type(labels).__name__}"
        )
    return labels.at_frames(frame_indices)


# ----------------------------------------------------------------------------------------
# Multi-task CSV (ABAW 2022)


def read_mtl_csv(path):
    """Reads the ABAW 2022 multi-task learning CSV into one `FrameTable` per video.

    Header `image,valence,arousal,expression,AU1,...,AU26`; `image` is like
    `video/00001.jpg` (the frame index is the number in the file name). Sentinels as in the
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
    header = split_header(lines[0])
    if tuple(h.lower() for h in header) != tuple(h.lower() for h in MTL_HEADER):
        raise DataFormatError(
            path, 1, f"unknown header {lines[0].strip()!r}; expected {','.join(MTL_HEADER)}"
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
