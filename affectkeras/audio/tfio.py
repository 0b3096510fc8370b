"""The tensorflow-io adapter: audio files decoded inside `tf.data` (the `tfio` extra).

`decode_audio` reads a WAV, FLAC, Ogg Vorbis or MP3 file as a string tensor and decodes it
in graph, so a `tf.data` pipeline can stream clips from any file system TensorFlow reads
(`gs://`, HDFS) without holding them in memory. Everything else in affectkeras decodes
audio with `affectkeras.audio.load_audio` (soundfile / ffmpeg) and needs no tensorflow-io.

tensorflow-io 0.37.1, its last release (July 2024), is built against TensorFlow 2.16; its
compiled ops do not load on newer TensorFlow, so this module works in a TF 2.16
environment only, and says so, with an `ImportError`, anywhere else. affectkeras itself
asks for TensorFlow >= 2.20, so such an environment installs it without its pins, as CI's
tfio leg does (`.ci/run`): `pip install "tensorflow==2.16.2" "numpy<2"
"tensorflow-io==0.37.1"` and the other lines of `requirements.txt`, then
`pip install --no-deps affectkeras`.

Why the container headers are parsed here: tensorflow-io's stateless decoders
(`tfio.audio.decode_wav`, `decode_flac`, `decode_vorbis`, `decode_mp3`) need the sample
format up front and do not return the sample rate, and `tfio.audio.AudioIOTensor`, which
does, keeps its reader in a resource shared by concurrent calls, so a parallel `map` mixes
files up (tensorflow/io issues 1647, 1764). The few header fields needed (format tag, rate,
bit depth) are read in graph from the file's first bytes.
"""

import functools
import os
import re

import numpy as np

from affectkeras.audio.decode import AUDIO_EXTENSIONS as _ALL_EXTENSIONS
from affectkeras.audio.decode import check_audio_path
from affectkeras.audio.features import _tf
from affectkeras.errors import InvalidArgumentError, MediaError, check_positive
from affectkeras.media.audio import SAMPLE_RATE

# File types tensorflow-io decodes (AAC / mp4 and Opus do not work there).
AUDIO_EXTENSIONS = tuple(e for e in _ALL_EXTENSIONS if e in ("wav", "flac", "mp3", "ogg", "oga"))

# tensorflow-io's resampler is speex's (quality 4: a 64-tap filter at the lower rate); it
# starts from an empty filter, so its output lags the input by half the filter length.
_SPEEX_BASE_TAPS = 64

# Bytes read to find a file's sample rate and sample format (WAV chunks before "fmt ",
# an MP3's first frame after its ID3 tag).
_HEADER_BYTES = 65536
_MP3_SEARCH_BYTES = 8192
# MP3 sample rates by (version bits * 4 + rate index): MPEG 2.5, reserved, MPEG 2, MPEG 1.
_MP3_RATES = (11025, 12000, 8000, 0, 0, 0, 0, 0, 22050, 24000, 16000, 0, 44100, 48000, 32000, 0)


def _tfio():
    """tensorflow_io, or an error that says how to get a working one."""
    try:
        import tensorflow_io as tfio
        from tensorflow_io.python.ops import core_ops
    except ImportError as error:
        raise ImportError(
            "affectkeras.audio.tfio needs tensorflow-io: pip install 'affectkeras[tfio]' in an "
            "environment with TensorFlow 2.16 (tensorflow-io 0.37.1, its last release, loads on "
            "no other). Without it, affectkeras.audio.load_audio decodes the same files."
        ) from error
    try:  # its compiled ops load lazily; on a TensorFlow they were not built for, they fail
        core_ops.io_audio_resample
    except (NotImplementedError, AttributeError, OSError) as error:
        import tensorflow as tf

        raise ImportError(
            f"tensorflow-io {tfio.__version__} does not load on TensorFlow {tf.__version__} "
            f"(it is built for TensorFlow 2.16): {error}"
        ) from error
    return tfio, core_ops


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
    _tfio()
    known = _eager_path(path)
    if known is None:
        return _decode_audio_graph(path, sample_rate)
    known = check_audio_path(known, AUDIO_EXTENSIONS)
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
    tfio, _ = _tfio()
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
    _, core_ops = _tfio()
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


__all__ = ["AUDIO_EXTENSIONS", "decode_audio", "tf_resample"]
