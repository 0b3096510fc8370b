"""RAVDESS clips described by their file names (`MM-VV-EE-II-SS-RR-AA.ext`).

A RAVDESS file name codes the modality, vocal channel, emotion, intensity, statement,
repetition and actor; `parse_ravdess_name` decodes one and `read_ravdess` a whole folder
into `RavdessRecord`s, whose `subject` (the actor) is what subject-independent splits
(`affectkeras.annotations.splits`) group by.
"""

import dataclasses
import pathlib
import re

from affectkeras.annotations._text import list_files
from affectkeras.constants import RAVDESS_EMOTIONS
from affectkeras.errors import DataFormatError

__all__ = ["RavdessRecord", "parse_ravdess_name", "read_ravdess"]

_RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_RAVDESS_MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
_RAVDESS_CHANNELS = {1: "speech", 2: "song"}
_RAVDESS_INTENSITIES = {1: "normal", 2: "strong"}


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
    return [parse_ravdess_name(p) for p in list_files(root, tuple(e.lower() for e in extensions))]


