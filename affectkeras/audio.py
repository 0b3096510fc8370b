"""Log-mel spectrogram windows aligned to video frames: the audio input of A/V-MT-VGG-RNN.

The audio stream of the A/V network sees, for every video frame, a window of log-mel
spectrogram frames centred on that frame's time: input `(steps, n_mels, 1)` per frame,
`(50, 64, 1)` with the defaults (0.5 s of context at a 10 ms hop). One feature, two
implementations that give the same numbers on the same waveform (tested to < 0.001 dB):

- offline (numpy + librosa, no TensorFlow): `log_mel_spectrogram`, `frame_windows`,
  `video_audio_windows` for the preprocessing jobs that write TFRecords;
- in graph (TensorFlow + tensorflow-io, for `tf.data` over audio-file databases such as
  RAVDESS): `decode_audio`, `tf_resample`, `tf_log_mel_spectrogram`, `tf_frame_windows`,
  `tf_fixed_length`, and the `spec_augment` training augmentation.

Conventions shared by both paths (librosa's, made explicit):

- STFT: `n_fft` 512 (32 ms), hop 160 (10 ms), window length 400 (25 ms), periodic Hann
  window centred in the FFT frame; `center=True` with zero ("constant") padding, so
  spectrogram frame `k` is centred on sample `k * hop_length`, i.e. time
  `k * hop_length / sample_rate`, and a signal of `n` samples has `1 + n // hop_length`
  frames. Power spectrogram (|STFT|^2).
- Mel filterbank: librosa's (`librosa.filters.mel`: Slaney mel scale and Slaney area
  normalisation by default), computed once in numpy by `mel_filterbank` and applied as a
  matrix product in both paths. `tfio.audio.melscale` is not used: it wraps
  `tf.signal.linear_to_mel_weight_matrix`, which uses the HTK mel formula, builds the
  triangles in mel space, skips the DC bin and does not normalise the areas, so it differs
  from librosa's filterbank by construction (by 15-25 dB per band on speech-like audio,
  mostly the missing area normalisation, the band shapes too).
- Precision: the in-graph STFT runs in float64 like librosa's (numpy's FFT is double);
  float32 FFT noise would show as ~0.05 dB differences near the -100 dB floor.
- Decibels: `10 * log10(max(power, amin))` with a fixed reference of 1.0 (absolute
  power of a float signal in [-1, 1]) and `amin` 1e-10, so digital silence is exactly
  `config.floor_db` = -100 dB. `top_db` is None by default: a frame's window then depends
  only on the sound around that frame, never on the loudest moment elsewhere in the file,
  and windows padded beyond the signal's ends hold the same value as silence inside it.
  (`tfio.audio.dbscale` squares its input and always clips at `max - top_db`; the three
  lines of dB arithmetic are written out here instead.)

Example:
    >>> from affectkeras import audio
    >>> windows = audio.video_audio_windows("clip.mp4")  # 10.02 s video at 30 fps
    >>> windows.shape
    (301, 50, 64, 1)
"""

import dataclasses
import errno
import functools
import math
import os
import re

import numpy as np

from affectkeras.constants import FPS
from affectkeras.errors import (
    InvalidArgumentError,
    MediaError,
    check_choice,
    check_positive,
)
from affectkeras.media.audio import SAMPLE_RATE

# File types `decode_audio` reads (tensorflow-io's decoders; AAC/mp4 does not work there).
AUDIO_EXTENSIONS = ("wav", "flac", "mp3", "ogg", "oga")

WINDOWS = ("hann", "hamming")
MEL_NORMS = ("slaney", None)
ALIGNMENTS = ("start", "center", "random")

# tensorflow-io's resampler is speex's (quality 4: a 64-tap filter at the lower rate); it
# starts from an empty filter, so its output lags the input by half the filter length.
_SPEEX_BASE_TAPS = 64

# Spectrogram frames whose STFT `log_mel_spectrogram` computes at once (41 s at a 10 ms hop,
# ~8 MB of complex STFT): memory stays bounded whatever the signal's length.
_STFT_CHUNK = 4096

# Bytes read to find a file's sample rate and sample format (WAV chunks before "fmt ",
# an MP3's first frame after its ID3 tag).
_HEADER_BYTES = 65536
_MP3_SEARCH_BYTES = 8192
# MP3 sample rates by (version bits * 4 + rate index): MPEG 2.5, reserved, MPEG 2, MPEG 1.
_MP3_RATES = (11025, 12000, 8000, 0, 0, 0, 0, 0, 22050, 24000, 16000, 0, 44100, 48000, 32000, 0)


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
# In-graph path: TensorFlow + tensorflow-io (imported lazily)
# ----------------------------------------------------------------------------------------


def _tf():
    import tensorflow as tf

    return tf


def _core_ops():
    # The op behind `tfio.audio.resample`, called directly: `resample` wraps it in a
    # `vectorized_map` that logs a warning at every trace.
    import tensorflow_io  # noqa: F401  (loads the shared library of the ops)
    from tensorflow_io.python.ops import core_ops

    return core_ops


def _eager_path(path):
    """The path as a Python str when known outside a graph (for early, clear errors)."""
    if isinstance(path, (str, bytes, os.PathLike)):
        return os.fsdecode(path)
    tf = _tf()
    if tf.executing_eagerly() and isinstance(path, tf.Tensor) and path.shape.rank == 0:
        return path.numpy().decode("utf-8", "replace")
    return None


def _op_message(error):
    """The reason in a TensorFlow op error: our check's text, or the op's own message."""
    ours = re.search(r"decode_audio: ([^:\]'\n]*)", error.message)
    if ours:
        return ours.group(1).strip()
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", error.message)
    return re.sub(r"\s*\[\[.*|\s*\[Op:.*", "", text, flags=re.S).strip()


def decode_audio(path, *, sample_rate=SAMPLE_RATE):
    """Decodes a wav / flac / mp3 / ogg (Vorbis) file to a mono float32 waveform, in graph.

    Works eagerly and inside `tf.data` `map` on a scalar string tensor, with any
    `num_parallel_calls`: the file is read with `tf.io.read_file`, its format recognised
    from its first bytes (RIFF/WAVE, fLaC, OggS + vorbis, ID3 or an MPEG frame), its sample
    rate and sample format parsed from its header in graph, and its samples decoded by
    tensorflow-io's stateless decoders (`tfio.audio.decode_wav`, `decode_flac`,
    `decode_vorbis`, `decode_mp3`). `tfio.audio.AudioIOTensor` is not used: its reader
    is a resource shared by concurrent calls, so a parallel `map` mixes up files
    (tensorflow/io issues 1647, 1764). Channels are averaged, samples scaled to [-1, 1]
    (16-bit PCM / 32768, as soundfile and ffmpeg do), and the signal resampled to
    `sample_rate` with `tf_resample`. Supported sample formats: 8-, 16-, 24-bit PCM and
    32-bit float WAV; 16- and 24-bit FLAC; Vorbis; MPEG audio layer III.

    Args:
        path: str or scalar string tensor. An audio file with extension `.wav`, `.flac`,
            `.mp3` or `.ogg`, on any file system TensorFlow reads (local, `gs://`, ...).
        sample_rate: int. Output sample rate in Hz (default 16000).

    Returns:
        tf.Tensor of float32, `(num_samples,)`, `num_samples = round(n * sample_rate /
        source_rate)` for `n` source samples.

    Raises:
        FileNotFoundError: (eager call) the file does not exist.
        InvalidArgumentError: (eager call) the extension is not a supported one.
        MediaError: (eager call) the file cannot be decoded; the message names it.
        tf.errors.NotFoundError / tf.errors.InvalidArgumentError: the same problems met
            inside a graph (`tf.data`); their messages name the file too.

    Example:
        >>> files = tf.data.Dataset.list_files("RAVDESS/Actor_*/*.wav")
        >>> waves = files.map(decode_audio, num_parallel_calls=tf.data.AUTOTUNE)
    """
    check_positive("sample_rate", sample_rate, integer=True)
    known = _eager_path(path)
    if known is None:
        return _decode_audio_graph(path, sample_rate)
    if not os.path.exists(known) and "://" not in known:
        raise FileNotFoundError(errno.ENOENT, "No such audio file", known)
    extension = os.path.splitext(known)[1].lower().lstrip(".")
    if extension not in AUDIO_EXTENSIONS:
        raise InvalidArgumentError(
            f"{known}: `path` must name a file with one of the extensions "
            f"{list(AUDIO_EXTENSIONS)} (decode the audio of videos and AAC files with "
            f"affectkeras.media.read_audio). Received: path={known!r}"
        )
    tf = _tf()
    try:
        return _decode_audio_graph(tf.constant(known), sample_rate)
    except tf.errors.OpError as error:
        raise MediaError(known, f"cannot decode audio: {_op_message(error)}") from None


def _bytes_at(contents, position, length):
    """`length` bytes of `contents` from `position`, as int64 (zeros beyond the end)."""
    tf = _tf()
    position = tf.minimum(tf.cast(position, tf.int32), tf.strings.length(contents))
    chunk = tf.io.decode_raw(tf.strings.substr(contents, position, length), tf.uint8)
    return tf.cast(tf.pad(chunk, [[0, length - tf.shape(chunk)[0]]]), tf.int64)


def _little_endian(data, index, size):
    """Unsigned little-endian integer of `size` bytes of `data` at `index`."""
    return sum(data[index + k] * (256**k) for k in range(size))


def _has(data, index, text):
    """Whether the bytes of `data` at `index` spell `text`."""
    tf = _tf()
    expected = tf.constant(list(text.encode("latin-1")), tf.int64)
    return tf.reduce_all(tf.equal(data[index : index + len(text)], expected))


def _decode_wav(tf, tfio, contents, head, path):
    def is_fmt(position):
        return _has(head, position, "fmt ")

    def next_chunk(position):  # chunks (JUNK, bext, LIST, ...) may come before "fmt "
        size = _little_endian(head, position + 4, 4)
        return position + 8 + size + size % 2

    (position,) = tf.while_loop(
        lambda position: (position + 36 <= _HEADER_BYTES) & ~is_fmt(position),
        lambda position: (next_chunk(position),),
        (tf.constant(12, tf.int64),),
        maximum_iterations=64,
    )
    position = tf.minimum(position, _HEADER_BYTES - 36)
    found = tf.debugging.Assert(is_fmt(position), ["decode_audio: no WAV fmt chunk in", path])
    with tf.control_dependencies([found]):
        tag = _little_endian(head, position + 8, 2)
    rate = _little_endian(head, position + 12, 4)
    bits = _little_endian(head, position + 22, 2)
    # WAVE_FORMAT_EXTENSIBLE keeps the real format in the first bytes of its SubFormat.
    tag = tf.where(tag == 0xFFFE, _little_endian(head, position + 32, 2), tag)
    kinds = [
        (tag == 1) & (bits == 8),
        (tag == 1) & (bits == 16),
        (tag == 1) & (bits == 24),
        (tag == 3) & (bits == 32),
    ]

    def read(dtype, offset, scale):
        def decode():
            samples = tfio.audio.decode_wav(contents, dtype=dtype)
            return (tf.cast(samples, tf.float32) - offset) * scale

        return decode

    readers = [
        read(tf.uint8, 128.0, 1 / 128),
        read(tf.int16, 0.0, 1 / 32768),
        read(tf.int32, 0.0, 1 / 2**31),  # 24-bit samples come left-aligned in int32
        read(tf.float32, 0.0, 1.0),
    ]
    return _pick(tf, kinds, readers, "unsupported WAV sample format", path), rate


def _pick(tf, conditions, branches, message, path):
    """Runs the branch of the first true condition; fails naming `path` if none is."""
    flags = tf.stack(conditions)
    check = tf.debugging.Assert(tf.reduce_any(flags), [f"decode_audio: {message}:", path])
    with tf.control_dependencies([check]):
        index = tf.cast(tf.argmax(tf.cast(flags, tf.int32)), tf.int32)
    return tf.switch_case(index, branches)


def _decode_flac(tf, tfio, contents, head, path):
    # STREAMINFO, the mandatory first metadata block: 20 bits of rate, 5 of bits - 1.
    rate = head[18] * 4096 + head[19] * 16 + head[20] // 16
    bits = (head[20] % 2) * 16 + head[21] // 16 + 1

    def read(dtype, scale):
        return lambda: tf.cast(tfio.audio.decode_flac(contents, dtype=dtype), tf.float32) * scale

    readers = [read(tf.int16, 1 / 32768), read(tf.int32, 1 / 2**31)]
    return _pick(tf, [bits == 16, bits == 24], readers, "unsupported FLAC bit depth", path), rate


def _decode_vorbis(tf, tfio, contents, head, path):
    # The first Ogg page holds the Vorbis identification header after its segment table.
    packet = 27 + head[26]
    vorbis = (head[packet] == 1) & _has(head, packet + 1, "vorbis")
    check = tf.debugging.Assert(vorbis, ["decode_audio: not an Ogg Vorbis file:", path])
    with tf.control_dependencies([check]):
        rate = _little_endian(head, packet + 12, 4)
    return tfio.audio.decode_vorbis(contents), rate


def _decode_mp3(tf, tfio, contents, head, path):
    # Skip an ID3v2 tag (its size is "syncsafe": 7 bits per byte), then find the first
    # valid MPEG audio frame header; its version and rate index give the sample rate.
    tag = 10 + head[6] * 2**21 + head[7] * 2**14 + head[8] * 2**7 + head[9]
    tag += tf.where((head[5] // 16) % 2 == 1, tf.constant(10, tf.int64), 0)
    start = tf.where(_has(head, 0, "ID3"), tag, 0)
    frame = _bytes_at(contents, start, _MP3_SEARCH_BYTES)
    b0, b1, b2 = frame[:-2], frame[1:-1], frame[2:]
    version, layer = (b1 // 8) % 4, (b1 // 2) % 4
    index, bitrate = (b2 // 4) % 4, b2 // 16
    valid = (b0 == 255) & (b1 // 32 == 7) & (version != 1) & (layer == 1)
    valid &= (index != 3) & (bitrate != 15)
    check = tf.debugging.Assert(tf.reduce_any(valid), ["decode_audio: no MP3 frame in", path])
    with tf.control_dependencies([check]):
        first = tf.argmax(tf.cast(valid, tf.int32))
    rate = tf.gather(tf.constant(_MP3_RATES, tf.int64), version[first] * 4 + index[first])
    return tfio.audio.decode_mp3(contents), rate


def _decode_audio_graph(path, sample_rate):
    tf = _tf()
    import tensorflow_io as tfio

    path = tf.convert_to_tensor(path, tf.string)
    extension = tf.strings.lower(tf.strings.regex_replace(path, r"^.*\.", ""))
    known = tf.reduce_any(tf.equal(extension, AUDIO_EXTENSIONS))
    check = tf.debugging.Assert(
        known, [f"decode_audio: unsupported file type (not {', '.join(AUDIO_EXTENSIONS)}):", path]
    )
    with tf.control_dependencies([check]):
        contents = tf.io.read_file(path)
    head = _bytes_at(contents, 0, _HEADER_BYTES)
    # The format comes from the content, not the extension (a mislabelled file works).
    mpeg_sync = (head[0] == 255) & (head[1] // 32 == 7)
    formats = [
        _has(head, 0, "RIFF") & _has(head, 8, "WAVE"),
        _has(head, 0, "fLaC"),
        _has(head, 0, "OggS"),
        _has(head, 0, "ID3") | mpeg_sync,
    ]
    decoders = [_decode_wav, _decode_flac, _decode_vorbis, _decode_mp3]
    branches = [
        functools.partial(decoder, tf, tfio, contents, head, path) for decoder in decoders
    ]
    samples, rate = _pick(
        tf, formats, branches, "not a WAV, FLAC, Ogg Vorbis or MP3 file (or truncated)", path
    )
    samples.set_shape([None, None])
    check = tf.debugging.Assert(
        (rate > 0) & (tf.shape(samples)[1] > 0), ["decode_audio: no audio in", path]
    )
    with tf.control_dependencies([check]):
        mono = tf.reduce_mean(samples, axis=1)  # (samples, channels) -> (samples,)
    return tf_resample(mono, rate, sample_rate)


def tf_resample(waveform, rate_in, rate_out):
    """Resamples a mono waveform in graph, time-aligned with its input.

    Uses tensorflow-io's resampler (speex, quality 4) and removes its delay: speex starts
    from an empty filter, so its output lags by half the filter length (64 taps at the
    lower of the two rates: `((64 * rate_in // rate_out - 1) // 8 + 1) * 8` taps when
    downsampling). The signal is led by fewer than `rate_in / gcd(rate_in, rate_out)` zeros
    (441 at 44.1 kHz) so that this lag is a whole number of output samples, padded at the
    end so that the tail leaves the filter, and the output shifted back by the lag: input
    time `i / rate_in` and output time `j / rate_out` are then the same instant, as with
    ffmpeg or librosa (a sine through 44.1 -> 16 kHz matches the analytic 16 kHz sine to
    ~1e-5). Equal rates return the input unchanged.

    Args:
        waveform: tf.Tensor of float32, `(num_samples,)`.
        rate_in: int or int tensor. Sample rate of `waveform` in Hz.
        rate_out: int or int tensor. Wanted sample rate in Hz.

    Returns:
        tf.Tensor of float32, `(round(num_samples * rate_out / rate_in),)`.

    Example:
        >>> tf_resample(tf.zeros([44100]), 44100, 16000).shape
        TensorShape([16000])
    """
    tf = _tf()
    core_ops = _core_ops()
    for name, rate in (("rate_in", rate_in), ("rate_out", rate_out)):
        if isinstance(rate, (int, np.integer)):
            check_positive(name, int(rate), integer=True)
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    if waveform.shape.rank != 1:
        raise InvalidArgumentError(
            f"`waveform` must be 1-D (num_samples,). Received: waveform with shape {waveform.shape}"
        )
    rate_in = tf.cast(rate_in, tf.int64)
    rate_out = tf.cast(rate_out, tf.int64)

    def resample():
        base = tf.constant(_SPEEX_BASE_TAPS, tf.int64)
        taps = tf.where(rate_in > rate_out, base * rate_in // rate_out, base)
        taps = ((taps - 1) // 8 + 1) * 8
        latency = taps // 2  # input samples
        # Lead the signal with zeros so that the total delay is a whole number of output
        # samples (a multiple of rate_in / gcd): then it is removed exactly, not rounded.
        gcd = tf.while_loop(lambda a, b: b > 0, lambda a, b: (b, a % b), (rate_in, rate_out))[0]
        period = rate_in // gcd
        lead = (period - latency % period) % period
        skip = (lead + latency) * rate_out // rate_in
        length = tf.shape(waveform, out_type=tf.int64)[0]
        wanted = (2 * length * rate_out + rate_in) // (2 * rate_in)
        # Extra input beyond the latency so that rounding never leaves the output short.
        extra = latency + rate_in // rate_out + 2
        padded = tf.pad(waveform, [[lead, extra]])[:, None]
        out = core_ops.io_audio_resample(padded, rate_in=rate_in, rate_out=rate_out)[:, 0]
        out = out[skip : skip + wanted]
        return tf.pad(out, [[0, wanted - tf.shape(out, out_type=tf.int64)[0]]])

    return tf.cond(tf.equal(rate_in, rate_out), lambda: tf.identity(waveform), resample)


def tf_log_mel_spectrogram(waveform, config=None):
    """Computes the log-mel spectrogram in graph, matching `log_mel_spectrogram`.

    `tf.signal.stft` (the transform `tfio.audio.spectrogram` wraps) on the signal padded
    as librosa's `center=True` pads it, squared magnitude, librosa's filterbank applied as
    a matrix product, and dB with the fixed reference 1.0 (see the module notes for why
    tfio's `melscale` and `dbscale` are not used).

    Args:
        waveform: tf.Tensor of float32, `(..., num_samples)`. Mono waveform(s) at
            `config.sample_rate`.
        config: `SpectrogramConfig` or None (defaults).

    Returns:
        tf.Tensor of float32, `(..., config.num_frames(num_samples), n_mels)`, in dB.
        With `top_db`, each waveform's spectrogram is clipped at its own maximum.

    Example:
        >>> tf_log_mel_spectrogram(decode_audio("speech.flac")).shape
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


__all__ = [
    "AUDIO_EXTENSIONS",
    "SpectrogramConfig",
    "decode_audio",
    "frame_windows",
    "log_mel_spectrogram",
    "mel_filterbank",
    "silence_db",
    "spec_augment",
    "tf_fixed_length",
    "tf_frame_windows",
    "tf_log_mel_spectrogram",
    "tf_resample",
    "video_audio_windows",
]
