"""Tests of `affectkeras.data`: record schema, preprocessing job, Beam pipeline, `make_dataset`.

A tiny Aff-Wild2-like folder is made here (ffmpeg `testsrc` + `sine` videos, solid-colour
JPEG crops whose colour encodes the frame number, annotation files with sentinels, a
`_left` / `_right` pair, a video without an audio track and a corrupt one), preprocessed
once per module; every check then reads the annotation files themselves, line by line.
The synthetic dataset of `affectkeras.testing` is tested end to end too.
"""

import filecmp
import io
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from affectkeras import audio as audio_features
from affectkeras import cli, media
from affectkeras.constants import AU_MASK, AU_OUTPUT, EXPR_MASK, EXPR_OUTPUT, VA_MASK, VA_OUTPUT
from affectkeras.data import records
from affectkeras.data.dataset import make_dataset
from affectkeras.data.preprocess import read_manifest, run_preprocess
from affectkeras.errors import InvalidArgumentError
from affectkeras.media._ffmpeg import ffmpeg_exe

FRAMES = {"alpha": 40, "pair": 40, "mute": 30, "broken": 20}
MISSING = {"alpha": {5, 6, 17}, "pair_left": {3}, "pair_right": {30, 31}, "mute": set(), "broken": set()}
NAMES = ("alpha", "broken", "mute", "pair_left", "pair_right")
GOOD = ("alpha", "mute", "pair_left", "pair_right")
CROP = 112
VA_HEADER = "valence,arousal"
EXPR_HEADER = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
AU_HEADER = "AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26"


# ---------------------------------------------------------------------------- fixtures


def _ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def _video(path, frames, *, sound=True):
    duration = frames / 30
    args = ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=30:duration={duration}"]
    if sound:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={duration}"]
    args += ["-frames:v", frames, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]
    args += ["-c:a", "aac"] if sound else ["-an"]
    _ffmpeg(*args, path)


def _colour(frame):
    """The red level of the solid crop of a frame: tells which frame a face came from."""
    return 20 + (frame * 7) % 200


def _write(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header] + rows) + "\n")


def _annotations(root, rng):
    base = root / "annotations"
    for name in NAMES:
        frames = FRAMES[name.split("_")[0]]
        va = rng.uniform(-1, 1, (frames, 2)).round(3)
        va[rng.random(frames) < 0.2] = VA_MASK
        rows = [f"{v:g},{a:g}" for v, a in va]
        _write(base / "VA_Estimation_Challenge" / "Train_Set" / f"{name}.txt", VA_HEADER, rows)
    for name in ("alpha", "pair_left"):  # pair_left's file is shorter than its video
        frames = 30 if name == "pair_left" else FRAMES["alpha"]
        expr = rng.integers(0, 8, frames)
        expr[rng.random(frames) < 0.2] = EXPR_MASK
        _write(base / "EXPR_Recognition_Challenge" / "Train_Set" / f"{name}.txt", EXPR_HEADER,
               [str(e) for e in expr])
    for name in ("alpha", "mute"):
        frames = FRAMES[name]
        aus = rng.integers(0, 2, (frames, 12))
        aus[rng.random((frames, 12)) < 0.15] = AU_MASK
        _write(base / "AU_Detection_Challenge" / "Train_Set" / f"{name}.txt", AU_HEADER,
               [",".join(map(str, row)) for row in aus])


@pytest.fixture(scope="module")
def affwild(tmp_path_factory):
    """A tiny dataset folder in the ABAW layout."""
    root = tmp_path_factory.mktemp("affwild")
    videos = root / "videos"
    videos.mkdir()
    _video(videos / "alpha.mp4", FRAMES["alpha"])
    _video(videos / "pair.mp4", FRAMES["pair"])
    _video(videos / "mute.mp4", FRAMES["mute"], sound=False)
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    for name in NAMES:
        folder = root / "cropped_aligned" / name
        folder.mkdir(parents=True)
        for k in range(1, FRAMES[name.split("_")[0]] + 1):
            if k not in MISSING[name]:
                colour = (_colour(k), 255 - _colour(k), 128 if "right" in name else 60)
                Image.new("RGB", (CROP, CROP), colour).save(folder / f"{k:05d}.jpg", quality=95)
    _annotations(root, np.random.default_rng(0))
    return root


@pytest.fixture(scope="module")
def job(affwild, tmp_path_factory):
    """The records of `affwild` (train split, all tasks, audio, 96 px faces)."""
    out = tmp_path_factory.mktemp("records")
    lines = []
    result = run_preprocess(affwild, out, progress=lines.append)
    return result, out, lines


def _read_labels(root, name):
    """Per 1-based frame, the labels the annotation files give (sentinels where no file / line)."""
    base = root / "annotations"
    frames = {}

    def rows(folder):
        path = base / folder / "Train_Set" / f"{name}.txt"
        return path.read_text().split("\n")[1:-1] if path.exists() else []

    for k, row in enumerate(rows("VA_Estimation_Challenge"), 1):
        frames.setdefault(k, {})["va"] = [float(v) for v in row.split(",")]
    for k, row in enumerate(rows("EXPR_Recognition_Challenge"), 1):
        frames.setdefault(k, {})["expr"] = int(row)
    for k, row in enumerate(rows("AU_Detection_Challenge"), 1):
        frames.setdefault(k, {})["au"] = [int(v) for v in row.split(",")]
    return {
        k: (v.get("va", [VA_MASK] * 2), v.get("expr", EXPR_MASK), v.get("au", [AU_MASK] * 12))
        for k, v in frames.items()
    }


def _all_windows(out, **kwargs):
    kwargs.setdefault("include_metadata", True)
    kwargs.setdefault("skip_unlabeled", False)
    windows = []
    for inputs, targets in make_dataset(out, **kwargs):
        batch = {key: value.numpy() for key, value in {**inputs, **targets}.items()}
        for i in range(len(batch["frame_index"])):
            windows.append({key: value[i] for key, value in batch.items()})
    return windows


# ---------------------------------------------------------------------------- records


def test_frame_record_round_trips_and_parses_in_batch():
    jpeg = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 10, 30)).save(jpeg, format="JPEG", quality=95)
    window = np.linspace(-100, 10, 50 * 64, dtype=np.float32).reshape(50, 64)
    face = records.encode_frame(video="v", frame_index=3, time=0.1, face_jpeg=jpeg.getvalue(), face_size=96,
                                audio=window, va=(0.5, -0.25), expression=4, aus=[1, 0, -1] + [0] * 9)
    empty = records.encode_frame(video="v", frame_index=4, time=0.13, face_size=96, audio=window[..., None],
                                 va=(VA_MASK, VA_MASK), expression=EXPR_MASK)
    assert face == records.encode_frame(video="v", frame_index=3, time=0.1, face_jpeg=jpeg.getvalue(),
                                        face_size=96, audio=window, va=(0.5, -0.25), expression=4,
                                        aus=[1, 0, -1] + [0] * 9)  # deterministic bytes
    frame = records.decode_frame(face)
    assert (frame["video"], frame["frame_index"], frame["face_found"]) == ("v", 3, True)
    assert frame["va_mask"] and frame["expression"] == 4 and frame["aus_mask"].tolist()[:3] == [True, True, False]
    np.testing.assert_allclose(frame["audio"], window, atol=0.07)  # float16 steps at -100 dB
    frame = records.decode_frame(empty)
    assert not frame["face_found"] and not frame["va_mask"] and not frame["expression_mask"]
    assert not frame["aus_mask"].any() and (frame["aus"] == AU_MASK).all()

    info = records.RecordInfo(96, 12, (50, 64), "float16")
    parsed = records.parse_frames(tf.constant([[face, empty, b""]]), info)  # "" = a padding frame
    assert parsed["frame_index"].numpy().tolist() == [[3, 4, 0]]
    faces = records.decode_faces(parsed["face/jpeg"], parsed["face/found"], info, face_size=64).numpy()
    assert faces.shape == (1, 3, 64, 64, 3) and faces.dtype == np.uint8
    assert abs(int(faces[0, 0, 32, 32, 0]) - 200) <= 3 and not faces[0, 1:].any()
    sound = records.decode_audio(parsed["audio/data"], info).numpy()
    assert sound.shape == (1, 3, 50, 64, 1)
    np.testing.assert_allclose(sound[0, 1, ..., 0], window, atol=0.07)
    assert (sound[0, 2] == audio_features.SpectrogramConfig().floor_db).all()
    with pytest.raises(InvalidArgumentError, match="frame_index"):
        records.encode_frame(video="v", frame_index=0, time=0.0, face_size=96)
    assert frame["landmarks"] is None  # written without landmarks


def test_frame_record_carries_landmarks():
    points = np.random.default_rng(0).uniform(0, 1, (68, 2)).astype(np.float32)
    serialized = records.encode_frame(video="v", frame_index=1, time=0.0, face_jpeg=b"x", face_size=96,
                                      landmarks=points)
    np.testing.assert_array_equal(records.decode_frame(serialized)["landmarks"], points)
    info = records.RecordInfo(96, 12, has_landmarks=True)
    parsed = records.parse_frames(tf.constant([[serialized, b""]]), info, landmarks=True)
    assert parsed["face/landmarks"].shape == (1, 2, 136)
    np.testing.assert_array_equal(parsed["face/landmarks"][0, 0].numpy(), points.reshape(-1))
    assert not parsed["face/landmarks"][0, 1].numpy().any()  # a padding frame has none
    with pytest.raises(InvalidArgumentError, match=r"`landmarks` must be \(68, 2\)"):
        records.encode_frame(video="v", frame_index=1, time=0.0, face_size=96, landmarks=points[:5])


def test_shard_writer_leaves_no_finished_looking_file_after_a_crash(tmp_path):
    path = tmp_path / "v.tfrecord"
    with pytest.raises(RuntimeError):
        with records.ShardWriter(path) as writer:
            writer.write(b"x")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with records.ShardWriter(path) as writer:
        writer.write(records.encode_frame(video="v", frame_index=1, time=0.0, face_size=96))
    assert [p.name for p in tmp_path.iterdir()] == ["v.tfrecord"]


# ---------------------------------------------------------------------------- preprocessing


def test_job_writes_every_good_video_and_records_the_corrupt_one(job, affwild):
    result, out, lines = job
    assert sorted(result.done) == list(GOOD) and result.skipped == []
    assert list(result.failed) == ["broken"] and "broken.mp4" in result.failed["broken"]
    manifest = read_manifest(out)
    assert manifest["videos"]["broken"]["status"] == "failed"
    assert "\n" not in manifest["videos"]["broken"]["error"]
    assert manifest["totals"] == {"done": 4, "failed": 1, "frames": 40 + 40 + 30 + 40, "faces": 37 + 39 + 30 + 38}
    assert manifest["videos"]["mute"]["audio"].startswith("silence")
    assert {p.name for p in out.glob("*.tfrecord")} == {f"{n}.tfrecord" for n in GOOD}
    assert any("broken: FAILED" in line for line in lines) and any("frames/s" in line for line in lines)


def test_records_hold_the_annotation_lines_of_their_frame_index(job, affwild):
    _, out, _ = job
    for name in GOOD:
        labels = _read_labels(affwild, name)
        shard = [records.decode_frame(r.numpy()) for r in tf.data.TFRecordDataset(str(out / f"{name}.tfrecord"))]
        assert [f["frame_index"] for f in shard] == sorted(labels)  # one record per annotated frame
        for frame in shard:
            va, expr, aus = labels[frame["frame_index"]]
            np.testing.assert_allclose(frame["va"], va, atol=1e-6)
            assert frame["va_mask"] == (va[0] != VA_MASK)
            assert frame["expression"] == expr and frame["expression_mask"] == (expr != EXPR_MASK)
            assert frame["aus"].tolist() == aus and frame["aus_mask"].tolist() == [a != AU_MASK for a in aus]
            assert frame["face_found"] == (frame["frame_index"] not in MISSING[name])
            assert frame["time"] == pytest.approx((frame["frame_index"] - 1) / 30, abs=1e-4)


def test_sequence_windows_stay_in_one_video_and_match_the_files(job, affwild):
    _, out, _ = job
    seq_len, stride = 8, 5
    windows = _all_windows(out, seq_len=seq_len, stride=stride, batch_size=3, modalities=("faces", "audio"),
                           seed=3)
    per_video = {}
    for w in windows:
        names = {v.decode() for v in w["video"]}
        assert len(names) == 1  # never across videos
        name = names.pop()
        k = w["frame_index"]
        assert (np.diff(k) == 1).all() and (k[0] - 1) % stride == 0
        per_video.setdefault(name, []).append(int(k[0]))
        labels = _read_labels(affwild, name)
        assert w["faces"].shape == (seq_len, 96, 96, 3) and w["audio"].shape == (seq_len, 50, 64, 1)
        for t, frame in enumerate(k):
            va, expr, aus = labels[frame]
            face = frame not in MISSING[name]
            assert w["face_found"][t] == face
            if face:  # the crop of exactly this frame
                assert abs(float(w["faces"][t, ..., 0].mean()) - _colour(frame)) < 3
                np.testing.assert_allclose(w[VA_OUTPUT][t], va, atol=1e-6)
                assert w[EXPR_OUTPUT][t] == expr and w[AU_OUTPUT][t].tolist() == aus
            else:  # kept for timing: zero face, every label masked
                assert not w["faces"][t].any()
                assert (w[VA_OUTPUT][t] == VA_MASK).all() and w[EXPR_OUTPUT][t] == EXPR_MASK
                assert (w[AU_OUTPUT][t] == AU_MASK).all()
    for name in GOOD:
        frames = FRAMES[name.split("_")[0]]
        assert sorted(per_video[name]) == list(range(1, frames - seq_len + 2, stride))


def test_audio_windows_follow_the_source_track(job, affwild):
    _, out, _ = job
    windows = {w["video"][0].decode(): w for w in _all_windows(out, seq_len=10, batch_size=8, shuffle=False,
                                                                 modalities=("faces", "audio"))
               if w["frame_index"][0] == 11}
    signal = media.read_audio(affwild / "videos" / "pair.mp4")
    expected = audio_features.frame_windows(signal, np.arange(10, 20) / 30)
    np.testing.assert_allclose(windows["pair_left"]["audio"], expected, atol=0.1)
    np.testing.assert_array_equal(windows["pair_left"]["audio"], windows["pair_right"]["audio"])  # shared track
    assert (windows["mute"]["audio"] == -100).all()  # no track: silence
    band = int(np.argmax(windows["alpha"]["audio"][0, 25, :, 0]))  # a 440 Hz tone: one loud low band
    assert 5 <= band <= 25


def test_restarted_job_skips_finished_videos_and_gives_identical_shards(job, affwild, tmp_path):
    _, out, _ = job
    copy = tmp_path / "records"
    shutil.copytree(out, copy)
    before = {p.name: p.read_bytes() for p in copy.glob("*.tfrecord")}
    # A crash while writing alpha: its shard and marker are gone, a partial file remains.
    (copy / "alpha.tfrecord").unlink()
    (copy / "alpha.done.json").unlink()
    (copy / ".alpha.tfrecord.123.partial").write_bytes(b"half a shard")
    assert len(_all_windows(copy, seq_len=40, batch_size=8)) == 2  # the partial file is never read
    result = run_preprocess(affwild, copy, progress=None)
    assert result.done == ["alpha"] and sorted(result.skipped) == ["mute", "pair_left", "pair_right"]
    assert list(result.failed) == ["broken"]  # retried, fails again
    assert {p.name: p.read_bytes() for p in copy.glob("*.tfrecord")} == before
    assert not list(copy.glob(".*"))  # the crashed run's partial file is cleaned up
    assert len(_all_windows(copy, seq_len=40, batch_size=8)) == 3
    with pytest.raises(InvalidArgumentError, match="other settings"):
        run_preprocess(affwild, copy, size=64, progress=None)



def test_restart_redoes_the_entries_whose_sources_changed(job, affwild, tmp_path):
    _, out, _ = job
    copy = tmp_path / "records"
    shutil.copytree(out, copy)
    # New labels for mute, and pair.mp4 written again (both its entries read it).
    va_file = affwild / "annotations" / "VA_Estimation_Challenge" / "Train_Set" / "mute.txt"
    original = va_file.read_text()
    video = affwild / "videos" / "pair.mp4"
    stat = video.stat()
    try:
        va_file.write_text(original.replace(original.splitlines()[1], "0.5,-0.5", 1))
        os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        result = run_preprocess(affwild, copy, progress=None)
    finally:
        va_file.write_text(original)
        os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert sorted(result.done) == ["mute", "pair_left", "pair_right"] and result.skipped == ["alpha"]
    first = records.decode_frame(next(iter(tf.data.TFRecordDataset(str(copy / "mute.tfrecord")))).numpy())
    assert first["frame_index"] == 1 and first["va"].tolist() == [0.5, -0.5]
    # A cache made with other settings is emptied and made again when the caller allows it.
    result = run_preprocess(affwild, copy, size=64, replace_other_settings=True, progress=None)
    assert sorted(result.done) == ["alpha", "mute", "pair_left", "pair_right"] and not result.skipped
    assert read_manifest(copy)["config"]["size"] == 64

@pytest.mark.slow
def test_process_pool_gives_the_same_shards(job, affwild, tmp_path):
    _, out, _ = job
    result = run_preprocess(affwild, tmp_path, workers=2, progress=None)
    assert sorted(result.done) == list(GOOD) and list(result.failed) == ["broken"]
    for name in GOOD:
        assert filecmp.cmp(out / f"{name}.tfrecord", tmp_path / f"{name}.tfrecord", shallow=False)


def test_beam_pipeline_gives_the_same_records(job, affwild, tmp_path):
    pytest.importorskip("apache_beam")
    from affectkeras.data.beam import run_beam

    _, out, _ = job
    result = run_beam(affwild, tmp_path, progress=None)
    assert sorted(result.done) == list(GOOD) and list(result.failed) == ["broken"]
    for name in GOOD:
        assert filecmp.cmp(out / f"{name}.tfrecord", tmp_path / f"{name}.tfrecord", shallow=False)
    assert read_manifest(tmp_path)["totals"] == read_manifest(out)["totals"]


# ---------------------------------------------------------------------------- command line


def _cli(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse: --help, a wrong argument
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_help_documents_every_option(capsys):
    code, text, _ = _cli(["preprocess", "--help"], capsys)
    assert code == 0
    for option in ("ROOT", "--out", "--workers", "--split", "--tasks", "--size", "--faces", "--no-audio",
                   "--audio-dtype", "--jpeg-quality", "--annotations", "--videos", "--crops", "--only",
                   "--overwrite", "--quiet"):
        assert option in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tasks", "va,smile"], "--tasks"),
        (["--workers", "0"], "--workers"),
        (["--split", "test"], "--split"),
    ],
)
def test_cli_wrong_argument_is_one_line_and_exit_code_2(argv, message, capsys, tmp_path):
    code, _, err = _cli(["preprocess", str(tmp_path), "--out", str(tmp_path / "o"), *argv], capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_missing_dataset_is_one_line_and_exit_code_2(capsys, tmp_path):
    code, _, err = _cli(["preprocess", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "nowhere" in err and err.count("\n") == 1


def test_cli_runs_a_job_and_copies_crops_of_the_stored_size(affwild, capsys, tmp_path):
    code, _, err = _cli(["preprocess", str(affwild), "--out", str(tmp_path), "--only", "pair", "--no-audio",
                         "--size", "112", "--tasks", "va", "--quiet"], capsys)
    assert code == 0 and "2 done, 0 failed" in err and "[1/2]" not in err
    frame = records.decode_frame(next(iter(tf.data.TFRecordDataset(str(tmp_path / "pair_left.tfrecord")))).numpy())
    assert frame["face_jpeg"] == (affwild / "cropped_aligned" / "pair_left" / "00001.jpg").read_bytes()
    assert frame["audio"] is None and frame["face_size"] == 112 and not frame["expression_mask"]
    with pytest.raises(InvalidArgumentError, match="audio"):
        make_dataset(tmp_path, modalities=("faces", "audio"))


# ---------------------------------------------------------------------------- make_dataset


def test_frame_mode_gives_labelled_faces_with_the_arcface_labels_input(job):
    _, out, _ = job
    frames = _all_windows(out, mode="frame", batch_size=16, face_size=112, with_expression_labels_input=True,
                          skip_unlabeled=True, tasks=("expr", "au"))
    assert all(f["face_found"] for f in frames) and frames[0]["faces"].shape == (112, 112, 3)
    assert all(f["expression_labels"] == f[EXPR_OUTPUT] for f in frames)
    assert all(f[EXPR_OUTPUT] != EXPR_MASK or (f[AU_OUTPUT] != AU_MASK).any() for f in frames)
    assert VA_OUTPUT not in frames[0]
    assert {f["video"].decode() for f in frames} == {"alpha", "mute", "pair_left"}  # pair_right: no expr/AU


def test_pad_remainder_covers_every_frame_once(job):
    _, out, _ = job
    windows = _all_windows(out, seq_len=16, batch_size=4, pad_remainder=True, shuffle=False)
    seen = [(w["video"][t].decode(), int(w["frame_index"][t])) for w in windows for t in range(16)
            if w["frame_index"][t] > 0]
    assert len(seen) == len(set(seen)) == 40 + 40 + 40 + 30
    padded = [w for w in windows if (w["frame_index"] == 0).any()]
    assert all((w[VA_OUTPUT][w["frame_index"] == 0] == VA_MASK).all() for w in padded)
    with pytest.raises(InvalidArgumentError, match="pad_remainder"):
        make_dataset(out, seq_len=16, stride=8, pad_remainder=True)


def test_seeded_deterministic_order_repeats(job):
    _, out, _ = job

    def order(seed):
        ds = make_dataset(out, seq_len=8, batch_size=2, seed=seed, deterministic=True, include_metadata=True)
        return [(v[0], int(k[0])) for x, _ in ds for v, k in zip(x["video"].numpy(), x["frame_index"].numpy())]

    first = order(5)
    assert first == order(5) and first != order(6) and sorted(first) == sorted(order(6))


@pytest.mark.parametrize(
    "settings",
    [dict(seq_len=8, batch_size=3), dict(seq_len=8, stride=4, batch_size=2, drop_remainder=True, tasks=("expr",)),
     dict(seq_len=16, batch_size=4, pad_remainder=True, skip_unlabeled=False),
     dict(mode="frame", batch_size=32, tasks=("expr", "au"))],
    ids=["sequence", "overlap-expr-drop", "padded-all", "frames"],
)
def test_counted_dataset_declares_the_batches_it_yields(job, settings):
    _, out, _ = job
    counted = make_dataset(out, count=True, shuffle=False, **settings)
    yielded = sum(1 for _ in counted)  # assert_cardinality would fail this loop on a wrong count
    assert int(counted.cardinality()) == yielded > 0
    assert yielded == sum(1 for _ in make_dataset(out, shuffle=False, **settings))
    with pytest.raises(InvalidArgumentError, match="count"):
        make_dataset(out, count=True, repeat=True)


def test_make_dataset_checks_its_arguments(job, tmp_path):
    _, out, _ = job
    with pytest.raises(FileNotFoundError):
        make_dataset(tmp_path / "none")
    with pytest.raises(InvalidArgumentError, match="mode"):
        make_dataset(out, mode="clip")
    with pytest.raises(InvalidArgumentError, match="modalities"):
        make_dataset(out, modalities=("faces", "video"))
    with pytest.raises(InvalidArgumentError, match="seq_len"):
        make_dataset(out, seq_len=0)


@pytest.mark.slow
def test_a_batch_fits_the_audio_visual_network(job):
    from affectkeras.models import build_av_mt_vgg_rnn
    from affectkeras.training import compile_preset

    _, out, _ = job
    seq_len = 8
    ds = make_dataset(out, seq_len=seq_len, batch_size=2, modalities=("faces", "audio"), repeat=True, seed=0)
    model = compile_preset(build_av_mt_vgg_rnn(width=0.05, rnn_units=8, sequence_length=seq_len))
    history = model.fit(ds, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


# ---------------------------------------------------------------------------- synthetic Aff-Wild2


def test_synthetic_affwild2_end_to_end(tmp_path):
    synthetic = pytest.importorskip("affectkeras.testing")
    dataset = synthetic.write_dataset(tmp_path / "synth", num_videos=3, frames=60, workers=1)
    result = run_preprocess(dataset.root, tmp_path / "records", split="train", progress=None)
    assert sorted(result.done) == sorted(dataset.train) and not result.failed
    windows = _all_windows(tmp_path / "records", seq_len=20, batch_size=4, modalities=("faces", "audio"))
    assert len(windows) == 3 * len(dataset.train)
    files = dataset.annotation_files
    by_frame = {}
    for w in windows:
        (name,) = {v.decode() for v in w["video"]}
        lines = {task: files[task][name].read_text().split("\n")[1:] for task in ("VA", "EXPR", "AU")
                 if name in files[task]}
        for t, k in enumerate(w["frame_index"]):
            by_frame[name, int(k)] = w["audio"][t]
            if not w["face_found"][t]:
                assert k in dataset.missing_frames[name]
                continue
            if "VA" in lines:
                np.testing.assert_allclose(w[VA_OUTPUT][t], [float(v) for v in lines["VA"][k - 1].split(",")],
                                           atol=1e-6)
            if "EXPR" in lines:
                assert w[EXPR_OUTPUT][t] == int(lines["EXPR"][k - 1])
            if "AU" in lines:
                assert w[AU_OUTPUT][t].tolist() == [int(v) for v in lines["AU"][k - 1].split(",")]
    left, right = sorted(n for n in dataset.train if n.endswith(("_left", "_right")))
    np.testing.assert_array_equal(by_frame[left, 30], by_frame[right, 30])  # one audio track for both
    # Detection instead of the crops finds the drawn faces.
    detected = run_preprocess(dataset.root, tmp_path / "detected", faces="detect", only=[left], audio=False,
                              progress=None)
    assert detected.manifest["videos"][left]["face_source"] == "detected"
    assert detected.manifest["videos"][left]["faces"] >= 50
