"""`tf.data` pipelines for the databases users fine-tune on, from the readers' records.

The readers of `affectkeras.annotations` (`images`, `ravdess`, `continuous`) turn a database
into records; this module turns records into what the models of `affectkeras.models.surgery`
train on:

- expression images (AffectNet / RAF-DB / CK+ / FER2013 / JAFFE `ExpressionRecord`) ->
  `({"faces": uint8 (batch, size, size, 3)}, {"expression": int32 (batch,)})`. These
  databases ship face crops already, so an image is centre-cropped to a square and resized;
  with `align=True` the face is detected and aligned with `affectkeras.faces` (as the
  video pipeline does), falling back to the centre crop when no face is found.
- audio clips (`RavdessRecord`) -> `({"audio": (batch, windows, steps, n_mels, 1)},
  {"expression": int32 (batch,)})`: the clip's log-mel spectrogram (`affectkeras.audio`)
  cut to `windows * steps` frames (random crop / placement while training,
  centred for evaluation; short clips padded with silence) and split into `windows`
  consecutive windows of the `SpectrogramConfig` size (50 x 64), the windows the A/V
  network's audio stream was trained on; SpecAugment while training.
- continuous VA (RECOLA style `ContinuousLabels`) -> ABAW-layout annotation files at
  30 fps (`write_va_annotations`), so that `affectkeras.data.run_preprocess` and
  `make_dataset` (the Aff-Wild2 pipeline) are reused as they are.

Example:
    >>> from affectkeras.annotations import read_ravdess, split_by_subject
    >>> train, test = split_by_subject(read_ravdess("ravdess"), test_subjects=[4], key=lambda r: r.actor)
    >>> ds = audio_clip_dataset(train, num_windows=8, training=True, batch_size=16, seed=0)
    >>> inputs, targets = next(iter(ds))
    >>> inputs["audio"].shape, targets["expression"].shape
    (TensorShape([16, 8, 50, 64, 1]), TensorShape([16]))
"""

import os
import pathlib

import numpy as np
import tensorflow as tf

from affectkeras import audio as audio_features
from affectkeras.annotations.affwild2 import SPLIT_FOLDERS, TASK_FOLDERS
from affectkeras.annotations.fusion import resample_to_fps
from affectkeras.constants import AUDIO_INPUT, EXPR_OUTPUT, FACES_INPUT, FPS, VA_MASK, VA_NAMES
from affectkeras.errors import DataFormatError, InvalidArgumentError, check_choice, check_fraction, check_positive


# Default SpecAugment of the clip pipeline (per 8 x 50-step clip: two bands of up to 8 mels
# and two of up to 20 frames; `audio.spec_augment`'s own defaults target a single window).
SPEC_AUGMENT = dict(freq_masks=2, freq_width=8, time_masks=2, time_width=20)
NORMALIZATIONS = (None, "clip")
AUDIO_DECODERS = ("soundfile", "tfio")


# ----------------------------------------------------------------------------------------
# Expression images


def _record_label(record):
    """The class index of a record: `emotion` of a `RavdessRecord`, else `label`."""
    label = getattr(record, "emotion", None)
    return int(record.label if label is None else label)


def _centre_square(image, size):
    from PIL import Image

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), Image.BILINEAR), np.uint8)


def _rgb_pixels(image):
    """uint8 `(h, w, 3)` pixels of a PIL image as it is meant to be seen: turned upright by its
    EXIF orientation (phone photos are stored sideways), more-than-8-bit grey scaled to 0-255
    (Pillow's `convert("RGB")` clips 16-bit values, so nearly every pixel would be white)."""
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit integers, or floats
        values = np.asarray(image, np.float64)
        top = 65535.0 if image.mode.startswith("I") else (1.0 if values.max(initial=0) <= 1 else 255.0)
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"), np.uint8)


def load_face_image(image, *, size=96, align=False, padding=0.25, detector=None):
    """Reads one face image of an expression database as a uint8 `(size, size, 3)` crop.

    Args:
        image: str, path or np.ndarray. An image file (any format Pillow reads), or pixels
            `(h, w)` gray / `(h, w, 3)` RGB uint8 (FER2013 records).
        size: int. Side of the output crop (96 for the VGG-Face networks, 112 for ArcFace).
        align: bool. Detect the largest face (dlib HOG) and align it on its 5 landmarks as
            the video pipeline does; when no face is found, fall back to the centre crop.
        padding: float. Margin of the aligned crop (see `affectkeras.faces.align_face`).
        detector: `affectkeras.faces.FaceDetector` or None. The detector for `align`;
            None = HOG at the image's own size, upsampled once (small crops).

    Returns:
        np.ndarray of uint8, `(size, size, 3)` RGB: the centre square, resized (bilinear),
        or the aligned face.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: the file is not an image Pillow can read (the message names it).

    Example:
        >>> load_face_image("RAF-DB/test_0001.jpg", size=96).shape
        (96, 96, 3)
    """
    check_positive("size", size, integer=True)
    if isinstance(image, np.ndarray):
        pixels = image.astype(np.uint8, copy=False)
    else:
        from PIL import Image, UnidentifiedImageError

        path = pathlib.Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"Image file not found: {path}")
        try:
            with Image.open(path) as opened:
                pixels = _rgb_pixels(opened)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise DataFormatError(path, None, f"cannot read the image: {error}") from None
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    elif pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise InvalidArgumentError(
            "`image` must be (h, w), (h, w, 1), (h, w, 3) or (h, w, 4) pixels. "
            f"Received: image with shape {pixels.shape}"
        )
    elif pixels.shape[2] != 3:
        pixels = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels[:, :, :3]
    if align:
        from affectkeras import faces

        detector = detector or faces.FaceDetector(width=None, upsample=1)
        found = detector(pixels)
        if found:
            box = max(found, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])).box
            return faces.align_face(pixels, faces.fit_landmarks(pixels, box), size=size, padding=padding)
    return _centre_square(np.ascontiguousarray(pixels), size)


def expression_image_dataset(
    records,
    *,
    size=96,
    batch_size=32,
    shuffle=False,
    seed=None,
    align=False,
    padding=0.25,
    flip=False,
    augment=False,
    erase=0.0,
    soft_labels=False,
    cache=True,
    num_parallel_calls=tf.data.AUTOTUNE,
):
    """Builds `(faces, expression)` batches from expression image records.

    Args:
        records: sequence of `ExpressionRecord` (`read_expression_folder`,
            `read_expression_csv`, `read_fer2013`, `read_jaffe`).
        size: int. Side of the face crops.
        batch_size: int. Images per batch.
        shuffle: bool. Shuffle the images (all of them) every epoch.
        seed: int or None. Seed of the shuffle and of the flips.
        align: bool. Detect and align the face (see `load_face_image`).
        padding: float. Margin of aligned crops.
        flip: bool. Random horizontal flips (training augmentation).
        augment: bool. The full training augmentation of `face_augmentation` (flips, small
            rotations, zooms and shifts, brightness and contrast); implies `flip`.
        erase: float in [0, 1). With `augment`: the probability that a random patch of a face
            is replaced by noise (random erasing).
        soft_labels: bool. Targets are the records' `distribution` (float32 `(batch, C)`,
            e.g. FER+'s vote distributions) instead of their class index.
        cache: bool. Keep the decoded crops in memory after the first epoch (small
            databases; turn off for AffectNet-sized ones).
        num_parallel_calls: int. Parallel image loads.

    Returns:
        A `tf.data.Dataset` of `({"faces": uint8 (batch, size, size, 3)},
        {"expression": int32 (batch,)})`, or float32 `(batch, C)` with `soft_labels`.

    Raises:
        InvalidArgumentError: no records. A file that cannot be read fails the iteration
        with an error naming it.

    Example:
        >>> records = read_expression_folder("CK+", subject_pattern=r"/(S\\d{3})_")
        >>> ds = expression_image_dataset(records, size=96, batch_size=32, shuffle=True, seed=0)
    """
    records = list(records)
    if not records:
        raise InvalidArgumentError("`records` is empty: no image to read. Received: records=[]")
    check_positive("size", size, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    if erase and not augment:
        raise InvalidArgumentError(f"`erase` is part of the training augmentation: it needs augment=True. "
                                   f"Received: erase={erase!r}, augment={augment!r}")
    images = [r.image for r in records]
    if soft_labels:
        labels = np.stack([np.asarray(r.distribution, np.float32) for r in records])
    else:
        labels = np.array([_record_label(r) for r in records], np.int32)
    detector = None
    if align:
        from affectkeras import faces

        detector = faces.FaceDetector(width=None, upsample=1)

    def load(index):
        return load_face_image(images[int(index)], size=size, align=align, padding=padding, detector=detector)

    def load_tf(index, label):
        face = tf.numpy_function(load, [index], tf.uint8, stateful=False)
        return tf.ensure_shape(face, (size, size, 3)), label

    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(records)), labels))
    ds = ds.map(load_tf, num_parallel_calls=num_parallel_calls)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(records), seed=seed, reshuffle_each_iteration=True)
    if flip and not augment:
        ds = _with_seeds(ds, seed).map(
            lambda example, pair: (tf.image.stateless_random_flip_left_right(example[0], pair), example[1]),
            num_parallel_calls=num_parallel_calls,
        )
    ds = ds.batch(batch_size)
    if augment:
        augmentation = face_augmentation(erase=erase, seed=seed)
        ds = ds.map(lambda faces, label: (augmentation(faces, training=True), label),
                    num_parallel_calls=num_parallel_calls)
    ds = ds.map(lambda faces, label: ({FACES_INPUT: faces}, {EXPR_OUTPUT: label}))
    return ds.prefetch(tf.data.AUTOTUNE)


def face_augmentation(*, rotation=0.04, zoom=0.15, shift=0.08, brightness=0.25, contrast=0.3, erase=0.0,
                      seed=None):
    """Keras's random image layers as one training augmentation of uint8 face batches.

    Crops in the wild are never as centred, upright and evenly lit as a database's: the
    network sees faces flipped, turned by up to `rotation` of a full turn (0.04 = 14
    degrees), zoomed in or out by up to `zoom`, shifted by up to `shift` of the side (edges
    reflected), and with brightness and contrast changed by up to `brightness` /
    `contrast`. With `erase`, that share of the faces (on average) also has a random
    rectangle of 2-33 % of its area replaced by noise (random erasing, Zhong et al. 2020),
    as a hand or a scarf would hide it. Runs inside `tf.data` (TensorFlow ops) on
    `(batch, size, size, 3)` uint8 and returns uint8.

    Returns:
        A function `augment(faces, training=True)` over uint8 batches.
    """
    import keras

    layers = [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=seed),
        keras.layers.RandomZoom(zoom, fill_mode="reflect", seed=seed),
        keras.layers.RandomTranslation(shift, shift, fill_mode="reflect", seed=seed),
        keras.layers.RandomBrightness(brightness, value_range=(0, 255), seed=seed),
        keras.layers.RandomContrast(contrast, value_range=(0, 255), seed=seed),
    ]
    if check_fraction("erase", erase):
        layers.append(keras.layers.RandomErasing(factor=(erase, erase), value_range=(0, 255), seed=seed))
    pipeline = keras.Sequential(layers, name="face_augmentation")

    def augment(faces, training=True):
        x = pipeline(tf.cast(faces, tf.float32), training=training)
        return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)

    return augment


def _with_seeds(ds, seed):
    """Zips each element with a `(2,)` int64 seed: new ones each epoch, the same on every run."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True)
    return tf.data.Dataset.zip((ds, seeds))


# ----------------------------------------------------------------------------------------
# Audio clips


def normalize_clip(spectrogram):
    """Per-clip mean and variance normalisation of each mel band (utterance-level CMVN), in graph.

    Removes the recording's level and channel colouring (different microphones, gains and
    speakers), the usual input normalisation of speech emotion models trained from scratch.

    Args:
        spectrogram: tf.Tensor of float32, `(time, n_mels)` in dB.

    Returns:
        tf.Tensor of float32, `(time, n_mels)`: each band with mean 0 and standard deviation
        1 over the clip (bands constant over the clip become 0).
    """
    mean, variance = tf.nn.moments(spectrogram, axes=[0], keepdims=True)
    return (spectrogram - mean) * tf.math.rsqrt(variance + 1e-3)


def clip_windows(spectrogram, num_windows, config=None, *, align="center", seed=None, pad_value=None):
    """Cuts a clip's log-mel spectrogram into `num_windows` consecutive windows, in graph.

    Args:
        spectrogram: tf.Tensor of float32, `(time, n_mels)` (`log_mel_spectrogram`).
        num_windows: int. Windows per clip: the clip is cropped or padded (with silence) to
            `num_windows * config.steps` frames first.
        config: `SpectrogramConfig` or None (defaults: 50 steps x 64 mels).
        align: str. `"center"` (evaluation), `"start"` or `"random"` (training crops).
        seed: None, int or `(2,)` int tensor. Seed of the random crop.
        pad_value: float or None. Value of the padding; None = silence (`config.floor_db`).

    Returns:
        tf.Tensor of float32, `(num_windows, steps, n_mels, 1)`.

    Example:
        >>> clip_windows(log_mel_spectrogram(load_audio("03-01-05-01-01-01-01.wav")), 8).shape
        TensorShape([8, 50, 64, 1])
    """
    config = config or audio_features.SpectrogramConfig()
    check_positive("num_windows", num_windows, integer=True)
    fixed = audio_features.tf_fixed_length(
        spectrogram, num_windows * config.steps, config, align=align, seed=seed, pad_value=pad_value
    )
    return tf.reshape(fixed, (num_windows, config.steps, config.n_mels, 1))


def audio_clip_dataset(
    records,
    *,
    num_windows=8,
    config=None,
    training=False,
    spec_augment=True,
    mel_shift=0,
    time_stretch=0.0,
    normalize=None,
    batch_size=16,
    shuffle=None,
    seed=None,
    decoder="soundfile",
    spectrograms=None,
    cache=True,
    num_parallel_calls=tf.data.AUTOTUNE,
):
    """Builds `(audio windows, class)` batches from audio clip records (RAVDESS, CREMA-D).

    Each clip is decoded and resampled to the config's rate, turned into a log-mel
    spectrogram in dB (the same numbers as the preprocessing job's), cut to
    `num_windows * steps` frames and split into windows (`clip_windows`). The default 8
    windows of 0.5 s cover 4 s, RAVDESS's typical utterance (3.2-5 s).

    Args:
        records: sequence of records with a `path` and a class: `RavdessRecord` (class =
            `emotion`, 0-7 in RAVDESS order) or any record with `path` and `label`.
        num_windows: int. Windows per clip.
        config: `SpectrogramConfig` or None (defaults: 50 steps x 64 mels per window).
        training: bool. Random crops (a new one every epoch) and SpecAugment; False gives
            the centred crop, the same every time (evaluation).
        spec_augment: bool or dict. With `training`: SpecAugment with `SPEC_AUGMENT`
            (True), these `audio.spec_augment` arguments (dict), or none (False).
        mel_shift: int. With `training`: each clip moved up or down the mel axis by a
            random whole number of bands up to this (`audio.mel_shift`: a crude pitch
            change); 0 = none.
        time_stretch: float. With `training`: each clip sped up or slowed down by a random
            factor in [1 - time_stretch, 1 + time_stretch] (`audio.time_stretch`); 0 = none.
        normalize: str or None. None: the dB values as they are (what the A/V network's
            audio stream sees in the Aff-Wild2 pipeline: keep it for a pretrained stream);
            `"clip"`: per-clip, per-band mean and variance normalisation (`normalize_clip`)
            before cropping, padding with 0 (the mean) instead of silence; suits streams
            trained from scratch (raw dB in [-100, ~20] makes batch-norm statistics of a
            short fine-tuning unreliable).
        batch_size: int. Clips per batch.
        shuffle: bool or None. Shuffle the clips every epoch; None = `training`.
        seed: int or None. Seed of the shuffle, the crops and the masks.
        decoder: str. `"soundfile"` (default): every clip is decoded (`audio.load_audio`)
            and its spectrogram computed (`audio.log_mel_spectrogram`) once, here, in a
            thread pool, so that a damaged file fails at once with a `MediaError` naming
            it; the spectrograms are held in memory. `"tfio"`: decoded inside `tf.data`
            by tensorflow-io (`audio.tfio.decode_audio`, the `tfio` extra, TF 2.16 only)
            with the in-graph twin of the spectrogram; files may live on `gs://`.
        spectrograms: dict or None. With `"soundfile"`: clip path -> its log-mel
            spectrogram, as `decode_clips` (with the same `config`) returns them; those clips
            are not decoded again (cross-validation decodes each clip once, not once per fold
            and pipeline).
        cache: bool. With `decoder="tfio"`: keep the spectrograms in memory after the
            first epoch.
        num_parallel_calls: int. Parallel decodes (`"tfio"`) and crops.

    Returns:
        A `tf.data.Dataset` of `({"audio": float32 (batch, num_windows, steps, n_mels, 1)},
        {"expression": int32 (batch,)})`.

    Raises:
        InvalidArgumentError: no records, a wrong argument (`spectrograms` with `"tfio"`, or
            of another number of mel bands than `config`'s).
        FileNotFoundError, MediaError: (`"soundfile"`) a clip is missing or cannot be
            decoded; the message names it. With `"tfio"` the same problems fail the
            iteration with a TensorFlow error naming the file.

    Example:
        >>> train, test = kfold_by_subject(read_ravdess(root), 4, key=lambda r: r.actor)[0]
        >>> audio_clip_dataset(train, training=True, seed=0)
    """
    records = list(records)
    if not records:
        raise InvalidArgumentError("`records` is empty: no clip to read. Received: records=[]")
    config = config or audio_features.SpectrogramConfig()
    check_positive("num_windows", num_windows, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    check_positive("mel_shift", mel_shift, integer=True, allow_zero=True)
    check_fraction("time_stretch", time_stretch)
    if isinstance(spec_augment, dict):
        masks = dict(spec_augment)
    else:
        check_choice("spec_augment", spec_augment, (True, False))
        masks = dict(SPEC_AUGMENT) if spec_augment else None
    check_choice("normalize", normalize, NORMALIZATIONS)
    check_choice("decoder", decoder, AUDIO_DECODERS)
    if spectrograms is not None and decoder != "soundfile":
        raise InvalidArgumentError(f"`spectrograms` are decoded clips: they need decoder='soundfile'. "
                                   f"Received: decoder={decoder!r}")
    pad_value = 0.0 if normalize == "clip" else None
    shuffle = training if shuffle is None else shuffle
    paths = [str(r.path) for r in records]
    labels = np.array([_record_label(r) for r in records], np.int32)

    if decoder == "soundfile":
        clips = _clip_spectrograms(paths, config, spectrograms)
        ds = tf.data.Dataset.from_tensor_slices((clips, labels))  # a (time, n_mels) tensor each
    else:
        from affectkeras.audio import tfio

        def decode(path, label):
            waveform = tfio.decode_audio(path, sample_rate=config.sample_rate)
            return audio_features.tf_log_mel_spectrogram(waveform, config), label

        ds = tf.data.Dataset.from_tensor_slices((paths, labels)).map(decode, num_parallel_calls=num_parallel_calls)
    if normalize == "clip":
        ds = ds.map(lambda spec, label: (normalize_clip(spec), label))
    if decoder == "tfio" and cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(records), seed=seed, reshuffle_each_iteration=True)
    if training:

        def augment(example, pair):
            spec, label = example
            seeds = tf.random.experimental.stateless_split(pair, num=2)
            if mel_shift:  # its own seed, folded in: the crops and masks stay those of mel_shift=0
                spec = audio_features.mel_shift(spec, mel_shift,
                                                seed=tf.random.experimental.stateless_fold_in(pair, 1))
            if time_stretch:  # as mel_shift: a seed of its own
                spec = audio_features.time_stretch(spec, time_stretch,
                                                   seed=tf.random.experimental.stateless_fold_in(pair, 2))
            if masks:
                spec = audio_features.spec_augment(spec, seed=seeds[1], **masks)
            return clip_windows(spec, num_windows, config, align="random", seed=seeds[0], pad_value=pad_value), label

        ds = _with_seeds(ds, seed).map(augment, num_parallel_calls=num_parallel_calls)
    else:
        ds = ds.map(lambda spec, label: (clip_windows(spec, num_windows, config, pad_value=pad_value), label))
    ds = ds.batch(batch_size).map(lambda windows, label: ({AUDIO_INPUT: windows}, {EXPR_OUTPUT: label}))
    return ds.prefetch(tf.data.AUTOTUNE)


def decode_clips(records, *, config=None):
    """Decodes audio clips into their log-mel spectrograms, once, failing on the first bad one.

    What `audio_clip_dataset` does with `decoder="soundfile"`, done ahead: a corrupt or
    missing clip fails here, before anything is trained or written, and the spectrograms
    can be handed to every `audio_clip_dataset` call (`spectrograms=`) instead of decoding
    the clips again for each fold and pipeline. Decoded in a thread pool (soundfile, soxr
    and the FFT release the GIL).

    Args:
        records: sequence of records with a `path` (`RavdessRecord`, `ClipRecord`), or paths.
        config: `SpectrogramConfig` or None (the defaults, as `audio_clip_dataset`'s).

    Returns:
        dict from each clip's path (str) to its float32 `(time, n_mels)` spectrogram in dB.

    Raises:
        FileNotFoundError, MediaError: a clip is missing or cannot be decoded; the message
            names it.

    Example:
        >>> records = read_ravdess("ravdess")
        >>> spectrograms = decode_clips(records)
        >>> ds = audio_clip_dataset(records, spectrograms=spectrograms)
    """
    from concurrent.futures import ThreadPoolExecutor

    config = config or audio_features.SpectrogramConfig()
    paths = list(dict.fromkeys(str(getattr(r, "path", r)) for r in records))

    def spectrogram(path):
        return audio_features.log_mel_spectrogram(audio_features.load_audio(path, sample_rate=config.sample_rate), config)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return dict(zip(paths, pool.map(spectrogram, paths)))


def _clip_spectrograms(paths, config, decoded=None):
    """The log-mel spectrograms of audio files, as one ragged `(clips, None, n_mels)` tensor.

    Clips in `decoded` (`decode_clips`) are taken from it, the others decoded; the first
    file that fails raises its `MediaError` / `FileNotFoundError`, naming it.
    """
    decoded = dict(decoded or {})
    missing = [path for path in paths if path not in decoded]
    if missing:
        decoded.update(decode_clips(missing, config=config))
    spectrograms = [decoded[path] for path in paths]
    wrong = next((path for path, s in zip(paths, spectrograms) if np.ndim(s) != 2 or s.shape[1] != config.n_mels), None)
    if wrong is not None:
        raise InvalidArgumentError(
            f"`spectrograms` must be (time, n_mels={config.n_mels}) log-mel spectrograms (decode_clips with the same "
            f"config). Received: spectrograms[{wrong!r}] with shape {np.shape(decoded[wrong])}"
        )
    lengths = [len(s) for s in spectrograms]
    return tf.RaggedTensor.from_row_lengths(np.concatenate(spectrograms), lengths)


# ----------------------------------------------------------------------------------------
# Continuous VA: ABAW-layout annotation files for the Aff-Wild2 pipeline


def write_va_annotations(labels, root, *, split="train", fps=FPS):
    """Writes continuous VA labels as Aff-Wild2 VA files, for `run_preprocess` / `make_dataset`.

    One file per video, `<root>/VA_Estimation_Challenge/<Train_Set|Validation_Set>/<name>.txt`,
    header `valence,arousal`, then one line per frame at `fps` (line `k + 1` = frame `k`
    at time `(k - 1) / fps`), -5 where a value is not annotated (and before the first
    annotated time). Labels at another rate (RECOLA: 25 fps) are resampled linearly with
    `resample_to_fps` (`read_continuous_csv` already does by default).

    The preprocessing job labels the k-th frame of the video file with line k + 1, so the
    videos must be at `fps` (30): convert others first, e.g.
    `ffmpeg -i in.mp4 -r 30 out.mp4`.

    Args:
        labels: dict from video name to `ContinuousLabels` (`read_continuous_csv`) whose
            `names` include `"valence"` and `"arousal"`.
        root: str or path. Annotation root to create (pass it as `annotations=` to
            `run_preprocess`).
        split: str. `"train"` or `"validation"`.
        fps: number. Frame rate of the files (the videos').

    Returns:
        list of pathlib.Path, the files written.

    Raises:
        InvalidArgumentError: labels without valence / arousal, a wrong split.

    Example:
        >>> gold = {"train_1": read_continuous_csv("recola/train_1.csv")}
        >>> write_va_annotations(gold, "work/annotations", split="train")
        >>> run_preprocess("recola", "records/train", tasks="va", annotations="work/annotations")
    """
    check_choice("split", split, ("train", "validation"))
    check_positive("fps", fps)
    folder = pathlib.Path(root) / TASK_FOLDERS["VA"][0] / SPLIT_FOLDERS[split][0]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, item in sorted(labels.items()):
        names = [n.lower() for n in item.names]
        missing = [n for n in VA_NAMES if n not in names]
        if missing:
            raise InvalidArgumentError(
                f"Labels of {name!r} have no {', '.join(missing)} column. Received: names={tuple(item.names)}"
            )
        columns = [names.index(n) for n in VA_NAMES]
        values, mask = item.values[:, columns].astype(np.float64), item.mask[:, columns]
        if not np.isclose(item.fps, fps):
            values, mask = resample_to_fps(values, item.fps, fps, kind="linear", mask=mask)
        start = float(item.times[0]) if len(item.times) else 0.0
        lead = max(round(start * fps), 0)  # frames before the first annotated time
        rows = np.full((lead + len(values), 2), VA_MASK)
        # No clip: `read_continuous_csv` refuses values outside [-1, 1] and linear resampling
        # stays between its neighbours; anything else reaches the ABAW reader, which names it.
        rows[lead:] = np.where(mask & np.isfinite(values), values, VA_MASK)
        rows[(rows == VA_MASK).any(axis=1)] = VA_MASK  # ABAW files mask both values of a frame
        path = folder / f"{name}.txt"
        with open(path, "w", encoding="utf-8") as f:
            f.write(",".join(VA_NAMES) + "\n")
            f.writelines(f"{v:g},{a:g}\n" for v, a in rows)
        written.append(path)
    return written


__all__ = [
    "SPEC_AUGMENT",
    "audio_clip_dataset",
    "clip_windows",
    "decode_clips",
    "expression_image_dataset",
    "face_augmentation",
    "load_face_image",
    "normalize_clip",
    "write_va_annotations",
]
