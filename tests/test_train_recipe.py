"""recipes/train_affwild2.py end to end: run folder, --config, resume after a kill, multi-worker."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from affectkeras.backbones import VGGFace
from affectkeras.errors import InvalidArgumentError
from affectkeras.testing import write_dataset
from tests.conftest import REPO, load_recipe, no_keras_warnings

RECIPE = REPO / "recipes" / "train_affwild2.py"
TINY = ["--width", "0.05", "--rnn-units", "8", "--rnn-layers", "1", "--seq-len", "16", "--batch-size", "2",
        "--face-size", "32", "--verbose", "0"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("affwild2")
    write_dataset(root, num_videos=3, frames=40, size=48, validation_videos=1, workers=1)
    return root


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """One tiny A/V multi-task run, whose records the other tests reuse."""
    run_dir = tmp_path_factory.mktemp("runs") / "av"
    with no_keras_warnings():
        metrics = load_recipe("train_affwild2").main(["--data", str(dataset), "--run-dir", str(run_dir), "--epochs", "2", *TINY])
    return run_dir, metrics


def history_epochs(run_dir):
    with open(run_dir / "history.csv") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def test_run_folder_holds_what_is_promised(trained):
    run_dir, metrics = trained
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["config"]["network"] == "av_mt_vgg_rnn" and saved["config"]["epochs"] == 2
    assert saved["affectkeras_version"] and saved["keras_version"]
    for name in ("model.keras", "checkpoints/last.keras", "checkpoints/best.keras", "evaluation/report.md"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "logs" / "train").glob("events.out.tfevents.*"))
    assert history_epochs(run_dir) == [0, 1]
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["scores"]["mtl"]["score"] == pytest.approx(metrics["scores"]["mtl"]["score"])
    assert set(on_disk["scores"]) == {"va", "expr", "au", "mtl"}
    # Every validation frame is scored once: 40 frames of the one validation video.
    assert on_disk["counts"]["frames"] == 40


def test_config_file_reruns_a_run_and_command_line_wins(trained, tmp_path):
    run_dir, _ = trained
    recipe = load_recipe("train_affwild2")
    config = recipe.parse_config(recipe.TrainConfig, ["--config", str(run_dir / "config.json"), "--epochs", "5"])
    assert config.epochs == 5 and config.width == 0.05 and config.tasks == ("va", "expr", "au")


def test_refuses_to_overwrite_a_run(trained, dataset):
    run_dir, _ = trained
    exit_code = subprocess.run(
        [sys.executable, str(RECIPE), "--data", str(dataset), "--run-dir", str(run_dir), *TINY],
        capture_output=True, text=True,
    )
    assert exit_code.returncode == 2
    assert "already holds a run" in exit_code.stderr and "Traceback" not in exit_code.stderr


def test_per_frame_arcface_network_trains_with_the_freeze_strategy(trained, tmp_path):
    run_dir, _ = trained
    arguments = ["--records", str(run_dir / "records"), "--network", "mt_arcvgg", "--training-strategy", "freeze_cnn",
                 "--tasks", "expr", "--epochs", "1", *TINY]
    with pytest.raises(InvalidArgumentError, match="nothing to keep fixed"):  # (i) needs pretrained convs
        load_recipe("train_affwild2").main([*arguments, "--run-dir", str(tmp_path / "random")])
    convs = tmp_path / "vggface_notop.weights.h5"
    VGGFace(include_top=False, input_shape=(32, 32, 3), width=0.05).save_weights(convs)
    with pytest.warns(UserWarning, match="fc6"):
        metrics = load_recipe("train_affwild2").main(
            [*arguments, "--run-dir", str(tmp_path / "arc"), "--pretraining", str(convs)]
        )
    assert set(metrics["scores"]) == {"expr"}
    assert 0.0 <= metrics["scores"]["expr"]["f1"] <= 1.0


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_epoch(trained, tmp_path):
    records = trained[0] / "records"
    run_dir = tmp_path / "killed"
    command = [sys.executable, str(RECIPE), "--records", str(records), "--run-dir", str(run_dir),
               "--epochs", "8", *TINY]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metadata = run_dir / "backup" / "training_metadata.json"  # written last: the epoch is done
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None and not metadata.is_file():
        time.sleep(0.02)
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-2000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = json.loads(metadata.read_text())["epoch"]
    assert 1 <= done < 8 and not (run_dir / "model.keras").exists()

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Epochs finished before the kill are not trained again, one killed half-way is (and logged
    # once); the run ends at the last one.
    assert history_epochs(run_dir) == list(range(8))
    assert (run_dir / "model.keras").is_file() and (run_dir / "metrics.json").is_file()


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_loopback_train_together(trained, tmp_path):
    records = trained[0] / "records"
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, str(RECIPE), "--records", str(records), "--run-dir", str(tmp_path / "mw"),
             "--strategy", "multi_worker", "--epochs", "1", "--steps-per-epoch", "2", *TINY],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    outputs = [process.communicate(timeout=400)[0] for process in processes]
    for index, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, output[-3000:]
        assert f"2 replica(s); worker {index}" in output
    assert "(chief)" in outputs[0] and "(chief)" not in outputs[1]
    run_dir = tmp_path / "mw"
    assert history_epochs(run_dir) == [0] and (run_dir / "model.keras").is_file()
    assert (run_dir / "backup" / "worker-1").is_dir()  # the other worker backs up beside the chief


def test_mixed_precision_and_xla_train_step(trained, tmp_path):
    run_dir = tmp_path / "mp"
    metrics = load_recipe("train_affwild2").main([
        "--records", str(trained[0] / "records"), "--run-dir", str(run_dir), "--network", "mt_vgg",
        "--tasks", "va", "--epochs", "1", "--precision", "mixed_float16", "--jit-compile", *TINY,
    ])
    import keras

    model = keras.saving.load_model(run_dir / "model.keras")
    policies = {layer.dtype_policy.name for layer in model._flatten_layers() if layer.weights}
    assert "mixed_float16" in policies  # the heads alone compute in float32
    assert (run_dir / "checkpoints" / "best.keras").is_file()  # single output: monitors `val_ccc`
    assert metrics["scores"]["va"]["score"] is None or -1.0 <= metrics["scores"]["va"]["score"] <= 1.0


def test_the_av_network_starts_from_both_shipped_models():
    import numpy as np

    from affectkeras import models, weights
    from affectkeras.errors import InvalidArgumentError

    recipe = load_recipe("train_affwild2")
    size = weights.get_preset("ferplus").network["input_size"]
    shipped = ["--width", "0.5", "--face-size", str(size), "--rnn-units", "8", "--seq-len", "4",
               "--pretraining", "ferplus", "--audio-pretraining", "ravdess_audio"]
    model = recipe.build_network(recipe.parse_config(recipe.TrainConfig, ["--network", "av_mt_vgg_rnn", *shipped]))
    speech = models.audio_stream(weights.load_preset_model("ravdess_audio")).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(models.audio_stream(model).get_weights(), speech, strict=True))
    with pytest.raises(InvalidArgumentError, match="audio stream"):
        recipe.build_network(recipe.parse_config(recipe.TrainConfig, ["--network", "mt_vgg", *shipped]))


def test_affwildnet_with_landmarks_from_preprocessing_to_prediction(trained, dataset, tmp_path):
    """AffWildNet (IJCV 2019): 68 landmarks beside fc6, dropout on fc; records carry them."""
    import io

    import tensorflow as tf
    from PIL import Image

    from affectkeras import evaluation
    from affectkeras.data import make_sequence_dataset, records
    from affectkeras.faces import crop_landmarks
    from affectkeras.inference import predict_video
    from affectkeras.runs import load_trained_model

    run_dir = tmp_path / "affwildnet"
    metrics = load_recipe("train_affwild2").main([
        "--data", str(dataset), "--run-dir", str(run_dir), "--network", "cnn_rnn", "--landmarks", "--dropout", "0.5",
        "--tasks", "va", "--epochs", "1", *TINY,
    ])
    assert set(metrics["scores"]) == {"va"}
    model = load_trained_model(run_dir)
    assert model.input["landmarks"].shape == (None, 16, 136) and model.get_layer("feature_dropout").rate == 0.5
    # The records hold each crop's landmarks, fitted on the stored crop; zeros without a face.
    shard = sorted((run_dir / "records" / "validation").glob("*.tfrecord"))[0]
    frames = [records.decode_frame(r.numpy()) for r in tf.data.TFRecordDataset(str(shard))]
    with_face = next(f for f in frames if f["face_found"])
    crop = np.asarray(Image.open(io.BytesIO(with_face["face_jpeg"])))  # as preprocessing decodes it
    np.testing.assert_allclose(with_face["landmarks"], crop_landmarks(crop), atol=1e-6)
    assert all(not f["landmarks"].any() for f in frames if not f["face_found"])
    inputs, _ = next(iter(make_sequence_dataset(shard, seq_len=16, batch_size=1, modalities=("faces", "landmarks"),
                                                tasks=("va",), face_size=32, shuffle=False,
                                                deterministic=True)))  # the first window first, even under load
    np.testing.assert_allclose(inputs["landmarks"][0, 0].numpy().reshape(68, 2), frames[0]["landmarks"])
    assert evaluation.predict_records(model, run_dir / "records" / "validation", batch_size=2)
    with pytest.raises(InvalidArgumentError, match="preprocess with --landmarks"):
        make_sequence_dataset(trained[0] / "records" / "validation", seq_len=16, modalities=("faces", "landmarks"))
    # Prediction fits the landmarks on the crops it cuts.
    table = predict_video(REPO.parent / "shared" / "data" / "video" / "WolfgangLanger_Pexels.mp4", model)
    found = np.asarray(table["face_found"], bool)
    assert found.mean() > 0.9 and np.isfinite(np.asarray(table["valence"])[found]).all()
