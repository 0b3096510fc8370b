"""Tests of `affectkeras.media`: probing, 30-fps frames with their source frames, audio.

Real clips come from `../shared/data/video` (skipped when absent); the odd cases are
tiny videos made here with ffmpeg's `testsrc` / `sine` sources.
"""

import fractions
import gc
import os
import pathlib
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile

from affectkeras import media
from affectkeras.errors import InvalidArgumentError, MediaError
from affectkeras.media import FrameTimeline, iter_frames, probe, read_audio, read_timeline
from affectkeras.media._ffmpeg import ffmpeg_exe, summarize
from affectkeras.media.timeline import RateConverter, grid_index

VIDEO_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
WOLFGANG = "WolfgangLanger_Pexels.mp4"  # 19.7 s, 23.976 fps, silent AAC track
HAMILTON = "short_hamilton_clip.mp4"  # 10.0 s, 29.97 fps, speech; video starts at 0.844 s
SMALL = (64, -1)  # downscaled frames keep the tests fast


# ---------------------------------------------------------------------------- helpers


def _ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def _reference_frames(path, size, fps=30):
    """Frames of `ffmpeg -vf fps=30:start_time=0`, the papers' conversion, as an array."""
    width, height = size
    out = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:V:0",
         "-vf", f"fps={fps}:start_time=0,scale={width}:{height}:flags=area",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, height, width, 3)


def _ffmpeg_children():
    """(pid, state) of this process's ffmpeg children, zombies included (Linux /proc)."""
    children = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == os.getpid() and "ffmpeg" in name:
            children.append((stat.parent.name, state))
    return children


def _has_encoder(name):
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True)
    return f" {name} " in out.stdout


@pytest.fixture(scope="module")
def real():
    """Path of a real clip by name; skips when `../shared/data/video` is absent."""

    def get(name):
        path = VIDEO_DIR / name
        if not path.is_file():
            pytest.skip(f"{path} is absent (it exists only beside the development checkout)")
        return path

    return get


@pytest.fixture(scope="module")
def real_frames(real):
    """Downscaled 30-fps frames of each real clip, decoded once for the module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = list(iter_frames(real(name), size=SMALL))
        return cache[name]

    return get


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Tiny test videos made with ffmpeg, by name (each made once for the module)."""
    folder = tmp_path_factory.mktemp("media")
    src = "testsrc=size=64x48:rate={rate}:duration={duration}"
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    recipes = {
        # 2 s at 25 fps with a 440 Hz stereo tone.
        "av.mp4": ["-f", "lavfi", "-i", src.format(rate=25, duration=2), "-f", "lavfi", "-i",
                   "sine=frequency=440:duration=2", *h264, "-c:a", "aac", "-ac", "2", "-shortest"],
        "silent.mp4": ["-f", "lavfi", "-i", src.format(rate=25, duration=2), *h264],
        "rate12.5.mp4": ["-f", "lavfi", "-i", src.format(rate=12.5, duration=2), *h264],
        "rate59.94.mp4": ["-f", "lavfi", "-i", src.format(rate="60000/1001", duration=2), *h264],
        "rate60.mkv": ["-f", "lavfi", "-i", src.format(rate=60, duration=1), *h264],
        # 20 frames at 10 fps, then 29 frames at 50 fps, millisecond timestamps.
        "vfr.mp4": ["-f", "lavfi", "-i", src.format(rate=25, duration=1.96), "-vf",
                    "settb=1/1000,setpts='if(lt(N,20),N*100,2000+(N-20)*20)'", "-fps_mode",
                    "passthrough", "-enc_time_base", "1/1000", *h264, "-video_track_timescale", "1000"],
        # The picture starts 0.5 s after the sound (as in the Hamilton clip).
        "late_video.mp4": ["-f", "lavfi", "-i", src.format(rate=24, duration=1), "-f", "lavfi", "-i",
                           "sine=duration=1.5", "-filter_complex", "[0:v]setpts=PTS+0.5/TB[v]",
                           "-map", "[v]", "-map", "1:a", *h264, "-c:a", "aac"],
        # The sound starts 0.5 s after the picture.
        "late_audio.mp4": ["-f", "lavfi", "-i", src.format(rate=25, duration=2), "-itsoffset", "0.5",
                           "-f", "lavfi", "-i", "sine=duration=1.5", "-map", "0:v", "-map", "1:a",
                           *h264, "-c:a", "aac"],
        "hevc.mp4": ["-f", "lavfi", "-i", "testsrc=size=128x72:rate=25:duration=1", "-c:v", "libx265",
                     "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"],
        # Index at the front, so that cutting the file keeps a readable header.
        "faststart.mp4": ["-f", "lavfi", "-i", "testsrc=size=128x96:rate=25:duration=2", *h264,
                          "-movflags", "+faststart"],
        "tone.wav": ["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-ac", "2"],
    }

    def get(name):
        path = folder / name
        if not path.exists():
            if name == "hevc.mp4" and not _has_encoder("libx265"):
                pytest.skip("this ffmpeg has no libx265 encoder")
            if name == "rotated.mp4":
                _ffmpeg("-display_rotation", 90, "-i", get("silent.mp4"), "-c", "copy", path)
            elif name in ("truncated.mp4", "truncated_faststart.mp4"):
                whole = get("silent.mp4" if name == "truncated.mp4" else "faststart.mp4").read_bytes()
                path.write_bytes(whole[: len(whole) // 2])
            elif name == "empty.mp4":
                path.write_bytes(b"")
            elif name == "text.mp4":
                path.write_text("not a video\n" * 100)
            else:
                _ffmpeg(*recipes[name], path)
        return path

    return get


def _check_frames(frames, info, fps=30):
    """Properties every 30-fps frame list has: indices, times, a monotonic source map."""
    indices = np.array([f.index for f in frames])
    sources = np.array([f.source_index for f in frames])
    np.testing.assert_array_equal(indices, np.arange(len(frames)))
    np.testing.assert_allclose([f.time for f in frames], indices / fps)
    assert len(frames) == round(info.duration * fps)
    assert abs(len(frames) - info.duration * fps) <= 1
    assert np.all(np.diff(sources) >= 0) and sources[0] == 0
    assert sources[-1] >= info.frame_count - 2  # above 30 fps the very last may be dropped
    # A source frame is never more than half an output frame from where it is shown
    # (after the first frame, which fills the time before it when a video starts late).
    shown = np.array([f.source_time for f in frames])
    late = shown > indices / fps + 0.5 / fps + 1e-9
    assert not np.any(late[sources > 0])


# ------------------------------------------------------------------------- real clips


def test_probe_reads_an_unchanged_file_once_and_a_changed_one_again(made, tmp_path, monkeypatch):
    from affectkeras.media import _ffmpeg

    runs = []
    real_run = _ffmpeg.run
    monkeypatch.setattr(_ffmpeg, "run", lambda args: runs.append(args) or real_run(args))
    path = tmp_path / "clip.mp4"
    path.write_bytes(made("av.mp4").read_bytes())
    first = probe(path)
    assert probe(path) == first and read_timeline(path).num_source_frames == 50 and len(runs) == 1
    path.write_bytes(made("silent.mp4").read_bytes())  # replaced: read again
    assert not probe(path).has_audio and len(runs) == 2
    sound = tmp_path / "tone.wav"
    soundfile.write(sound, np.zeros(8000, np.float32), 16000)
    assert not probe(sound, require_video=False).has_video  # cached without video,
    with pytest.raises(MediaError, match="no video stream"):  # the check of require_video stays
        probe(sound)


def test_probe_real_clips(real):
    info = probe(real(WOLFGANG))
    assert (info.width, info.height, info.video_codec) == (640, 360, "h264")
    assert info.duration == pytest.approx(19.69, abs=0.02)
    assert info.avg_frame_rate == info.r_frame_rate == fractions.Fraction(24000, 1001)
    assert info.frame_count == 472 and not info.is_vfr and info.video_start == 0
    assert (info.has_audio, info.sample_rate, info.channels) == (True, 48000, 2)

    info = probe(real(HAMILTON))
    assert (info.width, info.height) == (640, 360)
    assert info.duration == pytest.approx(10.02, abs=0.02)
    assert float(info.avg_frame_rate) == pytest.approx(29.97, abs=0.01)
    assert info.r_frame_rate == fractions.Fraction(30000, 1001)
    assert info.video_start == pytest.approx(0.844, abs=0.001)
    assert (info.has_audio, info.audio_codec, info.sample_rate, info.channels) == (True, "aac", 44100, 2)


@pytest.mark.parametrize("name", [WOLFGANG, HAMILTON])
def test_real_clip_frames_at_30_fps(real, real_frames, name):
    info = probe(real(name))
    frames = real_frames(name)
    _check_frames(frames, info)
    assert frames[0].image.shape == (36, 64, 3) and frames[0].image.dtype == np.uint8
    # Both clips are below 30 fps: every source frame is shown at least once.
    assert {f.source_index for f in frames} == set(range(info.frame_count))

    timeline = read_timeline(real(name))
    np.testing.assert_array_equal(timeline.output_to_source(), [f.source_index for f in frames])
    np.testing.assert_allclose(timeline.source_times[[f.source_index for f in frames]],
                               [f.source_time for f in frames])
    assert timeline.num_source_frames == info.frame_count
    # Back from source frames to output frames, and again to the same source frames.
    np.testing.assert_array_equal(timeline.output_to_source(timeline.source_to_output()),
                                  np.arange(info.frame_count))
    fast = read_timeline(real(name), decode=False)
    np.testing.assert_array_equal(fast.pts, timeline.pts)


def test_real_clip_frames_equal_ffmpeg_fps_filter(real, real_frames):
    frames = real_frames(WOLFGANG)
    reference = _reference_frames(real(WOLFGANG), (64, 36))
    assert len(reference) == len(frames)
    np.testing.assert_array_equal(np.stack([f.image for f in frames]), reference)


def test_real_clip_full_size_and_early_stop(real):
    frames = iter_frames(real(HAMILTON))
    first = next(frames)
    assert first.image.shape == (360, 640, 3) and first.source_index == 0
    # The video starts 0.844 s into the file: its first frame fills that time.
    assert next(frames).source_index == 0
    frames.close()
    assert _ffmpeg_children() == []


def test_real_clip_audio(real):
    info = probe(real(WOLFGANG))
    silent = read_audio(real(WOLFGANG))
    assert silent.dtype == np.float32 and silent.shape == (round(info.duration * 16000),)
    assert np.abs(silent).max() < 1e-4

    info = probe(real(HAMILTON))
    speech = read_audio(real(HAMILTON))
    assert speech.shape == (round(info.duration * 16000),)
    assert np.sqrt(np.mean(speech**2)) > 0.01 and np.abs(speech).max() <= 1.0
    # The track as decoded already ends within a few ms of the picture.
    raw = read_audio(real(HAMILTON), match_video=False)
    assert abs(len(raw) / 16000 - info.duration) < 0.03
    np.testing.assert_array_equal(raw[: len(raw) - 1], speech[: len(raw) - 1])


# ------------------------------------------------------------------- made-up videos


@pytest.mark.parametrize(
    "name, rate",
    [
        ("rate12.5.mp4", fractions.Fraction(25, 2)),
        ("rate59.94.mp4", fractions.Fraction(60000, 1001)),
        ("rate60.mkv", fractions.Fraction(60)),  # exact rounding ties, millisecond time base
        ("vfr.mp4", None),
        ("late_video.mp4", fractions.Fraction(24)),
        ("hevc.mp4", fractions.Fraction(25)),
    ],
)
def test_odd_sources_match_ffmpeg_fps_filter(made, name, rate):
    path = made(name)
    info = probe(path)
    assert info.is_vfr == (rate is None)
    if rate is not None:
        assert info.r_frame_rate == rate
    frames = list(iter_frames(path))
    _check_frames(frames, info)
    reference = _reference_frames(path, (info.width, info.height))
    assert len(reference) == len(frames)
    np.testing.assert_array_equal(np.stack([f.image for f in frames]), reference)
    np.testing.assert_array_equal(read_timeline(path).output_to_source(),
                                  [f.source_index for f in frames])


def test_vfr_source(made):
    info = probe(made("vfr.mp4"))
    assert info.frame_count == 49 and info.r_frame_rate == 50  # the most common interval
    times = media.source_frame_times(made("vfr.mp4"))
    np.testing.assert_allclose(times, np.r_[np.arange(20) * 0.1, 2 + np.arange(29) * 0.02], atol=1e-9)
    frames = list(iter_frames(made("vfr.mp4"), size=(16, 12)))
    sources = [f.source_index for f in frames]
    assert sources[:6] == [0, 0, 0, 1, 1, 1]  # 10 fps: each frame three times
    assert len(set(sources[-20:])) > 10  # 50 fps: frames dropped


def test_late_video_start_is_padded(made):
    info = probe(made("late_video.mp4"))
    assert info.video_start == pytest.approx(0.5)
    frames = list(iter_frames(made("late_video.mp4"), size=(16, 12)))
    assert [f.source_index for f in frames[:16]] == [0] * 16 and frames[16].source_index == 1
    assert len(frames) == 45  # 1.5 s at 30 fps


def test_source_rate_reading(made):
    path = made("rate12.5.mp4")
    frames = list(iter_frames(path, fps=None))
    assert len(frames) == probe(path).frame_count == 25
    assert [f.index for f in frames] == [f.source_index for f in frames] == list(range(25))
    np.testing.assert_allclose([f.time for f in frames], np.arange(25) / 12.5)


def test_pixel_formats_and_size(made):
    path = made("av.mp4")
    rgb = next(iter_frames(path, size=(32, 24))).image
    bgr = next(iter_frames(path, size=(32, 24), pixel_format="bgr24")).image
    gray = next(iter_frames(path, size=(32, -1), pixel_format="gray")).image
    assert rgb.shape == bgr.shape == (24, 32, 3) and gray.shape == (24, 32)
    # swscale's RGB and BGR paths round differently by a few levels.
    assert np.abs(bgr.astype(int) - rgb[..., ::-1]).max() <= 4
    assert not rgb.flags.writeable  # repeated frames share one array


def test_rotated_video_is_upright(made):
    info = probe(made("rotated.mp4"))
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    assert next(iter_frames(made("rotated.mp4"))).image.shape == (64, 48, 3)


def test_audio_of_made_videos(made):
    # Stereo is averaged, not summed: the tone keeps the amplitude of each channel.
    stereo, rate = soundfile.read(made("tone.wav"), dtype="float32")
    amplitude = np.abs(stereo.mean(axis=1)).max()
    wav = read_audio(made("tone.wav"))  # audio files work too, at their own length
    assert rate == 44100 and wav.shape == (16000,)
    assert np.abs(wav).max() == pytest.approx(amplitude, rel=0.01)
    assert read_audio(made("tone.wav"), sample_rate=8000).shape == (8000,)

    tone = read_audio(made("av.mp4"))
    assert tone.shape == (32000,)
    assert np.abs(tone[1000:-1000]).max() == pytest.approx(amplitude, rel=0.1)

    late = read_audio(made("late_audio.mp4"))
    assert late.shape == (32000,)
    assert np.abs(late[:7000]).max() < 1e-3 and np.abs(late[9000:]).max() > 0.1


def test_video_without_audio_gives_silence_and_a_warning(made):
    path = made("silent.mp4")
    assert not probe(path).has_audio
    with pytest.warns(UserWarning, match="silent.mp4: no audio stream"):
        signal = read_audio(path)
    assert signal.dtype == np.float32 and signal.shape == (32000,) and not signal.any()


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "name, message",
    [
        ("truncated.mp4", "cannot read media: moov atom not found"),
        ("truncated_faststart.mp4", "file is truncated"),
        ("empty.mp4", "file is empty"),
        ("text.mp4", "cannot read media"),
        ("tone.wav", "no video stream"),
    ],
)
def test_bad_videos_give_a_clear_media_error(made, name, message):
    path = made(name)
    for read in (probe, iter_frames, read_timeline):
        with pytest.raises(MediaError, match=message) as info:
            read(path)
        text = str(info.value)
        assert text.startswith(str(path)) and "\n" not in text
        assert str(pickle.loads(pickle.dumps(info.value))) == text  # survives a process pool
    if name != "tone.wav":
        with pytest.raises(MediaError):
            read_audio(path)


def test_missing_file(tmp_path):
    missing = tmp_path / "nowhere.mp4"
    for read in (probe, iter_frames, read_audio, media.source_frame_times):
        with pytest.raises(FileNotFoundError, match="nowhere.mp4"):
            read(missing)


@pytest.mark.parametrize(
    "kwargs",
    [dict(size=(0, 10)), dict(size=(-1, -1)), dict(size=(64,)), dict(pixel_format="yuv420p"),
     dict(fps=0), dict(fps="fast"), dict(threads=0)],
)
def test_invalid_arguments(made, kwargs):
    with pytest.raises(InvalidArgumentError):
        iter_frames(made("silent.mp4"), **kwargs)


def test_stopping_early_leaves_no_ffmpeg_process(made):
    path = made("av.mp4")
    for frame in iter_frames(path, size=(16, 12)):
        assert _ffmpeg_children() != []  # the decoder runs while we read
        break
    frames = iter_frames(path)
    next(frames)
    frames.close()
    # Dropped without `close()`: garbage collection ends the process too.
    frames = iter_frames(path)
    next(frames)
    del frames, frame
    gc.collect()
    assert _ffmpeg_children() == []
    # A full read ends cleanly as well.
    assert len(list(iter_frames(path, size=(16, 12)))) == 60
    assert _ffmpeg_children() == []


def test_a_script_that_exits_inside_a_video_ends_cleanly(made):
    """`next(iter_frames(...))` and exit: the decoder is ended before Python freezes its
    reader thread (closing the pipe under a frozen reader used to abort the interpreter)."""
    code = f"from affectkeras import media; frames = media.iter_frames({str(made('av.mp4'))!r}); next(frames)"
    for _ in range(3):  # the abort depended on where the reader thread stood
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0 and "Fatal Python error" not in result.stderr, result.stderr


# ----------------------------------------------------------------------- timeline math


def test_timeline_constant_rates():
    timeline = FrameTimeline.constant_rate(48, 24)
    assert timeline.num_output_frames == 60
    assert timeline.output_to_source([0, 1, 2, 3, 4, 5]).tolist() == [0, 1, 1, 2, 3, 4]
    np.testing.assert_allclose(timeline.output_times[:3], [0, 1 / 30, 2 / 30])
    # 60 fps: frames 2k-1 and 2k both round to tick k (ties away from zero); the later one
    # is kept, as ffmpeg does.
    sixty = FrameTimeline.constant_rate(12, 60)
    assert sixty.output_to_source().tolist() == [0, 2, 4, 6, 8, 10]
    assert sixty.source_to_output().tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]
    assert FrameTimeline.constant_rate(30, 30).output_to_source().tolist() == list(range(30))
    late = FrameTimeline.constant_rate(10, 25, start_time=0.5)
    assert late.output_to_source()[:16].tolist() == [0] * 16
    assert late.with_fps(25).output_to_source().tolist() == [0] * 14 + list(range(1, 10))
    # `from_times` rounds to microseconds; CFR times give the same map.
    again = FrameTimeline.from_times(np.arange(48) / 24)
    np.testing.assert_array_equal(again.output_to_source(), timeline.output_to_source())
    assert timeline.source_at([0, 0.04, 0.0417, 0.05, 100]).tolist() == [0, 0, 1, 1, 47]
    with pytest.raises(InvalidArgumentError, match="output_indices"):
        timeline.output_to_source([60])


def test_rate_converter_and_grid_rounding():
    conv = RateConverter()
    assert [conv.push(q) for q in (0, 1, 3)] == [0, 1, 2] and conv.finish(4) == 1
    tb = fractions.Fraction(1, 60)
    assert [grid_index(p, tb, fractions.Fraction(30)) for p in (0, 1, 2, 3, -1)] == [0, 1, 1, 2, -1]


def test_error_summary_is_one_informative_line():
    lines = [
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':",
        "[in#0 @ 0x5631a0134100] moov atom not found",
        "[in#0 @ 0x5631a0133d80] Error opening input: Invalid data found when processing input",
        "frame=    0 fps=0.0 q=0.0 size=       0KiB",
    ]
    assert summarize(lines) == (
        "moov atom not found; Error opening input: Invalid data found when processing input"
    )
    assert summarize(["all fine"]) == ""


def test_no_warning_for_a_video_with_sound(made):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_audio(made("av.mp4"))
