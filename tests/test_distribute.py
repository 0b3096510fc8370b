"""affectkeras.distribute: strategy choice and its errors (two-worker training: test_train_recipe)."""

import pytest

from affectkeras import distribute
from affectkeras.errors import InvalidArgumentError


def test_one_device_and_mirrored_run_in_this_process():
    for name in ("one_device", "mirrored"):
        strategy = distribute.make_strategy(name)
        assert strategy.num_replicas_in_sync >= 1
        assert distribute.worker_info(strategy) == (True, 0)


@pytest.mark.parametrize("tf_config, message", [(None, "needs the TF_CONFIG"), ("{oops", "TF_CONFIG is not JSON")])
def test_multi_worker_without_a_usable_tf_config_is_refused(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(InvalidArgumentError, match=message):
        distribute.make_strategy("multi_worker")


def test_unknown_strategy_names_the_choices():
    with pytest.raises(InvalidArgumentError, match="one_device"):
        distribute.make_strategy("tpu")
