"""Fine-tune a trained network on a downstream database, subject-independent.

Audio clips (RAVDESS naming, `Actor_01/03-01-05-01-01-01-01.flac`), leave one actor out,
starting from the audio stream of an A/V-MT-VGG-RNN run (or from a fresh audio CNN with
`--model none`):

    python recipes/finetune.py --kind audio_clips --data ravdess_speech_16k \\
        --model runs/av_mt --leave-one-subject-out --epochs 30 --run-dir runs/ravdess

Expression images in `<root>/<class>/<image>` folders (AffectNet, RAF-DB or CK+ exports;
a CSV `path,label` list works too), subjects from the file names, 5 folds by subject:

    python recipes/finetune.py --kind expression_images --data CK+ \\
        --subject-pattern '/(S\\d{3})_' --folds 5 --model runs/mt_vgg_rnn --run-dir runs/ckplus

Continuous valence/arousal (RECOLA style): `<data>/videos/<name>.mp4` (30 fps) and
`<data>/labels/<name>.csv` (`time,valence,arousal`, any rate, resampled to 30 fps), a
`cropped_aligned/<name>/` folder of face crops used when present (else faces are
detected); the labels become Aff-Wild2 VA files and the Aff-Wild2 pipeline
(`run_preprocess`, `make_dataset`) does the rest:

    python recipes/finetune.py --kind continuous_va --data recola --model runs/vggface_gru \\
        --test-fraction 0.25 --run-dir runs/recola

What each kind trains (`affectkeras.models.surgery`): `audio_classifier` (the trained audio
stream over `--num-windows` windows of 0.5 s, embeddings averaged, a new softmax head),
`frame_classifier` (the trained face CNN on single images, a new expression head),
`replace_heads` (the whole sequence network with a new VA head). `--freeze-backbone`
trains only the new parts. After training, the batch-norm statistics are recomputed on
the training data (`--no-recalibrate-bn` to skip): a few hundred steps leave the moving
averages behind the weights, and the uncalibrated audio network predicts one class for
almost every clip at inference. The splits never put one subject on both sides: `--folds K`
(K-fold by subject; `--leave-one-subject-out` sets K to the number of subjects) or one
split with `--test-fraction` of the subjects held out. Nothing is tuned on the held-out
subjects: every fold trains for `--epochs` and is scored once at the end.

Measured on `../shared/data/ravdess_speech_16k` (RAVDESS speech, actors 1-4, 240 clips, 8
emotions; 2 CPU cores, ~10 min), from a randomly initialised full-width audio stream (no
Aff-Wild2 model can be downloaded here), leave one actor out:

    python recipes/finetune.py --kind audio_clips --data ../shared/data/ravdess_speech_16k \
        --model none --width 1.0 --leave-one-subject-out --epochs 20 --seed 0 --run-dir runs/ravdess

held-out accuracy 0.329 +- 0.048 and macro F1 0.266 +- 0.034 (mean +- sample std over
the 4 actors; chance 0.125, majority class 0.133).

The run folder gets `config.json`, `metrics.json` (per fold and mean +- std over folds:
accuracy and macro F1 for classes, CCC for VA, with chance levels) and, per fold
(`fold_1/`, ...), `checkpoints/`, TensorBoard `logs/`, `history.csv`, `model.keras` and
that fold's `metrics.json`. `--resume` skips the folds already finished.
"""

import dataclasses
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402

KINDS = ("expression_images", "audio_clips", "continuous_va")


@dataclasses.dataclass
class FinetuneConfig:
    kind: str = config_field("audio_clips", "what the database holds", choices=KINDS)
    data: str = config_field("", "database folder (or a CSV list of images for expression_images)")
    model: str = config_field("", "trained run folder or .keras model; empty or 'none' = a fresh network")
    width: float = config_field(1.0, "width of a fresh network (--model none)")
    run_dir: str = config_field("runs/finetune", "run folder (config, per-fold checkpoints, logs, metrics)")
    subject_pattern: str = config_field("", "regex on image paths (relative to --data), group 1 = subject id")
    folds: int = config_field(0, "K-fold cross-validation by subject; 0 = one split (--test-fraction)")
    leave_one_subject_out: bool = config_field(False, "one fold per subject (K = number of subjects)")
    test_fraction: float = config_field(0.25, "fraction of the subjects held out (one split)")
    num_classes: int = config_field(8, "expression classes of image databases (7 = no Other)", choices=(7, 8))
    unknown_classes: str = config_field("error", "class folders that are no expression", choices=("error", "drop"))
    image_size: int = config_field(96, "face size of a fresh image network")
    align_faces: bool = config_field(False, "detect and align faces in the images (else centre crop)")
    flip: bool = config_field(True, "random horizontal flips of training images")
    num_windows: int = config_field(8, "0.5 s log-mel windows per audio clip (8 = 4 s)")
    spec_augment: bool = config_field(True, "SpecAugment time and frequency masks on training clips")
    normalize: str = config_field("none", "log-mel input of clips: 'none' = dB as the A/V stream saw them; "
                                  "'clip' = per-clip, per-band mean/variance normalisation (from scratch)",
                                  choices=("none", "clip"))
    pooling: str = config_field("mean", "pooling of the window embeddings of a clip", choices=("mean", "max"))
    dropout: float = config_field(0.3, "dropout before the new head")
    seq_len: int = config_field(80, "frames per sequence (continuous_va)")
    epochs: int = config_field(20, "training epochs per fold")
    batch_size: int = config_field(16, "clips / images (continuous_va: sequences) per batch")
    learning_rate: float = config_field(1e-3, "initial Adam learning rate")
    decay_rate: float = config_field(0.97, "learning-rate decay factor")
    decay_steps: int = config_field(400, "steps between learning-rate decays")
    freeze_backbone: bool = config_field(False, "train only the new head (and RNN): the CNN streams frozen")
    recalibrate_bn: bool = config_field(True, "after training, recompute the batch-norm statistics on the "
                                        "training data (no labels, no augmentation)")
    label_smoothing: float = config_field(0.0, "label smoothing of the cross-entropy")
    seed: int = config_field(0, "random seed (splits, initialisation, shuffles, augmentation)")
    verbose: int = config_field(2, "Keras fit verbosity (0, 1 = progress bar, 2 = a line per epoch)")
    resume: bool = config_field(False, "continue the run in --run-dir, skipping finished folds")
    overwrite: bool = config_field(False, "replace a run already in --run-dir")


# ----------------------------------------------------------------------------------------
# Data: records, subjects, folds


def read_records(config):
    """The database's records, a function giving each record's subject, and the class names."""
    from affectkeras import annotations, audio
    from affectkeras.constants import RAVDESS_EMOTIONS, expression_names
    from affectkeras.errors import InvalidArgumentError

    if not config.data:
        raise InvalidArgumentError("--data is required: the database folder. Received: data=''")
    data = pathlib.Path(config.data)
    if config.kind == "audio_clips":
        records = annotations.read_ravdess(data, extensions=tuple(f".{e}" for e in audio.AUDIO_EXTENSIONS))
        if not records:
            raise FileNotFoundError(f"{data}: no audio file ({', '.join(audio.AUDIO_EXTENSIONS)}) in RAVDESS naming")
        return records, (lambda r: r.actor), RAVDESS_EMOTIONS
    if config.kind == "expression_images":
        if not config.subject_pattern:
            raise InvalidArgumentError(
                "--subject-pattern is required for a subject-independent split of images, e.g. "
                "'^[^/]+/(S\\d+)_' (group 1 = subject id). Received: subject_pattern=''"
            )
        read = dict(subject_pattern=config.subject_pattern, unknown=config.unknown_classes,
                    num_classes=config.num_classes)
        if data.suffix.lower() == ".csv":
            records = annotations.read_expression_csv(data, **read)
        else:
            records = annotations.read_expression_folder(data, **read)
        if not records:
            raise FileNotFoundError(f"{data}: no image in any <class>/ folder")
        return records, (lambda r: r.subject), expression_names(config.num_classes)
    return read_continuous_records(data, config), (lambda r: r["subject"]), ("valence", "arousal")


def read_continuous_records(data, config):
    """One record per `labels/<name>.csv`: its 30-fps labels, and its subject (the name)."""
    import re

    from affectkeras import annotations
    from affectkeras.errors import DataFormatError

    folder = data / "labels"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no labels folder (expected <data>/labels/<video>.csv)")
    pattern = re.compile(config.subject_pattern) if config.subject_pattern else None
    records = []
    for path in sorted(folder.glob("*.csv")):
        subject = path.stem
        if pattern is not None:
            match = pattern.search(path.stem)
            if match is None or match.group(1) is None:
                raise DataFormatError(path, None, f"{path.stem!r} does not match subject_pattern {pattern.pattern!r}")
            subject = match.group(1)
        records.append({"name": path.stem, "subject": subject, "labels": annotations.read_continuous_csv(path)})
    if not records:
        raise FileNotFoundError(f"{folder}: no <video>.csv label file")
    return records


def make_folds(records, subject_of, config):
    """`[(train, test), ...]`: K folds by subject, or one split with `--test-fraction`."""
    from affectkeras import annotations

    subjects = sorted({subject_of(r) for r in records}, key=str)
    if config.leave_one_subject_out or config.folds:
        k = len(subjects) if config.leave_one_subject_out else config.folds
        return annotations.kfold_by_subject(records, k, key=subject_of)
    return [annotations.split_by_subject(records, test_fraction=config.test_fraction, seed=config.seed,
                                         key=subject_of)]


# ----------------------------------------------------------------------------------------
# Model: the trained (or a fresh) network, cut for the database


def source_network(config):
    """The network to start from: the trained one, or a fresh one of the same family."""
    from affectkeras.runs import load_trained_model

    if config.model and config.model.lower() != "none":
        return load_trained_model(config.model)
    import affectkeras
    from affectkeras.audio import SpectrogramConfig
    from affectkeras.models import streams

    if config.kind == "audio_clips":  # the A/V network's audio stream, on its 50 x 64 windows
        spectrogram = SpectrogramConfig()
        return streams.audio_cnn(window_steps=spectrogram.steps, n_mels=spectrogram.n_mels, width=config.width)
    if config.kind == "expression_images":
        return affectkeras.build_mt_vgg(width=config.width, input_size=config.image_size, tasks=("expr",))
    return affectkeras.build_cnn_rnn(width=config.width, tasks=("va",), sequence_length=config.seq_len)


def build_model(config, num_classes):
    """The model one fold trains, compiled with the papers' losses and optimiser."""
    from affectkeras import models, training

    source = source_network(config)  # loaded (or built) again per fold: folds never share weights
    if config.kind == "audio_clips":
        model = models.audio_classifier(source, num_classes=num_classes, time_windows=config.num_windows,
                                        pooling=config.pooling, dropout=config.dropout)
    elif config.kind == "expression_images":
        model = models.frame_classifier(source, num_expressions=num_classes, dropout=config.dropout)
    else:
        model = models.replace_heads(source, tasks=("va",))
    if config.freeze_backbone:
        training.freeze_cnn(model, include_audio=True)
    optimizer = training.default_optimizer(learning_rate=config.learning_rate, decay_rate=config.decay_rate,
                                           decay_steps=config.decay_steps)
    return training.compile_preset(model, optimizer=optimizer, label_smoothing=config.label_smoothing)


def input_size(model):
    return int(model.input["faces"].shape[-2])


# ----------------------------------------------------------------------------------------
# Per-kind datasets and scores


def class_datasets(config, model, train, test):
    """Training (augmented), batch-norm calibration (training set as tested) and test pipelines."""
    from affectkeras.data import downstream

    if config.kind == "audio_clips":
        shared = dict(num_windows=config.num_windows, batch_size=config.batch_size, seed=config.seed,
                      normalize=None if config.normalize == "none" else config.normalize)
        return (downstream.audio_clip_dataset(train, training=True, spec_augment=config.spec_augment, **shared),
                downstream.audio_clip_dataset(train, training=False, **shared),
                downstream.audio_clip_dataset(test, training=False, **shared))
    shared = dict(size=input_size(model), batch_size=config.batch_size, seed=config.seed, align=config.align_faces)
    return (downstream.expression_image_dataset(train, shuffle=True, flip=config.flip, **shared),
            downstream.expression_image_dataset(train, **shared),
            downstream.expression_image_dataset(test, **shared))


def class_scores(model, test_ds, num_classes, batch_size):
    """Accuracy, macro F1 and the confusion matrix of `model` on `test_ds`, with chance levels."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    from affectkeras.evaluation import predict_batch
    from affectkeras.metrics import expr_score

    truth, probabilities = [], []
    for inputs, targets in test_ds:
        probabilities.append(predict_batch(model, inputs, batch_size)["expression"])
        truth.append(targets["expression"].numpy())
    truth, probabilities = np.concatenate(truth), np.concatenate(probabilities)
    score = expr_score(truth, probabilities)
    counts = np.bincount(truth, minlength=num_classes)
    return {
        "accuracy": float(score["accuracy"]),
        "f1": float(score["f1"]),
        "test_examples": len(truth),
        "chance_accuracy": 1.0 / num_classes,
        "majority_accuracy": float(counts.max() / counts.sum()),
        "confusion_matrix": confusion_matrix(truth, probabilities.argmax(-1), labels=range(num_classes)).tolist(),
    }


def va_records(config, run_dir, records, network):
    """Preprocesses every video once into `<run>/records` (labels as Aff-Wild2 VA files)."""
    from affectkeras.data import downstream, run_preprocess

    data = pathlib.Path(config.data)
    annotations = run_dir / "annotations"
    downstream.write_va_annotations({r["name"]: r["labels"] for r in records}, annotations, split="train")
    out = run_dir / "records"
    result = run_preprocess(data, out, split="train", tasks="va", annotations=annotations,
                            audio=network["audio"], size=network["face_size"], progress=None)
    if result.failed:
        name, error = next(iter(result.failed.items()))
        raise FileNotFoundError(f"preprocessing {len(result.failed)} video(s) failed; {name}: {error}")
    return out


def va_datasets(config, records_dir, network, train, test):
    from affectkeras.data import make_dataset

    modalities = ("faces", "audio") if network["audio"] else ("faces",)
    shared = dict(seq_len=config.seq_len, batch_size=config.batch_size, modalities=modalities, tasks=("va",),
                  face_size=network["face_size"])

    def shards(part):  # one shard per video, named as its annotation file
        return [str(records_dir / f"{r['name']}.tfrecord") for r in part]

    return (make_dataset(shards(train), shuffle=True, seed=config.seed, count=True, **shared),
            make_dataset(shards(train), shuffle=False, **shared),
            make_dataset(shards(test), shuffle=False, pad_remainder=True, **shared))


def va_scores(model, test_ds, batch_size):
    import numpy as np

    from affectkeras.evaluation import predict_batch
    from affectkeras.metrics import va_score

    truth, predictions = [], []
    for inputs, targets in test_ds:
        predictions.append(np.reshape(predict_batch(model, inputs, batch_size)["valence_arousal"], (-1, 2)))
        truth.append(np.reshape(targets["valence_arousal"].numpy(), (-1, 2)))
    score = va_score(np.concatenate(truth), np.concatenate(predictions))
    return {"ccc_valence": float(score["valence"]), "ccc_arousal": float(score["arousal"]),
            "ccc": float(score["score"]), "chance_ccc": 0.0}


# ----------------------------------------------------------------------------------------
# The run


def summarise(folds):
    """Mean and sample std (ddof=1; 0 for one fold) over folds of every numeric score."""
    import numpy as np

    skip = ("chance", "majority", "train_seconds")
    names = [k for k, v in folds[0].items() if isinstance(v, float) and not k.startswith(skip)]
    summary = {}
    for name in names:
        values = np.array([fold[name] for fold in folds])
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return summary


def main(argv=None):
    config = parse_config(FinetuneConfig, argv, description=__doc__, prog="finetune.py")

    import keras

    from affectkeras import models
    from affectkeras.runs import RunFolder, set_seed

    records, subject_of, class_names = read_records(config)  # bad data fails before a run folder exists
    folds = make_folds(records, subject_of, config)
    run = RunFolder(config.run_dir, resume=config.resume, overwrite=config.overwrite)
    run.save_config(config)
    num_classes = len(class_names)
    if config.kind == "continuous_va":  # the network decides what the records need
        probe = source_network(config)
        network = {"audio": "audio" in probe.input, "face_size": input_size(probe)}
        records_dir = va_records(config, run.path, records, network)
        del probe

    results = []
    for index, (train, test) in enumerate(folds, start=1):
        fold_dir = run.path / f"fold_{index}"
        done = fold_dir / "metrics.json"
        if config.resume and done.is_file():
            results.append(json.loads(done.read_text()))
            print(f"fold {index}/{len(folds)}: finished before, skipped")
            continue
        fold = RunFolder(fold_dir, resume=config.resume and (fold_dir / "config.json").is_file(), overwrite=True)
        test_subjects = sorted({subject_of(r) for r in test}, key=str)
        fold.save_config({**dataclasses.asdict(config), "fold": index, "test_subjects": test_subjects})
        keras.backend.clear_session()
        set_seed(config.seed)  # every fold starts from the same initialisation and order
        model = build_model(config, num_classes)
        if config.kind == "continuous_va":
            train_ds, calibration_ds, test_ds = va_datasets(config, records_dir, network, train, test)
        else:
            train_ds, calibration_ds, test_ds = class_datasets(config, model, train, test)
        started = time.perf_counter()
        model.fit(train_ds, epochs=config.epochs, callbacks=fold.callbacks(), verbose=config.verbose, shuffle=False)
        if config.recalibrate_bn:  # a short run leaves the moving statistics behind the weights
            models.recalibrate_batch_norm(model, calibration_ds)
        fold.save_model(model)
        scores = va_scores(model, test_ds, config.batch_size) if config.kind == "continuous_va" else class_scores(
            model, test_ds, num_classes, config.batch_size)
        scores = {"fold": index, "test_subjects": test_subjects, "train_examples": len(train), **scores,
                  "train_seconds": round(time.perf_counter() - started, 1)}
        fold.write_metrics(scores)
        results.append(scores)
        print(f"fold {index}/{len(folds)} (test subjects {', '.join(map(str, test_subjects))}): "
              + ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float) and k != "train_seconds"))

    summary = summarise(results)
    metrics = {"kind": config.kind, "classes": list(class_names), "folds": results, "summary": summary,
               "std": "sample standard deviation over folds (ddof=1)"}
    run.write_metrics(metrics)
    print("mean +- std over folds: " + ", ".join(f"{k} {v['mean']:.3f} +- {v['std']:.3f}" for k, v in summary.items()))
    print(f"run folder: {run.path} (config.json, metrics.json, fold_*/: model.keras, checkpoints/, logs/)")
    return metrics


if __name__ == "__main__":
    sys.exit(run_recipe(main))
