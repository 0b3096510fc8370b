"""The TFRecord schema of affectkeras datasets: one `tf.train.Example` per video frame.

Why one Example per frame (and not one SequenceExample per video): a training window is
any `seq_len` consecutive frames at any stride, and per-frame mode shuffles single frames;
both are plain `tf.data` operations on a file of per-frame records (`batch` / `window` on
the serialized strings, then one vectorised `tf.io.parse_example` per window), while a
SequenceExample would have to be parsed whole (a 10-minute video is ~18,000 frames, ~150 MB)
before any window could be cut. Windows never cross videos because every video has its own
file (`<video>.tfrecord`, written by `affectkeras.data.preprocess`), and a file is windowed
on its own before files are interleaved.

Features of one frame (K = number of AUs, 12 or 8; `steps x n_mels` = the audio window):

| key | type | meaning |
| --- | --- | --- |
| `video` | bytes | annotation name, e.g. `10-60-1280x720_left` |
| `frame_index` | int64 | 1-based frame number = face crop `%05d.jpg` = annotation line - 1 |
| `time` | float | seconds from the start of the video file |
| `face/jpeg` | bytes | the aligned face crop as JPEG; empty when no face |
| `face/found` | int64 | 1 if there is a crop, 0 if not |
| `face/size` | int64 | side of the stored (square) crops in pixels |
| `audio/data` | bytes | log-mel window, little-endian float16 or float32, `(steps, n_mels)` (absent without audio) |
| `audio/shape` | int64 x 2 | `(steps, n_mels)` |
| `audio/dtype` | bytes | `float16` or `float32` |
| `face/landmarks` | float x 136 | dlib's 68 landmarks in the crop, `x0, y0, x1, ...` divided by its side; zeros when no face (only in records written with landmarks) |
| `va` | float x 2 | valence, arousal; `VA_MASK` (-5) where not annotated |
| `va/mask` | int64 | 1 if annotated |
| `expression` | int64 | class index; `EXPR_MASK` (-1) where not annotated |
| `expression/mask` | int64 | 1 if annotated |
| `aus` | int64 x K | 0/1 per AU; `AU_MASK` (-1) where not annotated |
| `aus/mask` | int64 x K | 1 per annotated AU |

Records hold the annotation files' labels as they are, also for frames without a face;
`affectkeras.data.make_dataset` decides what to mask. Encoding is deterministic
(`SerializeToString(deterministic=True)`), so the same inputs always give the same bytes.

Example:
    >>> data = encode_frame(video="v1", frame_index=1, time=0.0, face_jpeg=jpeg, face_size=96,
    ...                     va=(0.1, -0.2), expression=3, aus=[0] * 12)
    >>> decode_frame(data)["va"]
    array([ 0.1, -0.2], dtype=float32)
"""

import dataclasses
import functools
import io
import pathlib

import numpy as np
import tensorflow as tf

from affectkeras import files
from affectkeras.constants import AU_MASK, EXPR_MASK, LANDMARK_POINTS, VA_MASK
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice

SCHEMA_VERSION = 1
AUDIO_DTYPES = ("float16", "float32")
# Extension of the shard files (written under a temporary name first, `affectkeras.files`).
RECORD_SUFFIX = ".tfrecord"


# ----------------------------------------------------------------------------------------
# Encoding (preprocessing side: numpy in, bytes out)


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def encode_frame(
    *,
    video,
    frame_index,
    time,
    face_jpeg=b"",
    face_size,
    audio=None,
    audio_dtype="float16",
    va=None,
    va_mask=None,
    expression=None,
    expression_mask=None,
    aus=None,
    aus_mask=None,
    num_aus=12,
    landmarks=None,
):
    """Serializes one frame as a `tf.train.Example` (see the module table).

    Args:
        video: str. Annotation name.
        frame_index: int. 1-based frame number.
        time: float. Seconds from the start of the video file.
        face_jpeg: bytes. JPEG of the aligned crop; `b""` when the frame has no face.
        face_size: int. Side of the stored crops in pixels (also for frames without one).
        audio: np.ndarray or None. The frame's log-mel window, `(steps, n_mels)` or
            `(steps, n_mels, 1)`; None writes no audio features.
        audio_dtype: str. `"float16"` (half the size, ~0.06 dB steps at -100 dB) or `"float32"`.
        va: sequence of 2 floats or None. Valence, arousal; None = not annotated.
        va_mask: bool or None. Annotated; None = `va` is given and not the sentinel.
        expression: int or None. Class index; None = not annotated.
        expression_mask: bool or None. As `va_mask`.
        aus: sequence of K ints or None. 0/1 per AU, `AU_MASK` where not annotated.
        aus_mask: sequence of K bools or None. As `va_mask`, per AU.
        num_aus: int. K, used when `aus` is None.
        landmarks: array-like `(68, 2)` or None. The face's landmarks in the crop
            (`faces.crop_landmarks`; zeros for a frame without a face); None writes none.

    Returns:
        bytes. The serialized Example.

    Example:
        >>> encode_frame(video="v1", frame_index=7, time=0.2, face_size=96)  # no face, no labels
    """
    check_choice("audio_dtype", audio_dtype, AUDIO_DTYPES)
    if int(frame_index) < 1:
        raise InvalidArgumentError(f"`frame_index` is 1-based. Received: frame_index={frame_index!r}")
    va = np.full(2, VA_MASK, np.float32) if va is None else np.asarray(va, np.float32).reshape(2)
    if va_mask is None:
        va_mask = bool(np.all(va != VA_MASK))
    if not va_mask:
        va = np.full(2, VA_MASK, np.float32)
    expression = EXPR_MASK if expression is None else int(expression)
    if expression_mask is None:
        expression_mask = expression != EXPR_MASK
    if not expression_mask:
        expression = EXPR_MASK
    aus = np.full(num_aus, AU_MASK, np.int64) if aus is None else np.asarray(aus, np.int64).reshape(-1)
    aus_mask = aus != AU_MASK if aus_mask is None else np.asarray(aus_mask, bool).reshape(aus.shape)
    aus = np.where(aus_mask, aus, AU_MASK)
    features = {
        "video": _bytes(str(video).encode("utf-8")),
        "frame_index": _ints([frame_index]),
        "time": _floats([time]),
        "face/jpeg": _bytes(bytes(face_jpeg or b"")),
        "face/found": _ints([1 if face_jpeg else 0]),
        "face/size": _ints([face_size]),
        "va": _floats(va),
        "va/mask": _ints([bool(va_mask)]),
        "expression": _ints([expression]),
        "expression/mask": _ints([bool(expression_mask)]),
        "aus": _ints(aus),
        "aus/mask": _ints(aus_mask.astype(np.int64)),
    }
    if audio is not None:
        window = np.asarray(audio)
        if window.ndim == 3 and window.shape[-1] == 1:
            window = window[..., 0]
        if window.ndim != 2:
            raise InvalidArgumentError(
                f"`audio` must be (steps, n_mels) or (steps, n_mels, 1). Received: audio with shape {np.shape(audio)}"
            )
        features["audio/data"] = _bytes(window.astype("<f2" if audio_dtype == "float16" else "<f4").tobytes())
        features["audio/shape"] = _ints(window.shape)
        features["audio/dtype"] = _bytes(audio_dtype.encode("ascii"))
    if landmarks is not None:
        points = np.asarray(landmarks, np.float32)
        if points.shape != (LANDMARK_POINTS, 2):
            raise InvalidArgumentError(
                f"`landmarks` must be ({LANDMARK_POINTS}, 2). Received: landmarks with shape {points.shape}"
            )
        features["face/landmarks"] = _floats(points.reshape(-1))
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString(deterministic=True)


def decode_frame(serialized):
    """Parses one serialized frame in Python (for inspection and tests; `tf.data` uses `parse_frames`).

    Args:
        serialized: bytes. One record.

    Returns:
        dict with `video` (str), `frame_index`, `time`, `face_jpeg` (bytes), `face_found`,
        `face_size`, `audio` (float32 `(steps, n_mels)` or None), `va` float32 `(2,)`,
        `va_mask`, `expression`, `expression_mask`, `aus` int64 `(K,)`, `aus_mask` bool `(K,)`,
        `landmarks` (float32 `(68, 2)` or None).

    Example:
        >>> frame = decode_frame(next(iter(tf.data.TFRecordDataset("v1.tfrecord"))).numpy())
    """
    feature = tf.train.Example.FromString(serialized).features.feature

    def ints(key):
        return np.array(feature[key].int64_list.value, np.int64)

    audio = None
    if "audio/data" in feature:
        dtype = feature["audio/dtype"].bytes_list.value[0].decode("ascii")
        data = feature["audio/data"].bytes_list.value[0]
        audio = np.frombuffer(data, "<f2" if dtype == "float16" else "<f4").astype(np.float32)
        audio = audio.reshape(ints("audio/shape"))
    return {
        "video": feature["video"].bytes_list.value[0].decode("utf-8"),
        "frame_index": int(ints("frame_index")[0]),
        "time": float(feature["time"].float_list.value[0]),
        "face_jpeg": feature["face/jpeg"].bytes_list.value[0],
        "face_found": bool(ints("face/found")[0]),
        "face_size": int(ints("face/size")[0]),
        "audio": audio,
        "va": np.array(feature["va"].float_list.value, np.float32),
        "va_mask": bool(ints("va/mask")[0]),
        "expression": int(ints("expression")[0]),
        "expression_mask": bool(ints("expression/mask")[0]),
        "aus": ints("aus"),
        "aus_mask": ints("aus/mask").astype(bool),
        "landmarks": (np.array(feature["face/landmarks"].float_list.value, np.float32).reshape(-1, 2)
                      if "face/landmarks" in feature else None),
    }


class ShardWriter:
    """Writes one shard under a temporary name and renames it only when complete.

    A crash (or an exception inside the `with` block) leaves no file with the final name:
    the temporary file is removed, so a file named `*.tfrecord` is always complete.

    Args:
        path: str or path. The final shard path, e.g. `out/10-60-1280x720.tfrecord`.

    Example:
        >>> with ShardWriter("out/v1.tfrecord") as writer:
        ...     for frame in frames:
        ...         writer.write(encode_frame(**frame))
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.count = 0
        self._writer = None
        # Hidden from `*.tfrecord` globs while written, on disk before it is renamed (a
        # resumed job trusts a shard that exists).
        self._staging = files.atomic_path(self.path, keep_suffix=False, fsync=True)

    def __enter__(self):
        self.temp_path = pathlib.Path(self._staging.__enter__())
        self._writer = tf.io.TFRecordWriter(str(self.temp_path))
        return self

    def write(self, record):
        """Appends one serialized record."""
        self._writer.write(record)
        self.count += 1

    def __exit__(self, kind, value, traceback):
        self._writer.close()
        return self._staging.__exit__(kind, value, traceback)


# ----------------------------------------------------------------------------------------
# Decoding in tf.data


@dataclasses.dataclass(frozen=True)
class RecordInfo:
    """What a reader must know about a set of shards before parsing them in a graph.

    Attributes:
        face_size: int. Side of the stored crops.
        num_aus: int. K.
        audio_shape: tuple `(steps, n_mels)` or None when the records have no audio.
        audio_dtype: str or None. `"float16"` or `"float32"`.
        has_landmarks: bool. Whether the records hold the faces' 68 landmarks.
    """

    face_size: int
    num_aus: int
    audio_shape: tuple = None
    audio_dtype: str = None
    has_landmarks: bool = False

    @property
    def has_audio(self):
        """bool. Whether the records hold audio windows."""
        return self.audio_shape is not None


def peek_record_info(files):
    """Reads the first record of the first non-empty shard and returns its `RecordInfo`.

    Args:
        files: sequence of str. Shard paths.

    Returns:
        `RecordInfo`, or None when every shard is empty.

    Raises:
        DataFormatError: a record that is not an affectkeras frame (the message names the file).
    """
    for path in files:
        for serialized in tf.data.TFRecordDataset(path).take(1):
            try:
                frame = decode_frame(serialized.numpy())
            except (KeyError, IndexError, ValueError) as error:  # a record of another schema
                raise DataFormatError(
                    path, None, f"not an affectkeras frame record (missing or bad feature {error})"
                ) from None
            audio_shape = None if frame["audio"] is None else tuple(frame["audio"].shape)
            dtype = None
            if audio_shape is not None:
                dtype = tf.train.Example.FromString(serialized.numpy()).features.feature[
                    "audio/dtype"
                ].bytes_list.value[0].decode("ascii")
            return RecordInfo(frame["face_size"], len(frame["aus"]), audio_shape, dtype,
                              has_landmarks=frame["landmarks"] is not None)
    return None


def feature_spec(info, *, audio=True, landmarks=False):
    """The `tf.io.parse_example` spec of the records described by `info`.

    Defaults make an empty string parse as a padding frame: no face, no labels.

    Args:
        info: `RecordInfo`.
        audio: bool. Include the audio window (skip it when no model input needs it).
        landmarks: bool. Include the landmarks (records written with them).

    Returns:
        dict feature key -> `tf.io.FixedLenFeature`.
    """
    k = info.num_aus
    spec = {
        "video": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "frame_index": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "time": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
        "face/jpeg": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "face/found": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "va": tf.io.FixedLenFeature([2], tf.float32, default_value=[VA_MASK] * 2),
        "va/mask": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "expression": tf.io.FixedLenFeature([], tf.int64, default_value=EXPR_MASK),
        "expression/mask": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "aus": tf.io.FixedLenFeature([k], tf.int64, default_value=[AU_MASK] * k),
        "aus/mask": tf.io.FixedLenFeature([k], tf.int64, default_value=[0] * k),
    }
    if audio and info.has_audio:
        spec["audio/data"] = tf.io.FixedLenFeature([], tf.string, default_value="")
    if landmarks and info.has_landmarks:
        points = 2 * LANDMARK_POINTS
        spec["face/landmarks"] = tf.io.FixedLenFeature([points], tf.float32, default_value=[0.0] * points)
    return spec


def parse_frames(serialized, info, *, audio=True, landmarks=False, keys=None):
    """Parses a batch of serialized frames (any shape) in one vectorised op.

    Args:
        serialized: tf.Tensor of string, shape `(n,)` (or `(a, b)`: flattened and restored).
        info: `RecordInfo`.
        audio: bool. Parse the audio bytes too.
        landmarks: bool. Parse the landmarks too, `(..., 136)`.
        keys: iterable of str or None. Parse only these features (e.g. the label masks).

    Returns:
        dict of tensors with leading shape `serialized.shape`; `face/jpeg` and `audio/data`
        stay encoded (decode with `decode_faces` / `decode_audio`).
    """
    shape = tf.shape(serialized)
    flat = tf.reshape(serialized, [-1])
    spec = feature_spec(info, audio=audio, landmarks=landmarks)
    if keys is not None:
        spec = {key: spec[key] for key in keys}
    parsed = tf.io.parse_example(flat, spec)
    return {
        key: tf.reshape(value, tf.concat([shape, tf.shape(value)[1:]], 0))
        for key, value in parsed.items()
    }


@functools.lru_cache(maxsize=None)
def blank_jpeg(size):
    """bytes. The JPEG of a black `size x size` face, standing in for missing faces.

    Encoded with PIL (not a TensorFlow op), so that it can be called while tracing a graph.
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def decode_faces(jpeg, found, info, *, face_size=None):
    """Decodes JPEG crops to uint8 faces; frames without a face become exact zeros.

    Args:
        jpeg: tf.Tensor of string, `(...)`. `face/jpeg` (empty where no face).
        found: tf.Tensor of int64 or bool, `(...)`. `face/found`.
        info: `RecordInfo`.
        face_size: int or None. Output side; crops of another stored size are resized
            (bilinear, antialiased when shrinking). None keeps `info.face_size`.

    Returns:
        tf.Tensor of uint8, `(..., face_size, face_size, 3)`.
    """
    stored = info.face_size
    size = face_size or stored
    shape = tf.shape(jpeg)
    flat = tf.reshape(jpeg, [-1])
    # One uniform decode for every element: frames without a face (`found` 0, empty bytes)
    # get a black JPEG of the stored size, which decodes to exact zeros. That keeps the loop
    # free of a branch per frame and the output free of a masking pass (a broadcast select
    # over the decoded batch halved the throughput).
    present = tf.cast(tf.reshape(found, [-1]), tf.bool) & (tf.strings.length(flat) > 0)
    flat = tf.where(present, flat, tf.constant(blank_jpeg(stored)))

    def decode(data):
        image = tf.io.decode_jpeg(data, channels=3)
        return tf.ensure_shape(image, [stored, stored, 3])

    images = tf.map_fn(
        decode,
        flat,
        fn_output_signature=tf.TensorSpec([stored, stored, 3], tf.uint8),
        parallel_iterations=16,
    )
    if size != stored:
        # Antialiasing matters only when shrinking, and the kernel that does it is slower.
        images = tf.image.resize(images, [size, size], antialias=size < stored)
        images = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
    return tf.reshape(images, tf.concat([shape, [size, size, 3]], 0))


def decode_audio(data, info, *, pad_value=None):
    """Decodes audio window bytes to float32 `(..., steps, n_mels, 1)`.

    Args:
        data: tf.Tensor of string, `(...)`. `audio/data` (empty for padding frames).
        info: `RecordInfo` with audio.
        pad_value: float or None. Value of an empty (padding) window; None for silence
            (`SpectrogramConfig().floor_db`, -100 dB).

    Returns:
        tf.Tensor of float32.
    """
    if not info.has_audio:
        raise InvalidArgumentError("The records hold no audio windows (they were written without audio)")
    steps, n_mels = info.audio_shape
    if pad_value is None:
        from affectkeras.audio import SpectrogramConfig

        pad_value = SpectrogramConfig().floor_db
    dtype = tf.float16 if info.audio_dtype == "float16" else tf.float32
    width = 2 if info.audio_dtype == "float16" else 4
    silence = np.full(steps * n_mels, pad_value, "<f2" if width == 2 else "<f4").tobytes()
    shape = tf.shape(data)
    flat = tf.reshape(data, [-1])
    flat = tf.where(tf.strings.length(flat) > 0, flat, tf.constant(silence))
    values = tf.io.decode_raw(flat, dtype, little_endian=True)
    values = tf.cast(tf.reshape(values, [-1, steps, n_mels, 1]), tf.float32)
    return tf.reshape(values, tf.concat([shape, [steps, n_mels, 1]], 0))


__all__ = [
    "AUDIO_DTYPES",
    "RECORD_SUFFIX",
    "SCHEMA_VERSION",
    "RecordInfo",
    "ShardWriter",
    "blank_jpeg",
    "decode_audio",
    "decode_faces",
    "decode_frame",
    "encode_frame",
    "feature_spec",
    "parse_frames",
    "peek_record_info",
]
