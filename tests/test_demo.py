"""The README's first command: the demo runs the whole chain, and the chain learns."""

import csv
import json

import numpy as np
import pytest

from affectkeras.constants import EXPRESSIONS_8
from tests.conftest import load_recipe, no_keras_warnings

TINY = ["--videos", "3", "--frames", "40", "--epochs", "1", "--width", "0.05", "--face-size", "32",
        "--seq-len", "16", "--rnn-units", "8"]


def test_demo_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    with no_keras_warnings():
        result = load_recipe("demo").main(["--out", str(out), *TINY])
    printed = capsys.readouterr().out
    for name in ("data/synthetic.json", "records/train/manifest.json", "records/validation/manifest.json",
                 "run/config.json", "run/model.keras", "run/metrics.json", "run/evaluation/report.md",
                 "export/saved_model/saved_model.pb", "predictions/astronaut.csv",
                 "predictions/astronaut_va.png", "predictions/astronaut_circumplex.png",
                 "predictions/astronaut_expressions.png",
                 "expressions/astronaut.csv", "expressions/astronaut_expressions.png"):
        assert (out / name).is_file(), name
        assert str(out / name.split("/")[0]) in printed  # the demo says where everything is
    for plot in ("astronaut_va.png", "astronaut_circumplex.png", "astronaut_expressions.png"):
        assert str(out / "predictions" / plot) in printed
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert metrics["constant_predictor_ccc"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["scores"]["va"]["score"] == pytest.approx(result["va"]["score"])
    with open(out / "predictions" / "astronaut.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 150  # one row per frame of the 5 s, 30 fps sample video
    assert sum(row["face_found"] == "1" for row in rows) >= 0.95 * len(rows)
    assert "a constant predictor scores 0.000" in printed
    with open(out / "expressions" / "astronaut.csv") as file:  # the shipped FER+ model at work
        shipped = [row for row in csv.DictReader(file) if row["face_found"] == "1"]
    assert len(shipped) >= 0.95 * len(rows)
    probabilities = np.array([[float(row[name]) for name in EXPRESSIONS_8] for row in shipped])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    # The README's first command may be run twice: the second run replaces the first.
    load_recipe("demo").main(["--out", str(out), *TINY])
    assert (out / "run" / "model.keras").is_file()


def test_demo_with_no_overwrite_refuses_a_used_folder(tmp_path):
    out = tmp_path / "demo"
    (out / "run").mkdir(parents=True)
    (out / "run" / "something").write_text("x")
    with pytest.raises(Exception, match="already holds a run"):
        load_recipe("demo").main(["--out", str(out), "--no-overwrite", *TINY])
    assert (out / "run" / "something").read_text() == "x"


@pytest.mark.slow
def test_whole_chain_learns_on_held_out_videos(tmp_path):
    """Videos -> faces and audio -> records -> training: held-out CCC well above a constant's 0."""
    result = load_recipe("demo").main(["--out", str(tmp_path / "demo")])
    assert result["va"]["score"] > 0.5, result["va"]
