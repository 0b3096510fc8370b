"""Tests of affectkeras.backbones: structure, names, parameter counts, shapes, arguments."""

import keras
import numpy as np
import pytest

from affectkeras.backbones import AudioCNN, DenseNet121, ResNet50Face, VGGFace
from affectkeras.errors import InvalidArgumentError

pytestmark = pytest.mark.keras_core  # CI runs these on the JAX backend too

TINY = 1 / 16  # 4-32 filters, 256 fc units: builds in well under a second

RNG = np.random.default_rng(0)
HEADS = [(True, None), (False, None), (False, "avg"), (False, "max")]


def _images(*shape):
    return RNG.uniform(-1, 1, size=shape).astype("float32")


def _weighted_names(model):
    return [layer.name for layer in model.layers if layer.weights]


def _keras_vggface_vgg16_names(include_top=True):
    """keras-vggface's models.VGG16 layer names with weights, in order."""
    names = [
        f"conv{block}_{i}"
        for block, convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
        for i in range(1, convs + 1)
    ]
    return names + (["fc6", "fc7", "fc8"] if include_top else [])


def _keras_vggface_resnet50_names(include_top=True):
    """keras-vggface's models.RESNET50 layer names with weights, with their `/`."""
    names = ["conv1/7x7_s2", "conv1/7x7_s2/bn"]
    for stage, blocks in ((2, 3), (3, 4), (4, 6), (5, 3)):
        for block in range(1, blocks + 1):
            parts = ["1x1_reduce", "3x3", "1x1_increase"] + (["1x1_proj"] if block == 1 else [])
            for part in parts:
                names += [f"conv{stage}_{block}_{part}", f"conv{stage}_{block}_{part}/bn"]
    return names + (["classifier"] if include_top else [])


# --------------------------------------------------------------------------- VGGFace


def test_vggface_full_size_parameter_counts():
    conv = VGGFace(include_top=False)
    assert conv.count_params() == 14_714_688
    fc7 = VGGFace(include_top="fc7", input_shape=(96, 96, 3))
    assert fc7.count_params() - conv.count_params() == 35_659_776
    assert fc7.get_layer("fc6").count_params() == 4608 * 4096 + 4096 == 18_878_464
    assert fc7.get_layer("fc7").count_params() == 16_781_312
    assert fc7.get_layer("pool5").output.shape == (None, 3, 3, 512)
    fc6 = VGGFace(include_top="fc6")
    assert fc6.count_params() == 14_714_688 + 18_878_464


def test_vggface_conv_part_equals_keras_applications_vgg16():
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(96, 96, 3))
    assert VGGFace(include_top=False).count_params() == reference.count_params()


def test_vggface_layer_names_are_keras_vggface_names():
    model = VGGFace(include_top=True, width=TINY)
    assert _weighted_names(model) == _keras_vggface_vgg16_names()
    names = [layer.name for layer in model.layers]
    for block in range(1, 6):
        assert f"pool{block}" in names
    # keras-vggface's `fc6/relu`, `fc7/relu`, `fc8/softmax` with `_`.
    assert names[-7:] == ["flatten", "fc6", "fc6_relu", "fc7", "fc7_relu", "fc8", "fc8_softmax"]
    assert _weighted_names(VGGFace(include_top=False, width=TINY)) == _keras_vggface_vgg16_names(
        include_top=False
    )


@pytest.mark.parametrize("size", [96, 112])
@pytest.mark.parametrize(
    "include_top, pooling, expected",
    [
        (True, None, lambda s: (10,)),
        ("fc7", None, lambda s: (256,)),
        ("fc6", None, lambda s: (256,)),
        (False, None, lambda s: (s // 32, s // 32, 32)),
        (False, "avg", lambda s: (32,)),
        (False, "max", lambda s: (32,)),
    ],
)
def test_vggface_tiny_forward_shapes(size, include_top, pooling, expected):
    model = VGGFace(
        include_top=include_top, pooling=pooling, classes=10, width=TINY,
        input_shape=(size, size, 3),
    )
    out = model(_images(2, size, size, 3))
    assert tuple(out.shape) == (2, *expected(size))
    if include_top is True:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(out).sum(-1), 1.0, rtol=1e-5)
    if include_top == "fc6":
        assert model.layers[-1].name == "fc6_relu"


# ---------------------------------------------------------------------- ResNet50Face


def test_resnet50_face_full_size_parameter_count_matches_keras_vggface():
    model = ResNet50Face(include_top=False)
    # keras-vggface's RESNET50 notop: keras.applications.ResNet50's structure, but its
    # convolutions have no bias.
    reference = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(96, 96, 3)
    )
    conv_biases = sum(
        layer.bias.shape[0]
        for layer in reference.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias
    )
    assert model.count_params() == reference.count_params() - conv_biases == 23_561_152
    top = ResNet50Face(include_top=True)
    assert top.count_params() - model.count_params() == 2048 * 8631 + 8631


def test_resnet50_face_names_are_keras_vggface_names_with_underscores():
    model = ResNet50Face(include_top=True, width=TINY)
    expected = [name.replace("/", "_") for name in _keras_vggface_resnet50_names()]
    assert sorted(_weighted_names(model)) == sorted(expected)
    assert len(expected) == 107  # 53 convs + 53 batch norms + classifier
    assert model.get_layer("conv1_7x7_s2").kernel_size == (7, 7)
    assert model.get_layer("conv1_7x7_s2").strides == (2, 2)
    assert model.get_layer("conv3_1_1x1_reduce").strides == (2, 2)
    assert model.get_layer("conv2_1_1x1_reduce").strides == (1, 1)
    assert not model.get_layer("conv4_2_3x3").use_bias
    assert model.get_layer("avg_pool") is not None


@pytest.mark.parametrize("size, grid", [(96, 3), (112, 4)])
@pytest.mark.parametrize("include_top, pooling", HEADS)
def test_resnet50_face_tiny_forward_shapes(size, grid, include_top, pooling):
    model = ResNet50Face(
        include_top=include_top, pooling=pooling, classes=7, width=TINY,
        input_shape=(size, size, 3),
    )
    out = model(_images(2, size, size, 3))
    channels = 128  # 2048 / 16
    if include_top:
        assert tuple(out.shape) == (2, 7)
    elif pooling is None:
        assert tuple(out.shape) == (2, grid, grid, channels)
    else:
        assert tuple(out.shape) == (2, channels)


# ----------------------------------------------------------------------- DenseNet121


def test_densenet121_full_size_matches_keras_applications():
    model = DenseNet121(include_top=False)
    reference = keras.applications.DenseNet121(
        include_top=False, weights=None, input_shape=(96, 96, 3)
    )
    assert model.count_params() == reference.count_params() == 7_037_504
    assert _weighted_names(model) == _weighted_names(reference)
    assert model.output.shape == reference.output.shape == (None, 3, 3, 1024)


@pytest.mark.parametrize("size", [96, 112])
@pytest.mark.parametrize("include_top, pooling", HEADS)
def test_densenet121_tiny_forward_shapes(size, include_top, pooling):
    model = DenseNet121(
        include_top=include_top, pooling=pooling, classes=5, width=0.125, blocks=(1, 2, 2, 1),
        input_shape=(size, size, 3),
    )
    out = model(_images(2, size, size, 3))
    # growth 4, stem 8: 8+4=12 -> 6 -> 6+8=14 -> 7 -> 7+8=15 -> 7 -> 7+4=11 channels
    if include_top:
        assert tuple(out.shape) == (2, 5)
    elif pooling is None:
        assert tuple(out.shape) == (2, size // 32, size // 32, 11)
    else:
        assert tuple(out.shape) == (2, 11)


def test_densenet121_rejects_bad_blocks():
    with pytest.raises(InvalidArgumentError, match=r"Received: blocks=\(1, 2\)"):
        DenseNet121(blocks=(1, 2))


# -------------------------------------------------------------------------- AudioCNN


def test_audio_cnn_full_size_and_shapes():
    model = AudioCNN()
    assert model.count_params() == 422_176
    assert model.output.shape == (None, 128)
    # Far cheaper than VGGFace's fc6 at 96x96 (18,878,464 parameters).
    assert model.count_params() < 18_878_464 / 40


@pytest.mark.parametrize("input_shape", [(64, 64, 1), (100, 40, 1), (7, 5, 2)])
def test_audio_cnn_tiny_forward_any_window(input_shape):
    model = AudioCNN(input_shape=input_shape, width=0.125, embedding_dim=6)
    out = model(_images(3, *input_shape))
    assert tuple(out.shape) == (3, 6)
    assert all(layer.name.startswith("audio_cnn_") for layer in model.layers)


def test_audio_cnn_names_follow_model_name():
    model = AudioCNN(width=0.125, name="speech")
    assert {layer.name for layer in model.layers} >= {
        "speech_input", "speech_block1_conv", "speech_block4_pool", "speech_gap",
        "speech_embedding",
    }


# --------------------------------------------------------------------- All backbones

_TINY_BUILDERS = {
    "vggface": lambda **kw: VGGFace(width=TINY, classes=3, **kw),
    "resnet50_face": lambda **kw: ResNet50Face(width=TINY, classes=3, **kw),
    "densenet121": lambda **kw: DenseNet121(width=0.125, blocks=(1, 1, 1, 1), classes=3, **kw),
}


@pytest.mark.parametrize("backbone", sorted(_TINY_BUILDERS))
def test_no_layer_name_has_a_slash(backbone):
    model = _TINY_BUILDERS[backbone](include_top=True)
    assert all("/" not in layer.name for layer in model.layers)
    assert len({layer.name for layer in model.layers}) == len(model.layers)
    assert all("/" not in layer.name for layer in AudioCNN(width=0.125).layers)


@pytest.mark.parametrize("backbone", sorted(_TINY_BUILDERS))
@pytest.mark.parametrize("shape", [(32, 32, 3), (45, 61, 3), (33, 200, 1)])
def test_any_input_size_from_32_works(backbone, shape):
    model = _TINY_BUILDERS[backbone](include_top=True, input_shape=shape)
    assert tuple(model(_images(1, *shape)).shape) == (1, 3)


@pytest.mark.parametrize("backbone", sorted(_TINY_BUILDERS))
@pytest.mark.parametrize("shape", [(31, 96, 3), (96, 16, 3), (96, 96), (96, 96, 0), (96.0, 96, 3)])
def test_input_shape_checked(backbone, shape):
    with pytest.raises(InvalidArgumentError, match=r"Received: input_shape="):
        _TINY_BUILDERS[backbone](include_top=False, input_shape=shape)


@pytest.mark.parametrize("backbone", sorted(_TINY_BUILDERS))
def test_argument_checks(backbone):
    build = _TINY_BUILDERS[backbone]
    with pytest.raises(InvalidArgumentError, match=r"Received: pooling='avg'"):
        build(include_top=True, pooling="avg")
    with pytest.raises(InvalidArgumentError, match=r"Received: pooling='mean'"):
        build(include_top=False, pooling="mean")
    with pytest.raises(InvalidArgumentError, match=r"Received: include_top='fc9'"):
        build(include_top="fc9")
    with pytest.raises(InvalidArgumentError, match=r"Received: width=0"):
        _builder_with(backbone, width=0)
    with pytest.raises(InvalidArgumentError, match=r"Received: name='a/b'"):
        build(name="a/b")
    with pytest.raises(InvalidArgumentError, match=r"Received: weights='no_such_preset'"):
        build(weights="no_such_preset")
    with pytest.raises(InvalidArgumentError, match=r"Received: weights=3"):
        build(weights=3)


def _builder_with(backbone, **kwargs):
    builders = {"vggface": VGGFace, "resnet50_face": ResNet50Face, "densenet121": DenseNet121}
    return builders[backbone](**kwargs)


def test_presets_of_another_backbone_are_refused():
    with pytest.raises(InvalidArgumentError, match="resnet50_face"):
        VGGFace(weights="vggface2_resnet50_notop", width=TINY)
    with pytest.raises(InvalidArgumentError, match="vggface"):
        ResNet50Face(weights="vggface1_vgg16", width=TINY)
    with pytest.raises(InvalidArgumentError):
        AudioCNN(weights="vggface1_vgg16")


def test_vggface_include_top_must_be_a_bool_or_fc_name():
    with pytest.raises(InvalidArgumentError, match=r"Received: include_top=1"):
        VGGFace(include_top=1)
    with pytest.raises(InvalidArgumentError, match=r"Received: classes=0"):
        VGGFace(classes=0)
    with pytest.raises(InvalidArgumentError, match=r"Received: include_top='fc6'"):
        ResNet50Face(include_top="fc6")


@pytest.mark.parametrize(
    "build",
    [
        lambda: VGGFace(include_top="fc6", width=TINY, input_shape=(40, 40, 3)),
        lambda: ResNet50Face(include_top=True, width=TINY, classes=4, input_shape=(40, 40, 3)),
        lambda: DenseNet121(include_top=False, pooling="avg", width=0.125, blocks=(1, 1, 1, 1),
                            input_shape=(40, 40, 3)),
        lambda: AudioCNN(input_shape=(20, 16, 1), width=0.125, embedding_dim=4),
    ],
    ids=["vggface", "resnet50_face", "densenet121", "audio_cnn"],
)
def test_keras_round_trip(build, tmp_path):
    model = build()
    x = _images(2, *model.input_shape[1:])
    path = tmp_path / "backbone.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.name == model.name
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5, atol=1e-6,
    )


def test_width_scales_every_filter():
    model = VGGFace(include_top="fc7", width=0.5)
    assert model.get_layer("conv1_1").filters == 32
    assert model.get_layer("conv5_3").filters == 256
    assert model.get_layer("fc7").units == 2048
    tiny = ResNet50Face(include_top=False, width=0.01)  # rounds up to at least 1 filter
    assert tiny.get_layer("conv2_1_1x1_reduce").filters == 1
    assert tiny.output.shape[-1] == 20


def test_backbones_work_under_mixed_precision(mixed_precision):
    model = VGGFace(include_top="fc6", width=TINY, input_shape=(32, 32, 3))
    out = model(_images(1, 32, 32, 3))
    assert out.dtype == "float16"
