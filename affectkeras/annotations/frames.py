"""Per-frame label tables of Aff-Wild2 videos: one task's `Labels`, all three in a `FrameTable`.

The readers of `affectkeras.annotations.affwild2` return these; this module merges one
video's VA / EXPR / AU labels into one table (a task without labels at a frame holds its
sentinel there, masked) and aligns labels to the frames that have a face crop
(`cropped_aligned/<video>/%05d.jpg`).

Labels are always indexed by their 1-based frame index (`frame_indices`), never by
position: frames without a detected face have no crop, so the n-th crop is not frame n.
"""

import dataclasses
import pathlib

import numpy as np

from affectkeras.constants import (
    AU_MASK,
    EXPR_MASK,
    LATEST_EDITION,
    ABAW_EDITIONS,
    TASK_FILES,
    VA_MASK,
    VA_NAMES,
    au_names,
    expression_names,
)
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice

__all__ = [
    "TASKS",
    "FrameTable",
    "Labels",
    "align_to_frames",
    "list_face_frames",
    "merge_annotation_sets",
    "merge_labels",
]

# The three ABAW tasks, by the names the challenge folders and file headers use.
TASKS = tuple(TASK_FILES.values())

# Sentinel and dtype of each task's values.
_SENTINEL = {"VA": VA_MASK, "EXPR": EXPR_MASK, "AU": AU_MASK}
_DTYPE = {"VA": np.float32, "EXPR": np.int64, "AU": np.int64}


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
