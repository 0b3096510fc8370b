"""The README's first command: the demo recipe runs end to end and its network learns."""

import importlib.util

from tests.conftest import REPO


def load_recipe(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_trains_and_predicts(capsys):
    scores = load_recipe("demo").main(["--epochs", "2", "--train-sequences", "64"])
    out = capsys.readouterr().out
    assert "one sequence, frame by frame" in out
    assert scores["valence_arousal_ccc"] > 0.3  # a constant predictor scores 0
