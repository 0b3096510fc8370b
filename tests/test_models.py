"""Every network builder at tiny width: outputs, training, strategies, round trips, export."""

import keras
import numpy as np
import pytest

import affectkeras
from affectkeras import training, weights
from affectkeras.backbones import VGGFace
from affectkeras.errors import InvalidArgumentError
from affectkeras.models import inference_model
from tests.test_weights import _assert_loaded, _write_legacy_h5

pytestmark = pytest.mark.keras_core  # CI runs these on the JAX backend too

TINY = dict(width=0.05)
T, SIZE = 4, 32
RNG = np.random.default_rng(0)


def faces(batch, time=None, size=SIZE):
    shape = (batch, size, size, 3) if time is None else (batch, time, size, size, 3)
    return RNG.integers(0, 256, shape).astype("uint8")


def targets(batch, time=None, classes=8, aus=12):
    lead = (batch,) if time is None else (batch, time)
    y = {
        "valence_arousal": RNG.uniform(-1, 1, lead + (2,)).astype("float32"),
        "expression": RNG.integers(0, classes, lead).astype("float32"),
        "action_units": RNG.integers(0, 2, lead + (aus,)).astype("float32"),
    }
    for value, sentinel in zip(y.values(), (-5.0, -1.0, -1.0)):
        value[RNG.random(lead) < 0.3] = sentinel  # 30 % of each task unannotated
    return y


NETWORKS = {
    "vggface_gru": lambda: affectkeras.build_cnn_rnn(sequence_length=T, input_size=SIZE, **TINY),
    "vggface_lstm_attention": lambda: affectkeras.build_cnn_rnn(
        rnn="lstm", attention=True, attention_length=2, sequence_length=T, input_size=SIZE, tasks=("va", "expr"), **TINY
    ),
    "vggface_indrnn_attention": lambda: affectkeras.build_cnn_rnn(
        rnn="indrnn", attention=True, sequence_length=T, input_size=SIZE, tasks=("au",), num_aus=8, **TINY
    ),
    "resnet50_gru": lambda: affectkeras.build_cnn_rnn(backbone="resnet50", sequence_length=T, input_size=SIZE, **TINY),
    "densenet121_gru_attention": lambda: affectkeras.build_cnn_rnn(
        backbone="densenet121", attention="window", sequence_length=T, input_size=SIZE, tasks=("expr",), num_expressions=7, **TINY
    ),
    "affwildnet": lambda: affectkeras.build_cnn_rnn(
        va_activation="linear", sequence_length=T, input_size=SIZE, name="affwildnet", **TINY
    ),
    "mt_vgg": lambda: affectkeras.build_mt_vgg(input_size=SIZE, **TINY),
    "mt_vgg_rnn": lambda: affectkeras.build_mt_vgg_rnn(sequence_length=T, input_size=SIZE, **TINY),
    "av_mt_vgg_rnn": lambda: affectkeras.build_av_mt_vgg_rnn(
        sequence_length=T, input_size=SIZE, audio_window_steps=10, n_mels=8, **TINY
    ),
    "mt_arcres": lambda: affectkeras.build_mt_arcres(input_size=SIZE, **TINY),
    "mt_arcvgg": lambda: affectkeras.build_mt_arcvgg(input_size=SIZE, num_expressions=7, num_aus=8, **TINY),
}
SEQUENCE = {name for name in NETWORKS if not name.startswith(("mt_vgg", "mt_arc")) or name == "mt_vgg_rnn"}
MULTITASK = ["mt_vgg", "mt_vgg_rnn", "av_mt_vgg_rnn", "mt_arcres", "mt_arcvgg"]


def inputs_for(model, batch=2):
    shapes = {tensor.name: tuple(tensor.shape[1:]) for tensor in model.inputs}
    out = {}
    for name, shape in shapes.items():
        if name == "faces":
            out[name] = RNG.integers(0, 256, (batch,) + shape).astype("uint8")
        elif name == "audio":
            out[name] = RNG.normal(size=(batch,) + shape).astype("float32")
        else:  # expression_labels
            out[name] = np.array([0, -1] * (batch // 2), "int32")
    return out


EXPECTED_OUTPUTS = {
    "vggface_gru": {"valence_arousal": 2},
    "vggface_lstm_attention": {"valence_arousal": 2, "expression": 8},
    "vggface_indrnn_attention": {"action_units": 8},
    "resnet50_gru": {"valence_arousal": 2},
    "densenet121_gru_attention": {"expression": 7},
    "affwildnet": {"valence_arousal": 2},
    "mt_vgg": {"valence_arousal": 2, "expression": 8, "action_units": 12},
    "mt_vgg_rnn": {"valence_arousal": 2, "expression": 8, "action_units": 12},
    "av_mt_vgg_rnn": {"valence_arousal": 2, "expression": 8, "action_units": 12},
    "mt_arcres": {"valence_arousal": 2, "expression": 8, "action_units": 12},
    "mt_arcvgg": {"valence_arousal": 2, "expression": 7, "action_units": 8},
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_builder_output_names_and_shapes(name):
    model = NETWORKS[name]()
    outputs = model(inputs_for(model))
    lead = (2, T) if name in SEQUENCE else (2,)
    assert {key: tuple(value.shape) for key, value in outputs.items()} == {
        key: lead + (width,) for key, width in EXPECTED_OUTPUTS[name].items()
    }
    assert all("/" not in layer.name for layer in model.layers)


def test_affwildnet_has_a_linear_va_output_and_attention_is_optional():
    assert NETWORKS["affwildnet"]().get_layer("valence_arousal").activation.__name__ == "linear"
    assert "attention" not in [layer.name for layer in NETWORKS["vggface_gru"]().layers]
    # attention=True is the papers' cell around the RNN stack; "window" the layer after it.
    assert [layer.name for layer in NETWORKS["vggface_lstm_attention"]().layers][2:3] == ["rnn_attention"]
    assert "attention" in [layer.name for layer in NETWORKS["densenet121_gru_attention"]().layers]


def test_full_size_affwildnet_parameter_count():
    model = affectkeras.build_cnn_rnn(va_activation="linear")  # VGG-Face fc6 + 2 x GRU(128)
    conv, fc6 = 14_714_688, 18_878_464
    gru = lambda inputs: 3 * (inputs * 128 + 128 * 128 + 128)  # noqa: E731 (TF1's GRUCell: one bias)
    assert model.count_params() == conv + fc6 + gru(4096) + gru(128) + (128 * 2 + 2)
    keras_gru = affectkeras.build_cnn_rnn(va_activation="linear", gru_reset_after=True, sequence_length=T, width=0.05)
    assert keras_gru.get_layer("rnn_1").get_weights()[-1].shape == (2, 3 * 6)  # two biases per gate


@pytest.mark.parametrize("name", MULTITASK)
def test_multitask_networks_train_two_steps_with_masked_labels(name):
    model = training.compile_preset(NETWORKS[name](), run_eagerly=True)  # eager: no tracing cost
    x = inputs_for(model, batch=4)
    classes = EXPECTED_OUTPUTS[name]["expression"]
    y = targets(4, T if name in SEQUENCE else None, classes, EXPECTED_OUTPUTS[name]["action_units"])
    if "expression_labels" in x:
        x["expression_labels"] = np.where(y["expression"] < 0, -1, y["expression"]).astype("int32")
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert {"valence_arousal_ccc", "expression_f1", "action_units_f1"} <= set(history)


def test_compile_preset_uses_logits_for_arcface_and_the_papers_optimizer():
    model = training.compile_preset(NETWORKS["mt_arcres"]())
    assert model.loss["expression"].from_logits
    schedule = model.optimizer.learning_rate
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer._learning_rate(800)) == pytest.approx(1e-3 * 0.97**2)
    assert schedule is not None


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_keras_file_round_trip_gives_identical_predictions(name, tmp_path):
    model = NETWORKS[name]()
    x = inputs_for(model)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    expected, got = model(x), restored(x)
    for key in expected:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got[key]), keras.ops.convert_to_numpy(expected[key]))


def test_arcface_inference_model_drops_the_labels_input_and_gives_probabilities():
    model = NETWORKS["mt_arcres"]()
    served = inference_model(model)
    assert [tensor.name for tensor in served.inputs] == ["faces"]
    x = inputs_for(model)
    probabilities = keras.ops.convert_to_numpy(served({"faces": x["faces"]})["expression"])
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    logits = keras.ops.convert_to_numpy(model({**x, "expression_labels": np.array([-1, -1], "int32")})["expression"])
    np.testing.assert_allclose(probabilities, keras.ops.convert_to_numpy(keras.ops.softmax(logits)), rtol=1e-5, atol=1e-7)
    assert inference_model(NETWORKS["mt_vgg"]()) is not None


def _pretrained_mt_vgg_rnn(path):
    """MT-VGG-RNN whose VGG-Face convs come from `path` (a notop file: fc6 starts random)."""
    with pytest.warns(UserWarning, match=r"\['fc6'\] are not in the weights file"):
        return affectkeras.build_mt_vgg_rnn(pretraining=str(path), sequence_length=T, input_size=SIZE, **TINY)


def _weights_of(model, path):
    return [np.array(w) for w in dict((p, layer) for p, layer, _ in weights.weight_layers(model))[path].get_weights()]


def test_strategy_i_keeps_the_pretrained_convs_fixed_and_trains_fc6_then_iii_carries_fc6(tmp_path):
    reference = VGGFace(include_top=False, input_shape=(SIZE, SIZE, 3), **TINY)
    notop = tmp_path / "vggface_notop.weights.h5"
    reference.save_weights(notop)
    written = {layer.name: layer.get_weights() for layer in reference.layers if layer.weights}
    first = _pretrained_mt_vgg_rnn(notop)
    frozen = training.freeze_cnn(first)
    backbone = "visual_cnn/vggface/vggface/"
    assert frozen == [backbone + name for name in written]  # the 13 convs the file set, not fc6
    training.compile_preset(first, run_eagerly=True)
    fc6, conv = backbone + "fc6", backbone + "conv5_3"
    before = {path: _weights_of(first, path) for path in (fc6, conv)}
    rnn_before = [w.copy() for w in first.get_layer("rnn_1").get_weights()]
    first.fit(inputs_for(first, 2), targets(2, T), verbose=0)
    for old, new in zip(before[conv], _weights_of(first, conv)):
        np.testing.assert_array_equal(old, new)  # the pretrained convs do not move
    assert any(not np.array_equal(a, b) for a, b in zip(before[fc6], _weights_of(first, fc6)))  # fc6 trains
    assert any(not np.array_equal(a, b) for a, b in zip(rnn_before, first.get_layer("rnn_1").get_weights()))

    second = _pretrained_mt_vgg_rnn(notop)
    copied = training.init_from(second, first)
    assert {"rnn_1", "rnn_2", "valence_arousal", fc6} <= set(copied) and conv not in copied
    for a, b in zip(_weights_of(second, fc6), _weights_of(first, fc6)):
        np.testing.assert_array_equal(a, b)  # (iii) pairs the copied RNN with the fc6 it trained with
    for a, b in zip(_weights_of(second, conv), written["conv5_3"]):
        np.testing.assert_array_equal(a, b)
    training.unfreeze_all(second)
    assert all(layer.trainable for _, layer, _ in weights.weight_layers(second))


def test_strategy_i_on_a_network_read_from_a_file_freezes_its_whole_cnn(tmp_path):
    model = affectkeras.build_mt_vgg_rnn(sequence_length=T, input_size=SIZE, **TINY)
    with pytest.raises(InvalidArgumentError, match="holds pretrained weights.*pretraining="):
        training.freeze_cnn(model)  # nothing pretrained: (i) would fix a random projection
    model.save(tmp_path / "trained.keras")
    loaded = keras.saving.load_model(tmp_path / "trained.keras")
    frozen = training.freeze_cnn(loaded)
    assert frozen[-1].endswith("/fc6") and len(frozen) == 14
    assert not loaded.get_layer("visual_cnn").trainable_weights and loaded.get_layer("rnn_1").trainable_weights


def test_init_from_refuses_mismatched_shapes():
    small = NETWORKS["mt_vgg_rnn"]()
    other = affectkeras.build_mt_vgg_rnn(sequence_length=T, input_size=SIZE, width=0.1)
    # The random CNN is copied too (it trained with the RNN), so its first layer is named.
    with pytest.raises(InvalidArgumentError, match=r"'visual_cnn/vggface/vggface/conv1_1' has weights of shapes"):
        training.init_from(small, other)
    with pytest.raises(InvalidArgumentError, match="'rnn_1' has weights of shapes"):
        training.init_from(small, affectkeras.build_mt_vgg_rnn(sequence_length=T, input_size=SIZE, rnn_units=300, **TINY))


def test_pretrained_backbone_weights_load_by_name_through_the_builder(tmp_path):
    reference = VGGFace(include_top=False, input_shape=(SIZE, SIZE, 3), **TINY)
    path = tmp_path / "vggface_notop.h5"
    written = _write_legacy_h5(path, reference)
    # The notop file has no fc6 (at this input size it could not fit anyway): the builder says so.
    with pytest.warns(UserWarning, match=r"\['fc6'\] are not in the weights file"):
        model = affectkeras.build_cnn_rnn(pretraining=str(path), sequence_length=T, input_size=SIZE, **TINY)
    backbone = model.get_layer("visual_cnn").layer.get_layer("vggface")
    _assert_loaded(backbone, written)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(backbone="vgg19"), "backbone='vgg19'"),
        (dict(rnn="transformer"), "rnn='transformer'"),
        (dict(tasks=("va", "pain")), "tasks='pain'"),
        (dict(num_expressions=6), "num_expressions=6"),
        (dict(feature_layer="fc6", backbone="resnet50"), "feature_layer='fc6'"),
        (dict(rnn_units=0), "rnn_units=0"),
    ],
)
def test_builder_arguments_are_checked(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        affectkeras.build_cnn_rnn(**kwargs, **TINY)


def test_arcface_networks_need_the_expression_task():
    with pytest.raises(InvalidArgumentError, match="tasks="):
        affectkeras.build_mt_arcres(tasks=("va",), **TINY)


def test_compile_preset_finds_every_output_of_an_arcface_inference_model():
    served = training.compile_preset(inference_model(NETWORKS["mt_arcres"]()))
    assert set(served.loss) == {"valence_arousal", "expression", "action_units"}
    assert not served.loss["expression"].from_logits  # softmax probabilities, not ArcFace logits


# ------------------------------------------------------------------------ registry, describe

EXPECTED_DESCRIPTIONS = {  # network, sequence_length, audio_shape, tasks, takes_labels
    "vggface_gru": ("cnn_rnn", T, None, ("va",), False),
    "vggface_lstm_attention": ("cnn_rnn", T, None, ("va", "expr"), False),
    "vggface_indrnn_attention": ("cnn_rnn", T, None, ("au",), False),
    "resnet50_gru": ("cnn_rnn", T, None, ("va",), False),
    "densenet121_gru_attention": ("cnn_rnn", T, None, ("expr",), False),
    "affwildnet": ("cnn_rnn", T, None, ("va",), False),
    "mt_vgg": ("mt_vgg", None, None, ("va", "expr", "au"), False),
    "mt_vgg_rnn": ("mt_vgg_rnn", T, None, ("va", "expr", "au"), False),
    "av_mt_vgg_rnn": ("av_mt_vgg_rnn", T, (10, 8, 1), ("va", "expr", "au"), False),
    "mt_arcres": ("mt_arcres", None, None, ("va", "expr", "au"), True),
    "mt_arcvgg": ("mt_arcvgg", None, None, ("va", "expr", "au"), True),
}


def _description_facts(description):
    return (description.network, description.sequence_length, description.audio_shape, description.tasks,
            description.takes_labels)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_describe_every_network_built_and_after_a_keras_round_trip(name, tmp_path):
    from affectkeras.models import describe

    model = NETWORKS[name]()
    described = describe(model)
    assert _description_facts(described) == EXPECTED_DESCRIPTIONS[name]
    assert described.face_size == SIZE
    assert list(described.outputs) == [o for o in ("valence_arousal", "expression", "action_units")
                                       if o in described.outputs]
    path = tmp_path / "model.keras"
    model.save(path)
    assert describe(keras.saving.load_model(path, compile=False)) == described
    if described.takes_labels:  # the serving network: same family, no labels input
        served = describe(inference_model(model))
        assert served.network == described.network and not served.takes_labels


def test_registry_builds_every_network_it_names():
    from affectkeras.models import NETWORKS as REGISTRY
    from affectkeras.models import describe, get_network

    for name, network in REGISTRY.items():
        kwargs = dict(input_size=SIZE, **TINY)
        if network.sequence:
            kwargs["sequence_length"] = T
        model = network.build(**kwargs)
        described = describe(model)
        assert described.network == name
        assert described.sequence == network.sequence
        assert (described.audio_shape is not None) == network.audio
        assert described.takes_labels == network.arcface
        assert described.modalities == network.modalities
    with pytest.raises(InvalidArgumentError, match="network"):
        get_network("mt_resnet")


def test_describe_surgery_networks_and_open_lengths():
    from affectkeras.models import audio_classifier, describe, frame_classifier

    av = NETWORKS["av_mt_vgg_rnn"]()
    clips = describe(audio_classifier(av, num_classes=8, time_windows=3))
    assert (clips.network, clips.face_size, clips.audio_shape, clips.audio_windows) == (
        "audio_classifier", None, (10, 8, 1), 3)
    images = describe(frame_classifier(av, num_expressions=7))
    assert (images.network, images.sequence_length, images.outputs) == ("frame_classifier", None, {"expression": 7})
    open_length = describe(affectkeras.build_cnn_rnn(sequence_length=None, input_size=SIZE, **TINY))
    assert (open_length.sequence_length, open_length.face_size) == (80, SIZE)


def test_describe_refuses_a_model_of_another_library():
    from affectkeras.models import describe

    inputs = keras.Input((8,), name="x")
    with pytest.raises(InvalidArgumentError, match="not an affectkeras network"):
        describe(keras.Model(inputs, keras.layers.Dense(2, name="valence_arousal")(inputs)))


def test_audio_window_constant_matches_the_spectrogram_defaults():
    from affectkeras.audio import SpectrogramConfig
    from affectkeras.constants import AUDIO_WINDOW

    assert (SpectrogramConfig().steps, SpectrogramConfig().n_mels) == AUDIO_WINDOW


@pytest.mark.parametrize("name", ["vggface_gru", "av_mt_vgg_rnn", "affwildnet_landmarks"])
def test_the_face_stream_and_the_rest_give_the_per_frame_part(name, tmp_path):
    """`split_face_stream` (a crop shown twice goes through the visual stream once): its two
    parts give what the per-frame part gives, on another length; the network still saves."""
    from affectkeras.models.surgery import split_face_stream, split_sequence_network

    if name == "affwildnet_landmarks":
        model = affectkeras.build_cnn_rnn(landmarks=True, sequence_length=T, input_size=SIZE, **TINY)
    else:
        model = NETWORKS[name]()
    per_frame, _ = split_sequence_network(model)
    face_stream, rest = split_face_stream(model)
    time = T + 3
    inputs = {tensor.name: RNG.normal(size=(1, time) + tuple(tensor.shape[2:])).astype("float32")
              for tensor in per_frame.inputs}
    inputs["faces"] = faces(1, time)
    expected = keras.ops.convert_to_numpy(per_frame(inputs))
    features = face_stream(inputs["faces"])
    got = features if rest is None else rest([features, *(keras.ops.convert_to_tensor(inputs[t.name])
                                                          for t in rest.inputs[1:])])
    assert (rest is None) == (name == "vggface_gru")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, atol=1e-6)
    model.save(tmp_path / "model.keras")
    assert split_face_stream(NETWORKS["mt_vgg"]()) is None  # a per-frame network: nothing to split
