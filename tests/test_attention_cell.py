"""AttentionCellWrapper against a numpy transcription of TF1's AttentionCellWrapper + GRUCells."""

import keras
import numpy as np
import pytest

from affectkeras.layers import AttentionCellWrapper
from affectkeras.weights.tf1 import keras_gru_weights

pytestmark = pytest.mark.keras_core

RNG = np.random.default_rng(0)
STEPS, INPUTS, UNITS, LENGTH, VEC = 40, 6, 8, 32, 5


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _tf1_gru(x, h, v):
    """TF1 `GRUCell.call` (rnn_cell_impl), variables `gates/kernel|bias`, `candidate/kernel|bias`."""
    r, u = np.split(_sigmoid(np.concatenate([x, h], 1) @ v["gates/kernel"] + v["gates/bias"]), 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], 1) @ v["candidate/kernel"] + v["candidate/bias"])
    return u * h + (1 - u) * c


def _tf1_attention_cell(inputs, v, cells):
    """TF1 `AttentionCellWrapper.call` (contrib/rnn/python/ops/rnn_cell.py) over a whole sequence,
    around a `MultiRNNCell` of `cells` GRUCells, state_is_tuple=True, zero initial state."""
    batch = inputs.shape[0]
    state = [np.zeros((batch, UNITS)) for _ in range(cells)]
    attns = np.zeros((batch, UNITS))                   # attn_size = cell.output_size
    attn_states = np.zeros((batch, LENGTH, UNITS))
    outputs = []
    for t in range(inputs.shape[1]):
        x = np.concatenate([inputs[:, t], attns], 1) @ v["kernel"] + v["bias"]  # _linear1, input_size = in
        new_state = []
        for i in range(cells):                          # MultiRNNCell: cell_i feeds cell_{i+1}
            x = _tf1_gru(x, state[i], v[f"cell_{i}"])
            new_state.append(x)
        cell_output, state = x, new_state
        query = np.concatenate(new_state, 1)            # nest.flatten(new_state) concatenated
        # _attention: a 1x1 conv2d with attn_w is a matmul over the window
        hidden_features = attn_states @ v["attention/attn_w"][0, 0]
        y = query @ v["attention/kernel"] + v["attention/bias"]
        s = np.sum(v["attention/attn_v"] * np.tanh(hidden_features + y[:, None, :]), axis=2)
        a = _softmax(s)
        attns = np.sum(a[:, :, None] * attn_states, axis=1)
        new_attn_states = attn_states[:, 1:]
        output = np.concatenate([cell_output, attns], 1) @ v["attn_output_projection/kernel"] + \
            v["attn_output_projection/bias"]
        attn_states = np.concatenate([new_attn_states, output[:, None]], 1)
        outputs.append(output)
    return np.stack(outputs, 1)


def _tf1_variables(cells):
    def normal(*shape):
        return RNG.normal(0, 0.5, shape)

    v = {"kernel": normal(INPUTS + UNITS, INPUTS), "bias": normal(INPUTS),
         "attention/attn_w": normal(1, 1, UNITS, VEC), "attention/attn_v": normal(VEC),
         "attention/kernel": normal(cells * UNITS, VEC), "attention/bias": normal(VEC),
         "attn_output_projection/kernel": normal(2 * UNITS, UNITS), "attn_output_projection/bias": normal(UNITS)}
    for i in range(cells):
        fan_in = (INPUTS if i == 0 else UNITS) + UNITS
        v[f"cell_{i}"] = {"gates/kernel": normal(fan_in, 2 * UNITS), "gates/bias": normal(2 * UNITS),
                          "candidate/kernel": normal(fan_in, UNITS), "candidate/bias": normal(UNITS)}
    return v


def _keras_rnn(v, cells):
    grus = [keras.layers.GRUCell(UNITS, reset_after=False) for _ in range(cells)]
    cell = AttentionCellWrapper(keras.layers.StackedRNNCells(grus), attention_length=LENGTH, attention_vec_size=VEC)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    rnn.build((None, STEPS, INPUTS))
    for i, gru in enumerate(grus):
        gru.set_weights(keras_gru_weights(*(v[f"cell_{i}"][k] for k in
                                            ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias"))))
    cell.input_kernel.assign(v["kernel"])
    cell.input_bias.assign(v["bias"])
    cell.attention_kernel.assign(v["attention/attn_w"][0, 0])
    cell.attention_vector.assign(v["attention/attn_v"])
    cell.query_kernel.assign(v["attention/kernel"])
    cell.query_bias.assign(v["attention/bias"])
    cell.output_kernel.assign(v["attn_output_projection/kernel"])
    cell.output_bias.assign(v["attn_output_projection/bias"])
    return rnn


@pytest.mark.parametrize("cells", [1, 2])
def test_the_cell_equals_tf1s_attention_cell_wrapper_over_40_steps(cells):
    v = _tf1_variables(cells)
    inputs = RNG.normal(0, 1, (3, STEPS, INPUTS))
    expected = _tf1_attention_cell(inputs, v, cells)
    got = keras.ops.convert_to_numpy(_keras_rnn(v, cells)(inputs.astype("float32")))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The window slides: steps past L see none of the zero-filled start.
    assert np.abs(expected[:, LENGTH + 1:]).max() > 0.1


def test_the_cell_saves_and_loads_with_its_gru_stack(tmp_path):
    v = _tf1_variables(2)
    inputs = keras.Input((None, INPUTS))
    model = keras.Model(inputs, _keras_rnn(v, 2)(inputs))
    x = RNG.normal(0, 1, (2, 12, INPUTS)).astype("float32")
    model.save(tmp_path / "cell.keras")
    loaded = keras.saving.load_model(tmp_path / "cell.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert loaded.layers[-1].cell.attention_length == LENGTH


def test_bad_arguments_name_themselves():
    from affectkeras.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="attention_length"):
        AttentionCellWrapper(keras.layers.GRUCell(4), attention_length=0)
    with pytest.raises(InvalidArgumentError, match="RNN cell"):
        AttentionCellWrapper(keras.layers.Dense(4))
    with pytest.raises(InvalidArgumentError, match="has dropout"):
        AttentionCellWrapper(keras.layers.StackedRNNCells([keras.layers.GRUCell(4, recurrent_dropout=0.1)]))
    with pytest.raises(InvalidArgumentError, match=r"gates_bias.*\(8,\)"):
        keras_gru_weights(np.zeros((10, 8)), np.zeros(3), np.zeros((10, 4)), np.zeros(4))
