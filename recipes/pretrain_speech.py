"""Pretrain the audio stream on RAVDESS speech: the `ravdess_audio` model that ships with affectkeras.

    python recipes/pretrain_speech.py --data ../shared/data/ravdess_speech_16k \\
        --run-dir runs/ravdess_audio --cv-folds 3 --seed 0

The network (`affectkeras.pretraining.build_speech_network`) is the A/V networks' audio
stream over 0.5 s log-mel windows, its window embeddings averaged over the clip, and an
8-emotion softmax. It trains on random 2 s crops (`--num-windows 4`) moved up or down the
mel axis by up to 3 bands (`--mel-shift`) and with SpecAugment masks, one-hot targets
(optionally mixed up: `--mixup`, off by default, lowered the development actors'
accuracy; optionally sped up or slowed down: `--time-stretch`, off by default, left it
level), AdamW with a warm-up and a cosine decay to 0, for a fixed number of epochs
(the decay lets the batch-norm statistics settle: recomputing them on clean clips
afterwards, as `finetune.py` does after its step decay, lowered the development actors'
accuracy, 0.442 -> 0.421). Clips are scored on their centred 4 s.

The shipped preset is two networks of this recipe, seeds 0 and 1 (`ravdess_audio` and
`ravdess_audio_2`, its `ensemble`), their probabilities averaged.

Speaker independence: the actors of `--held-out` (default 21-24, never used for any
choice) are scored once, at the end. `--cv-folds K` first cross-validates the same
settings by actor over the training actors alone (K folds, no actor on both sides):
that mean +- std is the figure settings are chosen on.

The run folder gets `config.json`, `fold_*/` (with `--cv-folds`), `model.keras` (the
final network, trained on every training actor), `history.csv`, TensorBoard `logs/` and
`metrics.json` (cross-validation per fold and mean +- std; held-out accuracy, macro F1,
confusion matrix and per-actor accuracy). `--export FILE.weights.h5` also writes the
weights, as the package's `ravdess_audio` preset holds them. `--resume` skips the folds
already finished.
"""

import dataclasses
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402
from affectkeras.training import PRECISIONS  # noqa: E402


@dataclasses.dataclass
class PretrainSpeechConfig:
    data: str = config_field("", "RAVDESS speech folder (Actor_XX/ clips, any audio format)")
    run_dir: str = config_field("runs/ravdess_audio", "run folder (config, folds, logs, model, metrics)")
    held_out: str = config_field("21,22,23,24", "actors kept out of training and selection, scored once")
    cv_folds: int = config_field(0, "first cross-validate by actor over the training actors (K folds); 0 = no")
    width: float = config_field(0.5, "width of the audio stream (1.0 = the A/V networks' full size; 0.5 = the "
                                     "ferplus preset's, so both start one A/V network)")
    dropout: float = config_field(0.3, "dropout on the pooled clip embedding")
    num_windows: int = config_field(4, "0.5 s windows per random training crop (4 = 2 s); clips are scored on "
                                       "their centred 4 s")
    mel_shift: int = config_field(3, "move each training clip up or down the mel axis by a random number of bands "
                                     "up to this (a crude pitch change; 0 = none)")
    time_stretch: float = config_field(0.0, "speed each training clip up or down by a random factor in "
                                            "[1 - this, 1 + this] (0 = none)")
    mixup: float = config_field(0.0, "mixup of the training batches with this Beta parameter (0 = none)")
    epochs: int = config_field(160, "training epochs")
    batch_size: int = config_field(16, "clips per batch")
    learning_rate: float = config_field(2e-3, "peak AdamW learning rate (after a 5 % warm-up, cosine decay to 0)")
    weight_decay: float = config_field(1e-4, "AdamW weight decay")
    precision: str = config_field("mixed_bfloat16", "Keras dtype policy", choices=PRECISIONS)
    limit: int = config_field(0, "use only N clips of each side, spread over the actors (quick runs); 0 = all")
    export: str = config_field("", "also write the final weights to this .weights.h5 file")
    seed: int = config_field(0, "random seed (folds, initialisation, shuffles, augmentation)")
    verbose: int = config_field(2, "Keras fit verbosity (0, 1 = progress bar, 2 = a line per epoch)")
    resume: bool = config_field(False, "continue the run in --run-dir, skipping finished folds")
    overwrite: bool = config_field(False, "replace a run already in --run-dir")


def train_and_score(config, data, callbacks=()):
    """Trains a fresh network on `data.train` and scores `data.test`.

    Returns:
        `(model, scores)`: the network in float32 (as it ships) and its scores on the test
        clips (`evaluation.score_classes`), or None when `data.test` is None.
    """
    from affectkeras import evaluation, pretraining, training
    from affectkeras.runs import set_seed

    set_seed(config.seed)
    training.set_precision(config.precision)
    network = dict(width=config.width, dropout=config.dropout)
    model = pretraining.compile_soft_labels(pretraining.build_speech_network(**network),
                                            learning_rate=config.learning_rate, weight_decay=config.weight_decay,
                                            total_steps=config.epochs * data.steps_per_epoch)
    started = time.perf_counter()
    history = model.fit(data.train, epochs=config.epochs, callbacks=list(callbacks), verbose=config.verbose,
                        shuffle=False)
    seconds = time.perf_counter() - started
    epochs_run = len(history.history.get("loss", []))  # fewer after --resume; 0 for a finished run
    training.set_precision("float32")  # scored as it ships
    shipped = pretraining.build_speech_network(**network)
    shipped.set_weights(model.get_weights())
    scores = None
    if data.test is not None:
        scores = evaluation.score_classes(shipped, data.test, num_classes=8, batch_size=config.batch_size)
    rate = round(data.sizes["train"] * epochs_run / seconds, 1) if epochs_run else None
    return shipped, {"scores": scores, "train_seconds": round(seconds, 1), "epochs_run": epochs_run,
                     "train_clips_per_second": rate}


def main(argv=None):
    config = parse_config(PretrainSpeechConfig, argv, description=__doc__, prog="pretrain_speech.py")

    from affectkeras import annotations, evaluation, finetuning, pretraining
    from affectkeras.constants import RAVDESS_EMOTIONS
    from affectkeras.data.downstream import audio_clip_dataset
    from affectkeras.errors import InvalidArgumentError
    from affectkeras.files import atomic_path
    from affectkeras.runs import RunFolder

    if not config.data:
        raise InvalidArgumentError("--data is required: the RAVDESS speech folder. Received: data=''")
    try:
        held_out = [int(actor) for actor in config.held_out.split(",")]
    except ValueError:
        raise InvalidArgumentError(f"--held-out must list actor numbers separated by commas (e.g. 21,22,23,24). "
                                   f"Received: {config.held_out!r}") from None
    train, test = pretraining.split_ravdess(config.data, held_out=held_out)
    if config.limit:  # a quick run: clips spread over every actor
        train, test = (records[::max(1, len(records) // config.limit)][:config.limit] for records in (train, test))
    shared = dict(num_windows=config.num_windows, mel_shift=config.mel_shift, time_stretch=config.time_stretch,
                  mixup_alpha=config.mixup, batch_size=config.batch_size, seed=config.seed)
    data = pretraining.speech_datasets(train, test, **shared)
    run = RunFolder(config.run_dir, resume=config.resume, overwrite=config.overwrite)
    run.save_config(config)
    print(f"RAVDESS clips: {data.sizes}; training actors {list(data.train_actors)}, held out "
          f"{list(data.test_actors)}; {config.precision}", flush=True)
    metrics = {"protocol": f"speaker-independent: actors {list(data.test_actors)} held out of training and "
                           "selection, scored once; settings chosen by cross-validation over the training actors",
               "clips": data.sizes, "train_actors": list(data.train_actors), "test_actors": list(data.test_actors)}

    if config.cv_folds:  # the evidence settings are chosen on: K folds by actor, training actors only

        def train_fold(index, fold_train, fold_test, fold):
            _, result = train_and_score(config, pretraining.speech_datasets(fold_train, fold_test, **shared))
            return {**result.pop("scores"), **result}

        folds = annotations.kfold_by_subject(train, config.cv_folds, key=lambda r: r.actor)
        results = finetuning.run_folds(folds, run, train_fold, subject_of=lambda r: r.actor, config=config,
                                       resume=config.resume, classes=RAVDESS_EMOTIONS)
        metrics["cross_validation"] = {"folds": results, "summary": finetuning.summarise_folds(results)}
        print("cross-validation over the training actors, "
              + finetuning.summary_line(metrics["cross_validation"]["summary"]), flush=True)

    model, result = train_and_score(config, data, callbacks=run.callbacks())
    run.save_model(model)
    if config.export:
        with atomic_path(config.export, keep_suffix=".weights.h5") as staging:
            model.save_weights(staging)
    scores = result.pop("scores")
    scores["per_actor_accuracy"] = {
        str(actor): evaluation.score_classes(model, audio_clip_dataset(
            [r for r in test if r.actor == actor], num_windows=pretraining.RAVDESS_CLIP_WINDOWS,
            batch_size=config.batch_size), num_classes=8, batch_size=config.batch_size)["accuracy"]
        for actor in data.test_actors
    }
    metrics.update(test=scores, parameters=model.count_params(), **result)
    run.write_metrics(metrics)
    print(f"held-out actors {list(data.test_actors)}: accuracy {scores['accuracy']:.4f}, macro F1 "
          f"{scores['f1']:.4f} (chance 0.125); {result['train_clips_per_second']} training clips/s")
    print(f"run folder: {run.path} (model.keras, metrics.json, fold_*/, logs/)")
    return metrics


if __name__ == "__main__":
    sys.exit(run_recipe(main))
