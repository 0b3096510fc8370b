"""Audio files to mono float32 waveforms at a chosen rate, without TensorFlow.

libsndfile (through soundfile) reads WAV, FLAC, Ogg (Vorbis, Opus) and MP3 in-process;
anything else it does not know (AAC / m4a, WMA, ...) goes through the bundled ffmpeg
(`affectkeras.media.read_audio`). Channels are averaged, samples are scaled to [-1, 1]
(16-bit PCM / 32768, as soundfile and ffmpeg both do) and the signal is resampled with
soxr's high-quality linear-phase filter (librosa's default resampler), which keeps every
instant in place: input time `i / rate` and output time `j / sample_rate` coincide.

For decoding inside `tf.data` (files on `gs://`, datasets larger than memory) install the
`tfio` extra and use `affectkeras.audio.tfio.decode_audio`.
"""

import errno
import os

import numpy as np

from affectkeras.errors import InvalidArgumentError, MediaError, check_positive
from affectkeras.media.audio import SAMPLE_RATE

# File types the clip readers look for (soundfile reads the first five, ffmpeg the rest).
AUDIO_EXTENSIONS = ("wav", "flac", "ogg", "oga", "mp3", "opus", "m4a", "aac")


def resample(signal, rate_in, rate_out):
    """Resamples a mono waveform with soxr (high quality, linear phase, no delay).

    Args:
        signal: np.ndarray, `(num_samples,)`.
        rate_in: int. Sample rate of `signal` in Hz.
        rate_out: int. Wanted sample rate in Hz.

    Returns:
        np.ndarray of float32, `(round(num_samples * rate_out / rate_in),)` (about; soxr
        rounds the last sample up); `signal` itself when the rates are equal.

    Example:
        >>> resample(np.zeros(44100, np.float32), 44100, 16000).shape
        (16000,)
    """
    import soxr  # librosa's resampling backend

    check_positive("rate_in", rate_in, integer=True)
    check_positive("rate_out", rate_out, integer=True)
    signal = np.asarray(signal, np.float32)
    if signal.ndim != 1:
        raise InvalidArgumentError(
            f"`signal` must be 1-D (num_samples,). Received: signal with shape {signal.shape}"
        )
    if rate_in == rate_out:
        return signal
    return soxr.resample(signal, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def check_audio_path(path, extensions=AUDIO_EXTENSIONS):
    """The path as a str, once it names an existing file with an audio extension.

    Remote paths (`gs://...`, which TensorFlow reads) are not checked for existence.

    Raises:
        FileNotFoundError: no such local file.
        InvalidArgumentError: the extension is not one of `extensions`.
    """
    path = os.fsdecode(path)
    if "://" not in path and not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, "No such audio file", path)
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension not in extensions:
        raise InvalidArgumentError(
            f"{path}: `path` must name a file with one of the extensions {list(extensions)} "
            f"(read the sound of videos with affectkeras.media.read_audio). Received: path={path!r}"
        )
    return path


def load_audio(path, *, sample_rate=SAMPLE_RATE):
    """Decodes an audio file to a mono float32 waveform at `sample_rate`.

    Args:
        path: str or path-like. An audio file with one of `AUDIO_EXTENSIONS`.
        sample_rate: int. Output sample rate in Hz (default 16000).

    Returns:
        np.ndarray of float32, `(num_samples,)`, values in about [-1, 1].

    Raises:
        FileNotFoundError: the file does not exist.
        InvalidArgumentError: the extension is not an audio one, or a bad `sample_rate`.
        MediaError: the file cannot be decoded (corrupt, truncated, no samples, NaN or
            infinite samples); the message names it.

    Example:
        >>> load_audio("Actor_01/03-01-05-01-01-01-01.flac").shape
        (58187,)
    """
    import soundfile

    check_positive("sample_rate", sample_rate, integer=True)
    path = check_audio_path(path)
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError):  # soundfile.LibsndfileError is a RuntimeError
        # Not a container libsndfile reads (or a damaged one): ffmpeg decodes what it can
        # and names the file in a MediaError when it cannot.
        from affectkeras import media

        signal = media.read_audio(path, sample_rate=sample_rate, match_video=False)
    else:
        signal = resample(samples.mean(axis=1), rate, sample_rate)
    if signal.size == 0:
        raise MediaError(path, "no audio samples")
    if not np.isfinite(signal).all():  # a float file can hold them; every spectrogram would be NaN
        raise MediaError(path, "NaN or infinite audio samples")
    return signal


__all__ = ["AUDIO_EXTENSIONS", "check_audio_path", "load_audio", "resample"]
