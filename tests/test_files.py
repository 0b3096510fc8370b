"""affectkeras.files: every file and folder appears whole or not at all."""

import json
import os

import numpy as np
import pytest

from affectkeras import files


def _crash_on_rename(monkeypatch):
    def crash(*args):
        raise KeyboardInterrupt  # interrupted after the data was written, before the rename

    monkeypatch.setattr(os, "replace", crash)


def test_write_json_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    files.write_json(path, {"a": np.float32(1.5), "p": tmp_path, "x": np.arange(2)})
    assert json.loads(path.read_text()) == {"a": 1.5, "p": str(tmp_path), "x": [0, 1]}
    _crash_on_rename(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        files.write_json(path, {"a": 2})
    assert json.loads(path.read_text())["a"] == 1.5
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left


def test_atomic_path_keeps_or_hides_the_suffix_and_cleans_up_on_error(tmp_path):
    with files.atomic_path(tmp_path / "sub" / "model.keras") as staging:
        assert staging.endswith(".keras") and os.path.basename(staging).startswith(".")
        assert files.TEMP_MARK in staging
        open(staging, "w").write("m")
    assert (tmp_path / "sub" / "model.keras").read_text() == "m"
    with files.atomic_path(tmp_path / "sub" / "net.weights.h5", keep_suffix=".weights.h5") as staging:
        assert staging.endswith(".weights.h5") and files.TEMP_MARK in staging  # Keras's save_weights insists
        open(staging, "w").write("w")
    assert (tmp_path / "sub" / "net.weights.h5").read_text() == "w"
    with files.atomic_path(tmp_path / "v.tfrecord", keep_suffix=False, fsync=True) as staging:
        open(staging, "w").write("s")
        assert not list(tmp_path.glob("*.tfrecord"))  # a reader's glob never sees it unfinished
    assert (tmp_path / "v.tfrecord").read_text() == "s"
    with pytest.raises(ValueError), files.atomic_path(tmp_path / "v.tfrecord") as staging:
        open(staging, "w").write("half")
        raise ValueError("the writer failed")
    assert (tmp_path / "v.tfrecord").read_text() == "s"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub", "v.tfrecord"]


def test_atomic_folder_replaces_only_when_complete(tmp_path):
    target = tmp_path / "saved_model"
    with files.atomic_folder(target) as staging:
        (staging / "a.pb").write_text("1")
    assert (target / "a.pb").read_text() == "1"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with files.atomic_folder(target):
            pass
    with pytest.raises(RuntimeError), files.atomic_folder(target, overwrite=True) as staging:
        (staging / "b.pb").write_text("2")
        raise RuntimeError("export failed")
    assert sorted(p.name for p in target.iterdir()) == ["a.pb"]  # the old folder is untouched
    with files.atomic_folder(target, overwrite=True) as staging:
        (staging / "b.pb").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.pb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved_model"]


def test_remove_stale_clears_only_temporary_entries(tmp_path):
    (tmp_path / ".a.tfrecord.1.ab.partial").write_text("x")
    (tmp_path / ".m.1.cd.partial.keras").write_text("x")
    (tmp_path / ".out.1.ef.partial").mkdir()
    (tmp_path / "a.tfrecord").write_text("kept")
    (tmp_path / ".hidden").write_text("kept")
    assert files.remove_stale(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "a.tfrecord"]
