"""Train a network of the Aff-Wild2 papers on Aff-Wild2-layout data.

    python recipes/train_affwild2.py --data Aff-Wild2 --run-dir runs/av_mt \\
        --network av_mt_vgg_rnn --tasks va,expr,au --pretraining vggface1 --epochs 10

`--data` is the dataset root as distributed for ABAW (`videos/`, `cropped_aligned/`,
`annotations/`, see the README); the recipe turns its training and validation splits
into TFRecords under `--records` once (resumable), then trains with the papers' defaults:
80-frame sequences, 4 per batch, Adam 1e-3 decayed x0.97 every 400 steps, CCC loss for
valence/arousal plus the masked cross-entropies. The run folder gets `config.json`,
`checkpoints/`, TensorBoard `logs/`, `history.csv`, `model.keras`, `metrics.json` and the
validation report (`evaluation/`).

Training strategies of the Aff-Wild2 paper (`--training-strategy`): `freeze_cnn` (i: the
CNN layers that `--pretraining` set stay fixed, the RNN and the rest (fc6 at 96 px) train),
`train_all` (ii), `init_from` (iii: start from the RNN, heads and non-pretrained CNN layers
of a run made with (i), `--init-from RUN_DIR`, then train everything).

Starting from the networks that ship with affectkeras (real representations, no download):
`--network av_mt_vgg_rnn --width 0.5 --face-size 64 --pretraining ferplus
--audio-pretraining ravdess_audio` starts the visual stream from the FER+ expression network
and the audio stream from the RAVDESS speech-emotion network.

Scale: `--strategy mirrored` (all local GPUs) or `multi_worker` (every worker in
`TF_CONFIG` runs the same command; preprocess first and pass `--records`),
`--precision mixed_bfloat16` (CPUs with AMX, recent GPUs) or `mixed_float16` (GPUs),
`--jit-compile`. An interrupted run continues from its last epoch with the same command
plus `--resume`.
"""

import dataclasses
import functools
import os
import pathlib
import shutil
import sys
import typing

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.constants import LANDMARKS_INPUT  # noqa: E402
from affectkeras.errors import InvalidArgumentError  # noqa: E402
from affectkeras.models import NETWORKS, get_network  # noqa: E402
from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402
from affectkeras.training import PRECISIONS  # noqa: E402

TRAINING_STRATEGIES = ("train_all", "freeze_cnn", "init_from")


@dataclasses.dataclass
class TrainConfig:
    data: str = config_field("", "dataset root in the Aff-Wild2 layout (needed unless --records holds records)")
    records: str = config_field("", "folder of the TFRecords (train/, validation/); default <run-dir>/records")
    run_dir: str = config_field("runs/affwild2", "run folder (config, checkpoints, logs, model, metrics)")
    network: str = config_field("av_mt_vgg_rnn", "network to build", choices=tuple(NETWORKS))
    backbone: str = config_field("vggface", "CNN of --network cnn_rnn", choices=("vggface", "resnet50", "densenet121"))
    landmarks: bool = config_field(False, "cnn_rnn: the faces' 68 landmarks beside the CNN features (AffWildNet; "
                                          "the records are preprocessed with them)")
    dropout: float = config_field(0.0, "cnn_rnn: dropout on the CNN features before the RNN (AffWildNet: 0.5)")
    pretraining: str = config_field("", "backbone weights: a preset (vggface1, vggface2, ferplus: the shipped FER+ "
                                        "stream, with --width 0.5 --face-size 64), a file, or empty")
    audio_pretraining: str = config_field("", "audio stream of av_mt_vgg_rnn to start from: ravdess_audio (the "
                                              "shipped RAVDESS speech stream), a .keras file or run folder, or empty")
    rnn: str = config_field("gru", "recurrent layer of the sequence networks", choices=("gru", "lstm", "indrnn"))
    rnn_units: int = config_field(128, "units per RNN layer")
    rnn_layers: int = config_field(2, "RNN layers")
    attention: str = config_field("none", "temporal attention: cell (the papers' TF1 attention cell around the RNN), "
                                  "window (vectorised approximation after it), none", choices=("none", "cell", "window"))
    gru_reset_after: bool = config_field(False, "Keras's GRU variant (reset gate after the recurrent matmul) instead "
                                         "of TF1's GRUCell, the papers'")
    attention_length: int = config_field(32, "frames each step attends over")
    tasks: typing.Tuple[str, ...] = config_field(("va", "expr", "au"), "tasks among va, expr, au")
    num_expressions: int = config_field(8, "expression classes (7 for ABAW 2020/2021)")
    num_aus: int = config_field(12, "action units (8 for ABAW 2020)")
    width: float = config_field(1.0, "width multiplier of the CNNs and RNN (1.0 = the papers')")
    face_size: int = config_field(0, "face crop side; 0 = 96, or 112 for the ArcFace networks")
    seq_len: int = config_field(80, "frames per training sequence")
    batch_size: int = config_field(4, "sequences per batch (per-frame networks: batch_size x seq_len frames)")
    epochs: int = config_field(10, "training epochs")
    steps_per_epoch: int = config_field(0, "batches per epoch; 0 = one pass over the training records")
    learning_rate: float = config_field(1e-3, "initial Adam learning rate")
    decay_rate: float = config_field(0.97, "learning-rate decay factor")
    decay_steps: int = config_field(400, "steps between learning-rate decays")
    training_strategy: str = config_field("train_all", "the paper's training strategy", choices=TRAINING_STRATEGIES)
    init_from: str = config_field("", "run folder or .keras model whose RNN and heads start strategy init_from")
    strategy: str = config_field("one_device", "tf.distribute strategy", choices=("one_device", "mirrored", "multi_worker"))
    precision: str = config_field("float32", "Keras dtype policy", choices=PRECISIONS)
    jit_compile: bool = config_field(False, "compile the train step with XLA")
    preprocess_workers: int = config_field(1, "processes turning videos into records")
    seed: int = config_field(0, "random seed")
    verbose: int = config_field(2, "Keras fit verbosity (0, 1 = progress bar, 2 = a line per epoch)")
    resume: bool = config_field(False, "continue the run in --run-dir from its last epoch")
    overwrite: bool = config_field(False, "replace a run already in --run-dir")


def network(config):
    """The registry entry of `config.network` (`affectkeras.models.NETWORKS`)."""
    return get_network(config.network)


def build_network(config):
    """The network `config` names, at its width and label space."""
    spec = network(config)
    kwargs = dict(tasks=config.tasks, num_expressions=config.num_expressions, num_aus=config.num_aus,
                  width=config.width, input_size=face_size(config), pretraining=config.pretraining or None)
    if spec.sequence:
        kwargs.update(rnn=config.rnn, rnn_units=config.rnn_units, rnn_layers=config.rnn_layers,
                      attention=None if config.attention == "none" else config.attention,
                      attention_length=config.attention_length, gru_reset_after=config.gru_reset_after,
                      sequence_length=config.seq_len)
    if spec.name == "cnn_rnn":
        kwargs.update(backbone=config.backbone, landmarks=config.landmarks, dropout=config.dropout)
    elif config.landmarks or config.dropout:
        raise InvalidArgumentError(f"--landmarks and --dropout apply to --network cnn_rnn. "
                                   f"Received: network={config.network!r}")
    if config.audio_pretraining:
        if not spec.audio:
            raise InvalidArgumentError(f"--audio-pretraining needs a network with an audio stream (av_mt_vgg_rnn). "
                                       f"Received: network={config.network!r}")
        kwargs.update(audio_pretraining=config.audio_pretraining)
    return spec.build(**kwargs)


def face_size(config):
    return config.face_size or network(config).face_size


def check_inputs(config, records):
    """Fails before anything is written when there is neither a dataset nor records."""
    if config.data:
        if not pathlib.Path(config.data).is_dir():
            raise FileNotFoundError(f"--data {config.data}: no such dataset folder")
        return
    for split in ("train", "validation"):
        if not any((records / split).glob("*.tfrecord")):
            raise FileNotFoundError(
                f"{records / split} holds no records; pass --data DATASET_ROOT (multi-worker runs: "
                f"preprocess first with `affectkeras preprocess` and pass --records)"
            )


def prepare_records(config, records, chief):
    """The train/ and validation/ record folders, preprocessed from --data first if given.

    Preprocessing skips the videos already done, so a repeated or resumed run costs nothing.
    """
    from affectkeras.data import run_preprocess

    folders = {"train": records / "train", "validation": records / "validation"}
    if config.data and chief:
        for split, folder in folders.items():
            run_preprocess(config.data, folder, split=split, tasks=config.tasks, size=face_size(config),
                           audio=network(config).audio, landmarks=config.landmarks,
                           workers=config.preprocess_workers)
    return folders


def make_datasets(config, folders):
    """The training and validation `tf.data` pipelines of `config`'s network."""
    from affectkeras.data import make_frame_dataset, make_sequence_dataset

    spec = network(config)
    modalities = spec.modalities + ((LANDMARKS_INPUT,) if config.landmarks else ())
    shared = dict(modalities=modalities, tasks=config.tasks, face_size=face_size(config))
    if spec.sequence:
        pipeline = functools.partial(make_sequence_dataset, seq_len=config.seq_len, batch_size=config.batch_size,
                                     **shared)
        evaluation = dict(pad_remainder=True)
    else:  # as many frames per batch as the sequence networks see
        pipeline = functools.partial(make_frame_dataset, batch_size=config.batch_size * config.seq_len,
                                     with_expression_labels_input=spec.arcface, **shared)
        evaluation = {}
    # Counted epochs let Keras know their length from the first one (a multi-worker run's
    # workers each see a part of the data, so there it stays unknown).
    count = config.strategy != "multi_worker"
    repeat = config.steps_per_epoch > 0
    train = pipeline(folders["train"], shuffle=True, seed=config.seed, repeat=repeat, count=count and not repeat,
                     drop_remainder=config.strategy != "one_device")
    validation = pipeline(folders["validation"], shuffle=False, count=count, **evaluation)
    return train, validation


def apply_training_strategy(model, config):
    from affectkeras import training
    from affectkeras.runs import load_trained_model

    if config.training_strategy == "freeze_cnn":
        training.freeze_cnn(model)
    elif config.training_strategy == "init_from":
        if not config.init_from:
            raise InvalidArgumentError(
                "--training-strategy init_from needs --init-from RUN_DIR (a run made with freeze_cnn). "
                "Received: init_from=''"
            )
        training.init_from(model, load_trained_model(config.init_from))
        training.unfreeze_all(model)


def main(argv=None):
    config = parse_config(TrainConfig, argv, description=__doc__, prog="train_affwild2.py")

    from affectkeras import distribute, training
    from affectkeras.runs import RunFolder, load_trained_model, set_seed

    strategy = distribute.make_strategy(config.strategy)  # first: multi-worker needs a clean TF runtime
    chief, worker = distribute.worker_info(strategy)
    print(f"strategy {config.strategy}: {strategy.num_replicas_in_sync} replica(s); worker {worker}"
          f"{' (chief)' if chief else ''}", flush=True)
    set_seed(config.seed)
    training.set_precision(config.precision)

    run_dir = pathlib.Path(config.run_dir)
    records = pathlib.Path(config.records) if config.records else run_dir / "records"
    check_inputs(config, records)
    if chief:
        run = RunFolder(config.run_dir, resume=config.resume, overwrite=config.overwrite)
        run.save_config(config)
    else:
        run = RunFolder.for_worker(config.run_dir, worker)
    folders = prepare_records(config, records, chief)
    train, validation = make_datasets(config, folders)
    if config.strategy != "one_device":
        train, validation = distribute.shard_by_data(train), distribute.shard_by_data(validation)

    with strategy.scope():
        model = build_network(config)
        apply_training_strategy(model, config)
        optimizer = training.default_optimizer(learning_rate=config.learning_rate, decay_rate=config.decay_rate,
                                               decay_steps=config.decay_steps)
        training.compile_preset(model, optimizer=optimizer, jit_compile=config.jit_compile)
    distribute.prepare_fit(model, train, strategy)

    # Across workers, validation batches split unevenly (a worker may get an empty one, which
    # TimeDistributed cannot reshape); multi-worker runs validate once, on the chief, after fit.
    multi_worker = config.strategy == "multi_worker"
    callbacks = run.callbacks(monitor=None if multi_worker else _monitor(model), mode="max")
    with strategy.scope():
        model.fit(train, validation_data=None if multi_worker else validation, epochs=config.epochs,
                  steps_per_epoch=config.steps_per_epoch or None, callbacks=callbacks, verbose=config.verbose,
                  shuffle=False)  # the dataset shuffles itself
    run.save_model(model)
    if not chief:
        shutil.rmtree(run.path)  # its temporary folder; the chief wrote the run
        return None
    if multi_worker:  # evaluate a local copy: the distributed one would wait for the other workers
        model = load_trained_model(run.model_path)
    result = _evaluate(model, folders["validation"], config, run)
    metrics = result.to_dict()
    run.write_metrics(metrics)
    print(f"validation: {result.summary()}")
    print(f"run folder: {run.path} (model.keras, metrics.json, evaluation/report.md, logs/ for TensorBoard)")
    return metrics


def _monitor(model):
    """The validation metric that picks `checkpoints/best.keras` (CCC, else F1)."""
    from affectkeras.models.heads import named_outputs

    outputs = named_outputs(model)
    output = next(name for name in ("valence_arousal", "expression", "action_units") if name in outputs)
    metric = "ccc" if output == "valence_arousal" else "f1"
    # Keras prefixes metric names with the output name only when there are several outputs.
    return f"val_{output}_{metric}" if len(outputs) > 1 else f"val_{metric}"


def _evaluate(model, records, config, run):
    """The ABAW scores of `model` on the validation records, and the report in evaluation/."""
    from affectkeras import evaluation

    result = evaluation.evaluate(model, records, batch_size=config.batch_size)
    evaluation.write_report(result, run.path / "evaluation")
    return result


if __name__ == "__main__":
    sys.exit(run_recipe(main))
