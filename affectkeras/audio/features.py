"""Log-mel spectrogram windows aligned to video frames: the audio input of A/V-MT-VGG-RNN.

The audio stream of the A/V network sees, for every video frame, a window of log-mel
spectrogram frames centred on that frame's time: input `(steps, n_mels, 1)` per frame,
`(50, 64, 1)` with the defaults (0.5 s of context at a 10 ms hop). One feature with one
definition (`SpectrogramConfig` and librosa's filterbank), computed two ways that give the
same numbers on the same waveform (tested to < 0.001 dB):

- offline (numpy + librosa, no TensorFlow): `log_mel_spectrogram`, `frame_windows`,
  `video_audio_windows`; the preprocessing jobs and the clip datasets use it;
- in graph (core TensorFlow, no tensorflow-io): `tf_log_mel_spectrogram`,
  `tf_frame_windows`, for features computed inside `tf.data` (the tensorflow-io decoding
  path, `affectkeras.audio.tfio`).

Conventions shared by both (librosa's, made explicit):

- STFT: `n_fft` 512 (32 ms), hop 160 (10 ms), window length 400 (25 ms), periodic Hann
  window centred in the FFT frame; `center=True` with zero ("constant") padding, so
  spectrogram frame `k` is centred on sample `k * hop_length`, i.e. time
  `k * hop_length / sample_rate`, and a signal of `n` samples has `1 + n // hop_length`
  frames. Power spectrogram (|STFT|^2).
- Mel filterbank: librosa's (`librosa.filters.mel`: Slaney mel scale and Slaney area
  normalisation by default), computed once in numpy by `mel_filterbank` and applied as a
  matrix product in both paths. `tf.signal.linear_to_mel_weight_matrix` (what
  `tfio.audio.melscale` wraps) is not used: it uses the HTK mel formula, builds the
  triangles in mel space, skips the DC bin and does not normalise the areas, so it differs
  from librosa's filterbank by construction (by 15-25 dB per band on speech-like audio).
- Precision: the in-graph STFT runs in float64 like librosa's (numpy's FFT is double);
  float32 FFT noise would show as ~0.05 dB differences near the -100 dB floor.
- Decibels: `10 * log10(max(power, amin))` with a fixed reference of 1.0 (absolute
  power of a float signal in [-1, 1]) and `amin` 1e-10, so digital silence is exactly
  `config.floor_db` = -100 dB. `top_db` is None by default: a frame's window then depends
  only on the sound around that frame, never on the loudest moment elsewhere in the file,
  and windows padded beyond the signal's ends hold the same value as silence inside it.

Example:
    >>> from affectkeras import audio
    >>> windows = audio.video_audio_windows("clip.mp4")  # 10.02 s video at 30 fps
    >>> windows.shape
    (301, 50, 64, 1)
"""

import dataclasses
import functools
import math

import numpy as np

from affectkeras.constants import FPS
from affectkeras.errors import InvalidArgumentError, check_choice, check_positive
from affectkeras.media.audio import SAMPLE_RATE

WINDOWS = ("hann", "hamming")
MEL_NORMS = ("slaney", None)

# Spectrogram frames whose STFT `log_mel_spectrogram` computes at once (41 s at a 10 ms hop,
# ~8 MB of complex STFT): memory stays bounded whatever the signal's length.
_STFT_CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class SpectrogramConfig:
    """Settings of the log-mel spectrogram and of the per-frame windows.

    Frozen and hashable (usable as a cache key); `dataclasses.asdict(config)` gives a
    JSON-friendly dict to store with a dataset, `SpectrogramConfig(**d)` rebuilds it.

    Attributes:
        sample_rate: int. Sample rate of the waveform in Hz (default 16000).
        n_fft: int. FFT length in samples (512 = 32 ms).
        hop_length: int. Hop between spectrogram frames in samples (160 = 10 ms).
        win_length: int. Analysis window length in samples, `<= n_fft` (400 = 25 ms).
        n_mels: int. Number of mel bands (64).
        fmin: float. Lowest mel filter edge in Hz (0).
        fmax: float or None. Highest mel filter edge in Hz; None for `sample_rate / 2`
            (8000 Hz at 16 kHz).
        window: str. "hann" (default) or "hamming", periodic, as librosa's `window=`.
        htk: bool. HTK mel formula instead of Slaney's (librosa's `htk=`; default False).
        mel_norm: str or None. "slaney" area normalisation of the filters (default) or None.
        amin: float. Power floor before the logarithm (1e-10, so silence is -100 dB).
        top_db: float or None. If set, clip each spectrogram at its maximum minus `top_db`
            (librosa's `power_to_db(top_db=)`); None (default) keeps the absolute scale.
        window_seconds: float. Audio context per video frame, centred on the frame (0.5 s).

    Example:
        >>> config = SpectrogramConfig()
        >>> config.steps, config.n_mels, config.floor_db
        (50, 64, -100.0)
    """

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 512
    hop_length: int = 160
    win_length: int = 400
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float = None
    window: str = "hann"
    htk: bool = False
    mel_norm: str = "slaney"
    amin: float = 1e-10
    top_db: float = None
    window_seconds: float = 0.5

    def __post_init__(self):
        for name in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            check_positive(name, getattr(self, name), integer=True)
        if self.win_length > self.n_fft:
            raise InvalidArgumentError(
                f"`win_length` must be <= n_fft={self.n_fft}. "
                f"Received: win_length={self.win_length!r}"
            )
        check_positive("fmin", self.fmin, allow_zero=True)
        nyquist = self.sample_rate / 2
        if self.fmax is not None:
            check_positive("fmax", self.fmax)
        if not self.fmin < self.mel_fmax <= nyquist:
            raise InvalidArgumentError(
                f"`fmax` must be None or in (fmin={self.fmin}, sample_rate / 2={nyquist}]. "
                f"Received: fmax={self.fmax!r}"
            )
        check_choice("window", self.window, WINDOWS)
        check_choice("htk", self.htk, (True, False))
        check_choice("mel_norm", self.mel_norm, MEL_NORMS)
        check_positive("amin", self.amin)
        if self.top_db is not None:
            check_positive("top_db", self.top_db)
        check_positive("window_seconds", self.window_seconds)
        if self.steps < 1:
            raise InvalidArgumentError(
                "`window_seconds` must span at least one hop "
                f"({self.hop_length / self.sample_rate} s). "
                f"Received: window_seconds={self.window_seconds!r}"
            )

    @property
    def mel_fmax(self):
        """float. The highest mel filter edge in Hz (`fmax`, or `sample_rate / 2`)."""
        return float(self.sample_rate / 2 if self.fmax is None else self.fmax)

    @property
    def steps(self):
        """int. Spectrogram frames per video-frame window: `round(window_seconds / hop)`."""
        return int(math.floor(self.window_seconds * self.sample_rate / self.hop_length + 0.5))

    @property
    def num_bins(self):
        """int. Frequency bins of the STFT: `n_fft // 2 + 1`."""
        return self.n_fft // 2 + 1

    @property
    def floor_db(self):
        """float. The value of digital silence: `10 * log10(amin)` (-100 dB by default)."""
        return float(10.0 * math.log10(self.amin))

    def num_frames(self, num_samples):
        """Number of spectrogram frames of a signal of `num_samples` samples.

        Args:
            num_samples: int. Signal length.

        Returns:
            int. `1 + num_samples // hop_length` for an even `n_fft` (centred frames).
        """
        half = self.n_fft // 2
        return 1 + (int(num_samples) + 2 * half - self.n_fft) // self.hop_length


def _config(config):
    if config is None:
        return SpectrogramConfig()
    if not isinstance(config, SpectrogramConfig):
        raise InvalidArgumentError(
            f"`config` must be a SpectrogramConfig or None. Received: config={config!r}"
        )
    return config


# ----------------------------------------------------------------------------------------
# Offline path: numpy + librosa
# ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _mel_basis(config):
    import librosa  # lazy: only the feature functions need it

    basis = librosa.filters.mel(
        sr=config.sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.mel_fmax,
        htk=config.htk,
        norm=config.mel_norm,
        dtype=np.float32,
    )
    basis = np.ascontiguousarray(basis.T)
    basis.flags.writeable = False  # shared by every caller through the cache
    return basis


def mel_filterbank(config=None):
    """Returns the mel filterbank both paths apply: librosa's, as a `(bins, mels)` matrix.

    Args:
        config: `SpectrogramConfig` or None (defaults).

    Returns:
        np.ndarray of float32, `(n_fft // 2 + 1, n_mels)`, read-only. `power @ basis`
        maps a power spectrogram `(time, bins)` to mel bands `(time, n_mels)`.

    Example:
        >>> mel_filterbank().shape
        (257, 64)
    """
    return _mel_basis(_config(config))


def _check_audio(audio, name="audio"):
    array = np.asarray(audio)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.number):
        raise InvalidArgumentError(
            f"`{name}` must be a 1-D array of samples. Received: {name} with shape "
            f"{array.shape} and dtype {array.dtype}"
        )
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise InvalidArgumentError(f"`{name}` contains NaN or infinite samples.")
    return array


def _power_to_db(power, config):
    """librosa's `power_to_db` with the fixed reference 1.0, without `top_db` (elementwise)."""
    import librosa

    db = librosa.power_to_db(power, ref=1.0, amin=config.amin, top_db=None)
    # float32 log10 puts silence a few ulps off 10*log10(amin); pin it to the floor exactly.
    return np.maximum(db, np.float32(config.floor_db))


def log_mel_spectrogram(audio, config=None):
    """Computes the log-mel spectrogram of a whole signal with librosa.

    Args:
        audio: np.ndarray, `(num_samples,)`. Mono waveform at `config.sample_rate`, values
            in about [-1, 1] (as `affectkeras.media.read_audio` returns).
        config: `SpectrogramConfig` or None (defaults).

    Returns:
        np.ndarray of float32, `(config.num_frames(num_samples), n_mels)`, time first, in
        dB; frame `k` is centred at time `k * hop_length / sample_rate`.

    Raises:
        InvalidArgumentError: `audio` is not a finite 1-D array, or `config` is not a
            `SpectrogramConfig`.

    Example:
        >>> signal = media.read_audio("clip.mp4")  # (160320,)
        >>> log_mel_spectrogram(signal).shape
        (1003, 64)
    """
    config = _config(config)
    audio = _check_audio(audio)
    if audio.size == 0:  # centred framing still gives one (silent) frame
        return np.full((config.num_frames(0), config.n_mels), config.floor_db, np.float32)
    import librosa

    # The STFT is computed `_STFT_CHUNK` frames at a time (the complex STFT and its power
    # are 12 times the mel spectrogram's size: ~190 MB for 10 minutes at once), each chunk
    # from the samples its frames cover, zero-padded beyond the ends as `center=True` pads.
    # Decibels are elementwise but for `top_db`, applied once at the end.
    half, hop = config.n_fft // 2, config.hop_length
    mel = np.empty((config.num_frames(audio.size), config.n_mels), np.float32)
    for start in range(0, len(mel), _STFT_CHUNK):
        stop = min(start + _STFT_CHUNK, len(mel))
        lo, hi = start * hop - half, (stop - 1) * hop - half + config.n_fft  # their samples
        piece = audio[max(lo, 0) : min(hi, audio.size)]
        before = max(-lo, 0)
        if before or len(piece) < hi - lo:
            piece = np.pad(piece, (before, hi - lo - before - len(piece)))
        stft = librosa.stft(
            piece,
            n_fft=config.n_fft,
            hop_length=hop,
            win_length=config.win_length,
            window=config.window,
            center=False,
        )
        power = (stft.real**2 + stft.imag**2).T  # (time, bins)
        mel[start:stop] = _power_to_db(power @ _mel_basis(config), config)
    if config.top_db is not None:  # as librosa's `power_to_db(top_db=)`, at the whole signal's maximum
        np.maximum(mel, mel.max() - config.top_db, out=mel)
    return mel


def silence_db(spectrogram, config=None):
    """The value silence has in a spectrogram: the padding value of its windows.

    Args:
        spectrogram: np.ndarray, `(time, n_mels)`. A `log_mel_spectrogram` output.
        config: `SpectrogramConfig` or None (defaults).

    Returns:
        float. `config.floor_db`; with `top_db` set, `max(floor_db, max - top_db)`.

    Example:
        >>> silence_db(log_mel_spectrogram(signal))
        -100.0
    """
    config = _config(config)
    if config.top_db is None or np.size(spectrogram) == 0:
        return config.floor_db
    return float(max(config.floor_db, float(np.max(spectrogram)) - config.top_db))


def _frame_centers(frame_times, config):
    """Index of the spectrogram frame nearest to each time (halves round up)."""
    return np.floor(frame_times * (config.sample_rate / config.hop_length) + 0.5).astype(np.int64)


def frame_windows(features, frame_times, config=None, *, pad_value=None):
    """Cuts one window of `steps` spectrogram frames centred on each video frame's time.

    The window of a frame at time `t` holds the spectrogram frames
    `c - steps // 2 ... c - steps // 2 + steps - 1` with `c = round(t * sample_rate /
    hop_length)`, so the sound at `t` is in its middle step (`steps // 2`). Frames beyond
    the signal's ends are filled with the value of silence. Pass a precomputed spectrogram
    to cut windows for many frames (or in chunks of frames) without recomputing it.

    Args:
        features: np.ndarray. A waveform `(num_samples,)` at `config.sample_rate` (its
            spectrogram is computed first) or a `log_mel_spectrogram` `(time, n_mels)`.
        frame_times: array-like of float, `(num_frames,)`. Frame times in seconds from the
            start of the signal, e.g. `np.arange(n) / 30`.
        config: `SpectrogramConfig` or None (defaults).
        pad_value: float or None. Value beyond the ends; None for `silence_db(...)`.

    Returns:
        np.ndarray of float32, `(num_frames, steps, n_mels, 1)`.

    Raises:
        InvalidArgumentError: `features` is neither 1-D nor `(time, n_mels)`, or
            `frame_times` is not a finite 1-D array.

    Example:
        >>> spectrogram = log_mel_spectrogram(signal)
        >>> frame_windows(spectrogram, np.arange(300) / 30).shape
        (300, 50, 64, 1)
    """
    config = _config(config)
    features = np.asarray(features)
    if features.ndim == 1:
        spectrogram = log_mel_spectrogram(features, config)
    elif features.ndim == 2 and features.shape[1] == config.n_mels:
        spectrogram = features.astype(np.float32, copy=False)
    else:
        raise InvalidArgumentError(
            "`features` must be a waveform (num_samples,) or a spectrogram "
            f"(time, n_mels={config.n_mels}). Received: features with shape {features.shape}"
        )
    times = np.asarray(frame_times, dtype=np.float64)
    if times.ndim != 1 or not np.all(np.isfinite(times)):
        raise InvalidArgumentError(
            f"`frame_times` must be a finite 1-D array of seconds. Received: frame_times with "
            f"shape {times.shape}"
        )
    if pad_value is None:
        pad_value = silence_db(spectrogram, config)
    steps = config.steps
    # Pad `steps` frames of silence on each side; indices further out are clipped into
    # that padding, so any frame time (even far beyond the signal) gives a valid window.
    padded = np.full((len(spectrogram) + 2 * steps, config.n_mels), pad_value, np.float32)
    padded[steps : steps + len(spectrogram)] = spectrogram
    starts = _frame_centers(times, config) - steps // 2 + steps
    index = np.clip(starts[:, None] + np.arange(steps)[None, :], 0, len(padded) - 1)
    return padded[index][..., None]


def video_audio_windows(video_path, *, fps=FPS, config=None, num_frames=None):
    """Reads a video's sound and returns one log-mel window per output video frame.

    The audio is decoded once with `affectkeras.media.read_audio` (mono, at
    `config.sample_rate`, padded or trimmed to the video's duration), its spectrogram is
    computed once, and frame `k` (at time `k / fps`) gets the window centred there. A
    video without an audio track gives windows of silence (and read_audio's warning).

    Args:
        video_path: str or path-like. A video file.
        fps: number or Fraction. Output frame rate (30, as in the papers).
        config: `SpectrogramConfig` or None (defaults).
        num_frames: int or None. Number of output frames; None reads it with
            `affectkeras.media.read_timeline(decode=False)` (`round(duration * fps)`, the
            count `iter_frames` yields). Pass the count you already have to skip that.

    Returns:
        np.ndarray of float32, `(num_frames, steps, n_mels, 1)`.

    Raises:
        FileNotFoundError: the file does not exist.
        MediaError: the file is not a readable video.

    Example:
        >>> windows = video_audio_windows("clip.mp4")  # 10.02 s at 29.97 fps
        >>> windows.shape
        (301, 50, 64, 1)
    """
    from affectkeras import media
    from affectkeras.media.timeline import as_fraction

    config = _config(config)
    fps = as_fraction("fps", fps)
    if num_frames is None:
        num_frames = media.read_timeline(video_path, fps=fps, decode=False).num_output_frames
    else:
        check_positive("num_frames", num_frames, integer=True, allow_zero=True)
    signal = media.read_audio(video_path, sample_rate=config.sample_rate)
    times = np.arange(num_frames, dtype=np.float64) / float(fps)
    return frame_windows(log_mel_spectrogram(signal, config), times, config)

# ----------------------------------------------------------------------------------------
# In-graph path: core TensorFlow (imported lazily)
# ----------------------------------------------------------------------------------------


def _tf():
    import tensorflow as tf

    return tf


def tf_log_mel_spectrogram(waveform, config=None):
    """Computes the log-mel spectrogram in graph, matching `log_mel_spectrogram`.

    `tf.signal.stft` on the signal padded
    as librosa's `center=True` pads it, squared magnitude, librosa's filterbank applied as
    a matrix product, and dB with the fixed reference 1.0 (see the module notes).

    Args:
        waveform: tf.Tensor of float32, `(..., num_samples)`. Mono waveform(s) at
            `config.sample_rate`.
        config: `SpectrogramConfig` or None (defaults).

    Returns:
        tf.Tensor of float32, `(..., config.num_frames(num_samples), n_mels)`, in dB.
        With `top_db`, each waveform's spectrogram is clipped at its own maximum.

    Example:
        >>> tf_log_mel_spectrogram(tf.constant(load_audio("speech.flac"))).shape
        TensorShape([331, 64])
    """
    tf = _tf()
    config = _config(config)
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    # librosa centres the window (win_length) inside the n_fft frame and pads n_fft // 2
    # zeros at both ends: frame k's window covers samples [k*hop - front, k*hop - front + win).
    front = config.n_fft // 2 - (config.n_fft - config.win_length) // 2
    paddings = [[0, 0]] * (waveform.shape.rank - 1) + [[front, config.win_length - front]]
    # float64 FFT: float32 rounding noise sits ~120 dB below a frame's peak and shows as
    # differences of ~0.05 dB from librosa (whose numpy FFT is double) near the -100 dB floor.
    padded = tf.pad(tf.cast(waveform, tf.float64), paddings)
    window_fn = tf.signal.hann_window if config.window == "hann" else tf.signal.hamming_window
    stft = tf.signal.stft(
        padded,
        frame_length=config.win_length,
        frame_step=config.hop_length,
        fft_length=config.n_fft,
        window_fn=window_fn,
        pad_end=False,
    )
    length = tf.shape(waveform)[-1]
    num_frames = 1 + (length + 2 * (config.n_fft // 2) - config.n_fft) // config.hop_length
    stft = stft[..., :num_frames, :]
    power = tf.math.square(tf.math.real(stft)) + tf.math.square(tf.math.imag(stft))
    mel = tf.tensordot(tf.cast(power, tf.float32), tf.constant(_mel_basis(config)), axes=1)
    db = (10.0 / math.log(10.0)) * tf.math.log(tf.maximum(mel, config.amin))
    db = tf.maximum(db, config.floor_db)  # silence exactly at the floor, as offline
    if config.top_db is not None:
        peak = tf.reduce_max(db, axis=[-2, -1], keepdims=True)
        db = tf.maximum(db, peak - config.top_db)
    return db


def _tf_pad_value(spectrogram, config, pad_value):
    tf = _tf()
    if pad_value is not None:
        return tf.cast(pad_value, tf.float32)
    if config.top_db is None:
        return tf.constant(config.floor_db, tf.float32)
    peak = tf.reduce_max(tf.concat([tf.reshape(spectrogram, [-1]), [config.floor_db]], 0))
    return tf.maximum(tf.constant(config.floor_db, tf.float32), peak - config.top_db)


def _tf_gather_padded(spectrogram, starts, steps, pad_value):
    """Rows `start ... start + steps - 1` of `spectrogram` for each start, padded outside."""
    tf = _tf()
    time = tf.shape(spectrogram)[0]
    filler = tf.fill(tf.concat([[steps], tf.shape(spectrogram)[1:]], 0), pad_value)
    padded = tf.concat([filler, spectrogram, filler], 0)
    index = starts[:, None] + steps + tf.range(steps)[None, :]
    return tf.gather(padded, tf.clip_by_value(index, 0, time + 2 * steps - 1))


def tf_frame_windows(spectrogram, frame_times, config=None, *, pad_value=None):
    """In-graph `frame_windows`: one window of `steps` frames centred on each frame time.

    Args:
        spectrogram: tf.Tensor of float32, `(time, n_mels)`. A `tf_log_mel_spectrogram`.
        frame_times: tf.Tensor of float, `(num_frames,)`. Frame times in seconds, e.g.
            `tf.range(n, dtype=tf.float64) / 30`.
        config: `SpectrogramConfig` or None (defaults).
        pad_value: float or None. Value beyond the signal's ends; None for silence.

    Returns:
        tf.Tensor of float32, `(num_frames, steps, n_mels, 1)`.

    Example:
        >>> spectrogram = tf_log_mel_spectrogram(waveform)
        >>> times = tf.range(90, dtype=tf.float64) / 30
        >>> tf_frame_windows(spectrogram, times).shape
        TensorShape([90, 50, 64, 1])
    """
    tf = _tf()
    config = _config(config)
    spectrogram = tf.convert_to_tensor(spectrogram, tf.float32)
    times = tf.cast(tf.convert_to_tensor(frame_times), tf.float64)
    centers = tf.cast(
        tf.math.floor(times * (config.sample_rate / config.hop_length) + 0.5), tf.int32
    )
    value = _tf_pad_value(spectrogram, config, pad_value)
    windows = _tf_gather_padded(spectrogram, centers - config.steps // 2, config.steps, value)
    return windows[..., None]


__all__ = [
    "SpectrogramConfig",
    "frame_windows",
    "log_mel_spectrogram",
    "mel_filterbank",
    "silence_db",
    "tf_frame_windows",
    "tf_log_mel_spectrogram",
    "video_audio_windows",
]
