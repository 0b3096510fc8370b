"""The video predictor: one row per source frame, every model format, bad input, atomic files.

Tiny untrained networks (width 0.05) on the sample video `assets/astronaut.mp4` (a real
face in every frame, with sound), on the shared 23.976-fps clip, and on small videos made
here with ffmpeg's `color` / `sine` sources (no face, no sound track).
"""

import csv
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import affectkeras
from affectkeras import cli, media
from affectkeras.constants import AUS_8, AUS_12, EXPRESSIONS_7, EXPRESSIONS_8
from affectkeras.errors import AffectKerasError, DataFormatError, InvalidArgumentError, MediaError
from affectkeras.inference import (
    FRAME_COLUMNS,
    PredictionTable,
    Predictor,
    as_predictor,
    load_predictor,
    predict_video,
    write_predictions,
)
from affectkeras.media._ffmpeg import ffmpeg_exe
from affectkeras.weights.presets import PRESETS
from tests.conftest import load_recipe

REPO = pathlib.Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "assets" / "astronaut.mp4"
TINY_AV = dict(width=0.05, rnn_units=8, rnn_layers=1, sequence_length=16)


def _ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def av_model():
    return affectkeras.build_av_mt_vgg_rnn(**TINY_AV)


@pytest.fixture(scope="module")
def av_model_file(av_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "av.keras"
    av_model.save(path)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Small videos made once: a 1.5 s cut of the sample, the same without sound, no face."""
    folder = tmp_path_factory.mktemp("videos")
    short = folder / "short.mp4"
    _ffmpeg("-i", ASTRONAUT, "-t", 1.5, "-c:v", "libx264", "-c:a", "aac", short)
    silent = folder / "silent.mp4"
    _ffmpeg("-i", short, "-c:v", "copy", "-an", silent)
    # 25 fps (not 30): the rows follow the source frames, not the 30-fps grid.
    gray = folder / "gray.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=160x120:r=25:d=1", "-f", "lavfi", "-i",
            "sine=frequency=220:sample_rate=16000:duration=1", "-c:v", "libx264", "-c:a", "aac",
            "-shortest", gray)
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(ASTRONAUT.read_bytes()[: ASTRONAUT.stat().st_size // 2])
    return {"short": short, "silent": silent, "gray": gray, "empty": empty, "truncated": truncated}


# ------------------------------------------------------------------------- the sample


def test_sample_video_shows_a_face_in_nearly_every_frame():
    from affectkeras.faces import extract_faces

    info = media.probe(ASTRONAUT)
    assert info.has_audio and info.frame_count == 150 and ASTRONAUT.stat().st_size < 500_000
    records = extract_faces(ASTRONAUT, size=None)
    assert np.mean([record.box is not None for record in records]) >= 0.95


# --------------------------------------------------------------------------- the table


@pytest.mark.slow
def test_one_row_per_source_frame_of_a_23_976_fps_video(shared_data, av_model, tmp_path):
    video = shared_data / "video" / "WolfgangLanger_Pexels.mp4"
    calls = []
    table = predict_video(video, av_model, progress=lambda done, total: calls.append((done, total)))
    source_frames = media.probe(video).frame_count  # packets, counted without decoding
    assert source_frames == 472
    assert len(table) == source_frames
    np.testing.assert_array_equal(table["frame_index"], np.arange(source_frames))
    np.testing.assert_allclose(table["time"], np.arange(source_frames) * 1001 / 24000, atol=1e-6)
    assert table["face_found"].mean() >= 0.95
    found = table["face_found"] == 1
    assert np.all(np.isfinite(table["valence"][found])) and np.all(np.isnan(table["valence"][~found]))
    assert calls[0] == (0, 591) and calls[-1] == (591, 591)  # 30-fps frames
    files = write_predictions(table, tmp_path, video.stem)
    header, rows = _read_csv(files.csv)
    assert len(rows) == source_frames
    assert [int(row[0]) for row in rows] == list(range(source_frames))


def test_the_timeline_comes_from_the_packets_and_a_disagreeing_file_from_its_decoded_frames(videos, av_model,
                                                                                             monkeypatch):
    """The faces' decode is the only one; where the packets announce other frames than the
    decoder gives, the video is predicted again on its decoded timeline, with the same table."""
    reference = predict_video(videos["short"], av_model)
    read_timeline, calls, packets_off_by_one = media.read_timeline, [], False

    def spy(path, *, decode=True, **kwargs):
        calls.append(decode)
        timeline = read_timeline(path, decode=decode, **kwargs)
        if decode or not packets_off_by_one:
            return timeline
        return media.FrameTimeline.constant_rate(len(timeline.source_times) - 1, 30)

    monkeypatch.setattr(media, "read_timeline", spy)
    predict_video(videos["short"], av_model)
    assert calls == [False]
    calls.clear()
    packets_off_by_one = True
    table = predict_video(videos["short"], av_model)
    assert calls == [False, True]
    for column in ("frame_index", "time", "face_found", "valence"):
        np.testing.assert_allclose(table[column], reference[column], atol=1e-6)


def test_yield_cores_lowers_the_network_threads_once_the_network_has_loaded(videos, av_model_file, monkeypatch):
    """Asked for (as the command asks), after the network loads and while the faces are
    extracted; never by default (it cannot be undone)."""
    from affectkeras import inference
    from affectkeras.faces import background

    events = []
    monkeypatch.setattr(background, "yield_cores_to_faces", lambda: events.append("yield"))
    load = inference.as_predictor
    monkeypatch.setattr(inference, "as_predictor", lambda *a, **k: events.append("load") or load(*a, **k))
    predict_video(videos["short"], av_model_file)
    assert events == ["load"]
    events.clear()
    table = predict_video(videos["short"], av_model_file, yield_cores=True)
    assert events == ["load", "yield"] and len(table) == 45


def test_columns_follow_the_outputs_of_the_network(videos, av_model):
    table = predict_video(videos["short"], av_model)
    assert table.columns == FRAME_COLUMNS + ("valence", "arousal") + EXPRESSIONS_8 + AUS_12
    assert table.columns[:3] == ("frame_index", "time", "face_found")
    assert len(table) == 45 and table["face_found"].all()
    probabilities = np.stack([table[name] for name in EXPRESSIONS_8], axis=1)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    aus = np.stack([table[name] for name in AUS_12], axis=1)
    assert np.all((aus >= 0) & (aus <= 1))
    assert np.all(table["x1"] > table["x0"]) and np.all(table["track_id"] == 0)


def test_arcface_network_with_7_expressions_and_8_aus(videos):
    model = affectkeras.build_mt_arcvgg(width=0.05, num_expressions=7, num_aus=8)
    predictor = Predictor.from_model(model)  # drops the training-only labels input
    assert predictor.window is None and predictor.audio_shape is None
    table = predict_video(videos["short"], predictor, batch_size=7)  # 45 frames: a padded last batch
    assert table.prediction_columns == ("valence", "arousal") + EXPRESSIONS_7 + AUS_8
    assert np.all(np.isfinite(table["Neutral"]))


def test_sequence_network_without_time_length_uses_80_frame_windows():
    model = affectkeras.build_cnn_rnn(width=0.05, rnn_units=8, rnn_layers=1, sequence_length=None,
                                      tasks=("va",))
    predictor = Predictor.from_model(model)
    assert predictor.window == 80 and predictor.columns == ("valence", "arousal")


def test_not_an_affectkeras_network_is_refused():
    import keras

    inputs = keras.Input((8,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, name="valence_arousal")(inputs))
    with pytest.raises(InvalidArgumentError, match="not an affectkeras network"):
        Predictor.from_model(model)


# ---------------------------------------------------------------------- model formats


@pytest.mark.slow
def test_saved_model_and_keras_file_predict_the_same(av_model, av_model_file, tmp_path):
    from affectkeras.export import export_saved_model

    export_saved_model(av_model, tmp_path / "export" / "saved_model")
    saved = load_predictor(tmp_path / "export")  # a deployment folder holding saved_model/
    assert load_predictor(tmp_path / "export" / "saved_model").outputs == saved.outputs
    keras_file = load_predictor(av_model_file)
    assert (saved.face_size, saved.window, saved.audio_shape, saved.outputs) == (
        keras_file.face_size, keras_file.window, keras_file.audio_shape, keras_file.outputs
    )
    reference = predict_video(ASTRONAUT, keras_file)
    table = predict_video(ASTRONAUT, saved)
    assert len(reference) == 150 and reference["face_found"].mean() >= 0.95
    assert table.columns == reference.columns
    for column in reference.columns:
        np.testing.assert_allclose(table[column], reference[column], atol=1e-5, err_msg=column)


def test_run_folder_loads_its_model(av_model, av_model_file, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "model.keras").write_bytes(av_model_file.read_bytes())
    predictor = load_predictor(run_dir)
    assert predictor.window == 16 and predictor.audio_shape == (50, 64, 1) and predictor.face_size == 96
    faces = np.random.default_rng(0).integers(0, 256, (1, 16, 96, 96, 3), dtype=np.uint8)
    audio = np.random.default_rng(1).normal(size=(1, 16, 50, 64, 1)).astype("float32")
    got = predictor.predict_batch(faces, audio)
    expected = Predictor.from_model(av_model).predict_batch(faces, audio)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-6)


# ------------------------------------------------------------------------- bad input


def test_video_without_a_face_gives_empty_rows(videos, av_model, tmp_path):
    table = predict_video(videos["gray"], av_model)
    assert len(table) == 25 and not table["face_found"].any()
    for column in ("x0", "track_id", "valence", "Neutral", "AU1"):
        assert np.all(np.isnan(table[column]))
    header, rows = _read_csv(write_predictions(table, tmp_path, "gray").csv)
    assert all(row[2] == "0" and set(row[3:]) == {""} for row in rows)


def test_video_without_sound_track_works_with_an_audio_visual_network(videos, av_model):
    with pytest.warns(UserWarning, match="no audio stream"):
        table = predict_video(videos["silent"], av_model)
    assert len(table) == 45 and table["face_found"].all()
    assert np.all(np.isfinite(table["arousal"]))


@pytest.mark.parametrize("name, message", [("empty", "empty"), ("truncated", "truncated")])
def test_broken_video_raises_media_error(videos, av_model, tmp_path, capsys, name, message):
    with pytest.raises(MediaError, match=message):
        predict_video(videos[name], av_model)
    code = cli.main(["predict", str(videos[name]), "--model", str(tmp_path / "unused.keras"),
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("affectkeras predict: error:") and err.count("\n") == 1
    assert str(videos[name]) in err and not (tmp_path / "out").exists()


def _wrong_models(folder):
    text = folder / "notes.keras"
    text.write_text("not a model\n")
    empty = folder / "empty_folder"
    empty.mkdir()
    h5 = folder / "random.h5"
    import h5py

    with h5py.File(h5, "w") as file:
        file["x"] = np.arange(3)
    return [text, empty, h5, folder / "missing.keras"]


def test_wrong_model_file_raises_a_one_line_library_error(videos, tmp_path, capsys):
    text, empty, h5, missing = _wrong_models(tmp_path)
    for path in (text, empty, h5):
        with pytest.raises(AffectKerasError) as info:
            load_predictor(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataFormatError, match="run folder"):
        load_predictor(empty)
    with pytest.raises(FileNotFoundError):
        load_predictor(missing)
    for path in (text, empty, h5, missing):
        code = cli.main(["predict", str(videos["short"]), "--model", str(path), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and str(path) in err, err


def test_cli_rejects_wrong_arguments_with_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["predict", "clip.mp4"])  # no --out (--model defaults to the shipped ferplus network)
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["predict", "clip.mp4", "--model", "m.keras", "--out", "x", "--batch-size", "0"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:  # it would change nothing: refused rather than ignored
        cli.main(["predict", "clip.mp4", "--model", "m.keras", "--out", "x", "--single-view"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "--out" in err and "--batch-size" in err
    assert "--single-view" in err.splitlines()[-1] and "m.keras" in err.splitlines()[-1]


def test_predict_without_model_uses_the_shipped_ferplus_network(shared_data, tmp_path, capsys):
    # A woman goes from crying to laughing: the shipped expression model must see it.
    video = shared_data / "video" / "WolfgangLanger_Pexels.mp4"
    assert cli.main(["predict", str(video), "--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "WolfgangLanger_Pexels_expressions.png") in printed
    with open(tmp_path / "WolfgangLanger_Pexels.csv") as file:
        rows = [row for row in csv.DictReader(file) if row["face_found"] == "1"]
    assert set(EXPRESSIONS_8) <= set(rows[0]) and "valence" not in rows[0]
    time = np.array([float(row["time"]) for row in rows])
    first, last = time <= 5.0, time >= time.max() - 5.0
    assert first.sum() > 60 and last.sum() > 60
    sadness = np.array([float(row["Sadness"]) for row in rows])
    happiness = np.array([float(row["Happiness"]) for row in rows])
    assert sadness[first].mean() > sadness[last].mean()
    assert happiness[last].mean() > happiness[first].mean()


def test_bad_arguments_name_themselves(videos, av_model):
    with pytest.raises(InvalidArgumentError, match="Received: batch_size=0"):
        predict_video(videos["short"], av_model, batch_size=0)
    with pytest.raises(InvalidArgumentError, match="Received: model=42"):
        predict_video(videos["short"], 42)


# ---------------------------------------------------------------------------- writing


def _table(rows=5):
    data = {
        "frame_index": np.arange(rows),
        "time": np.arange(rows) / 25,
        "face_found": np.array([1, 1, 0, 1, 1][:rows]),
        "x0": np.full(rows, 1.0), "y0": np.full(rows, 2.0), "x1": np.full(rows, 3.0),
        "y1": np.full(rows, 4.0), "track_id": np.zeros(rows),
        "valence": np.linspace(-0.5, 0.5, rows), "arousal": np.linspace(0.2, -0.2, rows),
    }
    for name in ("x0", "y0", "x1", "y1", "track_id", "valence", "arousal"):
        data[name][data["face_found"] == 0] = np.nan
    return PredictionTable("clip.mp4", FRAME_COLUMNS + ("valence", "arousal"), data)


def test_write_predictions_csv_and_plots(tmp_path):
    files = write_predictions(_table(), tmp_path / "out", "clip")
    assert files.csv.name == "clip.csv" and files.va_plot.name == "clip_va.png"
    for path in (files.va_plot, files.circumplex_plot):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    header, rows = _read_csv(files.csv)
    assert header == list(FRAME_COLUMNS) + ["valence", "arousal"]
    assert rows[0][:3] == ["0", "0.000000", "1"] and rows[2] == ["2", "0.080000", "0"] + [""] * 7
    assert sorted(p.name for p in files.csv.parent.iterdir()) == [
        "clip.csv", "clip_circumplex.png", "clip_va.png"
    ]
    priced = write_predictions(_table(), tmp_path / "priced", "price_$5_vs_$10")  # not Matplotlib math text
    assert priced.va_plot.name == "price_$5_vs_$10_va.png" and priced.va_plot.read_bytes()[:4] == b"\x89PNG"
    # The same stem again from an expression-only network: no valence/arousal plots of the first one remain.
    expressions = PredictionTable("clip.mp4", FRAME_COLUMNS + EXPRESSIONS_8, {
        **{name: _table().data[name] for name in FRAME_COLUMNS}, **{name: np.full(5, 1 / 8) for name in EXPRESSIONS_8}
    })
    again = write_predictions(expressions, tmp_path / "out", "clip")
    assert again.va_plot is None and again.circumplex_plot is None
    assert sorted(p.name for p in files.csv.parent.iterdir()) == ["clip.csv", "clip_expressions.png"]


def test_plots_of_several_faces_draw_each_face_with_its_gaps(tmp_path):
    """--faces all: one line per person, NaN where that person is not on screen."""
    from affectkeras.inference import _plot_expressions, _plot_va

    # Frames 0-3; person 0 on all of them, person 4 on frames 1-2 (two rows there).
    frames, tracks = np.array([0, 1, 1, 2, 2, 3]), np.array([0.0, 0, 4, 0, 4, 0])
    data = {"frame_index": frames, "time": frames / 30, "face_found": np.ones(6, np.int64), "track_id": tracks,
            "x0": np.arange(6.0), "y0": np.zeros(6), "x1": np.ones(6), "y1": np.ones(6),
            "valence": np.linspace(-0.5, 0.5, 6), "arousal": np.linspace(0.5, -0.5, 6)}
    data.update({name: np.full(6, 1 / 8) for name in EXPRESSIONS_8})
    table = PredictionTable("group.mp4", FRAME_COLUMNS + ("valence", "arousal") + EXPRESSIONS_8, data)
    valence, arousal = _plot_va(table, "group").axes
    lines = {line.get_label(): np.asarray(line.get_ydata(), float) for line in valence.lines if "face" in line.get_label()}
    np.testing.assert_allclose(lines["face 0"], data["valence"][[0, 1, 3, 5]])
    np.testing.assert_allclose(lines["face 4"], [np.nan, data["valence"][2], data["valence"][4], np.nan])
    assert len(_plot_expressions(table, "group", EXPRESSIONS_8).axes) == 2  # a panel per face
    files = write_predictions(table, tmp_path, "group")
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in files[1:])
    # One face per frame: the single-face plots, as before.
    assert len(_plot_va(_table(), "clip").axes) == 1


def test_interrupted_write_leaves_no_csv(tmp_path, monkeypatch):
    from affectkeras import inference

    original = inference._format_rows

    def failing_rows(table):
        for number, line in enumerate(original(table)):
            if number == 3:
                raise OSError("disk full")
            yield line

    monkeypatch.setattr(inference, "_format_rows", failing_rows)
    with pytest.raises(OSError, match="disk full"):
        write_predictions(_table(), tmp_path, "clip")
    assert list(tmp_path.iterdir()) == []  # neither clip.csv nor a staging file
    monkeypatch.undo()
    write_predictions(_table(), tmp_path, "clip")
    finished = (tmp_path / "clip.csv").read_text()
    monkeypatch.setattr(inference, "_format_rows", failing_rows)
    with pytest.raises(OSError):
        write_predictions(_table(), tmp_path, "clip")
    assert (tmp_path / "clip.csv").read_text() == finished  # the finished file stays whole
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------- recipe and command


def test_recipe_end_to_end(videos, av_model_file, tmp_path, capsys):
    recipe = load_recipe("predict")
    files = recipe.main([str(videos["short"]), "--model", str(av_model_file), "--out", str(tmp_path),
                         "--batch-size", "2", "--quiet"])
    out = capsys.readouterr().out
    assert files.csv == tmp_path / "short.csv" and str(files.csv) in out
    header, rows = _read_csv(files.csv)
    assert header[:5] == ["frame_index", "time", "face_found", "x0", "y0"] and len(rows) == 45
    assert files.va_plot.is_file() and files.circumplex_plot.is_file()


def test_command_writes_csv_and_plots(videos, av_model_file, tmp_path, capsys):
    code = cli.main(["predict", str(videos["short"]), "--model", str(av_model_file),
                     "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "short.csv", "short_circumplex.png", "short_expressions.png", "short_va.png"
    ]
    assert "short.csv" in captured.out and "45/45 frames" in captured.err  # progress line


def test_command_help_loads_no_framework():
    code = (
        "import sys; from affectkeras import cli\n"
        "try:\n    cli.main(['predict', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    for option in ("--model", "--out", "--batch-size", "--quiet", "INPUT [INPUT ...]"):
        assert option in result.stdout


# ------------------------------------------------------- whole tracks, every face, images


def _track_reference(model, records, audio=None):
    """The network built for any length, run once on one track's crops (and audio windows)."""
    import keras

    from affectkeras.models.surgery import split_sequence_network

    per_frame, temporal = split_sequence_network(model)
    inputs = {"faces": np.stack([r.crop for r in records])[None]}
    if audio is not None:
        inputs["audio"] = audio[[r.frame_index for r in records]][None]
    return keras.ops.convert_to_numpy(temporal(per_frame(inputs))["valence_arousal"])[0]


def test_a_sequence_network_predicts_a_whole_track_without_seams():
    """One pass over the whole track: no restart at multiples of the 16-frame window."""
    from affectkeras.faces import iter_faces
    from affectkeras.inference import _audio_windows

    model = affectkeras.build_av_mt_vgg_rnn(**TINY_AV, tasks=("va",))
    table = predict_video(ASTRONAUT, model)
    records = [r for r in iter_faces(ASTRONAUT, size=96) if r.crop is not None]
    tracks = {r.track_id for r in records}
    track = [r for r in records if r.track_id == records[0].track_id]
    assert len(track) >= 100  # the face is tracked through most of the clip
    audio = _audio_windows(ASTRONAUT, (50, 64, 1), media.read_timeline(ASTRONAUT).num_output_frames)
    expected = _track_reference(model, track, audio)
    rows = np.array([r.frame_index for r in track])  # 30 fps: output frames are source frames
    got = np.stack([table["valence"][rows], table["arousal"][rows]], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The windows of 16 frames (the network's time length) leave no mark.
    steps = np.abs(np.diff(got[:, 0]))
    at_window_starts = steps[np.arange(15, len(steps), 16)]
    assert np.median(at_window_starts) < 3 * np.median(steps), (len(tracks), at_window_starts)


@pytest.mark.slow
def test_every_face_of_the_audience_with_its_own_continuous_track(shared_data, tmp_path):
    """--faces all: 3-4 audience faces per frame (CNN detector), each track predicted whole."""
    from affectkeras.faces import iter_faces

    clip = tmp_path / "audience.mp4"
    _ffmpeg("-ss", 8.0, "-i", shared_data / "video" / "short_hamilton_clip.mp4", "-t", 0.5, "-an",
            "-c:v", "libx264", "-preset", "ultrafast", clip)
    model = affectkeras.build_cnn_rnn(width=0.05, rnn_units=8, rnn_layers=1, sequence_length=16)
    table = predict_video(clip, model, faces="all", detector="cnn")
    frames = np.asarray(table["frame_index"])
    per_frame = np.bincount(frames[np.asarray(table["face_found"]) == 1])
    assert len(per_frame) == media.probe(clip).frame_count and per_frame.min() >= 3
    tracks = np.asarray(table["track_id"])
    for track in np.unique(tracks[np.isfinite(tracks)]):
        seen = np.unique(frames[tracks == track])
        assert np.array_equal(seen, np.arange(seen[0], seen[-1] + 1)), track  # no holes
        # Its rows come left to right within a frame, and its values are the whole track's.
    records = [r for r in iter_faces(clip, size=96, subject="all", detector="cnn") if r.crop is not None]
    longest = max({r.track_id for r in records}, key=lambda t: sum(r.track_id == t for r in records))
    track = [r for r in records if r.track_id == longest]
    rows = [np.flatnonzero((frames == r.source_index) & (tracks == track[0].person_id))[0] for r in track]
    np.testing.assert_allclose(np.asarray(table["valence"])[rows], _track_reference(model, track)[:, 0], atol=1e-5)


def test_a_person_keeps_one_track_id_across_a_lost_face(shared_data, tmp_path):
    """Black frames hide the face: the tracker starts a new track after them, the CSV keeps
    the person's id (linked by face descriptor), and the RNN starts again on the new track."""
    from affectkeras.faces import FaceStream

    clip = tmp_path / "gap.mp4"
    black = "drawbox=enable='between(n,14,17)':x=0:y=0:w=iw:h=ih:color=black:t=fill"
    _ffmpeg("-t", 1.5, "-i", shared_data / "video" / "WolfgangLanger_Pexels.mp4", "-an", "-vf", black,
            "-c:v", "libx264", "-preset", "ultrafast", clip)
    stream = FaceStream(clip, size=96)
    records = [r for r in stream if r.crop is not None]
    assert len({r.track_id for r in records}) == 2 and len(set(stream.persons.values())) == 1
    model = affectkeras.build_cnn_rnn(width=0.05, rnn_units=8, rnn_layers=1, sequence_length=16)
    for faces in ("main", "all"):
        table = predict_video(clip, model, faces=faces)
        found = table["face_found"] == 1
        assert set(table["track_id"][found].tolist()) == {0.0}, faces
    second = [r for r in records if r.track_id == records[-1].track_id]
    # 24 fps at 30: a source frame shown twice has the row of its first 30-fps frame.
    shown = [k for k, r in enumerate(second) if k == 0 or r.source_index != second[k - 1].source_index]
    rows = [np.flatnonzero(table["frame_index"] == second[k].source_index)[0] for k in shown]
    np.testing.assert_allclose(table["valence"][rows], _track_reference(model, second)[shown, 0], atol=1e-5)


def test_a_source_frame_shown_twice_goes_through_the_visual_stream_once(shared_data, tmp_path):
    """24 fps at 30: each crop goes through the visual stream once, beside each 30-fps tick's
    own audio window; the table equals the A/V network run over the whole track."""
    from affectkeras.faces import FaceStream
    from affectkeras.inference import _audio_windows, distinct_crops

    clip = tmp_path / "speech.mp4"
    _ffmpeg("-t", 1.5, "-i", shared_data / "video" / "WolfgangLanger_Pexels.mp4", "-c:v", "libx264", "-preset",
            "ultrafast", "-c:a", "aac", clip)
    model = affectkeras.build_av_mt_vgg_rnn(**TINY_AV, tasks=("va",))
    track = [r for r in FaceStream(clip, size=96) if r.crop is not None]
    assert len({r.track_id for r in track}) == 1
    audio = _audio_windows(clip, (50, 64, 1), media.read_timeline(clip).num_output_frames)
    crops, rows = distinct_crops(track)
    assert len(crops) == len({r.source_index for r in track}) < len(track)
    predictor = as_predictor(model)
    ticks = audio[[r.frame_index for r in track]]
    np.testing.assert_allclose(predictor.frame_features(crops, ticks, face_rows=rows),
                               predictor.frame_features(np.stack([r.crop for r in track]), ticks), atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="face_rows"):
        predictor.frame_features(crops, ticks, face_rows=[len(crops)] * len(ticks))
    table = predict_video(clip, model)
    shown = [k for k, r in enumerate(track) if k == 0 or r.source_index != track[k - 1].source_index]
    got = table["valence"][[np.flatnonzero(table["frame_index"] == track[k].source_index)[0] for k in shown]]
    np.testing.assert_allclose(got, _track_reference(model, track, audio)[shown, 0], atol=1e-5)
    # bf16 per frame (the temporal part stays float32) moves the values little.
    fast = predict_video(clip, model, precision="mixed_bfloat16")
    assert np.nanmax(np.abs(fast["valence"] - table["valence"])) < 0.01  # measured: 0.00025


def test_an_image_gives_one_row_per_face(shared_data, tmp_path):
    """Two faces side by side: two rows, left to right, frame_index 0."""
    from PIL import Image

    frame = next(iter(media.iter_frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", fps=30))).image
    pair = tmp_path / "pair.png"
    Image.fromarray(np.concatenate([frame, frame], axis=1)).save(pair)
    from affectkeras.inference import predict_image

    table = predict_image(pair, "ferplus")
    assert len(table) == 2 and table["face_found"].tolist() == [1, 1] and table["frame_index"].tolist() == [0, 0]
    assert table["x0"][0] < 640 <= table["x0"][1] and len(set(table["track_id"].tolist())) == 2
    probabilities = np.stack([table[name] for name in EXPRESSIONS_8], axis=1)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # The same face twice: both rows say the same.
    assert probabilities[0].argmax() == probabilities[1].argmax()
    assert np.abs(probabilities[0] - probabilities[1]).max() < 0.1



def test_single_view_runs_the_shipped_network_once_per_face(shared_data, tmp_path, capsys):
    """`--single-view`: the ferplus network on each face as it is, not averaged over its four views."""
    from PIL import Image

    from affectkeras.inference import Predictor, predict_image
    from affectkeras.weights import load_preset_model

    frame = next(iter(media.iter_frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", fps=30))).image
    image = tmp_path / "face.png"
    Image.fromarray(frame).save(image)
    probabilities = {}
    for option in ([], ["--single-view"]):
        out = tmp_path / (option[0][2:] if option else "views")
        assert cli.main(["predict", str(image), "--out", str(out), "--quiet", "--precision", "float32", *option]) == 0
        with open(out / "face.csv") as file:
            row = next(csv.DictReader(file))
        probabilities[tuple(option)] = np.array([float(row[name]) for name in EXPRESSIONS_8])
    capsys.readouterr()
    single = predict_image(image, Predictor.from_model(load_preset_model("ferplus"), precision="float32"))
    np.testing.assert_allclose(probabilities[("--single-view",)], [single[name][0] for name in EXPRESSIONS_8],
                               atol=1e-5)
    assert np.abs(probabilities[()] - probabilities[("--single-view",)]).max() > 1e-3

def test_the_command_takes_folders_images_and_videos_and_reports_a_bad_file(shared_data, videos, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "inputs"
    folder.mkdir()
    frame = next(iter(media.iter_frames(videos["short"]))).image
    Image.fromarray(frame).save(folder / "still.jpg")
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored")
    code = cli.main(["predict", str(folder), str(videos["short"]), "--out", str(tmp_path / "out"), "--quiet",
                     "--faces", "all"])
    out, err = capsys.readouterr()
    assert code == 1 and "broken.png" in err and "1 of 3 inputs failed" in err
    header, rows = _read_csv(tmp_path / "out" / "still.csv")
    assert header[:8] == list(FRAME_COLUMNS) and len(rows) == 1 and rows[0][0] == "0" and rows[0][2] == "1"
    assert (tmp_path / "out" / "short.csv").is_file() and not (tmp_path / "out" / "broken.csv").exists()
    assert cli.main(["predict", str(tmp_path / "missing_folder"), "--out", str(tmp_path / "o2")]) == 2


# ------------------------------------------------------------------------- precision


def test_bf16_predictions_stay_close_to_float32_on_a_real_clip(shared_data):
    """The shipped FER+ model on the Wolfgang clip: bf16 moves a probability by < 0.1."""
    video = shared_data / "video" / "WolfgangLanger_Pexels.mp4"
    reference = predict_video(video, "ferplus", precision="float32")
    fast = predict_video(video, "ferplus", precision="mixed_bfloat16")
    found = reference["face_found"] == 1
    assert found.mean() > 0.95 and np.array_equal(found, fast["face_found"] == 1)
    f32, bf16 = (np.stack([table[name][found] for name in EXPRESSIONS_8], axis=1) for table in (reference, fast))
    assert np.abs(f32 - bf16).max() < 0.1  # measured: 0.042 (benchmarks/bench_predict.py --model ferplus)
    assert (f32.argmax(axis=1) == bf16.argmax(axis=1)).mean() > 0.95


def test_precision_rebuilds_the_network_with_float32_heads(av_model, tmp_path):
    from affectkeras.distribute import default_precision, resolve_precision
    from affectkeras.export import export_saved_model
    from affectkeras.models.surgery import with_precision

    fast = with_precision(av_model, "mixed_bfloat16")
    assert fast.get_layer("rnn_1").dtype_policy.name == "mixed_bfloat16"
    assert fast.get_layer("valence_arousal").dtype_policy.name == "float32"
    assert with_precision(av_model, "float32") is av_model
    predictor = Predictor.from_model(av_model, precision="mixed_bfloat16")
    assert predictor.precision == "mixed_bfloat16"
    faces = np.random.default_rng(0).integers(0, 256, (1, 16, 96, 96, 3), dtype=np.uint8)
    audio = np.random.default_rng(1).normal(-40, 10, size=(1, 16, 50, 64, 1)).astype("float32")
    got, expected = predictor.predict_batch(faces, audio), Predictor.from_model(av_model).predict_batch(faces, audio)
    assert got["valence_arousal"].dtype == np.float32
    np.testing.assert_allclose(got["expression"], expected["expression"], atol=0.05)
    assert default_precision() in ("float32", "mixed_bfloat16") and resolve_precision("auto") == default_precision()
    with pytest.raises(InvalidArgumentError, match="computing in mixed_bfloat16"):
        predict_video(ASTRONAUT, predictor, precision="float32")
    export_saved_model(av_model, tmp_path / "saved")
    with pytest.raises(InvalidArgumentError, match="runs in the precision it was exported in"):
        load_predictor(tmp_path / "saved", precision="mixed_bfloat16")
    with pytest.raises(InvalidArgumentError, match="precision='half'"):
        Predictor.from_model(av_model, precision="half")
    # A stream nested as a model of its own (the ferplus network's visual_cnn) keeps a float32
    # policy itself: the predictor reports how its layers compute, and accepts that precision.
    from affectkeras.pretraining import build_expression_network

    nested = Predictor.from_model(build_expression_network(width=0.05, input_size=32), precision="mixed_bfloat16")
    assert nested.precision == "mixed_bfloat16" and as_predictor(nested, precision="mixed_bfloat16") is nested


def test_the_face_size_is_read_without_loading_the_network(av_model, av_model_file, tmp_path):
    from affectkeras.inference import _face_size_hint

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(av_model_file.read_bytes())
    not_a_model = tmp_path / "notes.keras"
    not_a_model.write_text("not a zip")
    size = av_model.input["faces"].shape[-2]
    assert [_face_size_hint(m) for m in (av_model_file, run, "ferplus", not_a_model, tmp_path / "missing.keras")] \
        == [size, size, PRESETS["ferplus"].network["input_size"], None, None]
    assert _face_size_hint(av_model) is None  # already in memory: nothing to win


def test_faces_start_before_the_network_loads_and_a_wrong_guess_starts_again(av_model_file, videos, monkeypatch):
    """Given a path, the face process starts first; a wrong size guess is replaced, same table."""
    from affectkeras import inference
    from affectkeras.faces import background

    events = []
    real_background, real_predictor = background.FacesInBackground, inference.as_predictor

    class Recorded(real_background):
        def __init__(self, video, **kwargs):
            events.append(("faces", kwargs["size"]))
            super().__init__(video, **kwargs)

    monkeypatch.setattr(background, "FacesInBackground", Recorded)
    monkeypatch.setattr(inference, "as_predictor", lambda *a, **k: events.append(("model",)) or real_predictor(*a, **k))
    expected = predict_video(videos["short"], real_predictor(av_model_file))
    events.clear()
    table = predict_video(videos["short"], str(av_model_file))
    size = real_predictor(av_model_file).face_size
    assert events[:2] == [("faces", size), ("model",)] and len(events) == 2
    monkeypatch.setattr(inference, "_face_size_hint", lambda model: size + 8)
    events.clear()
    guessed = predict_video(videos["short"], str(av_model_file))
    assert events == [("faces", size + 8), ("model",), ("faces", size)]
    for result in (table, guessed):
        for column in expected.columns:
            np.testing.assert_allclose(result[column], expected[column], atol=1e-6, equal_nan=True)
