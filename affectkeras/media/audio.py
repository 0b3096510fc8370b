"""The sound of a video (or audio) file as a mono float32 signal at 16 kHz, through ffmpeg.

The signal starts at the start of the file, the origin of `iter_frames` too, so sample
`round(t * sample_rate)` and output frame `t * fps` are the same instant: an audio track
that starts late is padded with silence, gaps are filled, and for a video file the signal
is padded or trimmed to the video's duration.
"""

import subprocess
import warnings

import numpy as np

from affectkeras.errors import InvalidArgumentError
from affectkeras.media import _ffmpeg
from affectkeras.media.probe import probe

SAMPLE_RATE = 16000


def read_audio(path, *, sample_rate=SAMPLE_RATE, match_video=True):
    """Decodes the first audio stream of a file to mono float32 at `sample_rate`.

    Channels are averaged (ffmpeg's downmix, normalised so that a channel's gain is at
    most 1, so stereo gives `(left + right) / 2`). A video without an audio track gives
    silence of the video's length and a warning, not an error.

    Args:
        path: str or path-like. A video or audio file (mp4, mkv, wav, flac, mp3, ...).
        sample_rate: int. Output sample rate in Hz (default 16000).
        match_video: bool. For a file with a video stream, pad with zeros or trim so that
            the length is `round(video_duration * sample_rate)`. False returns the audio
            as decoded (still starting at the start of the file).

    Returns:
        np.ndarray of float32, `(num_samples,)`, values in about [-1, 1].

    Raises:
        FileNotFoundError: the file does not exist.
        MediaError: the file is not readable media or ffmpeg fails to decode it.

    Example:
        >>> signal = read_audio("clip.mp4")  # 10.02 s video
        >>> signal.shape, signal.dtype
        ((160320,), dtype('float32'))
    """
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise InvalidArgumentError(
            f"`sample_rate` must be a positive int. Received: sample_rate={sample_rate!r}"
        )
    info = probe(path, require_video=False)
    length = int(np.floor(info.duration * sample_rate + 0.5)) if info.has_video else None
    if not info.has_audio:
        warnings.warn(
            f"{info.path}: no audio stream; returning {info.duration:.3f} s of silence",
            stacklevel=2,
        )
        return np.zeros(length, np.float32)
    # async/first_pts: place samples by their timestamps from t = 0 (pad a late start,
    # fill gaps); rematrix_maxval=1: downmix by averaging instead of summing with gain.
    filters = (
        f"aresample={sample_rate}:async=1:first_pts=0:rematrix_maxval=1,"
        "aformat=sample_fmts=flt:channel_layouts=mono"
    )
    args = ["-i", info.path, "-map", "0:a:0", "-vn", "-sn", "-dn", "-af", filters]
    args += ["-c:a", "pcm_f32le", "-f", "f32le", "-"]
    proc = _ffmpeg.popen(args, stdout=subprocess.PIPE)
    drain = _ffmpeg.StderrDrain(proc.stderr)
    drain.start()
    try:
        signal = _read_samples(proc.stdout, length if match_video else None)
    except BaseException:
        proc.kill()
        raise
    finally:
        code = proc.wait()
        drain.join()
        proc.stdout.close()
        proc.stderr.close()
    if code != 0:
        raise _ffmpeg.media_error(info.path, "cannot decode audio", drain.tail, code)
    return signal


def _read_samples(stream, length=None):
    """Reads float32 samples to the end of `stream`; with `length`, exactly that many.

    With `length` the samples go straight into the returned array (zero-padded, the
    excess dropped): a long video's signal is held once, never also as bytes.
    """
    if length is None:
        return np.frombuffer(stream.read(), np.float32).copy()
    signal = np.zeros(length, np.float32)
    view = memoryview(signal).cast("B")
    filled = 0
    while filled < len(view):
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    while stream.read(1 << 16):  # what lies beyond the video's end
        pass
    return signal


__all__ = ["SAMPLE_RATE", "read_audio"]
