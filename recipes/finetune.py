"""Fine-tune a trained network on a downstream database, subject-independent.

Audio clips (RAVDESS naming, `Actor_01/03-01-05-01-01-01-01.flac`), leave one actor out,
starting from the audio stream of an A/V-MT-VGG-RNN run (or from a fresh audio CNN with
`--model none`):

    python recipes/finetune.py --kind audio_clips --data ravdess_speech_16k \\
        --model runs/av_mt --leave-one-subject-out --epochs 30 --run-dir runs/ravdess

Expression images in `<root>/<class>/<image>` folders (AffectNet, RAF-DB or CK+ exports;
numbered class folders need `--class-map affectnet` or `rafdb`; a CSV `path,label` list
works too, its subjects from a `subject` column if it has one), subjects from the file
names, 5 folds by subject:

    python recipes/finetune.py --kind expression_images --data CK+ \\
        --subject-pattern '/(S\\d{3})_' --folds 5 --model runs/mt_vgg_rnn --run-dir runs/ckplus

Continuous valence/arousal (RECOLA style): `<data>/videos/<name>.mp4` (30 fps) and
`<data>/labels/<name>.csv` (`time,valence,arousal`, any rate, resampled to 30 fps), a
`cropped_aligned/<name>/` folder of face crops used when present (else faces are
detected); the labels become Aff-Wild2 VA files and the Aff-Wild2 pipeline
(`run_preprocess`, `make_sequence_dataset`) does the rest:

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

Measured on actors 01-04 of `../shared/data/ravdess_speech_16k` (RAVDESS speech, 240 clips,
8 emotions; the `Actor_01` ... `Actor_04` folders copied to `RAVDESS_01_04`; 2 CPU cores,
6 min), from a randomly initialised full-width audio stream (no Aff-Wild2 model can be
downloaded here), leave one actor out:

    python recipes/finetune.py --kind audio_clips --data RAVDESS_01_04 --model none --width 1.0 \
        --leave-one-subject-out --epochs 20 --learning-rate 1e-3 --batch-size 16 --normalize none \
        --seed 0 --run-dir runs/ravdess

held-out accuracy 0.329 +- 0.042 and macro F1 0.266 +- 0.032 (mean +- sample std over
the 4 actors; chance 0.125, majority class 0.133). `--model ravdess_audio` starts from the
shipped speech-emotion network, `--model ferplus` (images) from the shipped FER+ one.

What can be checked is checked before the run folder is made (option values, the subjects
for the split, every image readable, every audio clip decoded -- once, for all folds --, the
videos there, `--model` found), so a run refused for its input is rerun without `--overwrite`.

The run folder gets `config.json`, `metrics.json` (per fold and mean +- std over folds:
accuracy and macro F1 for classes, CCC for VA, with chance levels) and, per fold
(`fold_1/`, ...), `checkpoints/`, TensorBoard `logs/`, `history.csv`, `model.keras` and
that fold's `metrics.json`. `--resume` skips the folds already finished.
"""

import dataclasses
import os
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.finetuning import CLASS_MAPS, KINDS  # noqa: E402
from affectkeras.errors import InvalidArgumentError  # noqa: E402
from affectkeras.runs import RunFolder, build_parser, config_field, parse_config, run_recipe  # noqa: E402
from affectkeras.training import PRECISIONS  # noqa: E402

PROG = "finetune.py"


@dataclasses.dataclass
class FinetuneConfig:
    kind: str = config_field("audio_clips", "what the database holds", choices=KINDS)
    data: str = config_field("", "database folder, or a CSV list: path,label of images (expression_images) or "
                                       "path,label,subject of audio files (audio_clips)")
    model: str = config_field("", "trained run folder, .keras model or shipped preset (ferplus, "
                                        "ravdess_audio); empty or 'none' = a fresh network")
    width: float = config_field(1.0, "width of a fresh network (--model none)")
    run_dir: str = config_field("runs/finetune", "run folder (config, per-fold checkpoints, logs, metrics)")
    subject_pattern: str = config_field("", "regex on image paths (relative to --data), group 1 = subject id")
    folds: int = config_field(0, "K-fold cross-validation by subject; 0 = one split (--test-fraction)")
    leave_one_subject_out: bool = config_field(False, "one fold per subject (K = number of subjects)")
    test_fraction: float = config_field(0.25, "fraction of the subjects held out (one split)")
    num_classes: int = config_field(8, "expression classes of image databases (7 = no Other)", choices=(7, 8))
    unknown_classes: str = config_field("error", "class folders that are no expression", choices=("error", "drop"))
    value_range: tuple[float, ...] = config_field(
        (-1.0, 1.0), "continuous_va: the scale of the label files, mapped onto [-1, 1] (e.g. --value-range=1,9)")
    class_map: str = config_field("", "numbered classes as a database numbers them (affectnet: 0 Neutral ... 6 Anger; "
                                  "rafdb: 1 Surprise ... 7 Neutral); default: the library's indices (0 Neutral ... 7 Other)",
                                  choices=("", *CLASS_MAPS))
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
    learning_rate: float = config_field(0.0, "initial Adam learning rate; 0 = the kind's measured default "
                                        "(finetuning.LEARNING_RATES: 1e-4 images, 1e-3 audio clips and VA)")
    decay_rate: float = config_field(0.97, "learning-rate decay factor")
    decay_steps: int = config_field(400, "steps between learning-rate decays")
    freeze_backbone: bool = config_field(False, "train only the new head (and RNN): the CNN streams' pretrained layers frozen")
    recalibrate_bn: bool = config_field(True, "after training, recompute the batch-norm statistics on the "
                                        "training data (no labels, no augmentation)")
    label_smoothing: float = config_field(0.0, "label smoothing of the cross-entropy")
    precision: str = config_field("float32", "Keras dtype policy (mixed_bfloat16: CPUs with AMX, recent GPUs)",
                                  choices=PRECISIONS)
    seed: int = config_field(0, "random seed (splits, initialisation, shuffles, augmentation)")
    verbose: int = config_field(2, "Keras fit verbosity (0, 1 = progress bar, 2 = a line per epoch)")
    resume: bool = config_field(False, "continue the run in --run-dir, skipping finished folds")
    overwrite: bool = config_field(False, "replace a run already in --run-dir")


def _integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# (option, test, what it accepts): values that cannot work, refused before anything is read.
CHECKS = (
    ("folds", lambda v: _integer(v) and (v == 0 or v >= 2),
     "0 (one split, --test-fraction) or a number of folds >= 2 (K-fold by subject)"),
    ("test_fraction", lambda v: _number(v) and 0 < v < 1, "a fraction of the subjects in (0, 1)"),
    ("epochs", lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("batch_size", lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("learning_rate", lambda v: _number(v) and v >= 0, "a number > 0, or 0 for the kind's default"),
    ("decay_rate", lambda v: _number(v) and 0 < v <= 1, "a factor in (0, 1] (1 = no decay)"),
    ("decay_steps", lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("dropout", lambda v: _number(v) and 0 <= v < 1, "a fraction in [0, 1)"),
    ("label_smoothing", lambda v: _number(v) and 0 <= v < 1, "a fraction in [0, 1)"),
    ("width", lambda v: _number(v) and v > 0, "a number > 0 (1.0 = the papers' network)"),
    ("image_size", lambda v: _integer(v) and v >= 32, "an integer >= 32 (the face CNN halves it 5 times)"),
    ("num_windows", lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("seq_len", lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("seed", lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    ("verbose", lambda v: v in (0, 1, 2) and _integer(v), "0, 1 or 2"),
    ("value_range", lambda v: len(v) == 2 and all(map(_number, v)) and v[0] < v[1],
     "two numbers LOW,HIGH with LOW < HIGH (e.g. --value-range=1,9)"),
)
# Options of image databases only, at their defaults: other kinds take their classes elsewhere.
IMAGE_OPTIONS = {"num_classes": 8, "unknown_classes": "error", "class_map": ""}
CLASSES_OF = {"audio_clips": "the RAVDESS file names or the labels of a CSV list", "continuous_va": "valence/arousal"}


def _option(name):
    return "--" + name.replace("_", "-")


def check_options(config, parser):
    """Refuses option values that cannot work, naming the option and what it accepts.

    Checked before anything is read or written, in the recipe's words: the library's own
    checks name its parameters (`k`, `unknown`), which are not the options a user typed.
    `parser.error` prints one `finetune.py: error: ...` line (after the usage) and exits 2.
    """
    if not config.data:
        parser.error("--data is required: the database folder, or a CSV list of images or clips")
    for name, test, accepted in CHECKS:
        value = getattr(config, name)
        if not test(value):
            parser.error(f"{_option(name)} must be {accepted}. Received: {_option(name)} {value!r}")
    if config.subject_pattern:
        try:
            groups = re.compile(config.subject_pattern).groups
        except re.error as error:
            parser.error(f"--subject-pattern is not a regular expression ({error}). "
                         f"Received: --subject-pattern {config.subject_pattern!r}")
        if not groups:
            parser.error("--subject-pattern needs a group around the subject id, e.g. '/(S\\d+)_'. "
                         f"Received: --subject-pattern {config.subject_pattern!r}")
    if config.kind != "expression_images":
        for name, default in IMAGE_OPTIONS.items():
            if getattr(config, name) != default:
                parser.error(f"{_option(name)} applies to --kind expression_images only: --kind {config.kind} takes "
                             f"its classes from {CLASSES_OF[config.kind]}. Received: {_option(name)} "
                             f"{getattr(config, name)!r}")
    if config.kind != "continuous_va" and tuple(config.value_range) != (-1.0, 1.0):
        parser.error(f"--value-range applies to --kind continuous_va only. Received: --value-range {config.value_range}")
    if config.kind == "audio_clips" and config.subject_pattern:
        parser.error("--subject-pattern does not apply to --kind audio_clips: the subjects are the RAVDESS actors "
                     f"or a CSV list's `subject` column. Received: --subject-pattern {config.subject_pattern!r}")
    try:  # the run folder's own check, before any data is read
        RunFolder.check(config.run_dir, resume=config.resume, overwrite=config.overwrite)
    except InvalidArgumentError as error:
        parser.error(f"--run-dir {error}")


def check_subjects(config, database, parser):
    """Refuses splits the database's subjects cannot make (`--folds` above their number, one subject)."""
    subjects = database.subjects()
    if len(subjects) < 2:
        hint = " (check --subject-pattern)" if config.kind != "audio_clips" else ""
        parser.error(f"--data {config.data} holds one subject ({subjects[0]}){hint}: a subject-independent split "
                     "needs at least 2")
    if not config.leave_one_subject_out and config.folds > len(subjects):
        parser.error(f"--folds must be at most the number of subjects, {len(subjects)} in --data {config.data} "
                     f"(--leave-one-subject-out for one fold each). Received: --folds {config.folds}")


def check_model(config):
    """Fails now, before a run folder exists, on a --model that names no model."""
    from affectkeras import weights
    from affectkeras.runs import resolve_model_path

    if config.model and config.model.lower() != "none" and not weights.is_network_preset(config.model):
        resolve_model_path(config.model)  # a missing file or folder, or no .keras model: raises, naming it


def build_model(config, num_classes):
    """The model one fold trains, compiled with the papers' losses and optimiser."""
    from affectkeras import finetuning, training

    # Loaded (or built) again per fold: folds never share weights.
    source = finetuning.source_network(config.kind, config.model, width=config.width, image_size=config.image_size,
                                       seq_len=config.seq_len)
    model = finetuning.fold_model(config.kind, source, num_classes=num_classes, pooling=config.pooling,
                                  dropout=config.dropout)
    if config.freeze_backbone:
        training.freeze_cnn(model)
    learning_rate = config.learning_rate or finetuning.LEARNING_RATES[config.kind]
    optimizer = training.default_optimizer(learning_rate=learning_rate, decay_rate=config.decay_rate,
                                           decay_steps=config.decay_steps)
    return training.compile_preset(model, optimizer=optimizer, label_smoothing=config.label_smoothing)


def class_datasets(config, model, train, test, spectrograms=None):
    """Training (augmented), batch-norm calibration (training set as tested) and test pipelines.

    `spectrograms`: the audio clips decoded once (`downstream.decode_clips`), for every fold."""
    from affectkeras.data import downstream
    from affectkeras.models import describe

    if config.kind == "audio_clips":
        shared = dict(num_windows=config.num_windows, batch_size=config.batch_size, seed=config.seed,
                      normalize=None if config.normalize == "none" else config.normalize, spectrograms=spectrograms)
        return (downstream.audio_clip_dataset(train, training=True, spec_augment=config.spec_augment, **shared),
                downstream.audio_clip_dataset(train, training=False, **shared),
                downstream.audio_clip_dataset(test, training=False, **shared))
    shared = dict(size=describe(model).face_size, batch_size=config.batch_size, seed=config.seed,
                  align=config.align_faces)
    return (downstream.expression_image_dataset(train, shuffle=True, flip=config.flip, **shared),
            downstream.expression_image_dataset(train, **shared),
            downstream.expression_image_dataset(test, **shared))


def va_records(config, run_dir, records, network):
    """Preprocesses every video once into `<run>/records` (labels as Aff-Wild2 VA files).

    The records are a cache that `--overwrite` keeps: videos already done from the same
    files and labels are skipped, the rest (or all, for a network that needs other crops
    or audio) made again."""
    from affectkeras.data import downstream, run_preprocess

    annotations = run_dir / "annotations"
    downstream.write_va_annotations({r["name"]: r["labels"] for r in records}, annotations, split="train")
    out = run_dir / "records"
    result = run_preprocess(config.data, out, split="train", tasks="va", annotations=annotations,
                            audio=network.audio_shape is not None, size=network.face_size, replace_other_settings=True,
                            progress=None)
    if result.failed:
        name, error = next(iter(result.failed.items()))
        raise FileNotFoundError(f"preprocessing {len(result.failed)} video(s) failed; {name}: {error}")
    return out


def va_datasets(config, records_dir, network, train, test):
    from affectkeras.data import make_sequence_dataset

    shared = dict(seq_len=config.seq_len, batch_size=config.batch_size, modalities=network.modalities,
                  tasks=("va",), face_size=network.face_size)

    def shards(part):  # one shard per video, named as its annotation file
        return [str(records_dir / f"{r['name']}.tfrecord") for r in part]

    return (make_sequence_dataset(shards(train), shuffle=True, seed=config.seed, count=True, **shared),
            make_sequence_dataset(shards(train), shuffle=False, **shared),
            make_sequence_dataset(shards(test), shuffle=False, pad_remainder=True, **shared))


def main(argv=None):
    config = parse_config(FinetuneConfig, argv, description=__doc__, prog=PROG)
    parser = build_parser(FinetuneConfig, description=__doc__, prog=PROG)  # for errors in the options' words
    check_options(config, parser)

    import keras

    from affectkeras import evaluation, finetuning, models, training
    from affectkeras.data import downstream
    from affectkeras.runs import set_seed

    # Bad options, data or model fail before a run folder exists: a rerun after the fix
    # needs no --overwrite. Images are checked as they are read (`read_database`), audio
    # clips decoded here, once for all folds, and continuous VA videos looked for.
    database = finetuning.read_database(config.kind, config.data, subject_pattern=config.subject_pattern,
                                        num_classes=config.num_classes, unknown_classes=config.unknown_classes,
                                        class_map=config.class_map, value_range=config.value_range)
    check_subjects(config, database, parser)
    folds = finetuning.subject_folds(database, folds=config.folds, leave_one_subject_out=config.leave_one_subject_out,
                                     test_fraction=config.test_fraction, seed=config.seed)
    check_model(config)
    spectrograms = downstream.decode_clips(database.records) if config.kind == "audio_clips" else None
    if config.kind == "continuous_va":  # the network decides what the records need
        network = models.describe(finetuning.source_network(config.kind, config.model, width=config.width,
                                                            seq_len=config.seq_len))
        finetuning.check_videos(database, audio=network.audio_shape is not None)
    run = RunFolder(config.run_dir, resume=config.resume, overwrite=config.overwrite)
    run.save_config(config)
    num_classes = len(database.classes)
    if config.kind == "continuous_va":
        records_dir = va_records(config, run.path, database.records, network)

    def train_fold(index, train, test, fold):
        keras.backend.clear_session()
        set_seed(config.seed)  # every fold starts from the same initialisation and order
        training.set_precision(config.precision)
        model = build_model(config, num_classes)
        if config.kind == "continuous_va":
            train_ds, calibration_ds, test_ds = va_datasets(config, records_dir, network, train, test)
        else:
            train_ds, calibration_ds, test_ds = class_datasets(config, model, train, test, spectrograms)
        started = time.perf_counter()
        model.fit(train_ds, epochs=config.epochs, callbacks=fold.callbacks(), verbose=config.verbose, shuffle=False)
        if config.recalibrate_bn:  # a short run leaves the moving statistics behind the weights
            models.recalibrate_batch_norm(model, calibration_ds)
        fold.save_model(model)
        if config.kind == "continuous_va":
            scores = evaluation.score_va(model, test_ds, batch_size=config.batch_size)
        else:
            scores = evaluation.score_classes(model, test_ds, num_classes=num_classes, batch_size=config.batch_size)
        return {**scores, "train_seconds": round(time.perf_counter() - started, 1)}

    results = finetuning.run_folds(folds, run, train_fold, subject_of=database.subject_of, config=config,
                                   resume=config.resume, classes=database.classes)
    summary = finetuning.summarise_folds(results)
    metrics = {"kind": config.kind, "classes": list(database.classes), "folds": results, "summary": summary,
               "std": "sample standard deviation over folds (ddof=1)"}
    run.write_metrics(metrics)
    print(finetuning.summary_line(summary))
    print(f"run folder: {run.path} (config.json, metrics.json, fold_*/: model.keras, checkpoints/, logs/)")
    return metrics


if __name__ == "__main__":
    sys.exit(run_recipe(main))
