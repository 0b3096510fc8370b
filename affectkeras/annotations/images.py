"""Readers for expression image databases: folders, CSV lists, FER2013, JAFFE.

Folder exports of AffectNet / RAF-DB / CK+, CSV lists of images, FER2013's pixel CSV and
JAFFE's coded file names become lists of `ExpressionRecord` with the library's expression
indices (`affectkeras.constants.EXPRESSIONS_8`: 0 Neutral, 1 Anger, 2 Disgust, 3 Fear,
4 Happiness, 5 Sadness, 6 Surprise, 7 Other). Split them with `affectkeras.annotations.splits`.

Class names: each database's names map to the library's classes through case-insensitive
aliases (happy/happiness, angry/anger, sad/sadness, surprised/surprise, fear/fearful,
disgust/disgusted, neutral, other). A name that is none of them (CK+'s and AffectNet's
"contempt", say) is an error listing the valid names, unless `unknown="drop"` (skip such
records) or a `class_map` says what to do with it (`{"contempt": "Other"}` keeps it as
Other, `{"contempt": None}` drops it).
"""

import dataclasses
import pathlib
import re
import warnings

import numpy as np

from affectkeras.annotations._text import column_index, csv_rows, list_files
from affectkeras.constants import EXPRESSIONS_8, expression_names
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice

__all__ = [
    "AFFECTNET_CLASS_MAP",
    "EXPRESSION_ALIASES",
    "FER2013_EMOTIONS",
    "FER2013_SIZE",
    "IMAGE_EXTENSIONS",
    "JAFFE_CODES",
    "RAFDB_CLASS_MAP",
    "ExpressionRecord",
    "UnknownClassError",
    "compile_subject_pattern",
    "read_expression_csv",
    "read_expression_folder",
    "read_fer2013",
    "read_jaffe",
    "verify_image",
]

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


class UnknownClassError(DataFormatError):
    """A class label (a folder name, a CSV label) that is none of the library's expression classes.

    Attributes:
        label: str. The label as the database writes it.
        valid: str. The names and indices accepted, for a message.
    """

    def __init__(self, path, line, label, valid):
        self.label = label
        self.valid = valid
        super().__init__(
            path, line,
            f"unknown expression class {label!r}; valid: {valid}. Pass unknown='drop' to skip such records, "
            f"or class_map={{{label!r}: 'Other'}} (or None) to map them",
        )

    def __reduce__(self):  # picklable, as DataFormatError
        return type(self), (self.path, self.line, self.label, self.valid)


class _UnknownLabel(ValueError):
    def __init__(self, label, valid):
        super().__init__(f"unknown expression class {label!r}; valid: {valid}")
        self.label, self.valid = label, valid


# ----------------------------------------------------------------------------------------
# Class names


class _Resolver:
    """Maps a database's class label (name or number) to a library index, or None = drop."""

    def __init__(self, class_map, unknown, num_classes):
        check_choice("unknown", unknown, ("error", "drop"))
        check_choice("num_classes", num_classes, (7, 8))
        self.names = expression_names(num_classes)
        self.unknown = unknown
        self.numbered = False  # a number was read as a library index (no `class_map` entry)
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

    def warn_if_numbered(self, source):
        """Numbered classes are the library's order only by chance: databases number theirs their own way."""
        if self.numbered:
            warnings.warn(
                f"{source}: classes given as numbers were read as the library's indices "
                f"({', '.join(f'{i} {name}' for i, name in enumerate(self.names))}); AffectNet and RAF-DB "
                "number theirs otherwise: pass class_map=AFFECTNET_CLASS_MAP or RAFDB_CLASS_MAP "
                "(finetune.py: --class-map affectnet or rafdb)",
                stacklevel=3,
            )

    def __call__(self, label):
        """Returns the index, None to drop, or raises `_UnknownLabel`."""
        key = str(label).strip().lower()
        if key in self.class_map:
            return self.class_map[key]
        index = self._library_index(label)
        if index is not None:
            self.numbered |= key.isdigit()
            return index
        if self.unknown == "drop":
            return None
        raise _UnknownLabel(str(label).strip(), self.valid())


def _subject(pattern, relative, path, line):
    if pattern is None:
        return None
    match = pattern.search(relative)
    if match is None or match.group(1) is None:
        raise DataFormatError(path, line, f"{relative!r} does not match subject_pattern {pattern.pattern!r}")
    return match.group(1)


def compile_subject_pattern(subject_pattern):
    r"""Compiles the regular expression that finds a record's subject id (its first group).

    Args:
        subject_pattern: str or None. A regular expression with a group, e.g. `r"^(S\d+)/"`.

    Returns:
        `re.Pattern`, or None for None.

    Raises:
        InvalidArgumentError: not a regular expression, or one without a group.

    Example:
        >>> compile_subject_pattern(r"^(S\d+)_").search("S05_happy.png").group(1)
        'S05'
    """
    if subject_pattern is None:
        return None
    try:
        pattern = re.compile(subject_pattern)
    except re.error as error:
        raise InvalidArgumentError(
            f"`subject_pattern` is not a regular expression ({error}). Received: subject_pattern={subject_pattern!r}"
        ) from None
    if pattern.groups < 1:
        raise InvalidArgumentError(
            "`subject_pattern` needs a group for the subject id, e.g. r'^(S\\d+)/'. "
            f"Received: subject_pattern={subject_pattern!r}"
        )
    return pattern


def verify_image(path):
    """Checks that an image file can be read, without decoding all of it where that can be avoided.

    Pillow's `verify` reads the header and the structure (PNG: every chunk and its CRC,
    so a truncated PNG fails); a JPEG's `verify` reads only its header, so a JPEG is also
    decoded at 1/8 scale (`draft`), which still reads all of its compressed data: a
    truncated JPEG fails too. Measured on FER+'s 48 x 48 PNGs: ~0.1 ms an image (2 CPU
    cores, files cached); ~0.7 ms a 400 x 400 JPEG.

    Args:
        path: str or path. The image file.

    Returns:
        pathlib.Path, the path.

    Raises:
        DataFormatError: the file is not an image Pillow can read, or is damaged (the
            message names it and what Pillow said).

    Example:
        >>> verify_image("CK+/happy/S010_006_00000015.png")
        PosixPath('CK+/happy/S010_006_00000015.png')
    """
    from PIL import Image, UnidentifiedImageError

    path = pathlib.Path(path)
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft(image.mode, (1, 1))  # the smallest DCT scale: decodes every block, cheaply
                image.load()
            else:
                image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:  # verify raises SyntaxError too
        message = str(error) if not isinstance(error, UnidentifiedImageError) else "not an image Pillow can read"
        raise DataFormatError(path, None, f"cannot read the image ({message})") from None
    return path


# ----------------------------------------------------------------------------------------
# Expression image databases


def read_expression_folder(
    root, *, subject_pattern=None, class_map=None, unknown="error", num_classes=8, extensions=IMAGE_EXTENSIONS,
    verify_images=False,
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
        verify_images: bool. Check that every image can be read (`verify_image`: ~0.1 ms a
            small PNG), so that a damaged file fails here rather than in training.

    Returns:
        A list of `ExpressionRecord` sorted by path.

    Raises:
        FileNotFoundError: `root` does not exist.
        DataFormatError: an unknown class folder (with `unknown="error"`, an
            `UnknownClassError`), an image path that does not match `subject_pattern`, or
            (`verify_images`) an image that cannot be read; the message names them.

    Example:
        >>> records = read_expression_folder("CK+", subject_pattern=r"/(S\\d{3})_")
        >>> records[0].label_name, records[0].subject
        ('Anger', 'S010')
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Expression database folder not found: {root}")
    resolve = _Resolver(class_map, unknown, num_classes)
    pattern = compile_subject_pattern(subject_pattern)
    records = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            label = resolve(folder.name)
        except _UnknownLabel as e:
            raise UnknownClassError(folder, None, e.label, e.valid) from None
        if label is None:
            continue
        for image in list_files(folder, extensions):
            relative = image.relative_to(root).as_posix()
            if verify_images:
                verify_image(image)
            records.append(
                ExpressionRecord(
                    str(image), label, resolve.names[label], _subject(pattern, relative, image, None)
                )
            )
    resolve.warn_if_numbered(root)
    return records


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
    verify_images=False,
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
        verify_images: bool. Check that every image can be read (`verify_image`), so that
            a damaged file fails here, with its line, rather than in training.

    Returns:
        A list of `ExpressionRecord` in file order.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: a missing column, a short row, an unknown label (an
            `UnknownClassError`), a path that does not match `subject_pattern`, a missing
            image, or (`verify_images`) one that cannot be read; the message names the file
            and line.

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
    pattern = compile_subject_pattern(subject_pattern)
    base = pathlib.Path(root) if root is not None else path.parent
    records = []
    reader = csv_rows(path, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise DataFormatError(
            path, 1, f"empty file; expected a header with columns {path_column!r} and {label_column!r}"
        )
    columns = [column_index(path, header, path_column), column_index(path, header, label_column)]
    if subject_column is not None:
        columns.append(column_index(path, header, subject_column))
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) <= max(columns):
            raise DataFormatError(path, line, f"expected {len(header)} values, found {len(row)}")
        image, label_text = row[columns[0]].strip(), row[columns[1]]
        try:
            label = resolve(label_text)
        except _UnknownLabel as e:
            raise UnknownClassError(path, line, e.label, e.valid) from None
        if label is None:
            continue
        image = image.replace("\\", "/")  # a list written on Windows
        if subject_column is not None:
            subject = row[columns[2]].strip() or None
        else:
            subject = _subject(pattern, image, path, line)
        if not (base / image).is_file():
            raise DataFormatError(path, line, f"image {image!r} not found (looked for {base / image})")
        if verify_images:
            try:
                verify_image(base / image)
            except DataFormatError as error:
                raise DataFormatError(path, line, f"image {image!r}: {error.message}") from None
        records.append(ExpressionRecord(str(base / image), label, resolve.names[label], subject))
    resolve.warn_if_numbered(path)
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
    reader = csv_rows(path)
    header = next(reader, None)
    if header is None:
        raise DataFormatError(path, 1, "empty file; expected the header emotion,pixels,Usage")
    emotion_col, pixels_col = column_index(path, header, "emotion"), column_index(path, header, "pixels")
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
    for image in list_files(root, extensions):
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


