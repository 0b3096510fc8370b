"""Speech emotion of audio clips: class probabilities per 0.5 s window and for the whole clip.

A clip goes through the features its model was trained on: decoded and resampled to
16 kHz (`audio.load_audio`), a log-mel spectrogram in dB (`audio.log_mel_spectrogram`),
cut into consecutive 0.5 s windows (`data.downstream.clip_windows`; the last one padded
with silence). The model is a clip classifier (`models.audio_classifier`: the audio stream
on every window, the window embeddings pooled, a softmax head). The clip's probabilities
are the model's output on all its windows; a window's probabilities are the same head on
that window's embedding alone.

A clip classifier exported as a SavedModel (`export.export_model`: its serving signature
from `audio` windows to the clip's `expression`) predicts through that signature
(`SavedSpeechModel`): the clip on all its windows, each window as a clip of one.

Without a model, `DEFAULT_SPEECH_MODEL` is used: `ravdess_audio`, the audio stream
trained on RAVDESS speech that ships with affectkeras (8 classes, `constants.RAVDESS_EMOTIONS`;
two networks, from two seeds, their probabilities averaged).

Example:
    >>> prediction = predict_clip("03-01-05-01-01-01-21.flac")
    >>> prediction.classes[int(prediction.probabilities.argmax())]
    'angry'
    >>> write_clip_prediction(prediction, "out", "03-01-05-01-01-01-21").json
    PosixPath('out/03-01-05-01-01-01-21.json')
"""

import dataclasses
import json
import math
import os
import pathlib
import typing

import numpy as np

from affectkeras.constants import AUDIO_CNN, AUDIO_INPUT, AUDIO_WINDOW, EXPR_OUTPUT, TEMPORAL_POOLING
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_positive, one_line
from affectkeras.files import atomic_path
from affectkeras.weights.presets import PresetName

# The speech-emotion network `affectkeras predict CLIP` uses without --model.
DEFAULT_SPEECH_MODEL = PresetName("ravdess_audio")
# Windows per model call: a 10-minute recording is 1,200 windows.
DEFAULT_CLIP_BATCH = 256


@dataclasses.dataclass(frozen=True)
class ClipPrediction:
    """One clip's predictions.

    Attributes:
        classes: tuple of str. Class names, in the order of the probabilities.
        window_seconds: float. Length of a window (0.5 s); window `i` starts at `i * window_seconds`.
        window_probabilities: np.ndarray of float32, `(windows, classes)`.
        probabilities: np.ndarray of float32, `(classes,)`: the whole clip.
        duration: float. Length of the clip in seconds.
    """

    classes: tuple
    window_seconds: float
    window_probabilities: np.ndarray
    probabilities: np.ndarray
    duration: float

    @property
    def label(self):
        """str. The most probable class of the clip."""
        return self.classes[int(np.argmax(self.probabilities))]


class ClipFiles(typing.NamedTuple):
    """The files `write_clip_prediction` wrote."""

    csv: pathlib.Path
    json: pathlib.Path


class SpeechModel:
    """A clip classifier ready to predict: its network (or an ensemble's), class names, windows.

    An ensemble's networks (`WeightsPreset.ensemble`) predict each window and each clip on
    their own; the probabilities are their mean. Build it with `load_speech_model`.

    Args:
        model: keras.Model, or a sequence of them (an ensemble of the same classes).
        classes: sequence of str. Class names, in the order of the outputs.
        source: str or None. Where the model came from, for messages.
    """

    def __init__(self, model, classes, *, source=None):
        import keras

        self.networks = tuple(model) if isinstance(model, (list, tuple)) else (model,)
        self.model = self.networks[0]
        self.classes = tuple(classes)
        self.source = source or self.model.name
        for network in self.networks:
            window = tuple(network.inputs[0].shape[2:4])
            if window != AUDIO_WINDOW:
                raise InvalidArgumentError(
                    f"{self.source}: log-mel windows of {window}; `clip_windows` gives {AUDIO_WINDOW} "
                    "(steps, mel bands)"
                )
            windows = network.inputs[0].shape[1]
            if windows is not None:
                raise InvalidArgumentError(
                    f"{self.source}: a clip classifier built with time_windows={windows} takes only clips of "
                    f"{windows} windows; predicting clips of any length needs one built with time_windows=None "
                    "(`models.audio_classifier`), as the ravdess_audio preset is"
                )
        # Two models, run compiled (`predict_on_batch`: an eager call of these small networks
        # costs several times the work it does): every network's window embeddings, chunk by
        # chunk of a long recording; then each network's pooling and head on the whole clip
        # and on every window alone (pooling one window is the identity), averaged.
        audio = keras.Input((None, *AUDIO_WINDOW, 1), name=AUDIO_INPUT)
        streams, embeddings, per_window, clip = [], [], [], []
        for i, network in enumerate(self.networks):  # each in a model of its own: layer names repeat
            stream = keras.Model(network.inputs[0], network.get_layer(AUDIO_CNN).output, name=f"stream_{i}")
            pooling, head = network.get_layer(TEMPORAL_POOLING), network.get_layer(EXPR_OUTPUT)
            dim = head.kernel.shape[0]
            window_embeddings = keras.Input((None, dim))
            readout = keras.Model(window_embeddings, [head(window_embeddings), head(pooling(window_embeddings))],
                                  name=f"readout_{i}")
            streams.append(stream(audio))
            embeddings.append(keras.Input((None, dim), name=f"embeddings_{i}"))
            window_probabilities, clip_probabilities = readout(embeddings[-1])
            per_window.append(window_probabilities)
            clip.append(clip_probabilities)

        def mean(outputs):
            return keras.layers.Average()(outputs) if len(outputs) > 1 else outputs[0]

        self._embed = keras.Model({AUDIO_INPUT: audio}, {f"embeddings_{i}": x for i, x in enumerate(streams)})
        self._heads = keras.Model(embeddings, {"windows": mean(per_window), "clip": mean(clip)})

    def __repr__(self):
        return f"SpeechModel({self.source}, classes={list(self.classes)})"

    def count_params(self):
        """int. Weights of all its networks."""
        return sum(network.count_params() for network in self.networks)

    def predict_windows(self, windows, *, batch_size=DEFAULT_CLIP_BATCH):
        """`(window_probabilities, clip_probabilities)` of one clip's `(windows, steps, n_mels, 1)` dB windows."""
        check_positive("batch_size", batch_size, integer=True)
        windows = np.asarray(windows, np.float32)
        chunks = []
        for start in range(0, len(windows), batch_size):
            chunk = windows[start:start + batch_size]
            embedded = self._embed.predict_on_batch({AUDIO_INPUT: _padded_for_backend(chunk)[None]})
            chunks.append({name: value[:, :len(chunk)] for name, value in embedded.items()})
        embeddings = [np.concatenate([chunk[f"embeddings_{i}"] for chunk in chunks], axis=1)
                      for i in range(len(self.networks))]
        outputs = self._heads.predict_on_batch([_padded_for_backend(e[0], fill=e[0].mean(axis=0))[None]
                                                for e in embeddings])
        return (np.asarray(outputs["windows"][0, :len(windows)], np.float32),
                np.asarray(outputs["clip"][0], np.float32))


def _padded_for_backend(rows, fill=0.0):
    """`rows` (windows or their embeddings) padded with `fill` as this backend wants them.

    JAX compiles a model once per input shape, which a clip's window count changes: the rows
    are padded to the next power of two, a few compilations in all. The stream embeds each
    window alone and the heads score each one alone, so the real windows' outputs do not
    change; padding embeddings with their own mean changes neither their mean nor their
    maximum, the two poolings of `models.audio_classifier`. TensorFlow relaxes the shape
    itself after two calls: the rows go as they are.
    """
    import keras

    if keras.backend.backend() != "jax":
        return rows
    padded = np.empty((1 << max(len(rows) - 1, 0).bit_length(), *rows.shape[1:]), rows.dtype)
    padded[:len(rows)], padded[len(rows):] = rows, fill
    return padded


class SavedSpeechModel:
    """A clip classifier exported as a SavedModel, ready to predict; `SpeechModel`'s interface.

    The serving signature of `export.export_saved_model` takes `audio` `(batch, windows,
    50, 64, 1)` float32 dB windows and returns `expression`, each clip's probabilities: a
    clip's are the signature on all its windows at once; a window's, the signature on that
    window as a clip of one (pooling one window is the identity), `batch_size` per call.
    Build it with `load_speech_model`.

    Args:
        path: str or Path. A SavedModel folder, or an export folder holding one as `saved_model/`.
        classes: sequence of str or None. Class names; None: the `expression` labels of the
            `export.json` beside the SavedModel (`export.export_model`), else `class_0`, ...

    Raises:
        DataFormatError: the folder does not load as a SavedModel with a serving signature,
            or its `export.json` is no JSON.
        InvalidArgumentError: the SavedModel is no clip classifier's, or takes a fixed number
            of windows, or the class names do not match its outputs.
    """

    def __init__(self, path, classes=None):
        from affectkeras.export import SIGNATURE, find_saved_model, load_saved_model

        path = pathlib.Path(path)
        saved = find_saved_model(path)
        if saved is None:
            raise DataFormatError(path, None, "holds no SavedModel (saved_model.pb, or saved_model/saved_model.pb)")
        self.source = str(path)
        try:
            self._loaded = load_saved_model(saved)  # the signature's variables live as long as this object
        except Exception as error:  # TF raises many kinds on a damaged folder
            raise DataFormatError(saved, None, f"cannot load the SavedModel ({one_line(error)})") from None
        self._signature = self._loaded.signatures.get(SIGNATURE)
        if self._signature is None:
            raise DataFormatError(saved, None, f"the SavedModel has no {SIGNATURE!r} signature "
                                               f"(found: {sorted(self._loaded.signatures)})")
        inputs = self._signature.structured_input_signature[1]
        outputs = self._signature.structured_outputs
        audio, expression = inputs.get(AUDIO_INPUT), outputs.get(EXPR_OUTPUT)
        if (set(inputs) != {AUDIO_INPUT} or audio.shape.rank != 5 or tuple(audio.shape[2:]) != (*AUDIO_WINDOW, 1)
                or expression is None or expression.shape.rank != 2):
            raise InvalidArgumentError(
                f"{path}: not a clip classifier's SavedModel (expected a {SIGNATURE!r} signature from `{AUDIO_INPUT}` "
                f"(batch, windows, {AUDIO_WINDOW[0]}, {AUDIO_WINDOW[1]}, 1) log-mel windows to `{EXPR_OUTPUT}` "
                f"(batch, classes), as export_model writes for models.audio_classifier). Received inputs "
                f"{ {name: spec.shape.as_list() for name, spec in inputs.items()} } and outputs {sorted(outputs)}"
            )
        if audio.shape[1] is not None:
            raise InvalidArgumentError(
                f"{path}: a clip classifier exported with time_windows={audio.shape[1]} takes only clips of "
                f"{audio.shape[1]} windows; predicting clips of any length needs one built with time_windows=None "
                "(`models.audio_classifier`)"
            )
        num_classes = expression.shape[-1]
        classes = classes or _export_labels(saved)
        self.classes = tuple(classes) if classes else tuple(f"class_{i}" for i in range(num_classes))
        if len(self.classes) != num_classes:
            raise InvalidArgumentError(f"{path}: {len(self.classes)} class names for {num_classes} outputs")

    def __repr__(self):
        return f"SavedSpeechModel({self.source}, classes={list(self.classes)})"

    def count_params(self):
        """int. Elements of the SavedModel's variables (its weights, and a dropout's seed state)."""
        return sum(int(np.prod(variable.shape)) for variable in self._loaded.variables)

    def predict_windows(self, windows, *, batch_size=DEFAULT_CLIP_BATCH):
        """`(window_probabilities, clip_probabilities)` of one clip's `(windows, steps, n_mels, 1)` dB windows."""
        from affectkeras.export import call_signature

        check_positive("batch_size", batch_size, integer=True)
        windows = np.asarray(windows, np.float32)
        per_window = [call_signature(self._signature, {AUDIO_INPUT: windows[start:start + batch_size, None]})[
            EXPR_OUTPUT] for start in range(0, len(windows), batch_size)]
        clip = call_signature(self._signature, {AUDIO_INPUT: windows[None]})[EXPR_OUTPUT][0]
        return np.concatenate(per_window).astype(np.float32), np.asarray(clip, np.float32)


def _export_labels(saved):
    """The `expression` labels of the `export.json` beside SavedModel folder `saved`, or None."""
    from affectkeras.export import DESCRIPTION_FILE

    description = saved.parent / DESCRIPTION_FILE
    if not description.is_file():
        return None
    try:
        document = json.loads(description.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFormatError(description, error.lineno, f"not JSON ({error.msg})") from None
    if not isinstance(document, dict) or document.get("saved_model") != saved.name:
        return None  # another export's description
    return ((document.get("outputs") or {}).get(EXPR_OUTPUT) or {}).get("labels")


def is_clip_classifier(network):
    """bool. `network` is a clip classifier as `models.audio_classifier` builds it.

    That is: one `audio` input, an `audio_cnn` stream, a `temporal_pooling` layer and an
    `expression` output.

    Args:
        network: keras.Model.

    Returns:
        bool.

    Example:
        >>> is_clip_classifier(pretraining.build_speech_network(width=0.1))
        True
    """
    input_names = [tensor.name for tensor in network.inputs]
    layer_names = {layer.name for layer in network.layers}
    return input_names == [AUDIO_INPUT] and {AUDIO_CNN, TEMPORAL_POOLING, EXPR_OUTPUT} <= layer_names


def load_speech_model(model=DEFAULT_SPEECH_MODEL):
    """Loads a clip classifier: a preset name, a `.keras` file, a run folder, a SavedModel or a `keras.Model`.

    Class names come from the preset (`WeightsPreset.classes`), else from the run folder's
    `metrics.json` (`"classes"`, as `recipes/finetune.py` writes it), else for a SavedModel
    (its folder, or an export folder holding it as `saved_model/`) from the `export.json`
    beside it, else `class_0`, ...

    Args:
        model: str, Path, keras.Model, `SpeechModel` or `SavedSpeechModel`.

    Returns:
        `SpeechModel`, or `SavedSpeechModel` for a SavedModel.

    Raises:
        FileNotFoundError: no such file or folder.
        WeightsError: a file that is not a Keras model.
        DataFormatError: a SavedModel that does not load.
        InvalidArgumentError: the model is no clip classifier (no `audio` input, `audio_cnn`
            stream, `temporal_pooling` layer or `expression` output; a SavedModel without
            the serving signature of one), or takes a fixed number of windows.

    Example:
        >>> load_speech_model("deploy/emodb").classes  # an export folder of `affectkeras export`
        ('anger', 'boredom', 'disgust', 'fear', 'happiness', 'neutral', 'sadness')
    """
    import keras

    from affectkeras import runs, weights
    from affectkeras.export import find_saved_model

    if isinstance(model, (SpeechModel, SavedSpeechModel)):
        return model
    classes, source = None, None
    if isinstance(model, keras.Model):
        networks = [model]
    elif weights.is_network_preset(model):  # with the networks of its ensemble, if any
        source = str(model)
        networks, classes = weights.load_preset_networks(source), weights.get_preset(source).classes
    elif find_saved_model(pathlib.Path(model)) is not None:  # as `inference.load_predictor` prefers it
        return SavedSpeechModel(model)
    else:
        source = str(model)
        networks, classes = [runs.load_trained_model(model)], run_classes(pathlib.Path(model))
    for network in networks:
        if not is_clip_classifier(network):
            input_names = [tensor.name for tensor in network.inputs]
            raise InvalidArgumentError(
                f"{source or network.name}: not a clip classifier (expected an `audio` input, an `{AUDIO_CNN}` "
                f"stream, a `{TEMPORAL_POOLING}` layer and an `{EXPR_OUTPUT}` output, as models.audio_classifier "
                f"builds). Received inputs {input_names}"
            )
        num_classes = network.get_layer(EXPR_OUTPUT).units
        classes = tuple(classes) if classes else tuple(f"class_{i}" for i in range(num_classes))
        if len(classes) != num_classes:
            raise InvalidArgumentError(f"{source}: {len(classes)} class names for {num_classes} outputs")
    return SpeechModel(networks, classes, source=source)


def run_classes(path):
    """The class names a fine-tuning run recorded in its (or its parent's) `metrics.json`, or None.

    Args:
        path: Path. A run folder or a model file in one.

    Returns:
        list of str, or None: `metrics.json`'s `"classes"` (as `recipes/finetune.py` writes it).

    Raises:
        DataFormatError: a `metrics.json` that is no JSON.

    Example:
        >>> run_classes(pathlib.Path("runs/emodb/model.keras"))
        ['anger', 'boredom', 'disgust', 'fear', 'happiness', 'neutral', 'sadness']
    """
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / "metrics.json", folder.parent / "metrics.json"):
        if candidate.is_file():
            try:
                document = json.loads(candidate.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise DataFormatError(candidate, error.lineno, f"not JSON ({error.msg})") from None
            classes = document.get("classes") if isinstance(document, dict) else None
            if classes:
                return classes
    return None


def read_clip(path):
    """Decodes an audio file to a mono 16 kHz waveform (`audio.load_audio`; wav, flac, mp3, ogg, ...).

    Raises:
        FileNotFoundError, MediaError: the file is missing or holds no decodable audio
            (the message names it).
    """
    from affectkeras import audio

    return audio.load_audio(path, sample_rate=audio.SpectrogramConfig().sample_rate)


def clip_windows(waveform):
    """A 16 kHz waveform's consecutive 0.5 s log-mel windows `(windows, 50, 64, 1)` in dB.

    The last window is padded with silence.
    """
    from affectkeras import audio
    from affectkeras.data import downstream

    config = audio.SpectrogramConfig()
    spectrogram = audio.log_mel_spectrogram(waveform, config)
    # Counted in samples: centred framing gives 1 + n // hop frames, one too many for a clip of
    # whole windows, whose extra window would hold one frame of sound and silence.
    count = max(1, math.ceil(len(waveform) / (config.steps * config.hop_length)))
    return downstream.clip_windows(spectrogram, count, config, align="start").numpy()


def predict_clip(clip, model=DEFAULT_SPEECH_MODEL, *, batch_size=DEFAULT_CLIP_BATCH):
    """Predicts one audio clip, per 0.5 s window and as a whole.

    Args:
        clip: str or path-like (an audio file: wav, flac, mp3, ogg, ...; any rate, mono or
            not), or a mono float waveform at 16 kHz (`read_clip`).
        model: str, Path, keras.Model, `SpeechModel` or `SavedSpeechModel`. See `load_speech_model`.
        batch_size: int. Windows per model call.

    Returns:
        `ClipPrediction`.

    Raises:
        FileNotFoundError, MediaError: the file is missing or holds no decodable audio
            (the message names it).
    """
    from affectkeras import audio

    config = audio.SpectrogramConfig()
    waveform = read_clip(clip) if isinstance(clip, (str, os.PathLike)) else np.asarray(clip, np.float32)
    speech = load_speech_model(model)
    per_window, whole = speech.predict_windows(clip_windows(waveform), batch_size=batch_size)
    return ClipPrediction(speech.classes, config.window_seconds, per_window, whole,
                          duration=len(waveform) / config.sample_rate)


def write_clip_prediction(prediction, out_dir, stem):
    """Writes `DIR/<stem>.csv` (one row per window) and `DIR/<stem>.json` (the clip).

    The CSV has `window_index,start,end` (seconds) and one probability per class; the JSON
    is `{"classes": [...], "probabilities": [...]}`. Both are written under a temporary
    name and renamed when complete.

    Returns:
        `ClipFiles(csv, json)`.
    """
    if not isinstance(stem, str) or not stem or os.sep in stem or stem in (".", ".."):
        raise InvalidArgumentError(f"`stem` must be a plain file name stem. Received: stem={stem!r}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    step = prediction.window_seconds
    with atomic_path(csv_path) as staging, open(staging, "w", encoding="utf-8", newline="") as file:
        file.write(",".join(("window_index", "start", "end", *prediction.classes)) + "\n")
        for index, row in enumerate(prediction.window_probabilities):
            end = min((index + 1) * step, prediction.duration)
            file.write(f"{index},{index * step:.3f},{end:.3f}," + ",".join(f"{p:.6f}" for p in row) + "\n")
    document = {"classes": list(prediction.classes),
                "probabilities": [round(float(p), 6) for p in prediction.probabilities]}
    with atomic_path(json_path) as staging:
        pathlib.Path(staging).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return ClipFiles(csv_path, json_path)


__all__ = [
    "DEFAULT_CLIP_BATCH",
    "DEFAULT_SPEECH_MODEL",
    "ClipFiles",
    "ClipPrediction",
    "SavedSpeechModel",
    "SpeechModel",
    "clip_windows",
    "is_clip_classifier",
    "load_speech_model",
    "predict_clip",
    "read_clip",
    "run_classes",
    "write_clip_prediction",
]
