"""Evaluation: a trained model + preprocessed records -> the official ABAW scores and a report.

`predict_records` runs a model over every frame of a set of records exactly once (sequence
networks on consecutive, non-overlapping windows of each video, the last one padded;
per-frame networks on single frames) and returns each video's predictions and targets
aligned by frame index. `score_predictions` turns them into the scores of an ABAW edition
with `affectkeras.metrics` (VA: CCC of valence and arousal; EXPR: macro F1 and accuracy;
AU: per-AU F1 and accuracy; MTL when all three), plus per-video CCC, the expression
confusion matrix, per-AU F1 and frame counts; `evaluate` does both. `write_report` writes
`metrics.json`, `report.md` and PNG plots, each under a temporary name then renamed.

Labels follow the records as `affectkeras.data.make_dataset` gives them: the annotation
files' sentinels (VA -5, EXPR -1, AU -1) mark what is not annotated, and frames without a
face are masked too (their face input is blank), so they count in the frame totals but in
no score.

Example:
    >>> result = evaluate(model, "records/validation", edition=2025)
    >>> result.scores["va"]
    {'valence': 0.55, 'arousal': 0.45, 'score': 0.5}
    >>> write_report(result, "runs/av_mt/evaluation")

Command line: `affectkeras evaluate --model PATH --records DIR --out DIR`.
"""

import dataclasses
import math
import pathlib
import re
import warnings

import numpy as np

from affectkeras import _figures
from affectkeras.constants import (
    ABAW_EDITIONS,
    AU_MASK,
    AU_OUTPUT,
    EXPR_MASK,
    EXPR_OUTPUT,
    FACES_INPUT,
    LATEST_EDITION,
    TASK_OUTPUTS,
    VA_MASK,
    VA_NAMES,
    VA_OUTPUT,
    au_names,
    check_tasks,
    expression_names,
)
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice, check_positive
from affectkeras.metrics import au_score, ccc, expr_score, mtl_score, va_score
from affectkeras.metrics.abaw import annotated, check_threshold
from affectkeras.files import atomic_write, write_json


METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
PLOT_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "au_f1": "au_f1.png",
    "per_video_ccc": "per_video_ccc.png",
}


@dataclasses.dataclass
class VideoPredictions:
    """One video's predictions and targets, one row per frame, sorted by frame index.

    Attributes:
        video: str. Annotation name, e.g. `10-60-1280x720_left`.
        frame_index: int64 array `(frames,)`. 1-based frame numbers, increasing.
        face_found: bool array `(frames,)`. Whether the frame has a face crop.
        predictions: dict output name -> array `(frames, ...)` (VA values, class or AU
            probabilities).
        targets: dict output name -> array `(frames, ...)`; sentinels where not annotated
            (and everywhere on frames without a face).
    """

    video: str
    frame_index: np.ndarray
    face_found: np.ndarray
    predictions: dict
    targets: dict


@dataclasses.dataclass
class EvaluationResult:
    """Scores of one evaluation (see `evaluate`); `to_dict()` is what `metrics.json` holds.

    Attributes:
        edition: int. ABAW edition whose scoring was applied.
        tasks: tuple of str. Tasks scored, among `"va"`, `"expr"`, `"au"`.
        scores: dict. Per task: `va` {valence, arousal, score}, `expr` {f1, accuracy,
            score}, `au` {f1, accuracy, score}, and `mtl` {va, expr, au, score} when all
            three tasks are scored.
        counts: dict. `videos`, `frames` (every frame of the records, once), `faces`
            (frames with a face), and per task the annotated frames scored (`au`: frames
            with at least one annotated AU).
        per_video: dict. Video -> {frames, faces, va_frames, valence, arousal} (CCC; None
            where undefined) for VA, else {frames, faces}.
        expression_names: tuple of str or None. Classes of the confusion matrix.
        confusion_matrix: int array `(C, C)` or None. Rows true class, columns predicted.
        per_au_f1: dict or None. AU name -> F1.
        model: str or None. Name of the evaluated model.
        records: str or None. The records evaluated.
        videos: dict or None. Video -> `VideoPredictions` (not written to `metrics.json`).
    """

    edition: int
    tasks: tuple
    scores: dict
    counts: dict
    per_video: dict
    expression_names: tuple = None
    confusion_matrix: np.ndarray = None
    per_au_f1: dict = None
    model: str = None
    records: str = None
    videos: dict = dataclasses.field(default=None, repr=False)

    def to_dict(self):
        """Returns the result as JSON-ready Python values (NaN becomes None)."""
        data = {
            "edition": self.edition,
            "tasks": list(self.tasks),
            "model": self.model,
            "records": self.records,
            "scores": self.scores,
            "counts": self.counts,
            "per_video": self.per_video,
            "expression_names": None if self.expression_names is None else list(self.expression_names),
            "confusion_matrix": None if self.confusion_matrix is None else np.asarray(self.confusion_matrix).tolist(),
            "per_au_f1": self.per_au_f1,
        }
        return _json_ready(data)

    def summary(self):
        """One line of the scores, e.g. `VA 0.512 (valence 0.55, arousal 0.47); EXPR 0.41 ...`."""
        parts = []
        details = {"va": ("valence", "arousal"), "expr": ("f1", "accuracy"), "au": ("f1", "accuracy")}
        for task, score in self.scores.items():
            inner = ", ".join(f"{key} {_number(score[key], 3)}" for key in details.get(task, ()))
            parts.append(f"{task.upper()} {_number(score['score'], 3)}" + (f" ({inner})" if inner else ""))
        return f"ABAW {self.edition}, {self.counts['frames']} frames: " + "; ".join(parts)


def _json_ready(value):
    """numpy scalars -> Python numbers, NaN -> None (JSON has no NaN), recursively."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, (np.integer, bool, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) else value
    return value


# ---------------------------------------------------------------------------- predictions


def _tf_message(error):
    """A TensorFlow op error's message without its op and function decorations."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", error.message)
    return " ".join(re.sub(r"\s*\[Op:.*$", "", text, flags=re.S).split())


def check_records(records):
    """The record shards `records` names, each checked to be TFRecord data.

    Reads the first record of every shard, so that a text file or a folder given by
    mistake fails here, in one line naming it, not deep inside a TensorFlow pipeline.

    Args:
        records: str, path or list. A folder of `.tfrecord` shards (written by
            `affectkeras preprocess`), a glob pattern or shard files.

    Returns:
        list of str: the shard paths, sorted.

    Raises:
        FileNotFoundError: no records match `records`.
        DataFormatError: a shard that is not TFRecord data (the message names it), or
            shards that hold no record at all.

    Example:
        >>> check_records("records/validation")
        ['records/validation/shard-00000.tfrecord', ...]
    """
    import tensorflow as tf

    from affectkeras.data.dataset import list_shards

    shards = list_shards(records)
    empty = True
    for shard in shards:
        try:
            found = bool(list(tf.data.TFRecordDataset(shard).take(1)))
            # A few bytes of text are shorter than a record header: TensorFlow then reads no record.
            bad = not found and tf.io.gfile.stat(shard).length > 0
        except tf.errors.DataLossError:
            bad = True
        except tf.errors.OpError as error:  # a folder named *.tfrecord, an unreadable file
            raise DataFormatError(shard, None, f"cannot be read as a TFRecord file: {_tf_message(error)}") from None
        if bad:
            raise DataFormatError(shard, None, "not a TFRecord file, or a truncated one (expected the .tfrecord "
                                  "shards that `affectkeras preprocess` writes)")
        empty = empty and not found
    if empty:
        raise DataFormatError(records, None, "holds no record (expected the .tfrecord shards that "
                              "`affectkeras preprocess` writes)")
    return shards


def _batches(dataset, records):
    """Iterates `dataset`; a shard corrupt past its first record fails in one line naming `records`."""
    import tensorflow as tf

    iterator = iter(dataset)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except tf.errors.DataLossError as error:
            raise DataFormatError(records, None, f"corrupt TFRecord data ({_tf_message(error)})") from None
        yield batch


def _check_tasks(tasks, model, description):
    """`tasks` checked against the outputs `description` (of `model`) lists; None = all of them."""
    available = description.tasks
    if tasks is None:
        return available
    tasks = check_tasks(tasks)
    for task in tasks:
        if task not in available:
            raise InvalidArgumentError(
                f"The model {model.name!r} has no {TASK_OUTPUTS[task]!r} output (its tasks: {list(available)}). "
                f"Received: tasks={list(tasks)!r}"
            )
    return tasks


def _numpy(value):
    """A tensor or array-like as np.ndarray (TF tensors through `.numpy()`, not `__array__`)."""
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def predict_batch(model, inputs, batch_size):
    """`model.predict_on_batch` on a batch padded to `batch_size` rows, as a dict of outputs.

    A last, smaller batch would trace the predict function a second time (seconds per
    trace, and TensorFlow's "triggered tf.function retracing" warning when models are
    scored one after the other); zero rows added here are cut off again.

    Args:
        model: keras.Model.
        inputs: dict of np.ndarray (or tensors) with at most `batch_size` rows.
        batch_size: int. The rows every call gets.

    Returns:
        dict output name -> np.ndarray with the rows of `inputs`.
    """
    from affectkeras.models.heads import output_dict

    inputs = {name: _numpy(value) for name, value in inputs.items()}
    rows = len(next(iter(inputs.values())))
    if rows < batch_size:
        inputs = {name: np.concatenate([value, np.zeros((batch_size - rows,) + value.shape[1:], value.dtype)])
                  for name, value in inputs.items()}
    predicted = output_dict(model, model.predict_on_batch(inputs))
    return {name: np.asarray(value)[:rows] for name, value in predicted.items()}


def predict_records(model, records, *, tasks=None, modalities=None, batch_size=8, seq_len=None, face_size=None):
    """Runs `model` over every frame of `records` once; returns predictions and targets per video.

    Sequence networks (a `faces` input `(batch, time, size, size, 3)`) see each video as
    consecutive non-overlapping windows of their time length, the last one padded with
    blank frames that are then dropped; per-frame networks see single frames. Frames are
    matched to their labels by video and frame index, never by position.

    Args:
        model: keras.Model. A network of `affectkeras.models` (an ArcFace network is
            evaluated through `affectkeras.models.inference_model`).
        records: str, path or list. A folder of records written by
            `affectkeras.data.preprocess`, a glob pattern or shard files.
        tasks: sequence of str or None. Targets to read, among `"va"`, `"expr"`, `"au"`;
            None = every task the model outputs.
        modalities: sequence of str or None. Inputs to feed, among `"faces"`, `"audio"`;
            None = the model's inputs.
        batch_size: int. Windows (sequence networks) or frames per batch.
        seq_len: int or None. Window length for a sequence network; None = the model's
            time length, or 80 for a network built with `sequence_length=None`.
        face_size: int or None. Side of the faces fed to the model; None = the model's
            input size (or the records' crop size when the model accepts any size).

    Returns:
        dict video name -> `VideoPredictions`, sorted by name.

    Raises:
        FileNotFoundError: no records match `records`.
        InvalidArgumentError: a task the model does not output, or records whose AU set
            does not match the model's.
        DataFormatError: a file that is not TFRecord data or is corrupt, records without
            any record (`check_records`), or a frame found twice (e.g. the same video in
            two shards).

    Example:
        >>> videos = predict_records(model, "records/validation")
        >>> videos["10-60-1280x720_left"].predictions["valence_arousal"].shape
        (1832, 2)
    """
    from affectkeras.data import records as records_lib
    from affectkeras.data.dataset import make_frame_dataset, make_sequence_dataset
    from affectkeras.models import describe, inference_model

    check_positive("batch_size", batch_size, integer=True)
    model = inference_model(model)  # ArcFace: drop the training-only labels input
    description = describe(model)
    tasks = _check_tasks(tasks, model, description)
    if modalities is None:
        modalities = description.modalities
    unfed = [name for name in description.inputs if name not in modalities]
    if unfed:
        raise InvalidArgumentError(
            f"The model {model.name!r} needs the inputs {list(description.inputs)}; `modalities` leaves out "
            f"{unfed}. Received: modalities={tuple(modalities)!r}"
        )
    if FACES_INPUT not in description.inputs:
        raise InvalidArgumentError(
            f"The model {model.name!r} has no `faces` input. Received: inputs={list(description.inputs)}"
        )
    sequence = description.sequence
    if sequence and seq_len is None:
        seq_len = description.sequence_length
    shards = check_records(records)
    info = records_lib.peek_record_info(shards)
    if face_size is None:
        face_size = description.face_size or (info.face_size if info else 96)
    if "au" in tasks and info is not None and description.outputs[AU_OUTPUT] != info.num_aus:
        raise InvalidArgumentError(
            f"The records in {records} hold {info.num_aus} AUs but the model outputs "
            f"{description.outputs[AU_OUTPUT]}. Received: records={str(records)!r}"
        )

    # Every frame once, in order, labelled or not (frame totals count them all).
    pipeline = dict(batch_size=batch_size, modalities=modalities, tasks=tasks, face_size=face_size, shuffle=False,
                    deterministic=True, skip_unlabeled=False, include_metadata=True)
    if sequence:  # the last partial window too, padded
        dataset = make_sequence_dataset(shards, seq_len=seq_len, pad_remainder=True, **pipeline)
    else:
        dataset = make_frame_dataset(shards, **pipeline)
    names = [TASK_OUTPUTS[task] for task in tasks]
    collected = {}
    for inputs, targets in _batches(dataset, records):
        predicted = predict_batch(model, {name: inputs[name] for name in description.inputs}, batch_size)
        frame_index = inputs["frame_index"].numpy().reshape(-1)
        real = frame_index > 0  # padding frames have frame_index 0
        columns = {
            "video": inputs["video"].numpy().reshape(-1)[real],
            "frame_index": frame_index[real],
            "face_found": inputs["face_found"].numpy().reshape(-1)[real],
        }
        for name in names:
            for kind, value in (("pred", np.asarray(predicted[name])), ("true", targets[name].numpy())):
                lead = len(frame_index)
                columns[kind, name] = value.reshape((lead,) + value.shape[2 if sequence else 1:])[real]
        for video in np.unique(columns["video"]):
            rows = columns["video"] == video
            collected.setdefault(video.decode(), []).append({key: value[rows] for key, value in columns.items()})

    videos = {}
    for video in sorted(collected):
        parts = collected[video]
        frame_index = np.concatenate([part["frame_index"] for part in parts])
        order = np.argsort(frame_index, kind="stable")
        frame_index = frame_index[order]
        repeated = frame_index[1:][frame_index[1:] == frame_index[:-1]]
        if len(repeated):
            raise DataFormatError(
                records, None, f"frame {int(repeated[0])} of video {video!r} appears more than once "
                "(is the same video in two shards?)"
            )
        videos[video] = VideoPredictions(
            video=video,
            frame_index=frame_index,
            face_found=np.concatenate([part["face_found"] for part in parts])[order],
            predictions={name: np.concatenate([part["pred", name] for part in parts])[order] for name in names},
            targets={name: np.concatenate([part["true", name] for part in parts])[order] for name in names},
        )
    return videos


# ---------------------------------------------------------------------------- scores


def _stack(videos, kind, name):
    return np.concatenate([getattr(video, kind)[name] for video in videos.values()])


def confusion_counts(y_true, y_pred, *, num_classes):
    """Expression confusion matrix over the annotated frames.

    Args:
        y_true: array-like `(frames,)` of class indices; -1 or NaN = not annotated.
        y_pred: array-like `(frames,)` of class indices or `(frames, C)` probabilities.
        num_classes: int. C.

    Returns:
        int64 array `(C, C)`: rows true class, columns predicted class.

    Raises:
        InvalidArgumentError: an annotated class outside `[0, num_classes)`.
    """
    keep = annotated(y_true, EXPR_MASK)  # before astype(int), which makes NaN a huge negative class
    y_true = np.asarray(y_true)[keep].astype(int)
    y_pred = np.asarray(y_pred)
    y_pred = (y_pred.argmax(axis=-1) if y_pred.ndim == 2 else y_pred.astype(int))[keep]
    bad = (y_true < 0) | (y_true >= num_classes)
    if bad.any():
        raise InvalidArgumentError(
            f"Expression labels must lie in [0, {num_classes}) for a model with {num_classes} classes "
            f"(-1 = not annotated). Received: label={int(y_true[bad][0])}"
        )
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)


def _predict_dataset(model, dataset, output, batch_size):
    """Predictions and targets of `output` over a dataset of `(inputs, targets)` batches."""
    truth, predicted = [], []
    for inputs, targets in dataset:
        predicted.append(predict_batch(model, inputs, batch_size)[output])
        truth.append(_numpy(targets[output]))
    return np.concatenate(truth), np.concatenate(predicted)


def score_classes(model, dataset, *, num_classes, batch_size):
    """Accuracy, macro F1 and the confusion matrix of a classifier, with chance levels.

    Args:
        model: keras.Model with an `expression` softmax output (also for other class
            names, e.g. RAVDESS emotions).
        dataset: iterable of `(inputs, targets)` batches, targets `expression` int labels.
        num_classes: int. C.
        batch_size: int. Rows per model call (`predict_batch`).

    Returns:
        dict: `accuracy`, `f1` (macro over all C classes, an absent class scoring 0, as
            the ABAW `metrics.expr_score` averages),
        `test_examples`, `chance_accuracy` (1 / C), `majority_accuracy` (share of the most
        frequent class), `confusion_matrix` (C x C list, rows true class), `collapsed`
        (the class index every example was predicted as, when they all were; else None).
    """
    from sklearn.metrics import f1_score

    truth, probabilities = _predict_dataset(model, dataset, EXPR_OUTPUT, batch_size)
    predictions = probabilities.argmax(axis=-1)
    counts = np.bincount(truth, minlength=num_classes)
    predicted = np.unique(predictions)
    return {
        "accuracy": float(np.mean(predictions == truth)),
        "f1": float(f1_score(truth, predictions, labels=list(range(num_classes)), average="macro", zero_division=0)),
        "test_examples": len(truth),
        "chance_accuracy": 1.0 / num_classes,
        "majority_accuracy": float(counts.max() / counts.sum()),
        "confusion_matrix": confusion_counts(truth, probabilities, num_classes=num_classes).tolist(),
        "collapsed": int(predicted[0]) if len(predicted) == 1 and len(truth) > 1 else None,
    }


def score_va(model, dataset, *, batch_size):
    """CCC of valence, arousal and their mean over a dataset (masked frames left out).

    Returns:
        dict: `ccc_valence`, `ccc_arousal`, `ccc`, `chance_ccc` (0).
    """
    truth, predictions = _predict_dataset(model, dataset, VA_OUTPUT, batch_size)
    score = va_score(truth.reshape(-1, 2), predictions.reshape(-1, 2))
    return {"ccc_valence": float(score["valence"]), "ccc_arousal": float(score["arousal"]),
            "ccc": float(score["score"]), "chance_ccc": 0.0}


def score_predictions(videos, *, edition=LATEST_EDITION, threshold=0.5, model=None, records=None):
    """Scores per-video predictions (from `predict_records`) as the ABAW challenges do.

    Frames are pooled over all videos for the scores (the official evaluation); per-video
    CCC is given besides. Targets equal to the sentinels are left out per task, exactly as
    `affectkeras.metrics` defines it.

    Args:
        videos: dict video -> `VideoPredictions`.
        edition: int. ABAW edition (2020 ... 2025); sets the F1 / accuracy weights.
        threshold: float in (0, 1). AU probability from which an AU counts as present.
        model: str or None. Model name recorded in the result.
        records: str or None. Records recorded in the result.

    Returns:
        `EvaluationResult`. A task without any annotated frame has NaN scores (None in
        `metrics.json`); an AU without any is left out of the mean AU F1 (its F1 NaN).

    Raises:
        InvalidArgumentError: no video, an unknown `edition`, or `threshold` not in (0, 1).

    Example:
        >>> result = score_predictions(predict_records(model, "records/validation"), edition=2021)
        >>> result.scores["expr"]["score"]  # 0.67 F1 + 0.33 accuracy in 2021
    """
    check_choice("edition", edition, ABAW_EDITIONS)
    check_threshold(threshold)
    if not videos:
        raise InvalidArgumentError("There is nothing to score: no video has a frame. Received: videos={}")
    names = list(next(iter(videos.values())).predictions)
    tasks = tuple(task for task, name in TASK_OUTPUTS.items() if name in names)
    frames = sum(len(video.frame_index) for video in videos.values())
    faces = sum(int(np.sum(video.face_found)) for video in videos.values())
    counts = {"videos": len(videos), "frames": frames, "faces": faces}
    per_video = {name: {"frames": len(video.frame_index), "faces": int(np.sum(video.face_found))}
                 for name, video in videos.items()}
    scores, result = {}, {}
    spec = ABAW_EDITIONS[edition]

    if "va" in tasks:
        va_true, va_pred = _stack(videos, "targets", VA_OUTPUT), _stack(videos, "predictions", VA_OUTPUT)
        counts["va"] = int(np.sum(np.any(annotated(va_true, VA_MASK), axis=-1)))
        scores["va"] = va_score(va_true, va_pred)  # NaN (None in JSON) without an annotated frame
        for name, video in videos.items():
            target = video.targets[VA_OUTPUT]
            per_video[name]["va_frames"] = int(np.sum(np.any(annotated(target, VA_MASK), axis=-1)))
            per_video[name].update(zip(VA_NAMES, ccc(target, video.predictions[VA_OUTPUT])))

    if "expr" in tasks:
        expr_true, expr_pred = _stack(videos, "targets", EXPR_OUTPUT), _stack(videos, "predictions", EXPR_OUTPUT)
        num_classes = expr_pred.shape[-1]
        if num_classes != spec["num_expressions"]:
            warnings.warn(
                f"ABAW {edition} scores {spec['num_expressions']} expressions; the model has {num_classes}.",
                stacklevel=2,
            )
        result["expression_names"] = expression_names(num_classes)
        counts["expr"] = int(np.sum(annotated(expr_true, EXPR_MASK)))
        scores["expr"] = {"f1": np.nan, "accuracy": np.nan, "score": np.nan}
        if counts["expr"]:  # Aff-Wild2's VA, EXPR and AU sets are different videos: often none here
            result["confusion_matrix"] = confusion_counts(expr_true, expr_pred, num_classes=num_classes)
            scores["expr"] = expr_score(expr_true, expr_pred, edition=edition)

    if "au" in tasks:
        au_true, au_pred = _stack(videos, "targets", AU_OUTPUT), _stack(videos, "predictions", AU_OUTPUT)
        num_aus = au_pred.shape[-1]
        if num_aus != spec["num_aus"]:
            warnings.warn(f"ABAW {edition} scores {spec['num_aus']} AUs; the model has {num_aus}.", stacklevel=2)
        counts["au"] = int(np.sum(np.any(annotated(au_true, AU_MASK), axis=-1)))
        scores["au"] = {"f1": np.nan, "accuracy": np.nan, "score": np.nan}
        result["per_au_f1"] = dict.fromkeys(au_names(num_aus), np.nan)
        if counts["au"]:
            score = au_score(au_true, au_pred, edition=edition, threshold=threshold)
            result["per_au_f1"] = dict(zip(au_names(num_aus), score.pop("per_au_f1")))
            scores["au"] = score

    if len(tasks) == 3 and all(counts[task] for task in tasks):
        scores["mtl"] = mtl_score(va_true, va_pred, expr_true, expr_pred, au_true, au_pred, edition=edition,
                                  threshold=threshold)
    scores = _json_ready(scores)  # plain floats (None where undefined)
    return EvaluationResult(
        edition=edition,
        tasks=tasks,
        scores=scores,
        counts=counts,
        per_video=_json_ready(per_video),
        model=model,
        records=None if records is None else str(records),
        videos=videos,
        **result,
    )


def evaluate(model, records, *, tasks=None, edition=LATEST_EDITION, batch_size=8, seq_len=None, threshold=0.5,
             precision=None):
    """Evaluates a trained model on preprocessed records with the scores of an ABAW edition.

    Args:
        model: keras.Model. A network of `affectkeras.models` (ArcFace networks too).
        records: str, path or list. Records of the evaluation split (e.g. `records/validation`,
            written by `affectkeras preprocess --split validation`).
        tasks: sequence of str or None. Tasks to score among `"va"`, `"expr"`, `"au"`;
            None = every task the model outputs.
        edition: int. ABAW edition (2020 ... 2025; default the latest).
        batch_size: int. Windows or frames per batch.
        seq_len: int or None. Window length of a sequence network; None = its time length.
        threshold: float in (0, 1). AU probability from which an AU counts as present.
        precision: str or None. Predict under this dtype policy (`"float32"`,
            `"mixed_bfloat16"`, `"mixed_float16"`, or `"auto"`: the device's fastest);
            None = as the model is.

    Returns:
        `EvaluationResult`: scores, counts, per-video CCC, confusion matrix, per-AU F1.

    Example:
        >>> result = evaluate(model, "records/validation", edition=2022)
        >>> result.scores["mtl"]["score"]
    """
    check_choice("edition", edition, ABAW_EDITIONS)
    check_threshold(threshold)  # before predicting: a wrong value must not cost a whole pass over the records
    if precision is not None:
        from affectkeras.distribute import resolve_precision
        from affectkeras.models.surgery import with_precision

        model = with_precision(model, resolve_precision(precision))
    videos = predict_records(model, records, tasks=tasks, batch_size=batch_size, seq_len=seq_len)
    return score_predictions(videos, edition=edition, threshold=threshold, model=model.name, records=records)


# ---------------------------------------------------------------------------- report


def _plot_confusion(result):
    matrix = np.asarray(result.confusion_matrix)
    names = result.expression_names
    figure = _figures.figure(1.0 + 0.7 * len(names), 0.8 + 0.6 * len(names))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, label="frames")
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("Expression confusion matrix")
    top = matrix.max() if matrix.size else 0
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(column, row, str(value), ha="center", va="center", fontsize=8,
                  color="white" if value > top / 2 else "black")
    return figure


def _plot_bars(labels, series, *, title, ylabel):
    figure = _figures.figure(max(4.0, 1.0 + 0.45 * len(labels) * len(series)), 3.5)
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    for offset, (name, values) in enumerate(series.items()):
        heights = [np.nan if value is None else value for value in values]
        axes.bar(np.arange(len(labels)) + (offset - (len(series) - 1) / 2) * width, heights, width, label=name)
    crowded = len(labels) > 6
    axes.set_xticks(range(len(labels)), [_figures.plain(label) for label in labels],
                    rotation=45 if crowded else 0, ha="right" if crowded else "center")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.axhline(0.0, color="black", linewidth=0.5)
    if len(series) > 1:
        axes.legend()
    return figure


def _number(value, digits=4):
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"  # None / NaN: undefined


def _markdown(result, plots):
    data = result.to_dict()
    scores, counts = data["scores"], data["counts"]
    lines = [
        f"# Evaluation{f' of {result.model}' if result.model else ''}",
        "",
        f"ABAW {result.edition} scoring on {counts['videos']} videos, {counts['frames']} frames "
        f"({counts['faces']} with a face){f' from `{result.records}`' if result.records else ''}. "
        "Frames without a label (or without a face) count in no score.",
        "",
        "| task | score | details | annotated frames |",
        "| --- | --- | --- | --- |",
    ]
    if "va" in scores:
        va = scores["va"]
        lines.append(f"| VA | {_number(va['score'])} | CCC valence {_number(va['valence'])}, "
                     f"arousal {_number(va['arousal'])} | {counts['va']} |")
    if "expr" in scores:
        expr = scores["expr"]
        lines.append(f"| EXPR | {_number(expr['score'])} | macro F1 {_number(expr['f1'])}, "
                     f"accuracy {_number(expr['accuracy'])} | {counts['expr']} |")
    if "au" in scores:
        au = scores["au"]
        lines.append(f"| AU | {_number(au['score'])} | mean F1 {_number(au['f1'])}, "
                     f"accuracy {_number(au['accuracy'])} | {counts['au']} |")
    if "mtl" in scores:
        lines.append(f"| MTL | {_number(scores['mtl']['score'])} | P_VA + F1_EXPR + F1_AU | |")
    if "va" in scores:
        lines += ["", "## Per-video CCC", "", "| video | frames | annotated | valence | arousal |",
                  "| --- | --- | --- | --- | --- |"]
        for video, row in data["per_video"].items():
            lines.append(f"| {video} | {row['frames']} | {row['va_frames']} | {_number(row['valence'])} | "
                         f"{_number(row['arousal'])} |")
        if "per_video_ccc" in plots:
            lines += ["", f"![per-video CCC]({plots['per_video_ccc'].name})"]
    if data["confusion_matrix"] is not None:
        names = data["expression_names"]
        lines += ["", "## Expression confusion matrix", "", "Rows: true class; columns: predicted class (frames).",
                  "", "| true \\ predicted | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
        for name, row in zip(names, data["confusion_matrix"]):
            lines.append(f"| {name} | " + " | ".join(map(str, row)) + " |")
        if "confusion_matrix" in plots:
            lines += ["", f"![confusion matrix]({plots['confusion_matrix'].name})"]
    if data["per_au_f1"] is not None:
        lines += ["", "## Per-AU F1", "", "| AU | F1 |", "| --- | --- |"]
        lines += [f"| {name} | {_number(value)} |" for name, value in data["per_au_f1"].items()]
        if "au_f1" in plots:
            lines += ["", f"![per-AU F1]({plots['au_f1'].name})"]
    return "\n".join(lines) + "\n"


def write_report(result, out_dir, *, plots=True):
    """Writes `metrics.json`, `report.md` and the plots that apply to `out_dir`.

    Every file is written under a temporary name and renamed when complete, so a reader
    never sees a half-written file. Plots (PNG, matplotlib Agg): the expression confusion
    matrix, per-AU F1 bars, per-video CCC bars, each only for the tasks evaluated. A plot
    of `PLOT_FILES` that this result does not draw (or every one, with `plots=False`) is
    deleted from `out_dir`, so that an earlier evaluation's plot never passes for this one's.

    Args:
        result: `EvaluationResult`.
        out_dir: str or path. Folder (created if missing); existing report files are replaced.
        plots: bool. Also draw the PNG plots.

    Returns:
        dict name -> `pathlib.Path` of the files written: `metrics`, `report` and the plots'
        names (`confusion_matrix`, `au_f1`, `per_video_ccc`).

    Raises:
        InvalidArgumentError: `out_dir` (or a folder above it) is an existing file.

    Example:
        >>> paths = write_report(evaluate(model, "records/validation"), "runs/av_mt/evaluation")
        >>> json.loads(paths["metrics"].read_text())["scores"]["va"]["score"]
    """
    out_dir = pathlib.Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file in the way: `out_dir` itself or a folder above it
        blocking = next(path for path in (out_dir, *out_dir.parents) if path.exists())
        raise InvalidArgumentError(
            f"`out_dir` must be a folder (created if missing), but {blocking} is an existing file. "
            f"Received: out_dir={str(out_dir)!r}"
        ) from None
    paths = {}
    drawn = {}
    if plots:
        data = result.to_dict()
        if data["confusion_matrix"] is not None:
            drawn["confusion_matrix"] = _plot_confusion(result)
        if data["per_au_f1"] is not None:
            drawn["au_f1"] = _plot_bars(list(data["per_au_f1"]), {"F1": list(data["per_au_f1"].values())},
                                        title="Per-AU F1", ylabel="F1")
        if "va" in data["scores"]:
            rows = data["per_video"]
            drawn["per_video_ccc"] = _plot_bars(
                list(rows), {name: [row[name] for row in rows.values()] for name in VA_NAMES},
                title="Per-video CCC", ylabel="CCC",
            )
    for name, file in PLOT_FILES.items():
        if name not in drawn:  # an earlier evaluation's plot must not pass for this one's
            (out_dir / file).unlink(missing_ok=True)
    for name, figure in drawn.items():
        paths[name] = _figures.save_png(figure, out_dir / PLOT_FILES[name])
    paths["metrics"] = out_dir / METRICS_FILE
    write_json(paths["metrics"], result.to_dict())
    paths["report"] = out_dir / REPORT_FILE
    atomic_write(paths["report"], _markdown(result, paths))
    return paths


__all__ = [
    "EvaluationResult",
    "VideoPredictions",
    "check_records",
    "confusion_counts",
    "evaluate",
    "predict_batch",
    "predict_records",
    "score_classes",
    "score_predictions",
    "score_va",
    "write_report",
]
