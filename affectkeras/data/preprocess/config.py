"""The settings of a preprocessing job: `PreprocessConfig`, `make_config` and their checks.

Also the names the job accepts (tasks, splits, face sources) and the video files it looks for.
"""

import dataclasses

from affectkeras.constants import TASK_FILES
from affectkeras.errors import InvalidArgumentError, check_choice, check_positive

# Task names on the command line / in `tasks=` (those of `affectkeras.models.heads`, which
# this package does not import: it would load Keras for `--help`) -> the annotation readers'.
TASKS = TASK_FILES
SPLITS = ("train", "validation")
FACE_SOURCES = ("auto", "crops", "detect")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """The settings that decide the content of the records (stored in the manifest).

    A folder of records holds one config: a restart with other settings is refused.

    Attributes:
        split: str. `"train"` or `"validation"`.
        tasks: tuple of str. Among `"va"`, `"expr"`, `"au"`.
        size: int. Side of the stored face crops in pixels.
        faces: str. `"auto"` (crops when present, else detection), `"crops"` or `"detect"`.
        audio: bool. Write audio windows.
        audio_dtype: str. `"float16"` or `"float32"`.
        jpeg_quality: int. Quality of re-encoded crops (1-100).
        spectrogram: dict. `dataclasses.asdict(SpectrogramConfig)` of the audio windows.
        landmarks: bool. Write the 68 landmarks of every crop (`faces.crop_landmarks`),
            AffWildNet's extra input.
    """

    split: str = "train"
    tasks: tuple = tuple(TASKS)
    size: int = 96
    faces: str = "auto"
    audio: bool = True
    audio_dtype: str = "float16"
    jpeg_quality: int = 95
    spectrogram: dict = None
    landmarks: bool = False

    def as_dict(self):
        """dict. JSON-friendly form (without `landmarks` when off: records made before it match)."""
        form = {**dataclasses.asdict(self), "tasks": list(self.tasks)}
        if not self.landmarks:
            del form["landmarks"]
        return form


def _check_config(config):
    check_choice("split", config.split, SPLITS)
    if not config.tasks:
        raise InvalidArgumentError(f"`tasks` must name at least one of {list(TASKS)}. Received: tasks=()")
    for task in config.tasks:
        check_choice("tasks", task, tuple(TASKS))
    check_positive("size", config.size, integer=True)
    check_choice("faces", config.faces, FACE_SOURCES)
    from affectkeras.data.records import AUDIO_DTYPES

    check_choice("audio_dtype", config.audio_dtype, AUDIO_DTYPES)
    if not (isinstance(config.jpeg_quality, int) and 1 <= config.jpeg_quality <= 100):
        raise InvalidArgumentError(
            f"`jpeg_quality` must be an int in [1, 100]. Received: jpeg_quality={config.jpeg_quality!r}"
        )


def make_config(*, split="train", tasks=tuple(TASKS), size=96, faces="auto", audio=True,
                audio_dtype="float16", jpeg_quality=95, spectrogram=None, landmarks=False):
    """Builds and checks a `PreprocessConfig` (arguments as its attributes).

    Args:
        spectrogram: `affectkeras.audio.SpectrogramConfig` or None (defaults).
        Others: see `PreprocessConfig`.

    Returns:
        `PreprocessConfig`.
    """
    from affectkeras.audio import SpectrogramConfig

    if isinstance(tasks, str):
        tasks = tuple(t.strip() for t in tasks.split(",") if t.strip())
    spectrogram = spectrogram or SpectrogramConfig()
    config = PreprocessConfig(
        split=str(split).lower(),
        tasks=tuple(t for t in TASKS if t in {str(x).lower() for x in tasks}) if tasks else (),
        size=size,
        faces=faces,
        audio=bool(audio),
        audio_dtype=audio_dtype,
        jpeg_quality=jpeg_quality,
        spectrogram=dataclasses.asdict(spectrogram) if audio else None,
        landmarks=bool(landmarks),
    )
    unknown = [t for t in tasks if str(t).lower() not in TASKS]
    if unknown:
        raise InvalidArgumentError(f"`tasks` must be among {list(TASKS)}. Received: tasks={list(tasks)!r}")
    _check_config(config)
    return config


__all__ = ["FACE_SOURCES", "SPLITS", "TASKS", "VIDEO_EXTENSIONS", "make_config", "PreprocessConfig"]
