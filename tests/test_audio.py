"""Tests of `affectkeras.audio`: decoding, log-mel windows per video frame (offline and in graph).

Real media come from `../shared/data` (skipped when absent); everything else is made
here: synthetic signals, and small wav / flac / ogg / mp3 / m4a files written to `tmp_path`.
"""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from affectkeras import audio, media
from affectkeras.audio import SpectrogramConfig
from affectkeras.errors import InvalidArgumentError, MediaError

SR = 16000
CONFIG = SpectrogramConfig()
STEPS = CONFIG.steps  # 50
MIDDLE = STEPS // 2
FLOOR = CONFIG.floor_db  # -100 dB


def _tones(seconds, sample_rate=SR, freqs=(220.0, 1000.0, 3100.0), amplitude=0.2):
    """Band-limited test signal (every partial below 3.5 kHz: fine for any rate >= 8 kHz)."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return sum(amplitude * np.sin(2 * np.pi * f * t) for f in freqs)


def _speechlike(seconds=2.0, seed=0):
    """A chirp, noise bursts and a silent gap: level changes across the whole dB range."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    signal = 0.3 * np.sin(2 * np.pi * (100 + 1500 * t) * t)
    signal += 0.05 * rng.standard_normal(n) * (np.sin(2 * np.pi * 3 * t) > 0)
    signal[n // 3 : n // 2] = 0.0  # digital silence inside the signal
    return signal.astype(np.float32)


def _click_signal(seconds, click_times):
    signal = np.zeros(int(seconds * SR), np.float32)
    for time in click_times:
        signal[int(round(time * SR))] = 1.0
    return signal


# ------------------------------------------------------------------------------ config


def test_config_defaults_and_round_trip():
    assert (CONFIG.sample_rate, CONFIG.n_fft, CONFIG.hop_length, CONFIG.win_length) == (
        16000, 512, 160, 400,
    )
    assert (CONFIG.n_mels, CONFIG.mel_fmax, CONFIG.steps, CONFIG.num_bins) == (64, 8000.0, 50, 257)
    assert CONFIG.floor_db == -100.0
    assert CONFIG.num_frames(16000) == 101 and CONFIG.num_frames(0) == 1
    assert SpectrogramConfig(**dataclasses.asdict(CONFIG)) == CONFIG
    assert SpectrogramConfig(window_seconds=0.96).steps == 96
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.n_mels = 40


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_fft=0), "n_fft"),
        (dict(hop_length=1.5), "hop_length"),
        (dict(win_length=600), "win_length"),
        (dict(fmax=9000), "fmax"),
        (dict(fmin=-5.0), "fmin"),
        (dict(window="kaiser"), "window"),
        (dict(mel_norm="l2"), "mel_norm"),
        (dict(top_db=-1), "top_db"),
        (dict(amin=0), "amin"),
        (dict(window_seconds=0), "window_seconds"),
        (dict(window_seconds=0.001), "window_seconds"),
        (dict(sample_rate=8000, fmax=8000), "fmax"),  # above the Nyquist frequency
    ],
)
def test_config_rejects_bad_values(kwargs, name):
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        SpectrogramConfig(**kwargs)


def test_mel_filterbank_is_librosas():
    import librosa

    basis = audio.mel_filterbank()
    assert basis.shape == (257, 64) and basis.dtype == np.float32
    expected = librosa.filters.mel(sr=SR, n_fft=512, n_mels=64, fmin=0.0, fmax=8000.0)
    np.testing.assert_allclose(basis, expected.T, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------------- offline path


def test_log_mel_matches_librosa_feature_pipeline():
    import librosa

    signal = _speechlike()
    ours = audio.log_mel_spectrogram(signal)
    mel = librosa.feature.melspectrogram(
        y=signal, sr=SR, n_fft=512, hop_length=160, win_length=400, window="hann",
        center=True, pad_mode="constant", power=2.0, n_mels=64, fmin=0.0, fmax=8000.0,
    )
    expected = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T
    assert ours.shape == (CONFIG.num_frames(len(signal)), 64) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.maximum(expected, FLOOR), atol=1e-3)


def test_silence_is_the_floor():
    spectrogram = audio.log_mel_spectrogram(np.zeros(SR, np.float32))
    assert spectrogram.shape == (101, 64)
    assert np.all(spectrogram == FLOOR)
    empty = audio.log_mel_spectrogram(np.zeros(0, np.float32))
    assert empty.shape == (1, 64) and np.all(empty == FLOOR)


@pytest.mark.parametrize("frame", [10, 15, 31])
def test_click_lands_in_the_middle_step_of_its_frame(frame):
    time = frame / 30
    windows = audio.frame_windows(_click_signal(2.0, [time]), np.arange(60) / 30)
    assert windows.shape == (60, STEPS, 64, 1) and windows.dtype == np.float32
    energy = windows[frame, :, :, 0].mean(axis=1)
    assert int(np.argmax(energy)) == MIDDLE
    # The next frame, 1/30 s later, sees the click 3 or 4 hops (10 ms each) earlier.
    later = int(np.argmax(windows[frame + 1, :, :, 0].mean(axis=1)))
    assert MIDDLE - later in (3, 4)


def test_windows_are_padded_with_silence_beyond_the_ends():
    signal = 0.1 * np.random.default_rng(1).standard_normal(SR).astype(np.float32)
    spectrogram = audio.log_mel_spectrogram(signal)
    assert spectrogram.min() > FLOOR + 10  # noise is far above the floor everywhere
    times = np.array([0.0, 1.0, 5.0, -3.0])
    windows = audio.frame_windows(spectrogram, times)[..., 0]
    # t = 0: the 25 steps before the signal's start are padding, the rest is the signal.
    assert np.all(windows[0, :MIDDLE] == FLOOR)
    np.testing.assert_array_equal(windows[0, MIDDLE:], spectrogram[: STEPS - MIDDLE])
    # t = 1 s (the end): frames 75 ... 100 exist, the rest is padding.
    np.testing.assert_array_equal(windows[1, : MIDDLE + 1], spectrogram[100 - MIDDLE :])
    assert np.all(windows[1, MIDDLE + 1 :] == FLOOR)
    assert np.all(windows[2] == FLOOR) and np.all(windows[3] == FLOOR)  # far outside


def test_windows_from_audio_or_spectrogram_are_equal():
    signal = _speechlike()
    times = np.arange(60) / 30
    from_audio = audio.frame_windows(signal, times)
    from_spectrogram = audio.frame_windows(audio.log_mel_spectrogram(signal), times)
    np.testing.assert_array_equal(from_audio, from_spectrogram)
    # A window is a plain slice of the spectrogram: frame 30 (t = 1 s) is centred on row 100.
    spectrogram = audio.log_mel_spectrogram(signal)
    expected = spectrogram[100 - MIDDLE : 100 - MIDDLE + STEPS]
    np.testing.assert_array_equal(from_audio[30, :, :, 0], expected)


def test_top_db_pads_with_the_clipped_silence():
    config = SpectrogramConfig(top_db=80.0)
    signal = _speechlike()
    spectrogram = audio.log_mel_spectrogram(signal, config)
    silence = audio.silence_db(spectrogram, config)
    assert silence == pytest.approx(spectrogram.max() - 80.0)
    assert spectrogram.min() == pytest.approx(silence)  # the silent gap is clipped there
    windows = audio.frame_windows(spectrogram, [0.0], config)
    assert np.all(windows[0, :MIDDLE] == np.float32(silence))


def test_offline_bad_inputs_name_the_argument():
    with pytest.raises(InvalidArgumentError, match="`audio`"):
        audio.log_mel_spectrogram(np.zeros((2, 100)))
    with pytest.raises(InvalidArgumentError, match="NaN"):
        audio.log_mel_spectrogram(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(InvalidArgumentError, match="`features`"):
        audio.frame_windows(np.zeros((10, 40)), [0.0])
    with pytest.raises(InvalidArgumentError, match="`frame_times`"):
        audio.frame_windows(np.zeros(1000), [[0.0]])
    with pytest.raises(InvalidArgumentError, match="`config`"):
        audio.log_mel_spectrogram(np.zeros(100), {"n_mels": 64})


def test_offline_path_does_not_import_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "import affectkeras.audio as audio\n"
        "audio.frame_windows(np.zeros(1600, np.float32), [0.0])\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


# ---------------------------------------------------------------------- real videos


def test_video_windows_one_per_30fps_frame(shared_data):
    path = shared_data / "video" / "short_hamilton_clip.mp4"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    windows = audio.video_audio_windows(path)
    num_frames = media.read_timeline(path).num_output_frames  # decoded: iter_frames' count
    assert windows.shape == (num_frames, STEPS, 64, 1) == (301, 50, 64, 1)
    assert windows.dtype == np.float32
    assert windows.max() > -40.0  # speech
    # Same windows as slicing the spectrogram of read_audio by hand.
    spectrogram = audio.log_mel_spectrogram(media.read_audio(path))
    expected = spectrogram[500 - MIDDLE : 500 - MIDDLE + STEPS]  # frame 150 is at 5 s = row 500
    np.testing.assert_array_equal(windows[150, :, :, 0], expected)
    # A caller that knows the count already can pass it.
    assert audio.video_audio_windows(path, num_frames=10).shape == (10, STEPS, 64, 1)


def test_silent_track_gives_windows_at_the_floor(shared_data):
    path = shared_data / "video" / "WolfgangLanger_Pexels.mp4"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    windows = audio.video_audio_windows(path)
    assert windows.shape == (591, STEPS, 64, 1)  # 19.686 s at 30 fps
    assert np.all(windows == FLOOR)


def test_video_windows_missing_file(tmp_path):
    missing = tmp_path / "nothing.mp4"
    with pytest.raises(FileNotFoundError, match="nothing.mp4"):
        audio.video_audio_windows(missing)


# ------------------------------------------------------------------ offline vs graph


@pytest.mark.parametrize(
    "config",
    [CONFIG, SpectrogramConfig(top_db=80.0, window="hamming", htk=True, fmin=20.0, n_mels=40)],
    ids=["defaults", "top_db-hamming-htk"],
)
def test_offline_and_graph_agree_on_a_synthetic_signal(config):
    signal = _speechlike(seed=3)
    offline = audio.log_mel_spectrogram(signal, config)
    graph = tf.function(lambda x: audio.tf_log_mel_spectrogram(x, config))(signal).numpy()
    assert graph.shape == offline.shape
    assert np.abs(graph - offline).max() < 1e-3  # dB; measured ~2e-5
    times = np.arange(60) / 30
    np.testing.assert_allclose(
        audio.tf_frame_windows(graph, times, config).numpy(),
        audio.frame_windows(offline, times, config),
        atol=1e-3,
    )


def test_offline_and_graph_agree_on_a_real_clip(shared_data):
    folder = shared_data / "ravdess_speech_16k" / "Actor_01"
    files = sorted(folder.glob("*.flac")) if folder.is_dir() else []
    if not files:
        pytest.skip(f"no RAVDESS flac in {folder}")
    path = str(files[0])
    expected_signal, rate = soundfile.read(path, dtype="float32")
    assert rate == SR
    waveform = audio.load_audio(path)
    np.testing.assert_array_equal(waveform, expected_signal)  # same 16-bit samples / 32768
    offline = audio.log_mel_spectrogram(media.read_audio(path))  # ffmpeg, as for videos
    graph = audio.tf_log_mel_spectrogram(waveform).numpy()
    assert graph.shape == offline.shape
    assert np.abs(graph - offline).max() < 1e-3  # dB; measured ~2e-5


def test_graph_features_in_a_dataset_have_static_shapes():
    signal = _tones(1.0).astype(np.float32)

    def features(waveform):
        spectrogram = audio.tf_log_mel_spectrogram(waveform)
        times = tf.range(30, dtype=tf.float64) / 30
        return audio.tf_frame_windows(spectrogram, times)

    dataset = tf.data.Dataset.from_tensors(signal).map(features)
    assert dataset.element_spec.shape.as_list() == [30, STEPS, 64, 1]
    windows = next(iter(dataset)).numpy()
    np.testing.assert_allclose(windows, audio.frame_windows(signal, np.arange(30) / 30), atol=1e-3)


# ------------------------------------------------------------------------- decoding
# Every decoding test runs on both decoders: `load_audio` (soundfile / ffmpeg, always) and
# the tensorflow-io adapter (only where the `tfio` extra loads: CI's TF 2.16 environment).


def _tfio_or_skip():
    from affectkeras.audio import tfio

    try:
        tfio._tfio()
    except ImportError as error:
        pytest.skip(" ".join(str(error).split())[:200])
    return tfio


@pytest.fixture(params=["soundfile", "tfio"])
def decode(request):
    if request.param == "soundfile":
        return audio.load_audio
    tfio = _tfio_or_skip()
    return lambda path, **kwargs: tfio.decode_audio(str(path), **kwargs).numpy()


def _ffmpeg(*args):
    subprocess.run([media._ffmpeg.ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


@pytest.mark.parametrize(
    "name, subtype",
    [("pcm16.wav", "PCM_16"), ("pcm24.wav", "PCM_24"), ("float.wav", "FLOAT"),
     ("pcm8.wav", "PCM_U8"), ("pcm16.flac", "PCM_16"), ("pcm24.flac", "PCM_24")],
)
def test_decode_wav_and_flac_mixes_down_to_mono(decode, tmp_path, name, subtype):
    left = _tones(0.5)
    stereo = np.stack([left, -0.5 * left], axis=1).astype(np.float32)
    path = tmp_path / name
    soundfile.write(path, stereo, SR, subtype=subtype)
    decoded = decode(path)
    written, _ = soundfile.read(path, dtype="float64")
    assert decoded.shape == (len(stereo),) and decoded.dtype == np.float32
    atol = 1e-2 if subtype == "PCM_U8" else 1e-6
    np.testing.assert_allclose(decoded, written.mean(axis=1), atol=atol)


def test_decode_wav_with_extra_chunks_and_extensible_format(decode, tmp_path):
    tone = _tones(0.5, 22050).astype(np.float32)
    plain = tmp_path / "plain.wav"
    soundfile.write(plain, tone, 22050, subtype="PCM_16")
    data = plain.read_bytes()
    junk = b"JUNK" + (28).to_bytes(4, "little") + bytes(28)  # before "fmt ", as recorders do
    data = data[:12] + junk + data[12:]
    padded = tmp_path / "junk.wav"
    padded.write_bytes(data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:])
    extensible = tmp_path / "extensible.wav"
    soundfile.write(extensible, np.stack([tone] * 3, 1), 22050, format="WAVEX", subtype="FLOAT")
    assert extensible.read_bytes()[20:22] == b"\xfe\xff"  # WAVE_FORMAT_EXTENSIBLE
    expected = decode(plain)
    assert expected.shape == (8000,)
    np.testing.assert_array_equal(decode(padded), expected)
    np.testing.assert_allclose(decode(extensible), expected, atol=1e-4)


def _dominant_frequency(signal, rate):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return np.argmax(spectrum) * rate / len(signal)


def test_decode_ogg_and_mp3(decode, tmp_path):
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)).astype(np.float32)
    ogg = tmp_path / "tone.ogg"
    soundfile.write(ogg, tone, SR, format="OGG", subtype="VORBIS")
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, tone, SR, subtype="PCM_16")
    mp3 = tmp_path / "tone.mp3"
    _ffmpeg("-i", wav, mp3)
    # MPEG-2.5 at 8 kHz without an ID3 tag or a Xing header: the rate comes from the frame.
    bare = tmp_path / "bare_8k.mp3"
    _ffmpeg("-i", wav, "-ar", "8000", "-id3v2_version", "0", "-write_xing", "0", bare)
    for path in (ogg, mp3, bare):
        decoded = decode(path)
        assert abs(len(decoded) - SR) <= 2 * 1152 * 2, path  # mp3 encoder delay and padding
        assert _dominant_frequency(decoded, SR) == pytest.approx(440, abs=2), path
        rms = np.sqrt(np.mean(decoded[4000:-4000] ** 2))
        assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.08), path


@pytest.mark.parametrize("rate", [44100, 48000, 22050, 8000])
def test_decode_resamples_to_16k_in_time(decode, tmp_path, rate):
    click_time = 0.5
    signal = _tones(1.3, rate)
    click = int(round(click_time * rate))
    signal[click] += 0.9
    path = tmp_path / f"tones_{rate}.wav"
    soundfile.write(path, signal.astype(np.float32), rate, subtype="FLOAT")
    decoded = decode(path)
    assert decoded.shape == (int(round(len(signal) * SR / rate)),)
    expected = _tones(len(decoded) / SR)[: len(decoded)]
    residual = decoded - expected
    # The click stays where it was (no resampler delay), to the output sample.
    assert abs(int(np.argmax(np.abs(residual))) - click * SR / rate) <= 0.5
    # Away from the click and the signal's ends, the band-limited tones are exact.
    away = np.ones(len(decoded), bool)
    away[:400] = away[-400:] = False
    away[7600:8400] = False
    assert np.abs(residual[away]).max() < 1e-3


def test_decode_errors_name_the_file(decode, tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        decode(missing)
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    with pytest.raises(InvalidArgumentError, match="notes.txt"):
        decode(text)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00")
    with pytest.raises(MediaError, match="broken.wav"):
        decode(broken)
    with pytest.raises(InvalidArgumentError, match="`sample_rate`"):
        decode(broken, sample_rate=0)


def test_load_audio_refuses_nan_samples_naming_the_file(tmp_path):
    signal = np.zeros(1600, "float32")
    signal[100] = np.nan  # a float WAV can hold one; every spectrogram of the clip would be NaN
    path = tmp_path / "nan.wav"
    soundfile.write(path, signal, 16000, subtype="FLOAT")
    with pytest.raises(MediaError, match="nan.wav.*NaN or infinite"):
        audio.load_audio(path)


def test_load_audio_reads_opus_and_aac_through_ffmpeg(tmp_path):
    # Opus in Ogg: libsndfile; AAC in mp4 (m4a): not libsndfile's, so the bundled ffmpeg.
    for name, codec in (("tone.opus", "libopus"), ("tone.m4a", "aac")):
        path = tmp_path / name
        _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1:sample_rate=48000", "-c:a", codec, path)
        decoded = audio.load_audio(path)
        assert abs(len(decoded) - SR) < 0.1 * SR, name
        assert _dominant_frequency(decoded, SR) == pytest.approx(440, abs=2), name


def test_resample_checks_its_arguments():
    signal = _tones(0.1).astype(np.float32)
    assert audio.resample(signal, SR, SR) is signal
    assert audio.resample(np.zeros(44100, np.float32), 44100, SR).shape == (SR,)
    with pytest.raises(InvalidArgumentError, match="`rate_in`"):
        audio.resample(signal, 0, SR)
    with pytest.raises(InvalidArgumentError, match="`signal`"):
        audio.resample(np.zeros((10, 2)), 44100, SR)


def test_tfio_adapter_without_a_working_tensorflow_io_says_how_to_get_one():
    from affectkeras.audio import tfio

    try:
        tfio._tfio()
    except ImportError as error:
        assert "tfio" in str(error) and "2.16" in str(error)
        with pytest.raises(ImportError, match="2.16"):
            tfio.decode_audio("clip.wav")
    else:
        pytest.skip("tensorflow-io loads here")


def test_tfio_decode_in_a_parallel_map_keeps_files_apart(tmp_path):
    # tensorflow-io's AudioIOTensor mixes files up here (tensorflow/io#1647): decode_audio
    # reads bytes and decodes with stateless ops instead.
    tfio = _tfio_or_skip()
    files, levels = [], []
    for index in range(24):
        path = tmp_path / f"level_{index}.wav"
        level = (index + 1) / 32
        soundfile.write(path, np.full(800 + 160 * index, level, np.float32), SR, subtype="PCM_16")
        files.append(str(path))
        levels.append(level)
    dataset = tf.data.Dataset.from_tensor_slices(files).map(
        tfio.decode_audio, num_parallel_calls=8, deterministic=True
    )
    for index, waveform in enumerate(dataset.as_numpy_iterator()):
        assert waveform.shape == (800 + 160 * index,)
        np.testing.assert_allclose(waveform, levels[index], atol=1e-4)


def test_tfio_resample_keeps_equal_rates_and_checks_arguments():
    tfio = _tfio_or_skip()
    waveform = tf.constant(_tones(0.1).astype(np.float32))
    np.testing.assert_array_equal(tfio.tf_resample(waveform, SR, SR).numpy(), waveform.numpy())
    assert tfio.tf_resample(tf.zeros([44100]), 44100, 16000).shape == (16000,)
    with pytest.raises(InvalidArgumentError, match="`rate_in`"):
        tfio.tf_resample(waveform, 0, SR)
    with pytest.raises(InvalidArgumentError, match="`waveform`"):
        tfio.tf_resample(tf.zeros([10, 2]), 44100, SR)


def test_clip_datasets_of_both_decoders_agree(tmp_path):
    _tfio_or_skip()
    import collections

    from affectkeras.data import downstream

    Record = collections.namedtuple("Record", "path label")
    records = []
    for index, seconds in enumerate((0.7, 1.2, 2.5)):
        path = tmp_path / f"clip_{index}.flac"
        soundfile.write(path, _speechlike(seconds, seed=index), SR, subtype="PCM_16")
        records.append(Record(str(path), index))
    batches = {
        decoder: next(iter(downstream.audio_clip_dataset(records, num_windows=2, batch_size=3, decoder=decoder)))
        for decoder in ("soundfile", "tfio")
    }
    (ours, labels), (theirs, their_labels) = batches["soundfile"], batches["tfio"]
    np.testing.assert_array_equal(labels["expression"].numpy(), their_labels["expression"].numpy())
    assert np.abs(ours["audio"].numpy() - theirs["audio"].numpy()).max() < 1e-3  # dB


def test_tfio_errors_name_the_file_in_graph_too(tmp_path):
    tfio = _tfio_or_skip()
    opus = tmp_path / "opus.ogg"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.2", "-c:a", "libopus", opus)
    with pytest.raises(MediaError, match="opus.ogg.*not an Ogg Vorbis file"):
        tfio.decode_audio(str(opus))
    missing, text, broken = tmp_path / "missing.wav", tmp_path / "notes.txt", tmp_path / "broken.wav"
    text.write_text("not audio")
    broken.write_bytes(b"RIFF\x00\x00")
    # Inside tf.data the errors come from TensorFlow, still naming the file.
    cases = (
        (missing, tf.errors.NotFoundError),
        (text, tf.errors.InvalidArgumentError),
        (broken, tf.errors.InvalidArgumentError),
    )
    for path, error in cases:
        dataset = tf.data.Dataset.from_tensors(str(path)).map(tfio.decode_audio)
        with pytest.raises(error, match=os.path.basename(path)):
            next(iter(dataset))


# ------------------------------------------------------------ clips and augmentation


def test_fixed_length_crops_and_pads():
    spectrogram = tf.reshape(tf.range(10 * 4, dtype=tf.float32), [10, 4])
    center = audio.tf_fixed_length(spectrogram, 6).numpy()
    np.testing.assert_array_equal(center, spectrogram.numpy()[2:8])
    start = audio.tf_fixed_length(spectrogram, 14, align="start").numpy()
    np.testing.assert_array_equal(start[:10], spectrogram.numpy())
    assert np.all(start[10:] == FLOOR)
    padded = audio.tf_fixed_length(spectrogram, 14).numpy()
    assert np.all(padded[:2] == FLOOR) and np.all(padded[12:] == FLOOR)
    np.testing.assert_array_equal(padded[2:12], spectrogram.numpy())
    first = audio.tf_fixed_length(spectrogram, 5, align="random", seed=4).numpy()
    again = audio.tf_fixed_length(spectrogram, 5, align="random", seed=4).numpy()
    np.testing.assert_array_equal(first, again)
    offset = int(first[0, 0]) // 4
    np.testing.assert_array_equal(first, spectrogram.numpy()[offset : offset + 5])
    with pytest.raises(InvalidArgumentError, match="`align`"):
        audio.tf_fixed_length(spectrogram, 5, align="end")


def _masked_runs(mask):
    """Lengths of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def test_spec_augment_masks_the_expected_bands():
    rng = np.random.default_rng(0)
    spectrogram = tf.constant(rng.uniform(-90, -10, size=(200, 64)).astype(np.float32))
    counts = []
    for seed in range(40):
        out = audio.spec_augment(
            spectrogram, freq_masks=2, freq_width=8, time_masks=3, time_width=10,
            seed=seed, mask_value=0.0,
        ).numpy()
        masked = out == 0.0
        freq_rows = masked.all(axis=0)  # a masked mel band is masked at every time
        time_rows = masked.all(axis=1)
        # Every masked cell lies in a masked band or a masked time span.
        np.testing.assert_array_equal(masked, freq_rows[None, :] | time_rows[:, None])
        freq_runs, time_runs = _masked_runs(freq_rows), _masked_runs(time_rows)
        assert len(freq_runs) <= 2 and freq_runs.sum() <= 2 * 8
        assert len(time_runs) <= 3 and time_runs.sum() <= 3 * 10
        np.testing.assert_array_equal(out[~masked], spectrogram.numpy()[~masked])
        counts.append((len(freq_runs), len(time_runs)))
    assert (2, 3) in counts  # with non-overlapping, non-empty draws, exactly 2 + 3 bands


def test_spec_augment_is_deterministic_with_a_seed():
    spectrogram = tf.random.stateless_uniform([100, 64], seed=[1, 2], minval=-90, maxval=0)
    first = audio.spec_augment(spectrogram, seed=11).numpy()
    np.testing.assert_array_equal(first, audio.spec_augment(spectrogram, seed=11).numpy())
    np.testing.assert_array_equal(first, audio.spec_augment(spectrogram, seed=[11, 0]).numpy())
    others = [audio.spec_augment(spectrogram, seed=s).numpy() for s in (12, 13, 14)]
    assert any(not np.array_equal(first, other) for other in others)
    # The default fill is the spectrogram's mean; width 0 changes nothing.
    assert np.isclose(first, spectrogram.numpy().mean()).any()
    unchanged = audio.spec_augment(spectrogram, freq_width=0, time_width=0, seed=1)
    np.testing.assert_array_equal(unchanged.numpy(), spectrogram.numpy())



def test_mel_shift_moves_the_bands_by_up_to_max_bins_with_mirrored_edges():
    spectrogram = np.tile(np.arange(64, dtype=np.float32), (20, 1))  # each band holds its index
    padded = np.pad(spectrogram, [(0, 0), (3, 3)], mode="symmetric")  # numpy's "symmetric" = TF's
    shifts = set()
    for seed in range(40):
        out = audio.mel_shift(tf.constant(spectrogram), 3, seed=seed).numpy()
        assert out.shape == spectrogram.shape
        shift = int(out[0, 10] - 10)  # away from the edges the value names the band it came from
        assert -3 <= shift <= 3
        np.testing.assert_array_equal(out, padded[:, 3 + shift:3 + shift + 64])
        np.testing.assert_array_equal(out, audio.mel_shift(tf.constant(spectrogram), 3, seed=seed).numpy())
        shifts.add(shift)
    assert shifts == set(range(-3, 4))  # every shift is drawn
    np.testing.assert_array_equal(audio.mel_shift(spectrogram, 0, seed=1).numpy(), spectrogram)
    with pytest.raises(InvalidArgumentError, match="`spectrogram`"):
        audio.mel_shift(tf.zeros([2, 10, 64]), 3)
    with pytest.raises(InvalidArgumentError, match="`max_bins`"):
        audio.mel_shift(tf.zeros([10, 64]), -1)


def test_time_stretch_resamples_time_only_by_a_seeded_factor():
    steps = 200
    spectrogram = np.stack([np.sin(np.arange(steps) / 9.0 + band) for band in range(64)], axis=1).astype(np.float32)
    lengths = set()
    for seed in range(30):
        out = audio.time_stretch(tf.constant(spectrogram), 0.1, seed=seed).numpy()
        length = out.shape[0]
        assert out.shape[1] == 64 and round(steps / 1.1) <= length <= round(steps / 0.9)
        # Independent reference: linear interpolation at the resampled frames' centres, bands untouched.
        source = np.clip((np.arange(length) + 0.5) * steps / length - 0.5, 0, steps - 1)
        expected = np.stack([np.interp(source, np.arange(steps), spectrogram[:, band]) for band in range(64)], axis=1)
        np.testing.assert_allclose(out, expected, atol=1e-4)
        np.testing.assert_array_equal(out, audio.time_stretch(tf.constant(spectrogram), 0.1, seed=seed).numpy())
        lengths.add(length)
    assert min(lengths) < steps < max(lengths)  # faster and slower speech are both drawn
    np.testing.assert_array_equal(audio.time_stretch(spectrogram, 0.0, seed=1).numpy(), spectrogram)
    for wrong in (1.0, -0.1, True, "0.1"):
        with pytest.raises(InvalidArgumentError, match="`max_change`"):
            audio.time_stretch(tf.zeros([10, 64]), wrong)
    with pytest.raises(InvalidArgumentError, match="`spectrogram`"):
        audio.time_stretch(tf.zeros([2, 10, 64]), 0.1)


def test_spec_augment_on_windows_and_in_a_dataset():
    windows = tf.random.stateless_uniform([4, STEPS, 64, 1], seed=[3, 4], minval=-90, maxval=0)
    out = audio.spec_augment(windows, freq_masks=1, freq_width=8, time_masks=0, seed=5,
                             mask_value=1.0).numpy()
    assert out.shape == (4, STEPS, 64, 1)
    masked = out[..., 0] == 1.0
    assert all(np.array_equal(masked[0], masked[i]) for i in range(4))  # one mask per call
    dataset = tf.data.Dataset.from_tensor_slices(windows).enumerate().map(
        lambda index, window: audio.spec_augment(window, seed=tf.stack([index, 0]))
    )
    first, second = list(dataset.as_numpy_iterator()), list(dataset.as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    with pytest.raises(InvalidArgumentError, match="`spectrogram`"):
        audio.spec_augment(tf.zeros([2, 10, 64]))
    with pytest.raises(InvalidArgumentError, match="`freq_masks`"):
        audio.spec_augment(tf.zeros([10, 64]), freq_masks=-1)
