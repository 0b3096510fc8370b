"""The released AffWildNet TF1 checkpoint converter, on checkpoints written here with its names."""

import numpy as np
import pytest
import tensorflow as tf

from affectkeras.errors import WeightsError
from affectkeras.checkpoints import convert_affwildnet
from tests.test_attention_cell import _tf1_gru

CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
         (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
POOL_AFTER = {2, 4, 7, 10, 13}  # VGG-16's blocks
GRU = "rnn_1/rnn/multi_rnn_cell/cell_{}/gru_cell/"


def released_variables(seed=0, spelling=("kernel", "bias")):
    """Variables named and shaped as `affwildnet/vggface_gru.py` (TF 1.8) makes them."""
    rng = np.random.default_rng(seed)

    def he(fan_in, *shape):
        return (rng.normal(0, np.sqrt(2.0 / fan_in), shape)).astype("float32")

    v = {}
    for i, (c_in, c_out) in enumerate(CONVS, start=1):
        v[f"conv_{i}/weights"], v[f"conv_{i}/biases"] = he(9 * c_in, 3, 3, c_in, c_out), he(100, c_out)
    v["linear_1/weights"], v["linear_1/biases"] = he(4608, 4608, 4096), he(100, 4096)
    kernel, bias = spelling
    for k, fan_in in enumerate((4096 + 128, 128 + 128)):
        v[GRU.format(k) + f"gates/{kernel}"], v[GRU.format(k) + f"gates/{bias}"] = he(fan_in, fan_in, 256), he(50, 256)
        v[GRU.format(k) + f"candidate/{kernel}"] = he(fan_in, fan_in, 128)
        v[GRU.format(k) + f"candidate/{bias}"] = he(50, 128)
    v["rnn_1/weights_rnn"], v["rnn_1/biases_rnn"] = he(128, 128, 2), he(10, 2)
    return v


def write_checkpoint(prefix, variables):
    """A TF1-style (name-based) V2 checkpoint, as `tf.train.Saver` writes it."""
    names = sorted(variables)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[variables[n] for n in names])
    return str(prefix)


def released_forward(faces, v):
    """`vggface_gru.py`'s graph on uint8 RGB sequences: (x - 128) / 128, 13 SAME convs + ReLU,
    SAME 2x2 max pools, flatten, relu_layer, MultiRNNCell of 2 GRUCells, xw_plus_b per frame."""
    batch, time = faces.shape[:2]
    x = tf.reshape((tf.cast(faces, tf.float32) - 128.0) / 128.0, (batch * time, 96, 96, 3))
    for i in range(1, 14):
        x = tf.nn.relu(tf.nn.conv2d(x, v[f"conv_{i}/weights"], 1, "SAME") + v[f"conv_{i}/biases"])
        if i in POOL_AFTER:
            x = tf.nn.max_pool2d(x, 2, 2, "SAME")
    x = tf.nn.relu(tf.reshape(x, (batch * time, -1)) @ v["linear_1/weights"] + v["linear_1/biases"])
    x = x.numpy().reshape(batch, time, -1).astype("float64")
    states, outputs = [np.zeros((batch, 128)), np.zeros((batch, 128))], []
    for t in range(time):
        h = x[:, t]
        for k in range(2):
            cell = {name: v[GRU.format(k) + name] for name in
                    ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")}
            h = states[k] = _tf1_gru(h, states[k], cell)
        outputs.append(h @ v["rnn_1/weights_rnn"] + v["rnn_1/biases_rnn"])
    return np.stack(outputs, 1)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    variables = released_variables()
    prefix = write_checkpoint(tmp_path_factory.mktemp("affwildnet") / "model.ckpt-0", variables)
    return prefix, variables


def test_the_converted_network_computes_what_the_released_graph_computes(released):
    prefix, variables = released
    model = convert_affwildnet(prefix)
    assert model.name == "affwildnet" and model.input["faces"].shape == (None, None, 96, 96, 3)
    faces = np.random.default_rng(1).integers(0, 256, (2, 3, 96, 96, 3)).astype("uint8")
    expected = released_forward(faces, variables)
    got = model.predict({"faces": faces}, verbose=0)["valence_arousal"]
    assert np.abs(expected).max() > 0.05  # the reference is not trivially small
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_the_older_weights_biases_spelling_converts_too(tmp_path):
    variables = released_variables(seed=2, spelling=("weights", "biases"))
    write_checkpoint(tmp_path / "model.ckpt-0", variables)
    model = convert_affwildnet(tmp_path)  # a folder without TF's `checkpoint` file: its one checkpoint
    np.testing.assert_array_equal(model.get_layer("valence_arousal").get_weights()[1], variables["rnn_1/biases_rnn"])


@pytest.mark.parametrize("change, message", [
    (lambda v: v.pop("conv_7/biases"), r"no variable 'conv_7/biases' \(expected shape \(256,\)\)"),
    (lambda v: v.update({"linear_1/weights": np.zeros((25088, 4096), "float32")}),
     r"variable 'linear_1/weights' has shape \(25088, 4096\), expected \(4608, 4096\)"),
    (lambda v: [v.pop(k) for k in list(v) if k.startswith("rnn_1/rnn")], "not an AffWildNet VGG-Face \\+ GRU"),
])
def test_a_checkpoint_that_does_not_fit_is_named_in_one_line(tmp_path, change, message):
    variables = released_variables(seed=3)
    change(variables)
    prefix = write_checkpoint(tmp_path / "model.ckpt-0", variables)
    with pytest.raises(WeightsError, match=message) as error:
        convert_affwildnet(prefix)
    assert str(prefix) in str(error.value) and "\n" not in str(error.value)


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    bad = tmp_path / "model.ckpt-0"
    bad.write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="not a readable TensorFlow checkpoint"):
        convert_affwildnet(bad)


def test_the_command_writes_a_keras_model_that_the_library_loads(released, tmp_path, capsys):
    from affectkeras.cli import main
    from affectkeras.models import describe
    from affectkeras.runs import load_trained_model

    prefix, variables = released
    out = tmp_path / "affwildnet.keras"
    assert main(["convert", prefix, "--out", str(out)]) == 0
    model = load_trained_model(out)
    description = describe(model)
    assert (description.sequence, description.face_size, description.tasks) == (True, 96, ("va",))
    np.testing.assert_array_equal(model.get_layer("rnn_2").get_weights()[0][:, :128],
                                  variables[GRU.format(1) + "gates/kernel"][:128, 128:])  # update gate
    assert main(["convert", str(tmp_path / "missing.ckpt"), "--out", str(tmp_path / "x.keras")]) == 2
    error = capsys.readouterr().err
    assert "missing.ckpt" in error and "Traceback" not in error and not (tmp_path / "x.keras").exists()
