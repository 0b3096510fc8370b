"""In-graph training transforms of spectrograms: fixed-length crops, SpecAugment, mel shifts, speed.

All are stateless-random TensorFlow ops: the same seed gives the same crop, masks, shift
and speed, so `tf.data` pipelines that pass per-example seeds are reproducible.
"""

import numpy as np

from affectkeras.audio.features import _config, _tf, _tf_gather_padded, _tf_pad_value
from affectkeras.errors import InvalidArgumentError, check_choice, check_fraction, check_positive

ALIGNMENTS = ("start", "center", "random")


def _seed_pair(seed):
    """A stateless-RNG seed `(2,)` int64 from None (drawn), an int, or a `(2,)` tensor."""
    tf = _tf()
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return tf.constant([int(seed), 0], tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([seed, tf.constant(0, tf.int64)])
    return tf.reshape(seed, [2])


def tf_fixed_length(spectrogram, steps, config=None, *, align="center", seed=None, pad_value=None):
    """Crops or pads a spectrogram along time to exactly `steps` frames (clip windows).

    For clip-level databases (RAVDESS, CREMA-D): every clip becomes one fixed-size input.
    Longer clips are cropped, shorter ones padded with silence.

    Args:
        spectrogram: tf.Tensor, `(time, ...)`, e.g. `(time, n_mels)`.
        steps: int. Output length in frames (e.g. 300 for 3 s at a 10 ms hop).
        config: `SpectrogramConfig` or None (defaults); gives the value of silence.
        align: str. "start" (keep the beginning; pad at the end), "center" (crop or pad
            equally on both sides), or "random" (a random crop / placement: training).
        seed: None, int or `(2,)` int tensor. Seed of the "random" offset (stateless: the
            same seed gives the same crop); None draws one.
        pad_value: float or None. Padding value; None for silence.

    Returns:
        tf.Tensor of float32, `(steps, ...)`.

    Example:
        >>> tf_fixed_length(tf_log_mel_spectrogram(waveform), 300).shape
        TensorShape([300, 64])
    """
    tf = _tf()
    config = _config(config)
    check_positive("steps", steps, integer=True)
    check_choice("align", align, ALIGNMENTS)
    spectrogram = tf.convert_to_tensor(spectrogram, tf.float32)
    surplus = tf.shape(spectrogram)[0] - steps  # < 0: frames to pad
    if align == "start":
        start = tf.constant(0, tf.int32)
    elif align == "center":
        start = tf.math.floordiv(surplus, 2)
    else:
        low, high = tf.minimum(surplus, 0), tf.maximum(surplus, 0)
        start = tf.random.stateless_uniform(
            [], _seed_pair(seed), minval=low, maxval=high + 1, dtype=tf.int32
        )
    value = _tf_pad_value(spectrogram, config, pad_value)
    return _tf_gather_padded(spectrogram, start[None], steps, value)[0]


def _band_mask(size, count, width, seed):
    """Boolean `(size,)`: the union of `count` bands of widths uniform in [0, width]."""
    tf = _tf()
    if count == 0 or width == 0:
        return tf.zeros([size], tf.bool)
    draws = tf.random.stateless_uniform([2, count], seed, dtype=tf.float32)
    widths = tf.minimum(tf.cast(draws[0] * (width + 1), tf.int32), tf.minimum(width, size))
    starts = tf.cast(draws[1] * tf.cast(size - widths + 1, tf.float32), tf.int32)
    positions = tf.range(size)[None, :]
    inside = (positions >= starts[:, None]) & (positions < (starts + widths)[:, None])
    return tf.reduce_any(inside, axis=0)


def spec_augment(
    spectrogram,
    *,
    freq_masks=2,
    freq_width=8,
    time_masks=2,
    time_width=10,
    seed=None,
    mask_value=None,
):
    """SpecAugment frequency and time masking (Park et al., 2019), seeded.

    Masks `freq_masks` bands of `f` consecutive mel bands and `time_masks` bands of `t`
    consecutive frames, `f` uniform in [0, freq_width] and `t` in [0, time_width], each
    at a uniform position (bands may overlap). The same seed gives the same masks
    (stateless random ops): pass a per-example seed in `tf.data` (e.g. from
    `tf.data.Dataset.random()` zipped with the data) for reproducible augmentation.
    `tfio.audio.freq_mask` / `time_mask` are not used: they draw from the unseeded
    global generator, mask with 0 (a loud value in dB), and draw widths in [0, width).

    Args:
        spectrogram: tf.Tensor, `(time, n_mels)`, or `(..., time, n_mels, 1)` with a
            channel axis (e.g. per-frame windows `(frames, steps, n_mels, 1)`: the same
            masks apply to every leading index; map over examples for per-example masks).
        freq_masks: int. Number of frequency masks (>= 0).
        freq_width: int. Maximum width of a frequency mask in mel bands (>= 0).
        time_masks: int. Number of time masks (>= 0).
        time_width: int. Maximum width of a time mask in frames (>= 0).
        seed: None, int or `(2,)` int tensor. None draws the masks at random.
        mask_value: float or None. Value of masked cells; None for the spectrogram's mean
            (SpecAugment masks mean-normalised features with 0, i.e. their mean).

    Returns:
        tf.Tensor, same shape and dtype as `spectrogram`.

    Example:
        >>> augmented = spec_augment(spectrogram, freq_masks=2, freq_width=8,
        ...                          time_masks=2, time_width=10, seed=7)
    """
    tf = _tf()
    for name, value in (
        ("freq_masks", freq_masks),
        ("freq_width", freq_width),
        ("time_masks", time_masks),
        ("time_width", time_width),
    ):
        check_positive(name, value, integer=True, allow_zero=True)
    spectrogram = tf.convert_to_tensor(spectrogram)
    rank = spectrogram.shape.rank
    if rank is None or rank < 2 or (rank >= 3 and spectrogram.shape[-1] != 1):
        raise InvalidArgumentError(
            "`spectrogram` must be (time, n_mels) or (..., time, n_mels, 1). "
            f"Received: spectrogram with shape {spectrogram.shape}"
        )
    channel = 1 if rank >= 3 else 0
    shape = tf.shape(spectrogram)
    num_time, num_freq = shape[rank - 2 - channel], shape[rank - 1 - channel]
    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), num=2)
    freq = _band_mask(num_freq, freq_masks, freq_width, seeds[0])
    time = _band_mask(num_time, time_masks, time_width, seeds[1])
    masked = time[:, None] | freq[None, :]  # (time, n_mels)
    if channel:
        masked = masked[..., None]
    if mask_value is None:
        fill = tf.reduce_mean(spectrogram)
    else:
        fill = tf.cast(mask_value, spectrogram.dtype)
    return tf.where(masked, fill, spectrogram)


def mel_shift(spectrogram, max_bins, *, seed=None):
    """Moves a spectrogram up or down the mel axis by a random whole number of bands, seeded.

    A crude change of pitch and vocal tract, for speaker-independent training: the shift is
    uniform in [-max_bins, max_bins]; a positive shift moves the content down by that many
    bands. The bands that come in at an edge mirror the edge (`tf.pad`'s "SYMMETRIC").

    Args:
        spectrogram: tf.Tensor, `(time, n_mels)`, n_mels >= max_bins.
        max_bins: int. Largest shift in mel bands (>= 0; 0 returns the input).
        seed: None, int or `(2,)` int tensor. None draws the shift at random.

    Returns:
        tf.Tensor, same shape and dtype as `spectrogram`.
    """
    tf = _tf()
    check_positive("max_bins", max_bins, integer=True, allow_zero=True)
    spectrogram = tf.convert_to_tensor(spectrogram)
    if spectrogram.shape.rank != 2 or (spectrogram.shape[1] is not None and spectrogram.shape[1] < max_bins):
        raise InvalidArgumentError(
            f"`spectrogram` must be (time, n_mels) with n_mels >= max_bins ({max_bins}). "
            f"Received: spectrogram with shape {spectrogram.shape}"
        )
    if max_bins == 0:
        return spectrogram
    shift = tf.random.stateless_uniform([], _seed_pair(seed), minval=-max_bins, maxval=max_bins + 1, dtype=tf.int32)
    padded = tf.pad(spectrogram, [[0, 0], [max_bins, max_bins]], mode="SYMMETRIC")
    return padded[:, max_bins + shift:max_bins + shift + tf.shape(spectrogram)[1]]


def time_stretch(spectrogram, max_change, *, seed=None):
    """Speeds a spectrogram up or slows it down by a random factor, seeded.

    Speed perturbation of speech-emotion training: the time axis is resampled (bilinear)
    by a factor uniform in [1 - max_change, 1 + max_change]; a factor above 1 makes the
    clip shorter (faster speech). Pitch and the mel axis are unchanged.

    Args:
        spectrogram: tf.Tensor, `(time, n_mels)`.
        max_change: float. Largest relative change of speed, in [0, 1) (0 returns the input).
        seed: None, int or `(2,)` int tensor. None draws the factor at random.

    Returns:
        tf.Tensor, `(round(time / factor), n_mels)`, the dtype of `spectrogram`.
    """
    tf = _tf()
    check_fraction("max_change", max_change)
    spectrogram = tf.convert_to_tensor(spectrogram)
    if spectrogram.shape.rank != 2:
        raise InvalidArgumentError(f"`spectrogram` must be (time, n_mels). Received: shape {spectrogram.shape}")
    if max_change == 0:
        return spectrogram
    factor = tf.random.stateless_uniform([], _seed_pair(seed), minval=1 - max_change, maxval=1 + max_change)
    steps = tf.maximum(1, tf.cast(tf.round(tf.cast(tf.shape(spectrogram)[0], tf.float32) / factor), tf.int32))
    resized = tf.image.resize(spectrogram[..., None], tf.stack([steps, tf.shape(spectrogram)[1]]), method="bilinear")
    return tf.cast(resized[..., 0], spectrogram.dtype)


__all__ = ["ALIGNMENTS", "mel_shift", "spec_augment", "tf_fixed_length", "time_stretch"]
