"""Fine-tuning on downstream databases, subject-independent: the pieces `recipes/finetune.py` runs.

A database of one `KINDS` is read into a `Database` (records, who each subject is, class
names); `subject_folds` splits it so that no subject is on both sides; `source_network`
loads the trained network to start from (or builds a fresh one of the same family) and
`fold_model` cuts it for the database (`affectkeras.models.surgery`); `run_folds` runs one
training function per fold in its own run folder, skips the folds a resumed run finished,
and `summarise_folds` gives mean +- std over folds. Scores come from
`affectkeras.evaluation.score_classes` / `score_va`.

Example:
    >>> database = read_database("audio_clips", "ravdess_speech_16k")
    >>> folds = subject_folds(database, leave_one_subject_out=True)
    >>> len(folds), database.classes[:2]
    (16, ('neutral', 'calm'))
"""

import dataclasses
import json
import pathlib
import typing
import warnings

from affectkeras.annotations.images import AFFECTNET_CLASS_MAP, RAFDB_CLASS_MAP
from affectkeras.constants import AUDIO_WINDOW, RAVDESS_EMOTIONS, SEQUENCE_LENGTH, VA_NAMES
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice

KINDS = ("expression_images", "audio_clips", "continuous_va")
# Initial Adam learning rates `recipes/finetune.py` uses by default, measured (README, BENCHMARKS.md):
# a fresh image network at 1e-3 predicts the majority class in every fold; at 1e-4 it learns.
LEARNING_RATES = {"expression_images": 1e-4, "audio_clips": 1e-3, "continuous_va": 1e-3}
# Fold scores that describe the data or the run, not the model: left out of the summary.
_NOT_SUMMARISED = ("chance", "majority", "train_")


@dataclasses.dataclass(frozen=True)
class Database:
    """A downstream database, read.

    Attributes:
        kind: str. One of `KINDS`.
        records: list. `ExpressionRecord`s, `RavdessRecord`s, `ClipRecord`s, or dicts
            `{"name", "subject", "labels", "video", "crops"}` (continuous VA, one per video:
            its video file or None, whether it has a `cropped_aligned/<name>/` folder).
        subject_of: callable. Record -> its subject id (the unit no split divides).
        classes: tuple of str. Class names (`valence`, `arousal` for continuous VA).
    """

    kind: str
    records: list
    subject_of: typing.Callable
    classes: tuple

    def subjects(self, records=None):
        """Sorted subject ids of `records` (default: all)."""
        return sorted({self.subject_of(r) for r in (self.records if records is None else records)}, key=str)


# Numbered expression classes of database exports (`--class-map`): number -> library class.
CLASS_MAPS = {"affectnet": AFFECTNET_CLASS_MAP, "rafdb": RAFDB_CLASS_MAP}


def read_database(kind, data, *, subject_pattern="", num_classes=8, unknown_classes="error", class_map="",
                  value_range=(-1.0, 1.0)):
    """Reads a downstream database of `kind` from `data`.

    Args:
        kind: str. `"audio_clips"` (RAVDESS naming, or a CSV `path,label,subject` list of
            any corpus, its labels free class names), `"expression_images"` (`<class>/`
            folders or a CSV `path,label` list) or `"continuous_va"` (`videos/`, `labels/`).
        data: str or Path. The database folder (or the CSV list of clips or images).
        subject_pattern: str. Regex on image paths (continuous VA: label file names),
            group 1 = the subject; required for images unless their CSV has a `subject` column.
        num_classes: int. Expression classes of image databases (7 or 8).
        unknown_classes: str. `"error"` or `"drop"` for class folders that are no expression.
        class_map: str. `""` (numbered classes are the library's indices), or a key of
            `CLASS_MAPS` (`"affectnet"`, `"rafdb"`) for that database's numbering.
        value_range: (low, high). Continuous VA: the scale of the label files, mapped onto
            [-1, 1] (`annotations.read_continuous_csv`).

    Returns:
        `Database`.

    Every image is checked to be readable (`annotations.images.verify_image`: ~0.1 ms a
    small PNG), so that a damaged one fails here, before a run folder exists, and not in
    the middle of training; audio clips are decoded by `decode_clips` and videos looked
    for by `check_videos`.

    Raises:
        FileNotFoundError: nothing of `kind` in `data`.
        InvalidArgumentError: a missing `data` or `subject_pattern`.
        DataFormatError: a file that cannot be read, an unknown class (the message names
            the file and the line, and the recipe's options that help).
    """
    from affectkeras import annotations, audio
    from affectkeras.constants import expression_names

    check_choice("kind", kind, KINDS)
    if not data:
        raise InvalidArgumentError("--data is required: the database folder. Received: data=''")
    data = pathlib.Path(data)
    if kind == "audio_clips" and data.suffix.lower() == ".csv":  # any corpus: path,label,subject
        records, classes = annotations.read_clip_csv(data)
        return Database(kind, records, lambda r: r.subject, classes)
    if kind == "audio_clips":
        records = annotations.read_ravdess(data, extensions=tuple(f".{e}" for e in audio.AUDIO_EXTENSIONS))
        if not records:
            raise FileNotFoundError(f"{data}: no audio file ({', '.join(audio.AUDIO_EXTENSIONS)}) in RAVDESS naming")
        return Database(kind, records, lambda r: r.actor, RAVDESS_EMOTIONS)
    if kind == "expression_images":
        check_choice("class_map", class_map, ("", *CLASS_MAPS))
        listed = data.suffix.lower() == ".csv"
        subject_column = "subject" if listed and not subject_pattern and _has_column(data, "subject") else None
        if not subject_pattern and not subject_column:
            raise InvalidArgumentError(
                "--subject-pattern is required for a subject-independent split of images, e.g. "
                "'^[^/]+/(S\\d+)_' (group 1 = subject id), unless a CSV list has a `subject` column. "
                "Received: subject_pattern=''"
            )
        read = dict(subject_pattern=subject_pattern or None, unknown=unknown_classes, num_classes=num_classes,
                    class_map=CLASS_MAPS.get(class_map), verify_images=True)
        try:
            if listed:
                records = annotations.read_expression_csv(data, subject_column=subject_column, **read)
            else:
                records = annotations.read_expression_folder(data, **read)
        except annotations.images.UnknownClassError as error:  # the reader's advice names its own arguments
            raise DataFormatError(
                error.path, error.line,
                f"unknown expression class {error.label!r}; valid: {error.valid}. Pass --unknown-classes drop to "
                f"skip such {'rows' if listed else 'folders'}, or --class-map affectnet / rafdb for a "
                "database's numbered classes",
            ) from None
        except DataFormatError as error:  # a path the pattern does not match: named as the recipe's option
            if "subject_pattern" not in error.message:
                raise
            raise DataFormatError(error.path, error.line,
                                  error.message.replace("subject_pattern", "--subject-pattern")) from None
        if not records:
            raise FileNotFoundError(f"{data}: no image in any <class>/ folder")
        return Database(kind, records, lambda r: r.subject, expression_names(num_classes))
    return Database(kind, _continuous_records(data, subject_pattern, value_range), lambda r: r["subject"], VA_NAMES)


def _has_column(path, name):
    """Whether the header of CSV file `path` names column `name` (without case)."""
    from affectkeras.annotations._text import csv_rows

    if not path.is_file():
        return False  # the reader says what is missing
    header = next(csv_rows(path), [])
    return name in (column.strip().lower() for column in header)


def _continuous_records(data, subject_pattern, value_range):
    """One record per `labels/<name>.csv`: its 30-fps labels, and its subject (the name)."""
    from affectkeras import annotations

    folder = data / "labels"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no labels folder (expected <data>/labels/<video>.csv)")
    pattern = annotations.compile_subject_pattern(subject_pattern) if subject_pattern else None
    records = []
    for path in sorted(folder.glob("*.csv")):
        subject = path.stem
        if pattern is not None:
            match = pattern.search(path.stem)
            if match is None or match.group(1) is None:
                raise DataFormatError(path, None, f"{path.stem!r} does not match --subject-pattern {pattern.pattern!r}")
            subject = match.group(1)
        labels = annotations.read_continuous_csv(path, value_range=value_range)
        records.append({"name": path.stem, "subject": subject, "labels": labels})
    if not records:
        raise FileNotFoundError(f"{folder}: no <video>.csv label file")
    # Found as the preprocessing job finds them (`run_preprocess(data)`): <data>/videos/ if
    # it exists, else <data>, searched recursively; crops in <data>/cropped_aligned/<name>/.
    from affectkeras.data.preprocess.plan import _index_videos

    videos = _index_videos(data / "videos" if (data / "videos").is_dir() else data)
    for record in records:
        video = videos.get(record["name"])
        record["video"] = None if video is None else str(video)
        record["crops"] = (data / "cropped_aligned" / record["name"]).is_dir()
    return records


def check_videos(database, *, audio=False):
    """Raises unless every video a continuous VA database needs is there and readable.

    A video is needed for its audio (a network with an audio stream) and for face
    detection (no `cropped_aligned/<name>/` folder of crops). Checked before a run starts
    (each needed video probed by ffmpeg, ~0.1 s): the preprocessing job would find a
    missing or damaged video only once the run folder exists.

    Args:
        database: `Database` of kind `"continuous_va"` (`read_database`).
        audio: bool. The network has an audio input (`models.describe(model).audio_shape`).

    Returns:
        None.

    Raises:
        FileNotFoundError: the videos that are missing, named, and why they are needed.
        MediaError: a needed video that ffmpeg cannot read, or without the sound the
            network needs (the message names the file).

    Example:
        >>> check_videos(read_database("continuous_va", "recola"), audio=True)
    """
    from affectkeras.data.preprocess.config import VIDEO_EXTENSIONS

    check_choice("database.kind", database.kind, ("continuous_va",))
    needed = [r for r in database.records if audio or not r["crops"]]
    missing = [r["name"] for r in needed if r["video"] is None]
    if missing:
        why = "the network's audio stream" if audio else "face detection (no cropped_aligned/<name>/ folder of crops)"
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise FileNotFoundError(
            f"no video file for {shown} (looked for <name>.{'|'.join(e[1:] for e in VIDEO_EXTENSIONS[:3])}|... "
            f"in <data>/videos/, or <data> without one): needed for {why}"
        )
    from affectkeras import media
    from affectkeras.errors import MediaError

    for record in needed:
        info = media.probe(record["video"], require_video=not record["crops"])
        if audio and not info.has_audio:
            raise MediaError(record["video"], "no audio stream, which the network's audio stream needs")


def subject_folds(database, *, folds=0, leave_one_subject_out=False, test_fraction=0.25, seed=0):
    """`[(train, test), ...]` with no subject on both sides of any fold.

    Args:
        database: `Database`.
        folds: int. K-fold by subject; 0 = one split holding out `test_fraction` of the subjects.
        leave_one_subject_out: bool. One fold per subject (overrides `folds`).
        test_fraction: float. Subjects held out by the one split.
        seed: int. Seed of the one split.

    Returns:
        list of `(train_records, test_records)`.
    """
    from affectkeras import annotations

    if leave_one_subject_out or folds:
        k = len(database.subjects()) if leave_one_subject_out else folds
        return annotations.kfold_by_subject(database.records, k, key=database.subject_of)
    return [annotations.split_by_subject(database.records, test_fraction=test_fraction, seed=seed,
                                         key=database.subject_of)]


def source_network(kind, model=None, *, width=1.0, image_size=96, seq_len=SEQUENCE_LENGTH):
    """The network a fold starts from: the trained one, or a fresh one of the same family.

    Args:
        kind: str. One of `KINDS`: audio clips start from an audio stream, images from a
            per-frame face network, continuous VA from a CNN-RNN.
        model: str, Path or None. A run folder, a `.keras` file, or a network preset shipped
            with affectkeras (`"ferplus"`); None or `"none"` = fresh.
        width: float. Width of a fresh network.
        image_size: int. Face size of a fresh image network.
        seq_len: int. Frames per sequence of a fresh CNN-RNN.

    Returns:
        `keras.Model`.
    """
    check_choice("kind", kind, KINDS)
    if model and str(model).lower() != "none":
        from affectkeras import weights
        from affectkeras.runs import load_trained_model

        if weights.is_network_preset(model):  # a network shipped with affectkeras
            return weights.load_preset_model(str(model))
        return load_trained_model(model)
    from affectkeras.models import get_network, streams

    if kind == "audio_clips":  # the A/V network's audio stream, on its per-frame windows
        steps, n_mels = AUDIO_WINDOW
        return streams.audio_cnn(window_steps=steps, n_mels=n_mels, width=width)
    if kind == "expression_images":
        return get_network("mt_vgg").build(width=width, input_size=image_size, tasks=("expr",))
    return get_network("cnn_rnn").build(width=width, tasks=("va",), sequence_length=seq_len)


def fold_model(kind, source, *, num_classes, pooling="mean", dropout=0.3):
    """Cuts `source` for a database of `kind` (`affectkeras.models.surgery`).

    Audio clips: `audio_classifier` over any number of 0.5 s windows (trained on the crops
    the datasets cut, it predicts whole clips of any length, `affectkeras.speech`), embeddings
    pooled, a new softmax; images: `frame_classifier`, a new expression head; continuous VA: the whole
    sequence network with a new VA head (`replace_heads`).
    """
    from affectkeras import models

    check_choice("kind", kind, KINDS)
    if kind == "audio_clips":
        return models.audio_classifier(source, num_classes=num_classes, time_windows=None, pooling=pooling,
                                       dropout=dropout)
    if kind == "expression_images":
        return models.frame_classifier(source, num_expressions=num_classes, dropout=dropout)
    return models.replace_heads(source, tasks=("va",))


def run_folds(folds, run, train_fold, *, subject_of, config, resume=False, classes=None):
    """Runs `train_fold` on every fold in `run.path / fold_<i>`, resuming finished folds.

    Args:
        folds: list of `(train, test)` (`subject_folds`).
        run: `affectkeras.runs.RunFolder`. The whole run's folder.
        train_fold: callable `(index, train, test, fold_run) -> dict` of the fold's scores.
        subject_of: callable. Record -> subject (named in each fold's config and scores).
        config: dict or dataclass. Saved with each fold's `config.json`.
        resume: bool. Read the scores of folds that finished before instead of training them.
        classes: sequence of str or None. Class names, for the collapse warning.

    Returns:
        list of dict: per fold, `fold`, `test_subjects`, `train_examples`, then the scores.
        A fold whose scores say `collapsed` (every held-out prediction one class, see
        `evaluation.score_classes`) also gets a `warning`, printed and warned.
    """
    from affectkeras.runs import RunFolder

    config = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    results = []
    for index, (train, test) in enumerate(folds, start=1):
        fold_dir = run.path / f"fold_{index}"
        done = fold_dir / "metrics.json"
        test_subjects = sorted({subject_of(r) for r in test}, key=str)
        if resume and done.is_file():
            finished = json.loads(done.read_text())
            if finished.get("test_subjects") != json.loads(json.dumps(test_subjects)):  # as the file holds them
                raise InvalidArgumentError(
                    f"{done}: fold {index} of this run held out {finished.get('test_subjects')}, this split holds "
                    f"out {test_subjects}: resume with the folds the run was started with (--folds, "
                    "--leave-one-subject-out, --subject-pattern, --data), or start a new --run-dir"
                )
            results.append(finished)
            print(f"fold {index}/{len(folds)}: finished before, skipped")
            continue
        fold = RunFolder(fold_dir, resume=resume and (fold_dir / "config.json").is_file(), overwrite=True)
        fold.save_config({**config, "fold": index, "test_subjects": test_subjects})
        scores = {"fold": index, "test_subjects": test_subjects, "train_examples": len(train),
                  **train_fold(index, train, test, fold)}
        if scores.get("collapsed") is not None:
            collapsed = classes[scores["collapsed"]] if classes else scores["collapsed"]
            scores["warning"] = (
                f"fold {index}: every held-out prediction is {collapsed!r}: the network collapsed to one class. "
                "Try a lower --learning-rate (e.g. 1e-4) or a pretrained --model."
            )
            warnings.warn(scores["warning"], stacklevel=2)
            print(f"WARNING: {scores['warning']}", flush=True)
        fold.write_metrics(scores)
        results.append(scores)
        print(f"fold {index}/{len(folds)} (test subjects {', '.join(map(str, test_subjects))}): "
              + ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float) and k != "train_seconds"))
    return results


def summarise_folds(folds):
    """Mean and sample std (ddof=1; 0 for one fold) over folds of every numeric score."""
    import numpy as np

    names = [k for k, v in folds[0].items() if isinstance(v, float) and not k.startswith(_NOT_SUMMARISED)]
    summary = {}
    for name in names:
        values = np.array([fold[name] for fold in folds])
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return summary


def summary_line(summary):
    """`mean +- std over folds: accuracy A +- S, f1 F +- S` (the recipe's last summary line)."""
    return "mean +- std over folds: " + ", ".join(f"{k} {v['mean']:.3f} +- {v['std']:.3f}" for k, v in summary.items())


__all__ = [
    "CLASS_MAPS",
    "KINDS",
    "LEARNING_RATES",
    "Database",
    "check_videos",
    "fold_model",
    "read_database",
    "run_folds",
    "source_network",
    "subject_folds",
    "summarise_folds",
    "summary_line",
]
