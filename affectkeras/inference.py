"""The video predictor: a trained network and a video in, one row of predictions per frame out.

The video goes through the library's own pipeline, as the training data did: frames at
30 fps (`affectkeras.media`), faces detected, tracked and aligned (`affectkeras.faces`,
crops of the network's input size), and for audio-visual networks the log-mel window of
every frame (`affectkeras.audio.video_audio_windows`; a video without a sound track gives
silence and a warning). The faces come from a `faces.FaceStream` in a process of its own
(`faces.background`): every face is cut out as soon as its frame is analysed, and the
network works on it meanwhile, so the slower of the two stages sets the pace. The main
subject (`faces="main"`, `iter_faces`' "persistent" choice) is known only when the whole
video has been seen, so the network sees every face and the main subject's rows are kept
at the end; `faces="all"` keeps every face. Per-frame networks see the faces in batches.
Sequence networks run in two parts (`models.surgery.split_sequence_network`): the
per-frame part (CNN streams) on faces in batches, then the temporal part (RNN, attention,
heads) over each face track from its first to its last frame in one pass, so that a
prediction never depends on where a window starts (a track ends at a scene cut or where
its face is lost). The predictions are then mapped back to the *source* frames
(`FrameTimeline.source_to_output`: the 30-fps frame that shows each source frame, or the
nearest in time), so a 23.976-fps video gives one row per frame of the file (per face of
the frame with `faces="all"`).

Models come as a `keras.Model`, a `.keras` file, a run folder (`affectkeras.runs`), or a
SavedModel folder written by `affectkeras.export.export_saved_model` (its
`serving_default` signature); the predictor reads the face size, the window length and
the audio window shape from the model's inputs. A SavedModel exported before the
per-frame / temporal signatures existed runs sequence networks on consecutive windows of
its time length instead (main face only).

Example:
    >>> from affectkeras.inference import predict_video, write_predictions
    >>> table = predict_video("clip.mp4", "runs/av_mt/model.keras", progress=True)
    >>> files = write_predictions(table, "predictions", "clip")
    >>> files.csv
    PosixPath('predictions/clip.csv')
"""

import contextlib
import dataclasses
import errno
import functools
import json
import math
import os
import pathlib
import sys
import time
import typing
import zipfile

import numpy as np

from affectkeras import _figures
from affectkeras.constants import (
    AU_OUTPUT,
    AUDIO_INPUT,
    EXPR_OUTPUT,
    EXPRESSIONS_8,
    FACES_INPUT,
    LANDMARK_POINTS,
    LANDMARKS_INPUT,
    VA_NAMES,
    VA_OUTPUT,
    au_names,
    expression_names,
)
from affectkeras.errors import (
    DataFormatError,
    InvalidArgumentError,
    MediaError,
    check_choice,
    check_positive,
    one_line,
)
from affectkeras.files import atomic_path
from affectkeras.weights.presets import PresetName

# The network `affectkeras predict` uses without --model: the FER+ expression preset (a
# `PresetName`: a folder called ferplus in the working directory does not replace it).
DEFAULT_MODEL = PresetName("ferplus")
# Face side when a network leaves its input size open (the VGG-Face networks' 96 px).
DEFAULT_FACE_SIZE = 96
# Which faces `predict_video` follows: the main subject's, or every face with a track id.
FACE_MODES = ("main", "all")
# Model inputs per call when `batch_size` is None: faces, or windows (old SavedModels).
DEFAULT_FRAME_BATCH = 32
DEFAULT_WINDOW_BATCH = 4
BOX_COLUMNS = ("x0", "y0", "x1", "y1")
FRAME_COLUMNS = ("frame_index", "time", "face_found", *BOX_COLUMNS, "track_id")
_EXPECTED_MODEL = (
    "expected a .keras file, a run folder holding model.keras, or a SavedModel folder "
    "(saved_model.pb) written by affectkeras.export.export_saved_model"
)


# ----------------------------------------------------------------------------- predictor


class Predictor:
    """A trained network ready to predict on face crops (and audio windows), any format.

    Build one with `load_predictor(path)` or `Predictor.from_model(model)`.

    Attributes:
        source: str. Where the network comes from (a path or the model's name).
        face_size: int. Side of the square uint8 face crops the network takes.
        window: int or None. Frames per sequence window for sequence networks; None for
            per-frame networks.
        audio_shape: tuple or None. Shape of one frame's audio window, e.g. `(50, 64, 1)`,
            for audio-visual networks; None when the network takes no audio.
        landmarks: bool. The network also takes each face's 68 landmarks (AffWildNet).
        precision: str or None. The Keras dtype policy the network computes under
            (`"float32"`, `"mixed_bfloat16"`, ...; over whole tracks, `predict_track`, the
            temporal part of a sequence network runs in float32); None for a SavedModel
            (as exported).
        outputs: dict. Output name (`valence_arousal`, `expression`, `action_units`) to
            its size, in that order.

    Example:
        >>> predictor = load_predictor("runs/av_mt")
        >>> predictor.window, predictor.audio_shape
        (80, (50, 64, 1))
        >>> outputs = predictor.predict_batch(faces, audio)  # dict of np.ndarray
    """

    def __init__(self, *, source, face_size, window, audio_shape, outputs, call, landmarks=False, parts=None,
                 precision=None):
        self.source = source
        self.precision = precision
        self.face_size = face_size
        self.window = window
        self.audio_shape = audio_shape
        self.landmarks = landmarks
        self.outputs = outputs
        self._call = call
        self._parts = parts  # (per-frame features of (inputs, crop rows), temporal part) of a sequence network

    def __repr__(self):
        return (
            f"Predictor(source={self.source!r}, face_size={self.face_size}, window={self.window}, "
            f"audio_shape={self.audio_shape}, outputs={self.outputs})"
        )

    @property
    def columns(self):
        """tuple of str. The prediction columns of this network's table, in order."""
        return _prediction_columns(self.outputs)

    @property
    def whole_tracks(self):
        """bool. A sequence network that runs over whole tracks (`frame_features`, `predict_track`)."""
        return self._parts is not None

    @classmethod
    def from_model(cls, model, *, source=None, precision=None):
        """Wraps a `keras.Model` of `affectkeras.models` (ArcFace nets lose their labels input).

        Args:
            model: keras.Model. Inputs `faces` (uint8) and optionally `audio`.
            source: str or None. Name for messages; default the model's name.
            precision: str or None. Run under this dtype policy (`"float32"`,
                `"mixed_bfloat16"`, `"mixed_float16"`, or `"auto"`: the device's fastest,
                `distribute.default_precision`); None = as the model is.

        Returns:
            `Predictor`.
        """
        import keras

        from affectkeras.models import describe, inference_model
        from affectkeras.models.heads import output_dict

        from affectkeras.distribute import resolve_precision
        from affectkeras.models.surgery import recurrent_layers, with_precision

        source = source or getattr(model, "name", type(model).__name__)
        model = inference_model(model)
        if precision is not None:
            model = with_precision(model, resolve_precision(precision))
        try:
            description = describe(model)
        except InvalidArgumentError as error:
            if source == model.name:
                raise
            raise InvalidArgumentError(f"{source}: {error}") from None
        fields = _fields(description, source)
        input_names = [tensor.name for tensor in model.inputs]
        dict_input = isinstance(model.input, dict)

        def call(inputs):
            batch = inputs if dict_input else [inputs[name] for name in input_names]
            return output_dict(model, model.predict_on_batch(batch))

        # Sequence networks with an RNN run over whole tracks; others (none here) on windows.
        parts = _sequence_parts(model) if description.sequence and recurrent_layers(model) else None
        # A nested stream model keeps a float32 policy of its own: its layers tell how it computes.
        compute_policy = next(layer.dtype_policy.name for layer in model._flatten_layers(include_self=False)
                              if layer.weights and not isinstance(layer, keras.Model))
        return cls(source=source, call=call, parts=parts, precision=compute_policy, **fields)

    @classmethod
    def from_saved_model(cls, path):
        """Wraps the `serving_default` signature of a SavedModel from `export_saved_model`.

        Args:
            path: str or Path. The SavedModel folder.

        Returns:
            `Predictor`.

        Raises:
            DataFormatError: the folder is not a loadable SavedModel with that signature.
        """
        from affectkeras.export import (
            FEATURES_INPUT,
            FEATURES_OUTPUT,
            FRAME_SIGNATURE,
            SIGNATURE,
            TRACK_SIGNATURE,
            call_signature,
            load_saved_model,
        )
        from affectkeras.models.registry import describe_signature

        path = pathlib.Path(path)
        try:
            loaded = load_saved_model(path)  # also a folder named like `model[v2]`
        except Exception as error:  # TF raises many kinds on a damaged folder
            raise DataFormatError(path, None, f"cannot load the SavedModel ({one_line(error)})") from None
        signature = loaded.signatures.get(SIGNATURE)
        if signature is None:
            raise DataFormatError(
                path, None, f"the SavedModel has no {SIGNATURE!r} signature (found: {sorted(loaded.signatures)})"
            )
        specs = {name: tuple(spec.shape[1:]) for name, spec in signature.structured_input_signature[1].items()}
        sizes = {name: spec.shape[-1] for name, spec in signature.structured_outputs.items()}
        fields = _fields(describe_signature(specs, sizes, source=str(path)), str(path))

        def call(inputs):
            return call_signature(signature, inputs)

        parts = None
        if FRAME_SIGNATURE in loaded.signatures and TRACK_SIGNATURE in loaded.signatures:
            frames, track = loaded.signatures[FRAME_SIGNATURE], loaded.signatures[TRACK_SIGNATURE]
            parts = (  # the signature takes one crop per frame
                lambda inputs, rows: call_signature(frames, {**inputs, FACES_INPUT: inputs[FACES_INPUT][:, rows]})[
                    FEATURES_OUTPUT],
                lambda features: call_signature(track, {FEATURES_INPUT: features}),
            )

        predictor = cls(source=str(path), call=call, parts=parts, **fields)
        predictor._loaded = loaded  # the signature's variables live as long as this object
        return predictor

    def predict_batch(self, faces, audio=None, landmarks=None):
        """Runs the network on one batch.

        Args:
            faces: np.ndarray of uint8, `(batch, size, size, 3)`, or
                `(batch, window, size, size, 3)` for sequence networks.
            audio: np.ndarray of float32 or None. `(batch, [window,] *audio_shape)` for
                audio-visual networks.
            landmarks: np.ndarray of float32 or None. `(batch, [window,] 136)` for networks
                with landmarks; None fits them on the faces (`faces.crop_landmarks`; zeros
                for all-zero faces).

        Returns:
            dict from output name to np.ndarray of float32, `(batch, [window,] units)`.
        """
        outputs = self._call(self._inputs(faces, audio, landmarks))
        return {name: np.asarray(outputs[name], np.float32) for name in self.outputs}

    def frame_features(self, faces, audio=None, landmarks=None, *, face_rows=None):
        """The per-frame part of a sequence network on frames of any tracks.

        Args:
            faces: np.ndarray of uint8, `(crops, size, size, 3)`: one per frame, or with
                `face_rows`, each distinct crop once.
            audio, landmarks: as `predict_batch`, `(n, ...)`: one per frame.
            face_rows: array of int or None. `(n,)`: frame i shows crop `face_rows[i]` (a
                source frame shown at two 30-fps ticks is one crop beside two audio
                windows); the visual stream runs once per crop. None: one crop per frame.

        Returns:
            np.ndarray of float32, `(n, dim)`: what the network's first RNN reads.
        """
        self._check_whole_tracks()
        faces = np.asarray(faces, np.uint8)
        rows = np.arange(len(faces), dtype=np.int32) if face_rows is None else np.asarray(face_rows, np.int32)
        frames = len(rows) if audio is None else len(audio)
        if rows.shape != (frames,) or rows.size and (rows.min() < 0 or rows.max() >= len(faces)):
            raise InvalidArgumentError(
                f"`face_rows` must give each of the {frames} frames one of the {len(faces)} crops "
                f"(0..{len(faces) - 1}). Received: face_rows of shape {rows.shape} in "
                f"{rows.min() if rows.size else '-'}..{rows.max() if rows.size else '-'}"
            )
        if self.landmarks and landmarks is None:
            landmarks = _fit_landmarks(faces)[rows]
        inputs = self._inputs(faces[None], None if audio is None else audio[None],
                              None if landmarks is None else landmarks[None])
        return np.asarray(self._parts[0](inputs, rows), np.float32)[0]

    def predict_track(self, features):
        """The temporal part (RNN, attention, heads) over one whole track, in one pass.

        Args:
            features: np.ndarray of float32, `(time, dim)`, from `frame_features`.

        Returns:
            dict from output name to np.ndarray of float32, `(time, units)`.
        """
        self._check_whole_tracks()
        outputs = self._parts[1](np.asarray(features, np.float32)[None])
        return {name: np.asarray(outputs[name], np.float32)[0] for name in self.outputs}

    def _check_whole_tracks(self):
        if self._parts is None:
            raise InvalidArgumentError(
                f"{self.source} does not run over whole tracks (a per-frame network, or a SavedModel exported "
                "without the per-frame / temporal signatures): use predict_batch"
            )

    def _inputs(self, faces, audio, landmarks):
        inputs = {FACES_INPUT: np.asarray(faces, np.uint8)}
        if self.audio_shape is not None:
            if audio is None:
                raise InvalidArgumentError(
                    f"{self.source} takes audio windows {self.audio_shape}. Received: audio=None"
                )
            inputs[AUDIO_INPUT] = np.asarray(audio, np.float32)
        if self.landmarks:
            inputs[LANDMARKS_INPUT] = np.asarray(_fit_landmarks(inputs[FACES_INPUT]) if landmarks is None
                                                 else landmarks, np.float32)
        return inputs


def _fields(description, source):
    """The predictor's face size, window, audio shape and outputs from a `ModelDescription`."""
    if FACES_INPUT not in description.inputs:
        raise InvalidArgumentError(
            f"{source} is not an affectkeras network for videos: it must take `faces` "
            f"(batch, [time,] size, size, 3). Received: inputs={list(description.inputs)}"
        )
    _prediction_columns(description.outputs)  # checks the class and AU counts
    return dict(face_size=int(description.face_size or DEFAULT_FACE_SIZE), window=description.sequence_length,
                audio_shape=description.audio_shape, outputs=description.outputs,
                landmarks=LANDMARKS_INPUT in description.inputs)


def _sequence_parts(model):
    """The per-frame and temporal parts of a sequence network as traced functions of any
    length; the per-frame one takes each distinct crop once and `rows` (crop of each frame),
    the temporal one computes in float32 whatever the network's precision."""
    import tensorflow as tf

    from affectkeras.models.heads import output_dict
    from affectkeras.models.surgery import split_face_stream, split_sequence_network, with_precision

    per_frame, temporal = split_sequence_network(model)
    # The temporal part takes one small step after another: under bf16 its casts cost more
    # than its matmuls save (full A/V network, 591-frame track: 0.56 s vs 0.26 s in float32).
    temporal = with_precision(temporal, "float32")
    split = split_face_stream(model)
    if split is None:  # the faces feed more than the visual stream: one crop per frame
        def frames(inputs, rows):
            return per_frame({**inputs, FACES_INPUT: tf.gather(inputs[FACES_INPUT], rows, axis=1)}, training=False)
    else:
        face_stream, rest = split

        def frames(inputs, rows):
            features = tf.gather(face_stream(inputs[FACES_INPUT], training=False), rows, axis=1)
            if rest is None:
                return features
            return rest([features, *(inputs[tensor.name] for tensor in rest.inputs[1:])], training=False)

    # One trace for every length (Keras's predict_on_batch would trace again per new length).
    frame_specs = {tensor.name: tf.TensorSpec((1, None) + tuple(tensor.shape[2:]), tensor.dtype)
                   for tensor in per_frame.inputs}
    features = tf.function(frames, input_signature=[frame_specs, tf.TensorSpec((None,), tf.int32)],
                           reduce_retracing=True)
    track = tf.function(lambda x: output_dict(temporal, temporal(x, training=False)),
                        input_signature=[tf.TensorSpec((1, None, temporal.inputs[0].shape[-1]), "float32")])
    return (lambda inputs, rows: features({name: tf.constant(inputs[name]) for name in frame_specs},
                                          tf.constant(rows)).numpy(),
            lambda x: {name: value.numpy() for name, value in track(tf.constant(x)).items()})


def _fit_landmarks(faces):
    """`(..., 136)` landmarks of a batch of crops `(..., size, size, 3)`; zeros for empty crops."""
    from affectkeras.faces import crop_landmarks

    flat = faces.reshape((-1,) + faces.shape[-3:])
    points = np.zeros((len(flat), 2 * LANDMARK_POINTS), np.float32)
    for index, crop in enumerate(flat):
        if crop.any():
            points[index] = crop_landmarks(crop).reshape(-1)
    return points.reshape(faces.shape[:-3] + (2 * LANDMARK_POINTS,))


def _prediction_columns(outputs):
    columns = []
    if VA_OUTPUT in outputs:
        columns += VA_NAMES
    if EXPR_OUTPUT in outputs:
        columns += expression_names(outputs[EXPR_OUTPUT])
    if AU_OUTPUT in outputs:
        columns += au_names(outputs[AU_OUTPUT])
    return tuple(columns)


def load_predictor(path, *, precision=None):
    """Loads a trained network for prediction from a file or folder.

    Args:
        path: str or Path. One of:
            - a `.keras` file;
            - a run folder (`affectkeras.runs.RunFolder`: its `model.keras`, else its best
              or last checkpoint);
            - a SavedModel folder written by `affectkeras.export.export_saved_model`, or
              a folder holding one as `saved_model/`;
            - the name of a network preset shipped with affectkeras (`DEFAULT_MODEL`,
              `"ferplus"`: expressions from FER+), when no such file exists: as the preset
              was scored (`weights.load_preset_model(name, test_time=True)`: its ensemble,
              over its test-time views).
        precision: str or None. As `Predictor.from_model`; a SavedModel runs as exported
            (asking it for another precision raises).

    Returns:
        `Predictor`.

    Raises:
        FileNotFoundError: `path` does not exist.
        WeightsError: `path` is a file but not a Keras model (`affectkeras.runs`).
        DataFormatError: a folder holding no model, or a SavedModel that does not load.
        InvalidArgumentError: the model loads but is not an affectkeras network.

    Example:
        >>> predictor = load_predictor("runs/mt_vgg/model.keras")
        >>> predictor.face_size, predictor.window, list(predictor.outputs)
        (96, None, ['valence_arousal', 'expression', 'action_units'])
    """
    from affectkeras import runs, weights

    if weights.is_network_preset(path):  # a network shipped with the package
        return Predictor.from_model(weights.load_preset_model(str(path), test_time=True), source=f"preset {path}",
                                    precision=precision)
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "No such model file or folder", str(path))
    from affectkeras.export import find_saved_model

    saved = find_saved_model(path)  # a SavedModel or an export folder
    if saved is not None:
        if precision not in (None, "auto"):
            raise InvalidArgumentError(
                f"{saved} is a SavedModel: it runs in the precision it was exported in. Received: precision={precision!r}"
            )
        return Predictor.from_saved_model(saved)
    try:
        model = runs.load_trained_model(path)  # registers the library's custom objects
    except FileNotFoundError:
        if path.is_dir():  # an existing folder without a model: the wrong kind of folder
            raise DataFormatError(path, None, f"holds no model: {_EXPECTED_MODEL}") from None
        raise
    return Predictor.from_model(model, source=str(path), precision=precision)


def as_predictor(model, *, precision=None):
    """Returns a `Predictor` for a `Predictor`, a `keras.Model` or a path (`load_predictor`).

    `precision` as `Predictor.from_model`; a `Predictor` keeps its own (asking it for
    another raises). A path is loaded once per process while the file is unchanged (the
    last 4 paths are kept).
    """
    if isinstance(model, Predictor):
        if precision not in (None, "auto") and precision != model.precision:
            raise InvalidArgumentError(
                f"{model.source} is a Predictor computing in {model.precision}; build it with the precision "
                f"wanted (Predictor.from_model(..., precision=...)). Received: precision={precision!r}"
            )
        return model
    if isinstance(model, (str, os.PathLike)):
        return _load_once(model if isinstance(model, PresetName) else str(model), _modified(model), precision)
    import keras

    if isinstance(model, keras.Model):
        return Predictor.from_model(model, precision=precision)
    raise InvalidArgumentError(
        f"`model` must be a Predictor, a keras.Model or a path. Received: model={model!r}"
    )


@functools.lru_cache(maxsize=4)
def _load_once(path, modified, precision):
    """`load_predictor`, once per path, modification time and precision: the many inputs of
    one command, a script's repeated calls (the network loads in seconds)."""
    return load_predictor(path, precision=precision)


def _modified(path):
    if isinstance(path, PresetName):
        return None  # a shipped preset, whatever exists on disk under its name
    try:
        return os.stat(path).st_mtime_ns
    except OSError:  # a preset's name, or a missing file (load_predictor says so)
        return None


# -------------------------------------------------------------------------------- table


@dataclasses.dataclass(frozen=True)
class PredictionTable:
    """Per-source-frame predictions of one video, column by column.

    Attributes:
        video: str. The video file.
        columns: tuple of str. `frame_index, time, face_found, x0, y0, x1, y1, track_id`,
            then `valence, arousal`, the expression classes and the AUs that the network
            predicts.
        data: dict from column name to np.ndarray `(num_frames,)`: int64 for `frame_index`
            and `face_found`, float64 for the others, NaN where there is no face.

    Example:
        >>> table["valence"][table["face_found"] == 1].mean()
    """

    video: str
    columns: tuple
    data: dict

    def __len__(self):
        return len(self.data["frame_index"])

    def __getitem__(self, column):
        return self.data[column]

    @property
    def prediction_columns(self):
        """tuple of str. The columns after `track_id`."""
        return self.columns[len(FRAME_COLUMNS):]


# --------------------------------------------------------------------------- prediction


def predict_video(video, model, *, batch_size=None, progress=None, faces="main", detector="hog", precision=None,
                  yield_cores=False):
    """Predicts valence/arousal, expressions and AUs for every frame of a video.

    Args:
        video: str or path-like. The video file (anything ffmpeg reads).
        model: `Predictor`, keras.Model, or a path for `load_predictor`.
        batch_size: int or None. Faces per network call (default 32; for sequence
            networks, per call of their per-frame part); for a SavedModel that runs on
            windows only, windows per call (default 4).
        progress: None, True or callable. True writes a progress line to stderr; a
            callable is called as `progress(done, total)` with counts of 30-fps frames.
        faces: str. `"main"`: the main subject's face, one row per source frame; `"all"`:
            every face, one row per (source frame, face) ordered left to right (one empty
            row for a frame without faces). `track_id` names the person: the face tracks
            linked across scene cuts and lost faces by dlib's face descriptor
            (`faces.link_tracks`), so a person keeps one id through the clip.
        detector: str. `"hog"` (dlib's HOG, fast) or `"cnn"` (dlib's CNN: turned and small
            faces too, ~1.7 s per detection on a CPU core); see `faces.iter_faces`.
        precision: str or None. `"float32"`, `"mixed_bfloat16"`, `"mixed_float16"` or
            `"auto"` (the device's fastest, `distribute.default_precision`); None = as the
            model is (see `Predictor.from_model`).
        yield_cores: bool. Once the network has loaded, lower the priority of this
            process's other threads (the network's) below the face process's
            (`faces.background.yield_cores_to_faces`), so that the faces get a core whenever
            they need one. For processes that only predict, as `affectkeras predict`: it
            cannot be undone.

    Returns:
        `PredictionTable` with one row per decoded source frame of the video (the
        `frame_index` of `FaceRecord.source_index`), or per face of it; rows without a
        face have `face_found` 0 and NaN boxes and predictions.

    Raises:
        FileNotFoundError: the video or the model does not exist.
        MediaError: the video is empty, corrupt or truncated.
        WeightsError: the model file is not a Keras model.
        DataFormatError: a folder that holds no model.
        InvalidArgumentError: a wrong argument, or a model that is not an affectkeras network.

    Example:
        >>> table = predict_video("clip.mp4", "runs/av_mt", progress=True)
        >>> len(table) == media.probe("clip.mp4").frame_count
        True
    """
    check_choice("faces", faces, FACE_MODES)
    return _predict(video, model, batch_size, progress, faces, dict(detector=detector), precision, background=True,
                    yield_cores=yield_cores)


def predict_image(image, model, *, detector="hog", batch_size=None, precision=None):
    """Predicts every face of a still image: one row per face, left to right.

    The image goes through the video path as a one-frame video (faces detected at its full
    size, upsampled once so that faces down to ~40 px wide are found); sequence networks
    see each face as a one-frame track.

    Args:
        image: str or path-like. A JPEG, PNG, ... file (anything ffmpeg reads).
        model: `Predictor`, keras.Model, or a path for `load_predictor`.
        detector: str. As `predict_video`.
        batch_size, precision: As `predict_video`.

    Returns:
        `PredictionTable`: `frame_index` 0 on every row, `track_id` numbering the faces;
        one row with `face_found` 0 when there is none.

    Example:
        >>> table = predict_image("group.jpg", "ferplus")
        >>> len(table), table["Happiness"]
    """
    return _predict(image, model, batch_size, None, "all", dict(detector=detector, downscale=None, upsample=1),
                    precision, background=False)


def _predict(video, model, batch_size, progress, faces, detection, precision, background, yield_cores=False):
    """The predictor's loop; `background` extracts the faces in a process of their own.

    The timeline (how many 30-fps frames, which source frame each shows) comes from the
    container's packet timestamps, so the face extraction's decode is the video's only one.
    Where the decoded frames disagree with the packets (damage, edit lists that drop frames),
    the video is predicted again on the timeline of its decoded frames.
    """
    arguments = (video, model, batch_size, progress, faces, detection, precision, background, yield_cores)
    try:
        return _predict_on_timeline(*arguments, exact_timeline=False)
    except _TimelineMismatch:
        return _predict_on_timeline(*arguments, exact_timeline=True)


class _TimelineMismatch(Exception):
    """The decoded frames are not those the packet timestamps announced."""


def _predict_on_timeline(video, model, batch_size, progress, faces, detection, precision, background, yield_cores,
                         *, exact_timeline):
    from affectkeras import media
    from affectkeras.faces import FaceStream, iter_faces
    from affectkeras.faces.background import FacesInBackground, yield_cores_to_faces

    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    if not (progress is None or progress is True or progress is False or callable(progress)):
        raise InvalidArgumentError(
            f"`progress` must be None, a bool or a callable. Received: progress={progress!r}"
        )
    media.probe(video)  # a bad video fails before the model loads
    # A model whose face size can be read without TensorFlow: its faces are found while it loads.
    size = _face_size_hint(model) if background else None
    early = FacesInBackground(video, size=size, **detection) if size else None
    try:
        predictor = as_predictor(model, precision=precision)
        windows_only = predictor.window and not predictor.whole_tracks
        if windows_only and faces == "all":
            raise InvalidArgumentError(
                f"{predictor.source} runs on fixed windows only (a SavedModel exported before the per-frame / "
                "temporal signatures): export it again to follow every face or to predict images"
            )
    except BaseException:
        if early is not None:
            early.close()
        raise
    if yield_cores:  # the network's threads exist now; the face process keeps its priority
        yield_cores_to_faces()
    options = dict(size=predictor.face_size, **detection)
    if early is not None and (windows_only or size != predictor.face_size):
        early.close()  # a wrong guess: start again
        early = None
    if windows_only:
        # Consecutive windows of one face: the main subject, chosen before the first record (two passes).
        extraction = contextlib.nullcontext(iter_faces(video, subject="persistent", **options))
    elif background:  # started first: the extraction runs while the timeline and audio are read
        extraction = early or FacesInBackground(video, **options)
    else:
        extraction = contextlib.nullcontext(FaceStream(video, **options))
    with extraction as records:
        timeline = media.read_timeline(video, decode=exact_timeline)
        total, shows = timeline.num_output_frames, timeline.output_to_source()
        report = _StderrProgress(video) if progress is True else (progress or None)
        audio = None
        if predictor.audio_shape is not None:
            audio = _audio_windows(video, predictor.audio_shape, total)
        rows = _FaceRows(total, predictor.columns)
        if predictor.whole_tracks:
            runner = _TrackRunner(predictor, audio, batch_size or DEFAULT_FRAME_BATCH)
        elif predictor.window:
            runner = _WindowRunner(predictor, audio, batch_size, total)
        else:
            runner = _FrameRunner(predictor, audio, batch_size or DEFAULT_FRAME_BATCH,
                                  shown=np.isin(np.arange(total), timeline.source_to_output()))
        if report:
            report(0, total)
        index = -1
        for index, frame_records in _frames_of(records):
            if index >= total or frame_records[0].source_index != shows[index]:
                if not exact_timeline:
                    raise _TimelineMismatch
                raise MediaError(video, f"decoded frame {index} is not the one the video's timeline shows there")
            runner.add_frame(index, [(rows.add(record), record) for record in frame_records
                                     if record.crop is not None])
            if report and index % 30 == 29:
                report(index + 1, total)
        if index != total - 1 and not exact_timeline:
            raise _TimelineMismatch  # fewer frames decoded than announced
    runner.finish()
    if report:
        report(total, total)
    # The stream's persons and main subject (`iter_faces` chose already: every face it gave, its tracks).
    persons, main_tracks = getattr(records, "persons", None), getattr(records, "main_tracks", None)
    return rows.to_table(str(video), timeline, predictor.columns, tracks=main_tracks if faces == "main" else None,
                         persons=persons)


def _face_size_hint(model):
    """The face size of `model` read without TensorFlow: a `Predictor`'s, a shipped preset's,
    or from the `config.json` of a `.keras` file (a run folder's `model.keras`); None else."""
    if isinstance(model, Predictor):
        return model.face_size
    if not isinstance(model, (str, os.PathLike)):
        return None
    from affectkeras.errors import AffectKerasError
    from affectkeras.runs import resolve_model_path
    from affectkeras.weights.presets import PRESETS, is_network_preset

    if is_network_preset(model):
        return PRESETS[str(model)].network.get("input_size")
    try:
        with zipfile.ZipFile(resolve_model_path(model)) as archive:
            config = json.loads(archive.read("config.json"))
        shape = next(layer["config"]["batch_shape"] for layer in config["config"]["layers"]
                     if layer.get("name") == FACES_INPUT)
        return int(shape[-2])
    except (AffectKerasError, OSError, KeyError, TypeError, ValueError, StopIteration, zipfile.BadZipFile):
        return None  # not a Keras archive of this kind: the size comes when the model loads


def _frames_of(records):
    """`(frame_index, [records of that frame])` from a `FaceStream`'s records in frame order."""
    index, group = None, []
    for record in records:
        if record.frame_index != index and group:
            yield index, group
            group = []
        index = record.frame_index
        group.append(record)
    if group:
        yield index, group


def _audio_windows(video, audio_shape, num_frames):
    """Log-mel windows of the network's shape for every 30-fps frame."""
    from affectkeras import audio

    steps, n_mels, _ = audio_shape
    defaults = audio.SpectrogramConfig()
    # window_seconds chosen so that `config.steps` is the network's step count.
    config = audio.SpectrogramConfig(n_mels=n_mels, window_seconds=steps * defaults.hop_length / defaults.sample_rate)
    return audio.video_audio_windows(video, config=config, num_frames=num_frames)


class _Face:
    """One face of one 30-fps frame: where it is, its track, its predictions (NaN until set)."""

    __slots__ = ("box", "track_id", "values")

    def __init__(self, box, track_id, columns):
        self.box = box
        self.track_id = track_id
        self.values = np.full(columns, np.nan, np.float32)

    def set(self, outputs, row):
        """Stores row `row` of `outputs` (dict of `(n, units)` arrays, in column order)."""
        self.values[:] = np.concatenate([value[row] for value in outputs.values()])


class _FaceRows:
    """Every face of every 30-fps frame, and the table of the source frames they show."""

    def __init__(self, total, columns):
        self.frames = [[] for _ in range(total)]
        self.columns = len(columns)

    def add(self, record):
        face = _Face(record.box, record.track_id, self.columns)
        self.frames[record.frame_index].append(face)
        return face

    def to_table(self, video, timeline, prediction_columns, tracks=None, persons=None):
        """The table: every face (`tracks` None) or only the faces of `tracks` (at most one per
        frame); `track_id` is the person of `persons` (`{track: person}`) where given."""
        # Each source frame takes the 30-fps frame that shows it (or the nearest in time).
        shown = []
        for source, output in enumerate(timeline.source_to_output()):
            faces = self.frames[output]  # left to right, as the stream gives them
            if tracks is not None:
                faces = [face for face in faces if face.track_id in tracks][:1]
            shown += [(source, face) for face in faces] or [(source, None)]
        sources = np.array([source for source, _ in shown], np.int64)
        found = np.array([face is not None for _, face in shown], bool)
        boxes = np.array([face.box if face else (np.nan,) * 4 for _, face in shown], np.float64).reshape(-1, 4)
        tracks = np.array([np.nan if face is None or face.track_id is None
                           else persons[face.track_id] if persons else face.track_id for _, face in shown])
        values = np.full((len(shown), self.columns), np.nan)
        for row, (_, face) in enumerate(shown):
            if face is not None:
                values[row] = face.values
        data = {
            "frame_index": sources,
            "time": timeline.source_times.astype(np.float64)[sources],
            "face_found": found.astype(np.int64),
        }
        for k, name in enumerate(BOX_COLUMNS):
            data[name] = boxes[:, k]
        data["track_id"] = tracks.astype(np.float64)
        for k, name in enumerate(prediction_columns):
            data[name] = values[:, k]
        return PredictionTable(video, FRAME_COLUMNS + tuple(prediction_columns), data)


class _FrameRunner:
    """Per-frame networks: the faces of any frames, in batches (padded to a power of two).

    Only the 30-fps frames that the table shows (`shown`) are run: a 24-fps video shows one
    source frame at two 30-fps ticks, and the table takes one of them.
    """

    def __init__(self, predictor, audio, batch, shown):
        self.predictor, self.audio, self.batch, self.shown = predictor, audio, batch, shown
        self.pending = []  # (face, output frame index, crop)

    def add_frame(self, index, faces):
        if self.shown[index]:
            self.pending += [(face, index, record.crop) for face, record in faces]
        self._run_batches(full_only=True)

    def finish(self):
        self._run_batches(full_only=False)

    def _run_batches(self, full_only):
        while len(self.pending) >= (self.batch if full_only else 1):
            self._run(self.pending[: self.batch])
            self.pending = self.pending[self.batch:]

    def _run(self, pending):
        size = self.predictor.face_size
        indices = np.array([index for _, index, _ in pending])
        # Padded to a power of two (few shapes, few traces), not to a whole batch: an image's
        # three faces cost four rows, not 32.
        rows = min(self.batch, 1 << (len(pending) - 1).bit_length())
        faces = np.zeros((rows, size, size, 3), np.uint8)
        faces[: len(pending)] = np.stack([crop for _, _, crop in pending])
        audio = None
        if self.audio is not None:
            audio = np.zeros((rows,) + self.audio.shape[1:], np.float32)
            audio[: len(pending)] = self.audio[indices]
        outputs = self.predictor.predict_batch(faces, audio)
        for row, (face, _, _) in enumerate(pending):
            face.set(outputs, row)


class _Track:
    __slots__ = ("faces", "features")

    def __init__(self):
        self.faces, self.features = [], []


class _TrackRunner:
    """Sequence networks over whole tracks: the per-frame part on the faces of any tracks in
    chunks (each distinct crop once), the temporal part over each track, from its first to
    its last face, when it ends.

    A track ends when a frame comes without its face (a gap, a scene cut) and at the end of
    the video. Memory holds the per-frame features of the open tracks (16 KB per frame at
    fc6's 4,096: ~1.7 GB for one face tracked through an hour) and at most one chunk of crops.
    """

    def __init__(self, predictor, audio, chunk):
        self.predictor, self.audio, self.chunk = predictor, audio, chunk
        self.open = {}  # track id -> _Track
        self.pending = []  # (track, position, output frame index, record)

    def add_frame(self, index, faces):
        present = {record.track_id for _, record in faces}
        for key in [key for key in self.open if key not in present]:
            self._close(self.open.pop(key))
        for face, record in faces:
            track = self.open.setdefault(record.track_id, _Track())
            track.faces.append(face)
            track.features.append(None)
            self.pending.append((track, len(track.features) - 1, index, record))
        if len(self.pending) >= self.chunk:
            self._run_frames()

    def finish(self):
        for track in self.open.values():
            self._close(track)
        self.open = {}

    def _run_frames(self):
        pending, self.pending = self.pending, []
        indices = np.array([index for _, _, index, _ in pending])
        crops, rows = distinct_crops([record for _, _, _, record in pending])
        audio = None if self.audio is None else self.audio[indices]
        features = self.predictor.frame_features(crops, audio, face_rows=rows)
        for row, (track, position, _, _) in enumerate(pending):
            track.features[position] = features[row]

    def _close(self, track):
        if any(item[0] is track for item in self.pending):
            self._run_frames()
        outputs = self.predictor.predict_track(np.stack(track.features))
        for row, face in enumerate(track.faces):
            face.set(outputs, row)


def distinct_crops(records):
    """The distinct face crops of `records` and the crop of each record, for
    `Predictor.frame_features`: a source frame shown at two 30-fps ticks (a 24 or 25 fps
    video) is one crop of a track, run through the visual stream once.

    Returns:
        `(crops, rows)`: np.ndarray of uint8 `(distinct, size, size, 3)` and a list of int.
    """
    crops, rows, seen = [], [], {}
    for record in records:
        key = (record.track_id, record.source_index)
        if key not in seen or not np.array_equal(crops[seen[key]], record.crop):
            seen[key] = len(crops)
            crops.append(record.crop)
        rows.append(seen[key])
    return np.stack(crops), rows


class _WindowRunner:
    """Sequence networks that run only on windows of their time length (old SavedModels):
    consecutive 30-fps frames of the main face, a frame without it being a zero face."""

    def __init__(self, predictor, audio, batch_size, total):
        self.predictor, self.audio = predictor, audio
        self.window = predictor.window
        # Never pad a short video's single batch beyond what it holds.
        self.batch = max(1, min(batch_size or DEFAULT_WINDOW_BATCH, math.ceil(total / self.window)))
        self.pending = []  # (output frame index, face or None, crop or None)

    def add_frame(self, index, faces):
        face, record = faces[0] if faces else (None, None)
        self.pending.append((index, face, None if record is None else record.crop))
        if len(self.pending) == self.batch * self.window:
            self.finish()

    def finish(self):
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        size, window = self.predictor.face_size, self.window
        # Whole windows of consecutive frames; windows without any face are skipped.
        starts = [start for start in range(0, len(pending), window)
                  if any(face is not None for _, face, _ in pending[start:start + window])]
        if not starts:
            return
        faces = np.zeros((self.batch, window, size, size, 3), np.uint8)
        audio = None
        if self.audio is not None:
            audio = np.zeros((self.batch, window) + self.audio.shape[1:], np.float32)
        places = []
        for row, start in enumerate(starts):
            for step, (index, face, crop) in enumerate(pending[start:start + window]):
                if crop is not None:
                    faces[row, step] = crop
                    places.append((row, step, face))
                if audio is not None:
                    audio[row, step] = self.audio[index]
        outputs = self.predictor.predict_batch(faces, audio)
        for row, step, face in places:
            face.set({name: value[row] for name, value in outputs.items()}, step)


class _StderrProgress:
    """`done/total frames` on one stderr line (rewritten in a terminal, every 25 % in logs)."""

    def __init__(self, video):
        self.name = pathlib.Path(video).name
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.shown = -1

    def __call__(self, done, total):
        percent = 100 if total == 0 else int(100 * done / total)
        if not self.tty and percent // 25 == self.shown // 25 and done != total:
            return
        self.shown = percent
        elapsed = time.monotonic() - self.start
        line = f"predict {self.name}: {done}/{total} frames ({percent} %, {elapsed:.0f} s)"
        end = "\n" if done >= total or not self.tty else ""
        print(f"\r{line}" if self.tty else line, end=end, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ writing


class PredictionFiles(typing.NamedTuple):
    """Paths `write_predictions` wrote.

    Attributes:
        csv: pathlib.Path. `<stem>.csv`.
        va_plot: pathlib.Path or None. `<stem>_va.png`: valence and arousal over time
            (None when the network predicts no valence/arousal).
        circumplex_plot: pathlib.Path or None. `<stem>_circumplex.png`.
        expression_plot: pathlib.Path or None. `<stem>_expressions.png`: the expression
            probabilities over time (None when the network predicts no expressions).
    """

    csv: pathlib.Path
    va_plot: typing.Optional[pathlib.Path]
    circumplex_plot: typing.Optional[pathlib.Path]
    expression_plot: typing.Optional[pathlib.Path] = None


_INTEGER_COLUMNS = ("frame_index", "face_found", "track_id")
_FORMATS = {"time": "{:.6f}", "x0": "{:.1f}", "y0": "{:.1f}", "x1": "{:.1f}", "y1": "{:.1f}"}


def _format_rows(table):
    """The CSV lines of `table` (header first); NaN becomes an empty field."""
    yield ",".join(table.columns)
    formats = [
        "{:d}" if name in _INTEGER_COLUMNS else _FORMATS.get(name, "{:.6f}") for name in table.columns
    ]
    columns = [table.data[name] for name in table.columns]
    for row in range(len(table)):
        fields = []
        for fmt, column in zip(formats, columns):
            value = column[row]
            if value != value:  # NaN: no face here
                fields.append("")
            else:
                fields.append(fmt.format(int(value) if fmt == "{:d}" else float(value)))
        yield ",".join(fields)


def write_predictions(table, out_dir, stem):
    """Writes `DIR/<stem>.csv`, two PNG plots with valence/arousal and one with expressions.

    Every file is written under a temporary name in `out_dir` and renamed when complete,
    so an interrupted run never leaves a partial file under the final name.

    Args:
        table: `PredictionTable` from `predict_video`.
        out_dir: str or Path. Output folder (created if needed).
        stem: str. File name stem, e.g. the video's.

    Returns:
        `PredictionFiles(csv, va_plot, circumplex_plot, expression_plot)`; a plot the
        network's outputs do not allow is None.

    Raises:
        InvalidArgumentError: `table` is no `PredictionTable`, or `stem` is no plain stem.

    Example:
        >>> files = write_predictions(predict_video("clip.mp4", model), "out", "clip")
        >>> files.va_plot.name
        'clip_va.png'
    """
    if not isinstance(table, PredictionTable):
        raise InvalidArgumentError(
            f"`table` must be a PredictionTable from predict_video. Received: table={type(table).__name__}"
        )
    if not isinstance(stem, str) or not stem or os.sep in stem or stem in (".", ".."):
        raise InvalidArgumentError(f"`stem` must be a plain file name stem. Received: stem={stem!r}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    with atomic_path(csv_path) as staging, open(staging, "w", encoding="utf-8", newline="") as file:
        file.writelines(line + "\n" for line in _format_rows(table))
    title = _figures.plain(stem)
    classes = [name for name in EXPRESSIONS_8 if name in table.columns]
    has_va = "valence" in table.columns
    plots = [  # (file, whether this network's outputs allow it, the figure)
        (f"{stem}_va.png", has_va, lambda: _plot_va(table, title)),
        (f"{stem}_circumplex.png", has_va, lambda: _plot_circumplex(table, title)),
        (f"{stem}_expressions.png", bool(classes), lambda: _plot_expressions(table, title, classes)),
    ]
    written = []
    for name, allowed, plot in plots:
        path = out_dir / name
        if allowed:
            _figures.save_png(plot(), path)
        else:  # an earlier prediction's plot must not pass for this one's
            path.unlink(missing_ok=True)
        written.append(path if allowed else None)
    return PredictionFiles(csv_path, *written)


# Plots with several faces (`faces="all"`) draw the persons with the most rows, one line (or
# panel) each; the CSV has them all.
PLOTTED_FACES = 6


def _per_face(table):
    """`[(label, rows)]`: one entry per person (`track_id`), most rows first, when the table
    has several faces; one unlabelled entry (every row) when it has one face per frame."""
    tracks = table["track_id"]
    ids, counts = np.unique(tracks[np.isfinite(tracks)], return_counts=True)
    if len(ids) <= 1 and len(np.unique(table["frame_index"])) == len(table):
        return [(None, np.ones(len(table), bool))]
    order = np.argsort(-counts, kind="stable")[:PLOTTED_FACES]
    return [(f"face {int(ids[k])}", tracks == ids[k]) for k in order]


def _on_frames(table, rows, column):
    """`(times, values)`: `column` of `rows` on every source frame, NaN where they are absent
    (NaN breaks a line: gaps show where that face was not predicted)."""
    frames = table["frame_index"]
    index, first = np.unique(frames, return_index=True)
    values = np.full(len(index), np.nan)
    values[np.searchsorted(index, frames[rows])] = table[column][rows]
    return table["time"][first], values


def _plot_va(table, title):
    faces = _per_face(table)
    if len(faces) == 1:
        figure = _figures.figure(8, 3.5)
        axes = figure.add_subplot()
        for column, colour in (("valence", "tab:blue"), ("arousal", "tab:red")):
            axes.plot(*_on_frames(table, faces[0][1], column), label=column, color=colour, linewidth=1.2)
        axes.axhline(0, color="0.6", linewidth=0.8)
        axes.set(xlabel="time (s)", ylim=(-1.05, 1.05), title=f"{title}: valence and arousal")
        axes.legend(loc="upper right")
        axes.grid(alpha=0.3)
        return figure
    figure = _figures.figure(8, 6)
    panels = figure.subplots(2, 1, sharex=True)
    for axes, column in zip(panels, ("valence", "arousal")):
        for label, rows in faces:
            axes.plot(*_on_frames(table, rows, column), label=label, linewidth=1.1)
        axes.axhline(0, color="0.6", linewidth=0.8)
        axes.set(ylabel=column, ylim=(-1.05, 1.05))
        axes.grid(alpha=0.3)
    panels[0].set_title(f"{title}: valence and arousal of each face")
    panels[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    panels[1].set_xlabel("time (s)")
    return figure


def _plot_expressions(table, title, classes):
    faces = _per_face(table)
    figure = _figures.figure(8, 1.0 + 2.5 * len(faces))
    panels = figure.subplots(len(faces), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (label, rows) in zip(panels, faces):
        for name in classes:  # one colour each from Matplotlib's cycle, the same in every panel
            axes.plot(*_on_frames(table, rows, name), label=name, linewidth=1.1)
        axes.set(ylabel="probability" if label is None else f"{label}: probability", ylim=(-0.02, 1.02))
        axes.grid(alpha=0.3)
    panels[0].set_title(f"{title}: expressions")
    panels[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    panels[-1].set_xlabel("time (s)")
    return figure


def _plot_circumplex(table, title):
    figure = _figures.figure(5, 4.4)
    axes = figure.add_subplot()
    angle = np.linspace(0, 2 * np.pi, 361)
    axes.plot(np.cos(angle), np.sin(angle), color="0.5", linewidth=0.8)
    axes.axhline(0, color="0.7", linewidth=0.8)
    axes.axvline(0, color="0.7", linewidth=0.8)
    found = np.isfinite(table["valence"]) & np.isfinite(table["arousal"])
    faces = _per_face(table)
    if len(faces) == 1:  # one face: coloured by time
        points = axes.scatter(
            table["valence"][found], table["arousal"][found], c=table["time"][found], cmap="viridis", s=8
        )
        figure.colorbar(points, ax=axes, label="time (s)")
    else:  # several: coloured by face
        for label, rows in faces:
            axes.scatter(table["valence"][found & rows], table["arousal"][found & rows], s=8, label=label)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    axes.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), xlabel="valence", ylabel="arousal", aspect="equal")
    axes.set_title(f"{title}: circumplex")
    return figure


def predict_and_write(video, model, out_dir, *, stem=None, batch_size=None, progress=None, faces="main",
                      detector="hog", precision=None, yield_cores=False):
    """`predict_video` then `write_predictions` under the video's stem: the CLI's and recipe's job.

    Args:
        video: str or path-like. The video file.
        model: `Predictor`, keras.Model or a model path (`load_predictor`).
        out_dir: str or Path. Output folder.
        stem: str or None. File name stem; default the video's (`clip.mp4` -> `clip`).
        batch_size: int or None. As `predict_video`.
        progress: None, True or callable. As `predict_video`.
        faces, detector, precision, yield_cores: As `predict_video`.

    Returns:
        `PredictionFiles`.
    """
    table = predict_video(video, model, batch_size=batch_size, progress=progress, faces=faces, detector=detector,
                          precision=precision, yield_cores=yield_cores)
    return write_predictions(table, out_dir, stem or pathlib.Path(video).stem)


__all__ = [
    "DEFAULT_MODEL",
    "FACE_MODES",
    "PredictionFiles",
    "PredictionTable",
    "Predictor",
    "as_predictor",
    "distinct_crops",
    "load_predictor",
    "predict_and_write",
    "predict_image",
    "predict_video",
    "write_predictions",
]
