"""The losses and metrics together in `model.compile` / `model.fit` of a multi-output model."""

import keras
import numpy as np
import pytest

from affectkeras import losses, metrics
from affectkeras.constants import AU_MASK, EXPR_MASK, VA_MASK

pytestmark = pytest.mark.keras_core  # CI runs these on the JAX backend too

TIME, FEATURES = 10, 16


def tiny_multitask_model():
    frames = keras.Input((TIME, FEATURES), name="features")
    x = keras.layers.Dense(32, activation="relu", name="embed")(frames)
    x = keras.layers.GRU(16, return_sequences=True, name="gru")(x)
    outputs = {
        "valence_arousal": keras.layers.Dense(2, activation="tanh", name="valence_arousal")(x),
        "expression": keras.layers.Dense(8, activation="softmax", name="expression")(x),
        "action_units": keras.layers.Dense(12, activation="sigmoid", name="action_units")(x),
    }
    return keras.Model(frames, outputs, name="tiny_multitask")


def learnable_data(num_sequences=64, masked_fraction=0.3, seed=0):
    """Random features with labels that depend on them; 30 % of each task masked."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_sequences, TIME, FEATURES)).astype("float32")
    va = np.tanh(x @ rng.normal(0, 0.3, (FEATURES, 2))).astype("float32")
    expr = (x @ rng.normal(size=(FEATURES, 8))).argmax(-1).astype("float32")
    au = (x @ rng.normal(size=(FEATURES, 12)) > 0.5).astype("float32")
    va[rng.random(va.shape[:2]) < masked_fraction] = VA_MASK
    expr[rng.random(expr.shape) < masked_fraction] = EXPR_MASK
    au[rng.random(au.shape[:2]) < masked_fraction] = AU_MASK
    return x, {"valence_arousal": va, "expression": expr, "action_units": au}


def compile_multitask(model):
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss={
            "valence_arousal": losses.CCCLoss(),
            "expression": losses.MaskedCategoricalCrossentropy(),
            "action_units": losses.MaskedBinaryCrossentropy(),
        },
        loss_weights={"valence_arousal": 1.0, "expression": 1.0, "action_units": 1.0},
        metrics={
            "valence_arousal": [metrics.ConcordanceCorrelation("mean", name="ccc")],
            "expression": [metrics.ExpressionF1(8, name="f1")],
            "action_units": [metrics.AUF1(12, name="f1")],
        },
    )
    return model


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_multitask_model_learns_with_masked_labels(policy):
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    x, y = learnable_data()
    model = compile_multitask(tiny_multitask_model())
    history = model.fit(x, y, batch_size=8, epochs=6, verbose=0).history
    assert all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["valence_arousal_ccc"][-1] > history["valence_arousal_ccc"][0]


def test_a_batch_without_any_label_of_one_task_trains_without_nan():
    keras.utils.set_random_seed(1)
    x, y = learnable_data(num_sequences=8)
    y["expression"][:] = EXPR_MASK
    model = compile_multitask(tiny_multitask_model())
    before = model.get_layer("expression").get_weights()
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    for old, new in zip(before, model.get_layer("expression").get_weights()):
        np.testing.assert_array_equal(old, new)  # no gradient reached the unlabelled head


def test_compiled_model_round_trips_through_a_keras_file(tmp_path):
    keras.utils.set_random_seed(2)
    x, y = learnable_data(num_sequences=16)
    model = compile_multitask(tiny_multitask_model())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "tiny.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    expected = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    got = restored.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-6), name


def test_default_optimizer_decays_as_the_papers_say_staircase_or_smooth():
    from affectkeras.training import default_optimizer

    staircase = default_optimizer()  # x0.97 every 400 steps, in steps
    smooth = default_optimizer(staircase=False)  # TF1's exponential_decay default
    for step, stepped, continuous in ((0, 1e-3, 1e-3), (399, 1e-3, 1e-3 * 0.97 ** (399 / 400)),
                                      (400, 0.97e-3, 0.97e-3), (1000, 1e-3 * 0.97 ** 2, 1e-3 * 0.97 ** 2.5)):
        for optimizer, expected in ((staircase, stepped), (smooth, continuous)):
            optimizer.iterations.assign(step)
            assert float(optimizer.learning_rate) == pytest.approx(expected, rel=1e-6), (step, expected)
