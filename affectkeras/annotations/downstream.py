"""Readers for the databases users fine-tune on, and subject-independent splits.

Expression image databases (folder exports of AffectNet / RAF-DB / CK+, CSV lists,
FER2013, JAFFE) become lists of `ExpressionRecord` with the library's expression indices
(`affectkeras.constants.EXPRESSIONS_8`: 0 Neutral, 1 Anger, 2 Disgust, 3 Fear,
4 Happiness, 5 Sadness, 6 Surprise, 7 Other); RAVDESS clips become `RavdessRecord`; a
RECOLA-style continuous CSV becomes a `ContinuousLabels` at 30 fps. `split_by_subject` and
`kfold_by_subject` never put one subject on both sides, the norm for all these databases.

Class names: each database's names map to the library's classes through case-insensitive
aliases (happy/happiness, angry/anger, sad/sadness, surprised/surprise, fear/fearful,
disgust/disgusted, neutral, other). A name that is none of them (CK+'s and AffectNet's
"contempt", say) is an error listing the valid names, unless `unknown="drop"` (skip such
records) or a `class_map` says what to do with it (`{"contempt": "Other"}` keeps it as
Other, `{"contempt": None}` drops it).
"""

import csv
import dataclasses
import fractions
import operator
import pathlib
import re
import warnings

import numpy as np

from affectkeras.annotations.fusion import resample_to_fps
from affectkeras.constants import EXPRESSIONS_8, FPS, RAVDESS_EMOTIONS, expression_names
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice, check_positive

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".pgm", ".ppm")

# Lower-case aliases -> library expression names.
EXPRESSION_ALIASES = {
    **{name.lower(): name for name in EXPRESSIONS_8},
    "happy": "Happiness",
    "angry": "Anger",
    "sad": "Sadness",
    "surprised": "Surprise",
    "fearful": "Fear",
    "disgusted": "Disgust",
}

# Numeric class codes of database exports (None = no library class: dropped).
AFFECTNET_CLASS_MAP = {
    "0": "Neutral",
    "1": "Happiness",
    "2": "Sadness",
    "3": "Surprise",
    "4": "Fear",
    "5": "Disgust",
    "6": "Anger",
    "7": None,  # Contempt
    "8": None,  # None
    "9": None,  # Uncertain
    "10": None,  # Non-Face
}
RAFDB_CLASS_MAP = {
    "1": "Surprise",
    "2": "Fear",
    "3": "Disgust",
    "4": "Happiness",
    "5": "Sadness",
    "6": "Anger",
    "7": "Neutral",
}
# FER2013's `emotion` codes 0..6.
FER2013_EMOTIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise", "Neutral")
# JAFFE file-name expression codes (`KA.AN1.39.tiff`).
JAFFE_CODES = {
    "AN": "Anger",
    "DI": "Disgust",
    "FE": "Fear",
    "HA": "Happiness",
    "NE": "Neutral",
    "SA": "Sadness",
    "SU": "Surprise",
}
FER2013_SIZE = 48

_JAFFE_NAME = re.compile(r"^(?P<subject>[A-Za-z]+)\.(?P<code>[A-Za-z]{2})\d*\.\d+$")
_RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_RAVDESS_MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
_RAVDESS_CHANNELS = {1: "speech", 2: "song"}
_RAVDESS_INTENSITIES = {1: "normal", 2: "strong"}


@dataclasses.dataclass
class ExpressionRecord:
    """One labelled face image of an expression database.

    Args:
        image: str or np.ndarray. The image's path, or its pixels (FER2013: uint8 `(48, 48)`).
        label: int. Library expression index (see `EXPRESSIONS_8`).
        label_name: str. The library class name of `label`.
        subject: str or None. Subject id (None when the database has none).
        split: str or None. The database's own split (FER2013 `Usage`), if any.
    """

    image: object
    label: int
    label_name: str
    subject: str = None
    split: str = None


# ----------------------------------------------------------------------------------------
# Class names


class _Resolver:
    """Maps a database's class label (name or number) to a library index, or None = drop."""

    def __init__(self, class_map, unknown, num_classes):
        check_choice("unknown", unknown, ("error", "drop"))
        check_choice("num_classes", num_classes, (7, 8))
        self.names = expression_names(num_classes)
        self.unknown = unknown
        self.class_map = {}
        for key, target in (class_map or {}).items():
            index = None if target is None else self._library_index(target)
            if target is not None and index is None:
                raise InvalidArgumentError(
                    f"`class_map` maps {key!r} to {target!r}, which is not one of {self.valid()}. "
                    f"Received: class_map={class_map!r}"
                )
            self.class_map[str(key).strip().lower()] = index

    def _library_index(self, label):
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            return int(label) if 0 <= label < len(self.names) else None
        text = str(label).strip()
        name = EXPRESSION_ALIASES.get(text.lower())
        if name in self.names:
            return self.names.index(name)
        if text.isdigit() and int(text) < len(self.names):
            return int(text)
        return None

    def valid(self):
        aliases = {}
        for alias, name in EXPRESSION_ALIASES.items():
            if name in self.names and alias != name.lower():
                aliases.setdefault(name, []).append(alias)
        parts = [f"{n.lower()} ({'/'.join(aliases[n])})" if n in aliases else n.lower() for n in self.names]
        return ", ".join(parts) + f", or an index 0-{len(self.names) - 1}"

    def __call__(self, label):
        """Returns the index, None to drop, or raises ValueError with the reason."""
        key = str(label).strip().lower()
        if key in self.class_map:
            return self.class_map[key]
        index = self._library_index(label)
        if index is not None:
            return index
        if self.unknown == "drop":
            return None
        raise ValueError(
            f"unknown expression class {str(label).strip()!r}; valid: {self.valid()}. Pass unknown='drop' "
            f"to skip such records, or class_map={{{str(label).strip()!r}: 'Other'}} (or None) to map them"
        )


def _subject(pattern, relative, path, line):
    if pattern is None:
        return None
    match = pattern.search(relative)
    if match is None or match.group(1) is None:
        raise DataFormatError(path, line, f"{relative!r} does not match subject_pattern {pattern.pattern!r}")
    return match.group(1)


def _compile(subject_pattern):
    if subject_pattern is None:
        return None
    pattern = re.compile(subject_pattern)
    if pattern.groups < 1:
        raise InvalidArgumentError(
            "`subject_pattern` needs a group for the subject id, e.g. r'^(S\\d+)/'. "
            f"Received: subject_pattern={subject_pattern!r}"
        )
    return pattern


def _images(folder, extensions):
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions)


# ----------------------------------------------------------------------------------------
# Expression image databases


def read_expression_folder(
    root, *, subject_pattern=None, class_map=None, unknown="error", num_classes=8, extensions=IMAGE_EXTENSIONS
):
    """Reads a `<root>/<class>/<image>` expression database (AffectNet, RAF-DB, CK+ exports).

    Every sub-folder of `root` is a class; its images (in nested folders too) are records.
    Folder names are matched to the library's classes by case-insensitive aliases (see the
    module docstring), numbers are library indices unless `class_map` maps them (use
    `AFFECTNET_CLASS_MAP` or `RAFDB_CLASS_MAP` for those databases' numbered folders).

    Args:
        root: str or path. The database folder.
        subject_pattern: str or None. A regular expression searched in each image's path
            relative to `root` (with `/` separators); group 1 is the subject id. None = no
            subject ids.
        class_map: dict or None. Folder name -> library class name, alias or index, or
            None to drop that folder. Keys are matched without case.
        unknown: str. `"error"` (default): a folder that is no class is an error listing the
            valid names; `"drop"`: such folders are skipped.
        num_classes: int. 7 (no Other) or 8.
        extensions: tuple of str. Image file endings to read.

    Returns:
        A list of `ExpressionRecord` sorted by path.

    Raises:
        FileNotFoundError: `root` does not exist.
        DataFormatError: an unknown class folder (with `unknown="error"`), or an image path
            that does not match `subject_pattern` (the message names them).

    Example:
        >>> records = read_expression_folder("CK+", subject_pattern=r"/(S\\d{3})_")
        >>> records[0].label_name, records[0].subject
        ('Anger', 'S010')
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Expression database folder not found: {root}")
    resolve = _Resolver(class_map, unknown, num_classes)
    pattern = _compile(subject_pattern)
    records = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            label = resolve(folder.name)
        except ValueError as e:
            raise DataFormatError(folder, None, str(e)) from None
        if label is None:
            continue
        for image in _images(folder, extensions):
            relative = image.relative_to(root).as_posix()
            records.append(
                ExpressionRecord(
                    str(image), label, resolve.names[label], _subject(pattern, relative, image, None)
                )
            )
    return records


def _column(path, header, name):
    lowered = [h.strip().lower() for h in header]
    if name.lower() not in lowered:
        raise DataFormatError(
            path, 1, f"no column {name!r}; the columns are {', '.join(h.strip() for h in header)}"
        )
    return lowered.index(name.lower())


def read_expression_csv(
    path,
    *,
    path_column="path",
    label_column="label",
    subject_column=None,
    subject_pattern=None,
    root=None,
    delimiter=",",
    class_map=None,
    unknown="error",
    num_classes=8,
):
    """Reads an expression database listed in a CSV file (one image per row).

    Args:
        path: str or path. The CSV file (first line a header).
        path_column: str. Column of the image paths (matched without case).
        label_column: str. Column of the class: a name or alias, or a number (a library
            index unless `class_map` maps it, e.g. `AFFECTNET_CLASS_MAP` for AffectNet's
            `expression` column).
        subject_column: str or None. Column of the subject id.
        subject_pattern: str or None. Otherwise, a regular expression searched in the path
            as written in the CSV; group 1 is the subject id.
        root: str or path or None. Folder that relative image paths are relative to;
            default the CSV file's folder.
        delimiter: str. The CSV delimiter.
        class_map: dict or None. Label -> library class, or None to drop (see
            `read_expression_folder`).
        unknown: str. `"error"` or `"drop"` for labels that are no class.
        num_classes: int. 7 or 8.

    Returns:
        A list of `ExpressionRecord` in file order.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: a missing column, a short row, an unknown label, a path that does
            not match `subject_pattern`; the message names the file and line.

    Example:
        >>> records = read_expression_csv(
        ...     "training.csv", path_column="subDirectory_filePath", label_column="expression",
        ...     class_map=AFFECTNET_CLASS_MAP)
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    if subject_column is not None and subject_pattern is not None:
        raise InvalidArgumentError(
            "Pass `subject_column` or `subject_pattern`, not both. "
            f"Received: subject_column={subject_column!r}, "
            f"subject_pattern={subject_pattern!r}"
        )
    resolve = _Resolver(class_map, unknown, num_classes)
    pattern = _compile(subject_pattern)
    base = pathlib.Path(root) if root is not None else path.parent
    records = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise DataFormatError(
                path, 1, f"empty file; expected a header with columns {path_column!r} and {label_column!r}"
            )
        columns = [_column(path, header, path_column), _column(path, header, label_column)]
        if subject_column is not None:
            columns.append(_column(path, header, subject_column))
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) <= max(columns):
                raise DataFormatError(path, line, f"expected {len(header)} values, found {len(row)}")
            image, label_text = row[columns[0]].strip(), row[columns[1]]
            try:
                label = resolve(label_text)
            except ValueError as e:
                raise DataFormatError(path, line, str(e)) from None
            if label is None:
                continue
            if subject_column is not None:
                subject = row[columns[2]].strip() or None
            else:
                subject = _subject(pattern, image.replace("\\", "/"), path, line)
            records.append(ExpressionRecord(str(base / image), label, resolve.names[label], subject))
    return records


def _fer_pixels(path, line, text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (instead of failing) on a bad number
        try:
            pixels = np.fromstring(text, dtype=np.int64, sep=" ")
        except (DeprecationWarning, ValueError):
            pixels = None
    size = FER2013_SIZE * FER2013_SIZE
    if pixels is None or pixels.size != size:
        raise DataFormatError(path, line, f"pixels must be {size} space-separated integers (48x48)")
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataFormatError(path, line, "pixels must be integers in [0, 255]")
    return pixels.astype(np.uint8).reshape(FER2013_SIZE, FER2013_SIZE)


def read_fer2013(path, *, num_classes=8):
    """Reads the FER2013 CSV (`emotion,pixels,Usage`) into records with pixel arrays.

    FER2013's emotion codes (0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise,
    6 Neutral) are mapped to the library's order; FER2013 has no subject ids.

    Args:
        path: str or path. `fer2013.csv`.
        num_classes: int. 7 or 8 (FER2013 has no Other; the indices are the same).

    Returns:
        A list of `ExpressionRecord`: `image` uint8 `(48, 48)`, `subject` None, `split` the
        `Usage` column (`"Training"`, `"PublicTest"`, `"PrivateTest"`) or None without it.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: a missing column, a bad emotion code, pixels that are not 2304
            integers in [0, 255]; the message names the file and line.

    Example:
        >>> train = [r for r in read_fer2013("fer2013.csv") if r.split == "Training"]
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FER2013 CSV not found: {path}")
    names = expression_names(num_classes)
    records = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DataFormatError(path, 1, "empty file; expected the header emotion,pixels,Usage")
        emotion_col, pixels_col = _column(path, header, "emotion"), _column(path, header, "pixels")
        lowered = [h.strip().lower() for h in header]
        usage_col = lowered.index("usage") if "usage" in lowered else None
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataFormatError(path, line, f"expected {len(header)} values, found {len(row)}")
            code = row[emotion_col].strip()
            if not code.isdigit() or int(code) >= len(FER2013_EMOTIONS):
                raise DataFormatError(path, line, f"emotion must be an integer 0-6, found {code!r}")
            name = FER2013_EMOTIONS[int(code)]
            usage = row[usage_col].strip() if usage_col is not None else None
            records.append(
                ExpressionRecord(
                    _fer_pixels(path, line, row[pixels_col]), names.index(name), name, None, usage
                )
            )
    return records


def read_jaffe(root, *, num_classes=8, extensions=IMAGE_EXTENSIONS):
    """Reads the JAFFE database from its file names (`KA.AN1.39.tiff`).

    The name gives the subject (`KA`) and the expression code (`AN` anger, `DI` disgust,
    `FE` fear, `HA` happiness, `NE` neutral, `SA` sadness, `SU` surprise).

    Args:
        root: str or path. The folder of JAFFE images (searched recursively).
        num_classes: int. 7 or 8.
        extensions: tuple of str. Image file endings to read (other files are ignored).

    Returns:
        A list of `ExpressionRecord` sorted by path, `subject` the two-letter subject code.

    Raises:
        FileNotFoundError: `root` does not exist.
        DataFormatError: an image whose name is not a JAFFE name or has an unknown code.

    Example:
        >>> records = read_jaffe("jaffe")
        >>> kfold_by_subject(records, 10)  # leave one subject out (10 subjects)
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"JAFFE folder not found: {root}")
    names = expression_names(num_classes)
    records = []
    for image in _images(root, extensions):
        match = _JAFFE_NAME.match(image.stem)
        code = match.group("code").upper() if match else None
        if code not in JAFFE_CODES:
            raise DataFormatError(
                image,
                None,
                f"expected a JAFFE name like KA.AN1.39.tiff with an expression code in {sorted(JAFFE_CODES)}",
            )
        name = JAFFE_CODES[code]
        records.append(ExpressionRecord(str(image), names.index(name), name, match.group("subject").upper()))
    return records


# ----------------------------------------------------------------------------------------
# RAVDESS


@dataclasses.dataclass
class RavdessRecord:
    """One RAVDESS clip, described by its file name `MM-VV-EE-II-SS-RR-AA.ext`.

    Args:
        path: str. The file.
        modality: str. `"audio-video"`, `"video-only"` or `"audio-only"` (MM 01-03).
        vocal_channel: str. `"speech"` or `"song"` (VV 01-02).
        emotion: int. Index 0-7 into `RAVDESS_EMOTIONS` (EE 01-08).
        emotion_name: str. `RAVDESS_EMOTIONS[emotion]`.
        intensity: str. `"normal"` or `"strong"` (II 01-02).
        statement: int. 1 ("Kids are talking by the door") or 2 ("Dogs are sitting by the door").
        repetition: int. 1 or 2.
        actor: int. 1-24.
        sex: str. `"male"` for odd actors, `"female"` for even ones.
    """

    path: str
    modality: str
    vocal_channel: str
    emotion: int
    emotion_name: str
    intensity: str
    statement: int
    repetition: int
    actor: int
    sex: str

    @property
    def subject(self):
        """The subject id for subject-independent splits: the actor number."""
        return self.actor

    @property
    def label(self):
        """The class index (same as `emotion`)."""
        return self.emotion


def parse_ravdess_name(path):
    """Parses one RAVDESS file name into a `RavdessRecord`.

    Args:
        path: str or path. A file named `MM-VV-EE-II-SS-RR-AA.ext`, e.g. `03-01-05-02-01-01-12.wav`.

    Returns:
        A `RavdessRecord`.

    Raises:
        DataFormatError: the name is not a RAVDESS code or a field is out of range.

    Example:
        >>> parse_ravdess_name("03-01-05-02-01-01-12.wav").emotion_name
        'angry'
    """
    path = pathlib.Path(path)
    match = _RAVDESS_NAME.match(path.stem)
    expected = "expected a RAVDESS name MM-VV-EE-II-SS-RR-AA (7 two-digit codes)"
    if match is None:
        raise DataFormatError(path, None, expected)
    mm, vv, ee, ii, ss, rr, aa = (int(g) for g in match.groups())
    checks = (
        ("modality", mm, 1, 3),
        ("vocal channel", vv, 1, 2),
        ("emotion", ee, 1, 8),
        ("intensity", ii, 1, 2),
        ("statement", ss, 1, 2),
        ("repetition", rr, 1, 2),
        ("actor", aa, 1, 24),
    )
    for field, value, low, high in checks:
        if not low <= value <= high:
            raise DataFormatError(
                path, None, f"{expected}; {field} code {value:02d} is not in {low:02d}..{high:02d}"
            )
    return RavdessRecord(
        path=str(path),
        modality=_RAVDESS_MODALITIES[mm],
        vocal_channel=_RAVDESS_CHANNELS[vv],
        emotion=ee - 1,
        emotion_name=RAVDESS_EMOTIONS[ee - 1],
        intensity=_RAVDESS_INTENSITIES[ii],
        statement=ss,
        repetition=rr,
        actor=aa,
        sex="male" if aa % 2 else "female",
    )


def read_ravdess(root, *, extensions=(".wav", ".flac", ".mp4")):
    """Reads a RAVDESS folder (e.g. `Actor_01/03-01-01-01-01-01-01.wav`, any nesting).

    Args:
        root: str or path. The folder, searched recursively.
        extensions: tuple of str. Media file endings to read (others, e.g. a CSV, are ignored).

    Returns:
        A list of `RavdessRecord` sorted by path.

    Raises:
        FileNotFoundError: `root` does not exist.
        DataFormatError: a media file whose name is not a RAVDESS code.

    Example:
        >>> records = read_ravdess("ravdess_speech_16k")
        >>> train, test = split_by_subject(records, test_subjects=[4])
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"RAVDESS folder not found: {root}")
    return [parse_ravdess_name(p) for p in _images(root, tuple(e.lower() for e in extensions))]


# ----------------------------------------------------------------------------------------
# Continuous VA (RECOLA)


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
        columns = [_column(path, header, c) for c in (time_column,) + value_columns]
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


# ----------------------------------------------------------------------------------------
# Subject-independent splits


def _subjects(records, key):
    key = key or operator.attrgetter("subject")
    ids = [key(r) for r in records]
    missing = sum(s is None for s in ids)
    if missing:
        raise InvalidArgumentError(
            "Every record needs a subject id for a subject-independent split; "
            f"{missing} of {len(ids)} have none "
            "(pass `subject_pattern` to the reader). Received: records without subject"
        )
    return ids, sorted(set(ids), key=lambda s: (str(type(s)), s))


def split_by_subject(records, *, test_fraction=None, test_subjects=None, seed=0, key=None):
    """Splits records into train and test so that no subject is on both sides.

    Args:
        records: sequence of records with a `subject` attribute (or see `key`).
        test_fraction: float or None. Fraction of the *subjects* (not records) to put in the
            test side, in (0, 1); rounded, at least 1 subject and at least 1 left for train.
            The subjects are drawn at random with `seed`.
        test_subjects: iterable or None. The test subjects, instead of `test_fraction`.
        seed: int. Random seed for `test_fraction`.
        key: callable or None. Record -> subject id; default `record.subject`.

    Returns:
        `(train, test)`: two lists of records, each in the original order.

    Raises:
        InvalidArgumentError: both or neither of `test_fraction` / `test_subjects`, a record
            without subject, fewer than 2 subjects, an unknown test subject.

    Example:
        >>> train, test = split_by_subject(read_ravdess(root), test_fraction=0.25, seed=1)
    """
    if (test_fraction is None) == (test_subjects is None):
        raise InvalidArgumentError(
            "Pass exactly one of `test_fraction` and `test_subjects`. "
            f"Received: test_fraction={test_fraction!r}, "
            f"test_subjects={test_subjects!r}"
        )
    ids, subjects = _subjects(records, key)
    if test_subjects is not None:
        test = set(test_subjects)
        unknown = sorted((s for s in test if s not in set(subjects)), key=str)
        if unknown:
            raise InvalidArgumentError(
                f"`test_subjects` has subjects the records do not: {unknown}; known: {subjects}. "
                f"Received: test_subjects={sorted(test, key=str)}"
            )
    else:
        if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
            raise InvalidArgumentError(
                f"`test_fraction` must be in (0, 1). Received: test_fraction={test_fraction!r}"
            )
        if len(subjects) < 2:
            raise InvalidArgumentError(f"A split needs at least 2 subjects. Received: subjects {subjects}")
        count = min(max(int(round(test_fraction * len(subjects))), 1), len(subjects) - 1)
        order = np.random.default_rng(seed).permutation(len(subjects))
        test = {subjects[i] for i in order[:count]}
    train_records = [r for r, s in zip(records, ids) if s not in test]
    test_records = [r for r, s in zip(records, ids) if s in test]
    return train_records, test_records


def kfold_by_subject(records, k, *, seed=None, key=None):
    """Subject-independent k-fold cross-validation folds.

    The subjects (sorted, or shuffled with `seed`) are dealt round-robin into `k` folds;
    fold i's test side holds the records of its subjects, its train side all others. With
    `k` equal to the number of subjects this is leave-one-subject-out.

    Args:
        records: sequence of records with a `subject` attribute (or see `key`).
        k: int. Number of folds, 2 <= k <= number of subjects.
        seed: int or None. Shuffles the subjects before dealing; None keeps sorted order.
        key: callable or None. Record -> subject id; default `record.subject`.

    Returns:
        A list of `k` pairs `(train, test)` of lists of records (original order).

    Example:
        >>> for train, test in kfold_by_subject(read_jaffe("jaffe"), 10):  # leave one out
        ...     pass
    """
    check_positive("k", k, integer=True)
    ids, subjects = _subjects(records, key)
    if not 2 <= k <= len(subjects):
        raise InvalidArgumentError(
            f"`k` must be between 2 and the number of subjects ({len(subjects)}). Received: k={k}"
        )
    if seed is not None:
        subjects = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    folds = []
    for fold in range(k):
        test = set(subjects[fold::k])
        folds.append(
            (
                [r for r, s in zip(records, ids) if s not in test],
                [r for r, s in zip(records, ids) if s in test],
            )
        )
    return folds
