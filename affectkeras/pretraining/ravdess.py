"""RAVDESS speech: the audio stream that ships as the `ravdess_audio` preset, and its data.

The network (`build_speech_network`) is the A/V networks' audio stream (`AudioCNN` over
0.5 s log-mel windows in dB) run on every window of a clip, the window embeddings
averaged, and a softmax over the 8 RAVDESS emotions (`models.audio_classifier`); it takes
clips of any number of windows.

Speaker independence: the actors `RAVDESS_TEST_ACTORS` (21-24, two men and two women) are
held out of training and of every choice made (settings, epochs); `recipes/pretrain_speech.py`
scores them once, at the end. The settings (dB input, width 0.5, 2 s training crops, 160
epochs, mel shifts of up to 3 bands) were chosen on actors 17-20 with 8 other actors
training.

Example:
    >>> data = speech_datasets(*split_ravdess("ravdess_speech_16k"), batch_size=16, seed=0)
    >>> model = compile_soft_labels(build_speech_network(), learning_rate=2e-3,
    ...                             total_steps=160 * data.steps_per_epoch)
    >>> model.fit(data.train, epochs=160)
    >>> evaluation.score_classes(model, data.test, num_classes=8)["accuracy"]
"""

import dataclasses
import math

from affectkeras.constants import AUDIO_WINDOW, EXPR_OUTPUT, RAVDESS_EMOTIONS

# Held out of training and selection; scored once by `recipes/pretrain_speech.py`.
RAVDESS_TEST_ACTORS = (21, 22, 23, 24)
# Windows of the centred crop clips are scored on (4 s: RAVDESS's whole utterance).
RAVDESS_CLIP_WINDOWS = 8


@dataclasses.dataclass(frozen=True)
class SpeechData:
    """RAVDESS speech as `tf.data` pipelines of `({"audio"}, {"expression"})` batches.

    Attributes:
        train: augmented, shuffled clips of the training actors with one-hot targets `(batch, 8)`.
        test: the held-out actors' clips (centred crops), int labels `(batch,)`, for
            `evaluation.score_classes`; None when no actor is held out.
        train_actors, test_actors: tuple of int.
        sizes: dict `"train"` / `"test"` -> number of clips.
        steps_per_epoch: int. Training batches per epoch.
    """

    train: object
    test: object
    train_actors: tuple
    test_actors: tuple
    sizes: dict
    steps_per_epoch: int


def split_ravdess(root, *, held_out=RAVDESS_TEST_ACTORS):
    """RAVDESS clips under `root` (`annotations.read_ravdess`), split into `(train, test)` by actor.

    Args:
        root: str or Path. The folder of `Actor_XX/` clips (any audio format, any rate).
        held_out: sequence of int. Actors kept out of training (the test side).

    Returns:
        `(train_records, test_records)`, lists of `RavdessRecord`.

    Raises:
        FileNotFoundError: no RAVDESS clip under `root`.
        InvalidArgumentError: a held-out actor that is not in the data, or every actor held out.
    """
    from affectkeras import finetuning
    from affectkeras.errors import InvalidArgumentError

    database = finetuning.read_database("audio_clips", root)
    actors = database.subjects()
    held_out = tuple(sorted(int(a) for a in held_out))
    missing = [a for a in held_out if a not in actors]
    if missing or len(held_out) == len(actors):
        raise InvalidArgumentError(
            f"`held_out` must name some, not all, of the actors in {root} ({actors}). Received: held_out={held_out}"
        )
    return ([r for r in database.records if r.actor not in held_out],
            [r for r in database.records if r.actor in held_out])


def speech_datasets(train, test, *, num_classes=len(RAVDESS_EMOTIONS), num_windows=4,
                    test_windows=RAVDESS_CLIP_WINDOWS, mel_shift=0, time_stretch=0.0, mixup_alpha=0.0, batch_size=16,
                    seed=0):
    """`SpeechData` of any clip records (`RavdessRecord`s, or `ClipRecord`s of a CSV list).

    Args:
        train, test: sequences of records with a `path` and a class (see
            `data.downstream.audio_clip_dataset`); `test` may be empty.
        num_classes: int. Classes of the one-hot training targets.
        num_windows: int. 0.5 s windows per random training crop (4 = 2 s: as accurate as
            whole 4 s clips on the development actors, at half the cost).
        test_windows: int. Windows of the centred crop the test clips are scored on (8 = 4 s,
            RAVDESS's whole utterance).
        mel_shift: int. Training clips moved up or down the mel axis by up to this many
            bands (`audio.mel_shift`); 0 = none.
        time_stretch: float. Training clips sped up or slowed down by a random factor in
            [1 - time_stretch, 1 + time_stretch] (`audio.time_stretch`); 0 = none.
        mixup_alpha: float. Training batches mixed (`soft_labels.mixup`) with this Beta
            parameter; 0 = none.
        batch_size: int. Clips per batch.
        seed: int. Seed of the shuffle, the crops and the masks.

    Returns:
        `SpeechData`.
    """
    import tensorflow as tf

    from affectkeras.data.downstream import audio_clip_dataset
    from affectkeras.pretraining.soft_labels import mixup

    def one_hot(inputs, targets):  # soft targets: compile_soft_labels' cross-entropy
        return inputs, {EXPR_OUTPUT: tf.one_hot(targets[EXPR_OUTPUT], num_classes)}

    shared = dict(batch_size=batch_size, seed=seed)
    train_data = audio_clip_dataset(train, training=True, num_windows=num_windows, mel_shift=mel_shift,
                                    time_stretch=time_stretch, **shared).map(one_hot)
    return SpeechData(
        train=mixup(train_data, mixup_alpha, seed=seed) if mixup_alpha else train_data,
        test=audio_clip_dataset(test, num_windows=test_windows, **shared) if test else None,
        train_actors=tuple(sorted({_subject(r) for r in train})),
        test_actors=tuple(sorted({_subject(r) for r in test})),
        sizes={"train": len(train), "test": len(test)},
        steps_per_epoch=math.ceil(len(train) / batch_size),
    )


def _subject(record):
    return record.actor if hasattr(record, "actor") else record.subject


def build_speech_network(*, width=0.5, pooling="mean", dropout=0.3, name="ravdess_audio"):
    """The speech-emotion network: the audio stream on every 0.5 s window, pooled, 8 emotions.

    Args:
        width: float. Width of the audio stream (`AudioCNN`; 1.0 = the A/V networks' full
            size, 0.5 = the shipped model's, as the `ferplus` visual stream's).
        pooling: str. `"mean"` or `"max"` over the windows' embeddings.
        dropout: float. Dropout on the pooled embedding.
        name: str. Model name.

    Returns:
        A `keras.Model` from `audio` `(batch, windows, 50, 64, 1)` log-mel dB windows (any
        number of windows) to `expression` `(batch, 8)` probabilities over
        `constants.RAVDESS_EMOTIONS`.
    """
    from affectkeras.models import audio_classifier, streams

    steps, n_mels = AUDIO_WINDOW
    stream = streams.audio_cnn(window_steps=steps, n_mels=n_mels, width=width)
    return audio_classifier(stream, num_classes=len(RAVDESS_EMOTIONS), time_windows=None, pooling=pooling,
                            dropout=dropout, name=name)


__all__ = ["RAVDESS_CLIP_WINDOWS", "RAVDESS_TEST_ACTORS", "SpeechData", "build_speech_network",
           "speech_datasets", "split_ravdess"]
