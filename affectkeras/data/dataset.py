"""affectkeras TFRecords -> `(inputs, targets)` batches for `model.fit`, in two pipelines.

`make_sequence_dataset` (CNN-RNN networks): windows of `seq_len` consecutive frames of one
video (the papers: batches of 4 x 80). Every video has its own shard, and each shard is cut
into windows on its own before shards are interleaved, so a window never crosses a video
boundary. Frames without a face stay in their windows (the window keeps its timing and the
RNN its rhythm) with an all-zero face and, by default, every label masked (sentinels), so
they contribute nothing to the losses.

`make_frame_dataset` (per-frame CNNs, ArcFace networks): single frames with a face and at
least one label of the requested tasks (by default), shuffled across videos.
`make_dataset(mode=...)` picks either at run time.

How it stays fast on 2 cores: records are parsed per window with one vectorised
`tf.io.parse_example`; JPEG crops stay encoded through the shuffle buffer and are decoded
after batching by one `tf.map_fn` per batch (its iterations run in parallel), 1.3-1.6x the
rate of a per-frame parallel `map(decode_jpeg)` on 2 cores; batches are decoded by a
parallel `map` and prefetched. `benchmarks/bench_pipeline.py` measures it: 4 x 80 windows
of 96 px faces + audio come at ~14,000 frames/s on 2 cores, ~80% of the raw decode rate.

Example:
    >>> train = make_sequence_dataset("records/train", seq_len=80, batch_size=4,
    ...                               modalities=("faces", "audio"), seed=1)
    >>> model = compile_preset(build_av_mt_vgg_rnn())
    >>> model.fit(train, epochs=10)
"""

import functools
import pathlib
import typing

import tensorflow as tf

from affectkeras.constants import (
    ALL_TASKS,
    AU_MASK,
    AU_OUTPUT,
    AUDIO_INPUT,
    EXPR_MASK,
    EXPR_OUTPUT,
    FACES_INPUT,
    LABELS_INPUT,
    LANDMARKS_INPUT,
    MODALITIES,
    SEQUENCE_LENGTH,
    VA_MASK,
    VA_OUTPUT,
    check_tasks,
)
from affectkeras.data import records
from affectkeras.errors import InvalidArgumentError, check_choice, check_positive

MODES = ("sequence", "frame")
METADATA = ("video", "frame_index", "time", "face_found")

# Shuffle buffers: 64 windows of 80 frames (~50 MB of encoded crops and audio), or 4096 frames.
_SEQUENCE_BUFFER = 64
_FRAME_BUFFER = 4096
_PARSE_BATCH = 256  # frames parsed per op in frame mode
# What deciding whether a frame is labelled reads (`_labelled`), all that counting parses.
_MASK_KEYS = ("face/found", "va/mask", "expression/mask", "aus/mask")


def list_shards(pattern_or_files):
    """Resolves a folder, a glob pattern, a file or a list of them to sorted shard paths.

    A folder gives its `*.tfrecord` files (temporary files of an unfinished job are never
    matched: they do not end in `.tfrecord`).

    Args:
        pattern_or_files: str, path, or sequence of them.

    Returns:
        list of str, sorted, without duplicates.

    Raises:
        FileNotFoundError: nothing matches; the message names what was given.
    """
    items = [pattern_or_files] if isinstance(pattern_or_files, (str, pathlib.Path)) else list(pattern_or_files)
    found = set()
    for item in items:
        item = str(item)
        if tf.io.gfile.isdir(item):
            found.update(tf.io.gfile.glob(str(pathlib.Path(item) / f"*{records.RECORD_SUFFIX}")))
        elif any(c in item for c in "*?["):
            found.update(tf.io.gfile.glob(item))
        elif tf.io.gfile.exists(item):
            found.add(item)
        else:
            raise FileNotFoundError(f"No such TFRecord file or folder: {item}")
    if not found:
        raise FileNotFoundError(f"No {records.RECORD_SUFFIX} files found in {pattern_or_files!r}")
    return sorted(found)


def _check_modalities(modalities):
    modalities = (modalities,) if isinstance(modalities, str) else tuple(modalities)
    for modality in modalities:
        check_choice("modalities", modality, MODALITIES)
    if not modalities:
        raise InvalidArgumentError(
            f"`modalities` must name at least one of {list(MODALITIES)}. Received: modalities={modalities!r}"
        )
    return tuple(m for m in MODALITIES if m in modalities)


def _labelled(parsed, tasks, mask_missing_faces):
    """bool `(...)`: frames with at least one label of `tasks` (and a face, if required)."""
    keys = {"va": "va/mask", "expr": "expression/mask"}
    has = [tf.cast(parsed[keys[t]], tf.bool) for t in tasks if t in keys]
    if "au" in tasks:
        has.append(tf.reduce_any(tf.cast(parsed["aus/mask"], tf.bool), axis=-1))
    labelled = tf.reduce_any(tf.stack(has, axis=-1), axis=-1)
    if mask_missing_faces:
        labelled = labelled & tf.cast(parsed["face/found"], tf.bool)
    return labelled


def _targets(parsed, tasks, mask_missing_faces):
    """The target dict, sentinels wherever a label is masked."""
    keep = tf.ones_like(parsed["face/found"], tf.bool)
    if mask_missing_faces:
        keep = tf.cast(parsed["face/found"], tf.bool)
    targets = {}
    if "va" in tasks:
        annotated = (tf.cast(parsed["va/mask"], tf.bool) & keep)[..., None]
        targets[VA_OUTPUT] = tf.where(annotated, parsed["va"], tf.constant(VA_MASK, tf.float32))
    if "expr" in tasks:
        annotated = tf.cast(parsed["expression/mask"], tf.bool) & keep
        targets[EXPR_OUTPUT] = tf.cast(tf.where(annotated, parsed["expression"], EXPR_MASK), tf.int32)
    if "au" in tasks:
        annotated = tf.cast(parsed["aus/mask"], tf.bool) & keep[..., None]
        targets[AU_OUTPUT] = tf.cast(tf.where(annotated, parsed["aus"], AU_MASK), tf.int32)
    return targets


def make_sequence_dataset(
    pattern_or_files,
    *,
    seq_len=SEQUENCE_LENGTH,
    stride=None,
    pad_remainder=False,
    batch_size=4,
    modalities=(FACES_INPUT,),
    tasks=ALL_TASKS,
    face_size=96,
    shuffle=True,
    shuffle_buffer=None,
    seed=None,
    deterministic=False,
    repeat=False,
    count=False,
    drop_remainder=False,
    skip_unlabeled=True,
    mask_missing_faces=True,
    include_metadata=False,
    cycle_length=None,
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
):
    """Windows of consecutive frames of one video, for the sequence (CNN-RNN) networks.

    Args:
        pattern_or_files: str, path or list. A records folder (its `*.tfrecord`), a glob
            pattern, or shard files (one per video, as `affectkeras.data.preprocess` writes).
        seq_len: int. Frames per window (papers: 80).
        stride: int or None. Frames between the starts of consecutive windows; None =
            `seq_len` (no overlap). A video's trailing frames that fill no whole window are
            dropped (see `pad_remainder`).
        pad_remainder: bool. With `stride == seq_len` only: keep each video's last partial
            window, padded with empty frames (no face, silence, all labels masked;
            `frame_index` 0), so that every frame appears exactly once (evaluation).
        batch_size: int. Windows per batch (papers: 4).
        modalities: sequence of str. Inputs to produce: `"faces"` `(..., face_size,
            face_size, 3)` uint8 and/or `"audio"` `(..., steps, n_mels, 1)` float32 log-mel
            windows (the records must have been written with audio) and/or `"landmarks"`
            `(..., 136)` float32 (records preprocessed with landmarks; AffWildNet's input).
        tasks: sequence of str. Targets among `"va"` -> `valence_arousal` float32 `(..., 2)`
            (-5 = masked), `"expr"` -> `expression` int32 `(...)` (-1), `"au"` ->
            `action_units` int32 `(..., K)` (-1).
        face_size: int. Side of the faces given to the model; stored crops of another size
            are resized (bilinear, antialiased when shrinking).
        shuffle: bool. Shuffle shard order and windows (frames) within `shuffle_buffer`.
        shuffle_buffer: int or None. Windows (frames) in the shuffle buffer; None = 64
            windows (4096 frames).
        seed: int or None. Seed of every shuffle: with `deterministic=True` the same seed
            gives the same order on every run (a new order each epoch, the same sequence of
            orders on every run).
        deterministic: bool. Keep the element order of the parallel interleave and maps
            (reproducible, a little slower); False lets faster elements overtake.
        repeat: bool. Repeat forever (pass `steps_per_epoch` to `fit`).
        count: bool. Count the batches of an epoch first (one pass over the records' label
            features, nothing decoded) and declare them (`assert_cardinality`), so that
            Keras knows the epoch's length from the first epoch on: a progress bar with an
            end and no "Your input ran out of data" warning. Not with `repeat`, nor for a
            dataset that a distribution strategy shards (each worker sees a part of it).
        drop_remainder: bool. Drop the last, smaller batch (static batch dimension).
        skip_unlabeled: bool. Skip windows (frames) without any label of `tasks` (counting
            only frames with a face when `mask_missing_faces`); they add nothing to the losses.
        mask_missing_faces: bool. Mask every label of a frame without a face (its face
            input is all zeros). False keeps them (e.g. to train the audio stream there).
        include_metadata: bool. Add `video` (string), `frame_index` (int64, 1-based),
            `time` (float32 s) and `face_found` (bool) to the inputs, for evaluation and
            inspection (Keras ignores input keys its model does not have, with a warning).
        cycle_length: int or None. Shards read at once (interleave); None = min(16, shards).
        num_parallel_calls: int. Parallelism of the parse and decode maps and interleave.
        prefetch: int or None. Batches to prefetch; None or 0 disables.

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)` dicts: `faces`
        `(batch, seq_len, face_size, face_size, 3)` uint8, `audio`
        `(batch, seq_len, steps, n_mels, 1)` float32, targets `(batch, seq_len, ...)`.

    Raises:
        FileNotFoundError: no shard matches.
        InvalidArgumentError: a wrong argument, or `"audio"` asked of records without audio.

    Example:
        >>> train = make_sequence_dataset("records/train", seq_len=80, batch_size=4,
        ...                               modalities=("faces", "audio"), seed=1)
    """
    check_positive("seq_len", seq_len, integer=True)
    stride = seq_len if stride is None else stride
    check_positive("stride", stride, integer=True)
    if pad_remainder and stride != seq_len:
        raise InvalidArgumentError(
            "`pad_remainder` needs stride == seq_len (whole windows, the last one padded). "
            f"Received: pad_remainder=True, stride={stride}, seq_len={seq_len}"
        )
    options = dict(locals())
    del options["seq_len"], options["stride"], options["pad_remainder"]
    return _pipeline(windows=_Windows(seq_len, stride, pad_remainder), with_expression_labels_input=False, **options)


def make_frame_dataset(
    pattern_or_files,
    *,
    batch_size=4,
    modalities=(FACES_INPUT,),
    tasks=ALL_TASKS,
    face_size=96,
    shuffle=True,
    shuffle_buffer=None,
    seed=None,
    deterministic=False,
    repeat=False,
    count=False,
    drop_remainder=False,
    skip_unlabeled=True,
    mask_missing_faces=True,
    with_expression_labels_input=False,
    include_metadata=False,
    cycle_length=None,
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
):
    """Single frames with a face and a label, shuffled across videos, for per-frame networks.

    Args:
        batch_size: int. Frames per batch.
        with_expression_labels_input: bool. Also give the expression targets as the input
            `expression_labels` (int32, -1 = masked) that the ArcFace networks train with.
        shuffle_buffer: int or None. Frames in the shuffle buffer; None = 4096.
        Others: as `make_sequence_dataset`.

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)` dicts: `faces` `(batch, face_size,
        face_size, 3)` uint8, `audio` `(batch, steps, n_mels, 1)` float32, targets `(batch, ...)`.

    Example:
        >>> ds = make_frame_dataset("records/train", batch_size=64, face_size=112,
        ...                         tasks=("expr", "au"), with_expression_labels_input=True)
        >>> inputs, targets = next(iter(ds))
        >>> inputs["faces"].shape, targets["expression"].shape
        (TensorShape([64, 112, 112, 3]), TensorShape([64]))
    """
    return _pipeline(windows=None, **locals())


def make_dataset(pattern_or_files, *, mode="sequence", **kwargs):
    """`make_sequence_dataset` (`mode="sequence"`) or `make_frame_dataset` (`"frame"`).

    For callers that choose the pipeline at run time; in frame mode the window arguments
    (`seq_len`, `stride`) are ignored, and `pad_remainder` is refused.
    """
    check_choice("mode", mode, MODES)
    if mode == "sequence":
        return make_sequence_dataset(pattern_or_files, **kwargs)
    if kwargs.pop("pad_remainder", False):
        raise InvalidArgumentError(
            "`pad_remainder` pads sequence windows; it needs mode='sequence'. Received: pad_remainder=True, mode='frame'"
        )
    for window_argument in ("seq_len", "stride"):
        kwargs.pop(window_argument, None)
    return make_frame_dataset(pattern_or_files, **kwargs)


class _Windows(typing.NamedTuple):
    """How sequence mode cuts each video: `length` frames every `stride`, last one padded?"""

    length: int
    stride: int
    pad_remainder: bool


def _pipeline(pattern_or_files, *, windows, batch_size, modalities, tasks, face_size, shuffle, shuffle_buffer,
              seed, deterministic, repeat, count, drop_remainder, skip_unlabeled, mask_missing_faces,
              with_expression_labels_input, include_metadata, cycle_length, num_parallel_calls, prefetch):
    """The pipeline both modes share: records -> parsed windows / frames -> batches -> model inputs."""
    check_positive("batch_size", batch_size, integer=True)
    check_positive("face_size", face_size, integer=True)
    modalities = _check_modalities(modalities)
    tasks = check_tasks(tasks)
    if shuffle_buffer is not None:
        check_positive("shuffle_buffer", shuffle_buffer, integer=True)
    if cycle_length is not None:
        check_positive("cycle_length", cycle_length, integer=True)
    if count and repeat:
        raise InvalidArgumentError("`count` needs a finite dataset. Received: count=True, repeat=True")
    files = list_shards(pattern_or_files)
    info = records.peek_record_info(files)
    if info is None:
        raise InvalidArgumentError(f"Every shard is empty: {files[:3]}{' ...' if len(files) > 3 else ''}")
    if AUDIO_INPUT in modalities and not info.has_audio:
        raise InvalidArgumentError(
            f"`modalities` asks for audio but the records hold none ({files[0]} was written without "
            f"audio). Received: modalities={modalities!r}"
        )
    if LANDMARKS_INPUT in modalities and not info.has_landmarks:
        raise InvalidArgumentError(
            f"`modalities` asks for landmarks but the records hold none ({files[0]} was written without "
            f"them: preprocess with --landmarks). Received: modalities={modalities!r}"
        )
    settings = dict(
        info=info,
        tasks=tasks,
        modalities=modalities,
        face_size=face_size,
        mask_missing_faces=mask_missing_faces,
        with_labels_input=with_expression_labels_input,
        include_metadata=include_metadata,
    )

    with_audio = AUDIO_INPUT in modalities
    stream = functools.partial(
        _parsed_stream, files, windows=windows, tasks=tasks if skip_unlabeled else None,
        mask_missing_faces=mask_missing_faces, cycle_length=cycle_length, num_parallel_calls=num_parallel_calls,
    )
    with_landmarks = LANDMARKS_INPUT in modalities
    ds = stream(parse=lambda serialized: records.parse_frames(serialized, info, audio=with_audio,
                                                              landmarks=with_landmarks),
                shuffle=shuffle, seed=seed, deterministic=deterministic)
    buffer = shuffle_buffer or (_SEQUENCE_BUFFER if windows else _FRAME_BUFFER)
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if count:
        labels_only = stream(parse=lambda serialized: records.parse_frames(serialized, info, keys=_MASK_KEYS),
                             shuffle=False, seed=None, deterministic=False)
        elements = int(labels_only.reduce(tf.constant(0, tf.int64), lambda total, _: total + 1))
        batches = elements // batch_size if drop_remainder else -(-elements // batch_size)
        ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    ds = ds.map(
        lambda parsed: _to_model(parsed, **settings),
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )
    if prefetch:
        ds = ds.prefetch(prefetch)
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.with_options(options)


def _parsed_stream(files, *, parse, windows, tasks, mask_missing_faces, cycle_length, num_parallel_calls, shuffle,
                   seed, deterministic):
    """The parsed `windows` (None: single frames) of the shards, in shard order or shuffled.

    `parse` maps serialized records (any shape) to a dict of features; with `tasks`, the
    windows (frames) without any label of them are skipped.
    """
    file_ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        file_ds = file_ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    parallel = dict(num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    cycle = min(cycle_length or 16, len(files))

    if windows:
        seq_len, stride, pad_remainder = windows

        def windows_of(path):
            frames = tf.data.TFRecordDataset(path)
            if stride == seq_len:
                windows = frames.batch(seq_len, drop_remainder=not pad_remainder)
            else:
                windows = frames.window(seq_len, shift=stride, drop_remainder=True)
                windows = windows.flat_map(lambda w: w.batch(seq_len, drop_remainder=True))
            if pad_remainder:
                windows = windows.map(
                    lambda w: tf.pad(w, [[0, seq_len - tf.shape(w)[0]]], constant_values="")
                )
            return windows.map(lambda w: tf.ensure_shape(w, [seq_len]))

        ds = file_ds.interleave(windows_of, cycle_length=cycle, **parallel).map(parse, **parallel)
        if tasks:
            ds = ds.filter(lambda p: tf.reduce_any(_labelled(p, tasks, mask_missing_faces)))
        return ds
    ds = file_ds.interleave(tf.data.TFRecordDataset, cycle_length=cycle, block_length=1, **parallel)
    ds = ds.batch(_PARSE_BATCH).map(parse, **parallel)
    if tasks:

        def keep_labelled(parsed):
            keep = _labelled(parsed, tasks, mask_missing_faces)
            return {key: tf.boolean_mask(value, keep) for key, value in parsed.items()}

        ds = ds.map(keep_labelled, **parallel)
    return ds.unbatch()


def _to_model(parsed, *, info, tasks, modalities, face_size, mask_missing_faces, with_labels_input, include_metadata):
    """Decodes a parsed batch into `(inputs, targets)`."""
    inputs = {}
    if FACES_INPUT in modalities:
        inputs[FACES_INPUT] = records.decode_faces(parsed["face/jpeg"], parsed["face/found"], info, face_size=face_size)
    if AUDIO_INPUT in modalities:
        inputs[AUDIO_INPUT] = records.decode_audio(parsed["audio/data"], info)
    if LANDMARKS_INPUT in modalities:
        inputs[LANDMARKS_INPUT] = parsed["face/landmarks"]
    targets = _targets(parsed, tasks, mask_missing_faces)
    if with_labels_input:
        inputs[LABELS_INPUT] = targets[EXPR_OUTPUT] if EXPR_OUTPUT in targets else _targets(
            parsed, ("expr",), mask_missing_faces
        )[EXPR_OUTPUT]
    if include_metadata:
        inputs["video"] = parsed["video"]
        inputs["frame_index"] = parsed["frame_index"]
        inputs["time"] = parsed["time"]
        inputs["face_found"] = tf.cast(parsed["face/found"], tf.bool)
    return inputs, targets


__all__ = ["METADATA", "MODALITIES", "MODES", "list_shards", "make_dataset", "make_frame_dataset",
           "make_sequence_dataset"]
