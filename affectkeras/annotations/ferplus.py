"""FER+: the FER2013 faces relabelled by 10 annotators each (Barsoum et al., ICMI 2016).

The database ships one folder per official split (`FER2013Train`, `FER2013Valid`,
`FER2013Test`), each with 48x48 grey PNG faces and a `label.csv` without a header: image
name, face box, then 10 vote counts in the order of `FERPLUS_COLUMNS` (8 emotions,
unknown, not-a-face).

Each image becomes a `FerPlusRecord` with both of the FER+ paper's targets:
- `label`: the majority vote, the column with the most votes; a tie goes to the first of
  the tied columns in `FERPLUS_COLUMNS` order (about 5 % of the images have a tied top
  vote). Images whose majority is unknown or not-a-face are dropped (the paper's
  protocol); a row without a single vote is an error naming its line.
- `distribution`: the 8 emotions' votes as probabilities (unknown and not-a-face votes
  left out), the soft target of the paper's best protocol (cross-entropy on the vote
  distribution).

FER+'s classes map onto the library's expression classes (`constants.EXPRESSIONS_8`);
contempt has no basic class in Aff-Wild2 and becomes Other (168 of the 28,558 training
images have a contempt majority), so indices and distributions are in the library's order.
Use the folders' `label.csv` files: the later `fer2013new.csv` differs from them in 1,602
rows and repeats 4 names.
"""

import dataclasses
import pathlib

import numpy as np

from affectkeras.annotations._text import csv_rows
from affectkeras.constants import EXPRESSIONS_8
from affectkeras.errors import DataFormatError, check_choice

# The vote columns of `label.csv`, in file order.
FERPLUS_COLUMNS = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)
FERPLUS_EMOTIONS = FERPLUS_COLUMNS[:8]
# FER+ emotion -> library expression name.
FERPLUS_TO_EXPRESSION = {
    "neutral": "Neutral",
    "happiness": "Happiness",
    "surprise": "Surprise",
    "sadness": "Sadness",
    "anger": "Anger",
    "disgust": "Disgust",
    "fear": "Fear",
    "contempt": "Other",  # no basic class in Aff-Wild2
}
FERPLUS_SPLITS = {"train": "FER2013Train", "validation": "FER2013Valid", "test": "FER2013Test"}
LABEL_FILE = "label.csv"

# Library index of each FER+ emotion column.
_LIBRARY_INDEX = np.array([EXPRESSIONS_8.index(FERPLUS_TO_EXPRESSION[e]) for e in FERPLUS_EMOTIONS])


@dataclasses.dataclass
class FerPlusRecord:
    """One FER+ face with its votes.

    Args:
        image: str. Path of the 48x48 grey PNG.
        label: int. Library expression index of the majority vote (`EXPRESSIONS_8`).
        label_name: str. The library class name of `label`.
        distribution: np.ndarray of float32, `(8,)`. The emotion votes as probabilities,
            in the library's class order (contempt's votes under Other).
        votes: np.ndarray of int, `(10,)`. The raw votes, in `FERPLUS_COLUMNS` order.
        split: str. `"train"`, `"validation"` or `"test"`.
    """

    image: str
    label: int
    label_name: str
    distribution: np.ndarray
    votes: np.ndarray
    split: str


def _votes(path, line, row):
    if len(row) != 2 + len(FERPLUS_COLUMNS):
        raise DataFormatError(
            path, line, f"expected an image name, a face box and {len(FERPLUS_COLUMNS)} vote counts "
            f"({', '.join(FERPLUS_COLUMNS)}); found {len(row)} values"
        )
    try:
        votes = np.array([int(value) for value in row[2:]])
    except ValueError:
        raise DataFormatError(path, line, f"vote counts must be integers, found {row[2:]}") from None
    if (votes < 0).any() or votes.sum() == 0:
        raise DataFormatError(path, line, f"vote counts must be >= 0 with at least one vote, found {votes.tolist()}")
    return votes


def read_ferplus(root, split):
    """Reads one split of FER+ under the majority-vote protocol, with soft labels.

    Args:
        root: str or path. The folder holding `FER2013Train/`, `FER2013Valid/` and
            `FER2013Test/`.
        split: str. `"train"`, `"validation"` or `"test"`.

    Returns:
        A list of `FerPlusRecord`, in the order of `label.csv`, without the images whose
        majority is unknown or not-a-face.

    Raises:
        InvalidArgumentError: an unknown split.
        FileNotFoundError: the split's folder or its `label.csv` is missing.
        DataFormatError: a row without 10 vote counts, votes that are negative or all
            zero, an image named there that does not exist; the message names the file
            and the line.

    Example:
        >>> train = read_ferplus("ferplus", "train")
        >>> train[0].label_name, train[0].distribution.round(1)
        ('Neutral', array([0.4, 0.3, 0.2, 0. , 0. , 0.1, 0. , 0. ], dtype=float32))
    """
    check_choice("split", split, tuple(FERPLUS_SPLITS))
    folder = pathlib.Path(root) / FERPLUS_SPLITS[split]
    path = folder / LABEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"FER+ labels not found: {path} (expected {FERPLUS_SPLITS[split]}/{LABEL_FILE} under {root})")
    records = []
    reader = csv_rows(path)
    for row in reader:
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        votes = _votes(path, line, row)
        majority = int(np.argmax(votes))  # ties: the first tied column
        if majority >= len(FERPLUS_EMOTIONS):  # unknown or not-a-face
            continue
        image = folder / row[0].strip()
        if not image.is_file():
            raise DataFormatError(path, line, f"image {row[0].strip()!r} not found in {folder}")
        distribution = np.zeros(len(EXPRESSIONS_8), np.float32)
        np.add.at(distribution, _LIBRARY_INDEX, votes[: len(FERPLUS_EMOTIONS)])
        label = int(_LIBRARY_INDEX[majority])
        records.append(FerPlusRecord(
            str(image), label, EXPRESSIONS_8[label], distribution / distribution.sum(), votes, split,
        ))
    return records


__all__ = [
    "FERPLUS_COLUMNS",
    "FERPLUS_EMOTIONS",
    "FERPLUS_SPLITS",
    "FERPLUS_TO_EXPRESSION",
    "FerPlusRecord",
    "read_ferplus",
]
