"""affectkeras.runs: recipe configs as command lines, run folders, loading trained models."""

import csv
import dataclasses
import json
import typing

import keras
import numpy as np
import pytest

from affectkeras.errors import InvalidArgumentError, WeightsError
from affectkeras.runs import (
    RunFolder,
    config_field,
    load_trained_model,
    parse_config,
    resolve_model_path,
)
from tests.conftest import REPO, load_recipe


@dataclasses.dataclass
class Config:
    video: str = config_field("", "a positional path", positional=True)
    run_dir: str = config_field("runs/x", "run folder")
    epochs: int = config_field(3, "epochs")
    learning_rate: float = config_field(1e-3, "peak learning rate (after a 5 % warm-up)")
    tasks: typing.Tuple[str, ...] = config_field(("va",), "tasks")
    jit: bool = config_field(False, "XLA")
    strategy: str = config_field("one_device", "strategy", choices=("one_device", "mirrored"))
    seed: typing.Optional[int] = config_field(None, "seed")
    resume: bool = config_field(False, "resume")


def test_fields_become_typed_options():
    config = parse_config(Config, ["clip.mp4", "--epochs", "5", "--tasks", "va,expr", "--jit", "--seed", "7",
                                   "--learning-rate", "0.01", "--strategy", "mirrored"])
    assert config == Config(video="clip.mp4", epochs=5, learning_rate=0.01, tasks=("va", "expr"), jit=True,
                            strategy="mirrored", seed=7)
    assert parse_config(Config, ["v", "--no-jit"]).jit is False


def test_help_prints_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(Config, ["--help"], description="A recipe.")
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "A recipe." in help_text
    assert "peak learning rate (after a 5 % warm-up) (default: 0.001)" in " ".join(help_text.split())


@pytest.mark.parametrize("recipe", sorted(path.stem for path in (REPO / "recipes").glob("*.py")))
def test_every_recipe_prints_its_help(recipe, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_recipe(recipe).main(["--help"])
    assert exit_info.value.code == 0
    assert f"usage: {recipe}.py" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["v", "--epochs", "three"], "invalid int value"),
    (["v", "--strategy", "tpu"], "invalid choice"),
    (["v", "--bogus", "1"], "unrecognized arguments"),
    ([], "required: VIDEO"),
])
def test_wrong_options_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(Config, argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_config_file_then_command_line(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"config": {"video": "a.mp4", "epochs": 9, "tasks": ["au"]}}))
    config = parse_config(Config, ["--config", str(path), "--epochs", "2"])
    assert (config.video, config.epochs, config.tasks) == ("a.mp4", 2, ("au",))
    path.write_text(json.dumps({"epochs": 1, "nope": 2}))
    with pytest.raises(SystemExit):
        parse_config(Config, ["--config", str(path)])
    assert "unknown option(s) ['nope']" in capsys.readouterr().err
    path.write_text("{not json")
    with pytest.raises(SystemExit):
        parse_config(Config, ["v", "--config", str(path)])
    assert "not a JSON file" in capsys.readouterr().err


def test_resume_starts_from_the_runs_saved_config(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.save_config(Config(video="a.mp4", run_dir=str(tmp_path / "run"), epochs=11))
    config = parse_config(Config, ["--run-dir", str(tmp_path / "run"), "--resume", "--epochs", "12"])
    assert (config.video, config.epochs, config.resume) == ("a.mp4", 12, True)
    saved = json.loads(run.config_path.read_text())
    assert saved["affectkeras_version"] and saved["config"]["epochs"] == 11


def test_resume_in_the_default_run_folder_starts_from_its_saved_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Config's run_dir defaults to runs/x
    RunFolder("runs/x").save_config(Config(video="a.mp4", epochs=11, learning_rate=0.01))
    config = parse_config(Config, ["--resume", "--epochs", "12"])
    assert (config.video, config.epochs, config.learning_rate, config.run_dir) == ("a.mp4", 12, 0.01, "runs/x")


def test_run_folder_refuses_a_used_folder_and_overwrite_keeps_the_records(tmp_path):
    path = tmp_path / "run"
    (path / "records" / "train").mkdir(parents=True)
    (path / "records" / "train" / "a.tfrecord").write_bytes(b"x")
    RunFolder(path).write_metrics({"ccc": np.float32(0.5)})  # records alone are not a run
    with pytest.raises(InvalidArgumentError, match="already holds a run"):
        RunFolder(path)
    with pytest.raises(InvalidArgumentError, match="no run to resume"):
        RunFolder(tmp_path / "empty", resume=True)
    RunFolder(path, overwrite=True)
    assert not (path / "metrics.json").exists()
    assert (path / "records" / "train" / "a.tfrecord").read_bytes() == b"x"


@pytest.mark.parametrize("scores, best_epoch", [
    ([0.5, 0.9, 0.6, 0.7], 1),  # the best epoch comes before the interruption
    ([float("nan"), 0.5, 0.9, 0.7], 2),  # a diverged first epoch is no best to beat
])
def test_a_resumed_run_keeps_the_best_epoch_from_before_the_interruption(tmp_path, scores, best_epoch):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    logged_scores, scores = [str(score) for score in scores], iter(scores)
    weights_by_epoch = {}

    class Scored(keras.callbacks.Callback):  # logs a score per epoch, before the checkpoints read it
        def on_epoch_end(self, epoch, logs=None):
            logs["val_score"] = next(scores)
            weights_by_epoch[epoch] = [w.copy() for w in self.model.get_weights()]

    def fit(run, epochs):
        model.fit(x, y, epochs=epochs, verbose=0, callbacks=[Scored(), *run.callbacks(monitor="val_score")])

    run = RunFolder(tmp_path / "run")
    run.save_config(Config())
    fit(run, 2)  # interrupted after two of four epochs
    with open(run.history_path, "a", newline="") as file:  # killed after epoch 2's row, before its backup
        file.write("2,0.1,0.99\r\n")
    fit(RunFolder(tmp_path / "run", resume=True), 4)
    assert sorted(weights_by_epoch) == [0, 1, 2, 3]  # the resumed fit ran epochs 2 and 3 only
    with open(run.history_path, newline="") as file:  # epoch 2 logged once, as trained after the resume
        logged = [(row["epoch"], row["val_score"]) for row in csv.DictReader(file)]
    assert logged == list(zip("0123", logged_scores))
    best = keras.saving.load_model(run.checkpoints_dir / "best.keras")
    for kept, expected in zip(best.get_weights(), weights_by_epoch[best_epoch]):
        np.testing.assert_array_equal(kept, expected)
    with pytest.raises(InvalidArgumentError, match="mode"):
        run.callbacks(monitor="val_score", mode="auto")


def test_a_kill_while_a_checkpoint_is_written_keeps_the_previous_one_and_the_backup_comes_last(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    run = RunFolder(tmp_path / "run")
    callbacks = run.callbacks(monitor="loss", mode="min", tensorboard=False)
    # An epoch counts as done (the backup) only after its checkpoints and history row are written;
    # the backup keeps the epoch before too.
    assert isinstance(callbacks[-1], keras.callbacks.BackupAndRestore) and callbacks[-1].double_checkpoint
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, epochs=1, verbose=0, callbacks=callbacks)
    saved = [w.copy() for w in keras.saving.load_model(run.checkpoints_dir / "best.keras").get_weights()]

    def killed(path, *args, **kwargs):  # the process dies with the file half-written
        with open(path, "wb") as file:
            file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    model.save = killed
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=2, verbose=0, callbacks=run.callbacks(monitor="loss", mode="min", tensorboard=False))
    for name in ("best.keras", "last.keras"):  # whole, and still the first epoch's
        for kept, expected in zip(keras.saving.load_model(run.checkpoints_dir / name).get_weights(), saved):
            np.testing.assert_array_equal(kept, expected)
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["best.keras", "last.keras"]


def test_load_trained_model_from_a_file_or_a_run_folder(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="valence_arousal")(inputs))
    run = RunFolder(tmp_path / "run")
    run.save_model(model)
    x = np.ones((1, 3), "float32")
    for path in (run.path, run.model_path):
        np.testing.assert_allclose(load_trained_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    run.model_path.rename(run.checkpoints_dir / "last.keras")  # an interrupted run: its last checkpoint
    assert resolve_model_path(run.path) == run.checkpoints_dir / "last.keras"


def test_wrong_model_paths_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_trained_model(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError, match="holds no model"):
        load_trained_model(tmp_path)
    text = tmp_path / "notes.keras"
    text.write_text("not a zip")
    with pytest.raises(WeightsError, match="not a Keras model file"):
        load_trained_model(text)
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(WeightsError, match="is a SavedModel"):
        load_trained_model(tmp_path / "served")
