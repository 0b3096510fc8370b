"""Speech emotion: the RAVDESS pretraining recipe, the shipped `ravdess_audio` model, clip prediction."""

import json
import math
import pathlib

import numpy as np
import pytest

from affectkeras import audio, cli, pretraining, speech
from affectkeras.constants import AUDIO_WINDOW, RAVDESS_EMOTIONS
from affectkeras.errors import InvalidArgumentError, MediaError
from tests.conftest import load_recipe

RAVDESS = "ravdess_speech_16k"


def _clips(shared_data, actor, emotions=None):
    folder = shared_data / RAVDESS / f"Actor_{actor:02d}"
    return [p for p in sorted(folder.iterdir()) if emotions is None or int(p.name.split("-")[2]) in emotions]


@pytest.fixture(scope="module")
def tiny_network():
    return pretraining.build_speech_network(width=0.1, name="tiny_speech")


def test_clip_prediction_is_the_model_on_all_windows_and_on_each_window(shared_data, tiny_network):
    clip = _clips(shared_data, 1)[0]
    prediction = speech.predict_clip(clip, tiny_network)
    config = audio.SpectrogramConfig()
    spectrogram = audio.log_mel_spectrogram(speech.read_clip(clip), config)
    count = math.ceil(len(spectrogram) / config.steps)
    assert prediction.window_probabilities.shape == (count, 8) and prediction.probabilities.shape == (8,)
    assert prediction.duration == pytest.approx(len(speech.read_clip(clip)) / 16000)
    # The windows the model sees: consecutive 0.5 s of the spectrogram, the last padded with silence.
    windows = np.full((count * config.steps, config.n_mels), config.floor_db, np.float32)
    windows[:len(spectrogram)] = spectrogram
    windows = windows.reshape(1, count, config.steps, config.n_mels, 1)
    whole = np.asarray(tiny_network({"audio": windows})["expression"])[0]
    np.testing.assert_allclose(prediction.probabilities, whole, atol=1e-5)
    third = np.asarray(tiny_network({"audio": windows[:, 2:3]})["expression"])[0]
    np.testing.assert_allclose(prediction.window_probabilities[2], third, atol=1e-5)
    np.testing.assert_allclose(prediction.window_probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_an_ensemble_predicts_the_mean_of_its_networks_per_window_and_per_clip(shared_data, tiny_network):
    other = pretraining.build_speech_network(width=0.1, name="other_speech")
    clip = _clips(shared_data, 1)[1]
    ensemble = speech.predict_clip(clip, speech.SpeechModel([tiny_network, other], RAVDESS_EMOTIONS))
    alone = [speech.predict_clip(clip, network) for network in (tiny_network, other)]
    assert not np.allclose(alone[0].probabilities, alone[1].probabilities)
    np.testing.assert_allclose(ensemble.probabilities, (alone[0].probabilities + alone[1].probabilities) / 2,
                               atol=1e-6)
    np.testing.assert_allclose(ensemble.window_probabilities,
                               (alone[0].window_probabilities + alone[1].window_probabilities) / 2, atol=1e-6)


def test_a_long_recording_predicted_in_chunks_equals_one_call(shared_data, tiny_network):
    windows = np.concatenate([speech.clip_windows(speech.read_clip(clip)) for clip in _clips(shared_data, 1)[:3]])
    model = speech.load_speech_model(tiny_network)
    per_window, clip = model.predict_windows(windows, batch_size=4)  # several chunks, the last one short
    whole_per_window, whole_clip = model.predict_windows(windows)
    assert len(windows) > 8
    np.testing.assert_allclose(per_window, whole_per_window, atol=1e-6)
    np.testing.assert_allclose(clip, whole_clip, atol=1e-6)


@pytest.mark.keras_core  # on JAX the windows and embeddings are padded to a power of two
@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_any_window_count_gives_the_network_on_exactly_those_windows(pooling):
    network = pretraining.build_speech_network(width=0.1, pooling=pooling, name=f"{pooling}_speech")
    model = speech.SpeechModel(network, RAVDESS_EMOTIONS)
    rng = np.random.default_rng(0)
    for count in (1, 5, 9):  # chunks of 4: 1; 4 + 1; 4 + 4 + 1
        windows = rng.normal(-40.0, 20.0, size=(count, *AUDIO_WINDOW, 1)).astype(np.float32)
        per_window, clip = model.predict_windows(windows, batch_size=4)
        assert per_window.shape == (count, 8) and clip.shape == (8,)
        np.testing.assert_allclose(clip, np.asarray(network({"audio": windows[None]})["expression"])[0], atol=1e-5)
        last = np.asarray(network({"audio": windows[None, -1:]})["expression"])[0]
        np.testing.assert_allclose(per_window[-1], last, atol=1e-5)


def test_clip_files_have_the_promised_form(shared_data, tiny_network, tmp_path):
    prediction = speech.predict_clip(_clips(shared_data, 2)[0], speech.SpeechModel(tiny_network, RAVDESS_EMOTIONS))
    files = speech.write_clip_prediction(prediction, tmp_path, "clip")
    document = json.loads(files.json.read_text())
    assert list(document) == ["classes", "probabilities"]
    assert document["classes"] == list(RAVDESS_EMOTIONS) == ["neutral", "calm", "happy", "sad", "angry", "fearful",
                                                             "disgust", "surprised"]
    assert len(document["probabilities"]) == 8 and sum(document["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    lines = files.csv.read_text().splitlines()
    assert lines[0] == "window_index,start,end," + ",".join(RAVDESS_EMOTIONS)
    assert len(lines) == 1 + len(prediction.window_probabilities)
    first, last = lines[1].split(","), lines[-1].split(",")
    assert first[:3] == ["0", "0.000", "0.500"] and float(last[2]) == pytest.approx(prediction.duration, abs=1e-3)
    assert prediction.label in RAVDESS_EMOTIONS


def test_a_model_that_is_no_clip_classifier_is_refused(tiny_network, tmp_path):
    import keras

    from affectkeras.models import get_network

    with pytest.raises(InvalidArgumentError, match="not a clip classifier"):
        speech.load_speech_model(get_network("mt_vgg").build(width=0.05, input_size=32))
    headless = keras.Model(tiny_network.inputs, tiny_network.get_layer("temporal_pooling").output)
    with pytest.raises(InvalidArgumentError, match="not a clip classifier"):  # audio stream, no expression head
        speech.load_speech_model(headless)
    with pytest.raises(FileNotFoundError):
        speech.load_speech_model(tmp_path / "missing.keras")


def test_cli_predicts_many_clips_and_reports_the_bad_one(shared_data, tiny_network, tmp_path, capsys):
    model = tmp_path / "speech.keras"
    tiny_network.save(model)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    good = _clips(shared_data, 3)[:2]
    out = tmp_path / "out"
    code = cli.main(["predict", str(good[0]), str(bad), str(good[1]), "--model", str(model), "--out", str(out),
                     "--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and str(bad) in captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}{s}" for p in good for s in (".csv", ".json"))
    assert json.loads((out / f"{good[0].stem}.json").read_text())["classes"] == [f"class_{i}" for i in range(8)]
    with pytest.raises(MediaError, match="broken.wav"):
        speech.read_clip(bad)


@pytest.fixture(scope="module")
def shipped():
    return speech.load_speech_model()  # the ravdess_audio preset, from the installed package


def test_the_shipped_speech_model_is_above_chance_on_held_out_actors(shared_data, shipped):
    # Actors 21-24 never took part in training or in any choice of the shipped model.
    assert set(pretraining.RAVDESS_TEST_ACTORS) == {21, 22, 23, 24}
    correct = total = 0
    for actor in pretraining.RAVDESS_TEST_ACTORS:
        for clip in _clips(shared_data, actor)[::3]:  # 20 clips an actor, every emotion
            predicted = speech.predict_clip(clip, shipped).label
            correct += predicted == RAVDESS_EMOTIONS[int(clip.name.split("-")[2]) - 1]
            total += 1
    assert total == 80 and correct / total > 0.3, correct / total  # chance 0.125


def test_the_shipped_preset_loads_by_name_or_path(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called ravdess_audio here: the name is the preset's
    loaded = speech.load_speech_model(pathlib.Path("ravdess_audio"))
    assert loaded.classes == shipped.classes == RAVDESS_EMOTIONS and loaded.source == "ravdess_audio"


def test_predict_without_model_writes_the_speech_json(shared_data, tmp_path, capsys, monkeypatch):
    clip = _clips(shared_data, 22, emotions={5})[0]  # angry
    monkeypatch.chdir(tmp_path)
    # The output folder is called like the preset: the default model is still the shipped one,
    # on the second run too (a folder of that name used to take its place).
    for _ in range(2):
        assert cli.main(["predict", str(clip), "--out", "ravdess_audio", "--quiet"]) == 0
        document = json.loads((tmp_path / "ravdess_audio" / f"{clip.stem}.json").read_text())
        assert document["classes"] == list(RAVDESS_EMOTIONS)
        assert str(pathlib.Path("ravdess_audio") / f"{clip.stem}.json") in capsys.readouterr().out


def test_cli_refuses_inputs_that_would_write_the_same_files_and_an_out_that_is_a_file(shared_data, tmp_path,
                                                                                          capsys):
    clip = _clips(shared_data, 3)[0]
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "take.flac").write_bytes(clip.read_bytes())
    out = tmp_path / "out"
    first, second = str(tmp_path / "d1" / "take.flac"), str(tmp_path / "d2" / "take.flac")
    with pytest.raises(SystemExit) as info:  # refused before any model loads or any file is written
        cli.main(["predict", first, second, "--out", str(out), "--quiet"])
    message = capsys.readouterr().err
    assert info.value.code == 2 and first in message and second in message and "take.*" in message
    assert not out.exists()
    # The same file named twice (or in its folder and by name) is predicted once.
    assert cli.main(["predict", str(tmp_path / "d1"), first, "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["take.csv", "take.json"]
    assert capsys.readouterr().out.count("take.json") == 1
    occupied = tmp_path / "occupied"
    occupied.write_text("keep me")
    with pytest.raises(SystemExit) as info:
        cli.main(["predict", first, "--out", str(occupied), "--quiet"])
    assert info.value.code == 2 and f"--out {occupied} exists and is not a folder" in capsys.readouterr().err
    assert occupied.read_text() == "keep me"


def test_a_clip_of_whole_windows_has_no_extra_window():
    samples = audio.SpectrogramConfig().sample_rate // 2  # one 0.5 s window
    counts = [len(speech.clip_windows(np.zeros(n, "float32"))) for n in (1, samples - 1, samples, samples + 1,
                                                                          2 * samples, 2 * samples + 1)]
    assert counts == [1, 1, 1, 2, 2, 3]


@pytest.mark.filterwarnings("ignore:fold.*collapsed")  # one epoch of a tiny network
def test_pretrain_speech_recipe_cross_validates_trains_and_scores_held_out_actors(shared_data, tmp_path):
    recipe = load_recipe("pretrain_speech")
    export = tmp_path / "speech.weights.h5"
    metrics = recipe.main(["--data", str(shared_data / RAVDESS), "--run-dir", str(tmp_path / "run"),
                           "--held-out", "4", "--cv-folds", "2", "--limit", "64", "--width", "0.1",
                           "--epochs", "1", "--num-windows", "2", "--mel-shift", "3", "--precision", "float32",
                           "--verbose", "0", "--export", str(export)])
    assert metrics["test_actors"] == [4] and 4 not in metrics["train_actors"]
    assert len(metrics["cross_validation"]["folds"]) == 2
    held = {a for fold in metrics["cross_validation"]["folds"] for a in fold["test_subjects"]}
    assert held <= set(metrics["train_actors"])  # the folds never see the held-out actor
    assert set(metrics["test"]["per_actor_accuracy"]) == {"4"} and 0 <= metrics["test"]["accuracy"] <= 1
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test"]["accuracy"] == metrics["test"]["accuracy"]
    network = pretraining.build_speech_network(width=0.1)
    network.load_weights(export)
    with pytest.raises(InvalidArgumentError, match="held_out"):
        recipe.main(["--data", str(shared_data / RAVDESS), "--run-dir", str(tmp_path / "other"),
                     "--held-out", "99"])
    with pytest.raises(InvalidArgumentError, match="--held-out must list actor numbers.*'21;22'"):
        recipe.main(["--data", str(shared_data / RAVDESS), "--run-dir", str(tmp_path / "other"),
                     "--held-out", "21;22"])
    # Resumed once finished: nothing is trained again, and no throughput is made up.
    resumed = recipe.main(["--run-dir", str(tmp_path / "run"), "--resume"])
    assert resumed["epochs_run"] == 0 and resumed["train_clips_per_second"] is None
    assert metrics["epochs_run"] == 1 and metrics["train_clips_per_second"] > 0


def test_the_av_network_starts_from_a_trained_audio_stream(tmp_path):
    from affectkeras import models

    trained = pretraining.build_speech_network(width=0.1)
    path = tmp_path / "speech.keras"
    trained.save(path)
    av = models.build_av_mt_vgg_rnn(width=0.1, rnn_units=8, sequence_length=4, audio_pretraining=path)
    expected = models.audio_stream(trained).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(models.audio_stream(av).get_weights(), expected, strict=True))
    fresh = models.build_av_mt_vgg_rnn(width=0.1, rnn_units=8, sequence_length=4)
    assert not np.array_equal(models.audio_stream(fresh).get_weights()[0], expected[0])
    with pytest.raises(InvalidArgumentError, match="width=0.25"):
        models.build_av_mt_vgg_rnn(width=0.25, rnn_units=8, sequence_length=4, audio_pretraining=path)


def test_the_av_network_starts_from_both_shipped_presets():
    from affectkeras import models, weights

    size = weights.get_preset("ferplus").network["input_size"]
    av = models.build_av_mt_vgg_rnn(width=0.5, input_size=size, pretraining="ferplus", audio_pretraining="ravdess_audio",
                                    rnn_units=8, sequence_length=4)
    for stream, preset in ((models.visual_stream, "ferplus"), (models.audio_stream, "ravdess_audio")):
        shipped = stream(weights.load_preset_model(preset)).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(stream(av).get_weights(), shipped, strict=True)), preset
    # Both streams came whole from the presets (fc6 fits at the preset's size): strategy (i) fixes all of them.
    from affectkeras import training

    frozen = training.freeze_cnn(av)
    assert "visual_cnn/vggface/vggface/fc6" in frozen and any(p.startswith("audio_cnn/") for p in frozen)
    assert not av.get_layer("visual_cnn").trainable_weights and not av.get_layer("audio_cnn").trainable_weights
    fresh_audio = models.build_av_mt_vgg_rnn(width=0.5, input_size=size, pretraining="ferplus", rnn_units=8,
                                             sequence_length=4)
    assert not any(p.startswith("audio_cnn/") for p in training.freeze_cnn(fresh_audio))  # random: it trains
    assert fresh_audio.get_layer("audio_cnn").trainable_weights


def test_a_saved_model_of_a_clip_classifier_predicts_like_the_keras_model(tiny_network, tmp_path, capsys):
    import soundfile

    from affectkeras.export import export_model, export_saved_model
    from affectkeras.models import get_network

    names = [f"emotion_{i}" for i in range(8)]
    folder = tmp_path / "speech[v2]"  # glob characters: TensorFlow's loader globs the variables' path
    export_model(tiny_network, folder, classes=names, tflite=False)
    rng = np.random.default_rng(0)
    waveform = (0.1 * rng.normal(size=int(2.2 * 16000))).astype(np.float32)  # 5 windows, the last one padded
    windows = speech.clip_windows(waveform)
    keras_prediction = speech.predict_clip(waveform, tiny_network)
    for path in (folder, folder / "saved_model"):  # the export folder, or its SavedModel beside export.json
        prediction = speech.predict_clip(waveform, path, batch_size=2)  # windows in 3 calls
        assert prediction.classes == tuple(names)  # from export.json
        whole = np.asarray(tiny_network({"audio": windows[None]})["expression"])[0]
        np.testing.assert_allclose(prediction.probabilities, whole, atol=1e-5)
        assert prediction.window_probabilities.shape == (len(windows), 8)
        np.testing.assert_allclose(prediction.window_probabilities, keras_prediction.window_probabilities, atol=1e-5)
    # Without export.json: numbered classes.
    export_saved_model(tiny_network, tmp_path / "bare")
    assert speech.load_speech_model(tmp_path / "bare").classes == tuple(f"class_{i}" for i in range(8))
    # The command line, as `affectkeras predict CLIP.wav --model deploy/speech` runs it.
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, waveform, 16000)
    assert cli.main(["predict", str(clip), "--model", str(folder), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    document = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert document["classes"] == names
    capsys.readouterr()
    # A face network's SavedModel is no clip classifier: refused, naming the folder.
    faces = tmp_path / "faces"
    export_saved_model(get_network("mt_vgg").build(width=0.05, input_size=32), faces)
    with pytest.raises(InvalidArgumentError, match=f"{faces}: not a clip classifier's SavedModel"):
        speech.load_speech_model(faces)
