"""The per-frame multi-task networks: MT-VGG, and the ArcFace networks MT-ArcRes / MT-ArcVGG.

The ArcFace networks take the expression labels as a second input while training (the
margin needs the true class); `inference_model` rebuilds them without that input, with
softmax probabilities as the `expression` output, for evaluation, export and serving.
"""

import keras

from affectkeras.constants import EXPR_OUTPUT, FACES_INPUT, LABELS_INPUT
from affectkeras.errors import InvalidArgumentError, check_positive
from affectkeras.layers import ArcFace
from affectkeras.models.heads import ALL_TASKS, check_dropout, check_label_space, check_tasks, named_outputs, task_heads
from affectkeras.models.streams import finish_model, scaled, visual_cnn

def build_mt_vgg(
    *,
    pretraining=None,
    feature_layer="fc7",
    input_size=96,
    tasks=ALL_TASKS,
    num_expressions=8,
    num_aus=12,
    normalization=None,
    dropout=0.0,
    width=1.0,
    weights=None,
    name="mt_vgg",
):
    """Builds MT-VGG: VGG-Face (conv + fc6 + fc7) on one face, the three task heads on fc7.

    Args:
        pretraining: str or None. `"vggface1"`, a preset, a file, or None (random).
        feature_layer: str. `"fc7"` (default), `"fc6"` or `"pool5"`.
        input_size: int. Face crop size (papers: 96).
        tasks: sequence of str. Subset of `"va"`, `"expr"`, `"au"`.
        num_expressions: int. 7 or 8.
        num_aus: int. 8 or 12.
        normalization: str or None. Face normalisation (see `streams.face_normalization`;
            `"gray"` for a network trained on grey faces); None = what `pretraining` expects.
        dropout: float. Dropout rate on the features before the heads, in [0, 1).
        width: float. Multiplies every filter and unit count (tiny test models).
        weights: str or None. A `.weights.h5` file saved from the same network.
        name: str. Model name.

    Returns:
        A `keras.Model` from `faces` `(batch, size, size, 3)` uint8 to the task outputs
        `(batch, 2)`, `(batch, C)`, `(batch, K)`.

    Reference:
        Kollias, Zafeiriou, "Expression, Affect, Action Unit Recognition: Aff-Wild2,
        Multi-Task Learning and ArcFace", BMVC 2019.
    """
    tasks = check_tasks(tasks)
    check_label_space(num_expressions, num_aus)
    check_dropout(dropout)
    faces = keras.Input((input_size, input_size, 3), dtype="uint8", name=FACES_INPUT)
    cnn = visual_cnn("vggface", input_size=input_size, feature_layer=feature_layer, pretraining=pretraining,
                     normalization=normalization, width=width)
    features = cnn(faces)
    if dropout:
        features = keras.layers.Dropout(dropout, name="head_dropout")(features)
    outputs = task_heads(features, tasks=tasks, num_expressions=num_expressions, num_aus=num_aus)
    return finish_model({FACES_INPUT: faces}, outputs, name, weights)


def _build_mt_arcface(
    backbone,
    *,
    pretraining,
    feature_layer,
    input_size,
    embedding_dim,
    tasks,
    num_expressions,
    num_aus,
    scale,
    margin,
    width,
    weights,
    name,
):
    tasks = check_tasks(tasks)
    if "expr" not in tasks:
        raise InvalidArgumentError(
            f"An ArcFace network needs the expression task. Received: tasks={tasks!r}"
        )
    check_label_space(num_expressions, num_aus)
    check_positive("embedding_dim", embedding_dim, integer=True)

    faces = keras.Input((input_size, input_size, 3), dtype="uint8", name=FACES_INPUT)
    labels = keras.Input((), dtype="int32", name=LABELS_INPUT)
    cnn = visual_cnn(backbone, input_size=input_size, feature_layer=feature_layer, pretraining=pretraining, width=width)
    x = keras.layers.Dense(scaled(embedding_dim, width), use_bias=False, name="embedding")(cnn(faces))
    embedding = keras.layers.BatchNormalization(name="embedding_bn")(x)
    other_tasks = [task for task in tasks if task != "expr"]
    outputs = {}
    if other_tasks:
        outputs = task_heads(embedding, tasks=other_tasks, num_expressions=num_expressions, num_aus=num_aus)
    outputs[EXPR_OUTPUT] = ArcFace(num_expressions, scale=scale, margin=margin, name=EXPR_OUTPUT)(
        [embedding, labels]
    )
    return finish_model({FACES_INPUT: faces, LABELS_INPUT: labels}, outputs, name, weights)


def build_mt_arcres(
    *,
    pretraining=None,
    input_size=112,
    embedding_dim=512,
    tasks=ALL_TASKS,
    num_expressions=8,
    num_aus=12,
    scale=64.0,
    margin=0.5,
    width=1.0,
    weights=None,
    name="mt_arcres",
):
    """Builds MT-ArcRes: ResNet-50, a 512-d embedding, an ArcFace expression head, VA and AU heads.

    Training takes the expression labels as a second input (`expression_labels`, int,
    -1 = not annotated) and the `expression` output holds ArcFace logits (`compile_preset`
    uses a from-logits loss for it). `inference_model(model)` gives the network without
    that input, with softmax probabilities.

    Args:
        pretraining: str or None. `"vggface2"` (keras-vggface's ResNet-50), a preset, a
            file, or None (random).
        input_size: int. Face crop size (papers: 112).
        embedding_dim: int. Size of the embedding the heads share.
        tasks: sequence of str. Must include `"expr"`.
        num_expressions: int. 7 or 8.
        num_aus: int. 8 or 12.
        scale: float. ArcFace scale s.
        margin: float. ArcFace additive angular margin m (radians).
        width: float. Multiplies every filter and unit count (tiny test models).
        weights: str or None. A `.weights.h5` file saved from the same network.
        name: str. Model name.

    Returns:
        A `keras.Model` with inputs `faces` `(batch, size, size, 3)` uint8 and
        `expression_labels` `(batch,)` int32, and the task outputs.

    Reference:
        Kollias, Zafeiriou, "Expression, Affect, Action Unit Recognition: Aff-Wild2,
        Multi-Task Learning and ArcFace", BMVC 2019.
    """
    return _build_mt_arcface(
        "resnet50",
        pretraining=pretraining,
        feature_layer="pool5",
        input_size=input_size,
        embedding_dim=embedding_dim,
        tasks=tasks,
        num_expressions=num_expressions,
        num_aus=num_aus,
        scale=scale,
        margin=margin,
        width=width,
        weights=weights,
        name=name,
    )


def build_mt_arcvgg(
    *,
    pretraining=None,
    input_size=112,
    embedding_dim=512,
    tasks=ALL_TASKS,
    num_expressions=8,
    num_aus=12,
    scale=64.0,
    margin=0.5,
    width=1.0,
    weights=None,
    name="mt_arcvgg",
):
    """Builds MT-ArcVGG: VGG-Face up to fc7, then the embedding and heads of `build_mt_arcres`.

    Arguments and returns as `build_mt_arcres` (`pretraining="vggface1"` for the VGGFace
    weights).
    """
    return _build_mt_arcface(
        "vggface",
        pretraining=pretraining,
        feature_layer="fc7",
        input_size=input_size,
        embedding_dim=embedding_dim,
        tasks=tasks,
        num_expressions=num_expressions,
        num_aus=num_aus,
        scale=scale,
        margin=margin,
        width=width,
        weights=weights,
        name=name,
    )


def inference_model(model):
    """The network without its training-only labels input, for evaluation and serving.

    For an ArcFace network, returns a model that shares `model`'s layers (and weights),
    takes only `faces`, and outputs `expression` as softmax probabilities over
    `scale * cos(theta)`; any other network is returned as is.
    """
    if LABELS_INPUT not in [tensor.name for tensor in model.inputs]:
        return model
    arcface = model.get_layer(EXPR_OUTPUT)
    if not isinstance(arcface, ArcFace):
        raise InvalidArgumentError(
            f"Layer {EXPR_OUTPUT!r} of a network with a {LABELS_INPUT!r} input must be ArcFace. "
            f"Received: {type(arcface).__name__}"
        )
    faces = next(tensor for tensor in model.inputs if tensor.name == FACES_INPUT)
    embedding = model.get_layer("embedding_bn").output
    outputs = {name: tensor for name, tensor in named_outputs(model).items() if name != EXPR_OUTPUT}
    outputs[EXPR_OUTPUT] = keras.layers.Softmax(name="expression_softmax")(arcface(embedding))
    return keras.Model({FACES_INPUT: faces}, outputs, name=f"{model.name}_inference")


__all__ = ["build_mt_arcres", "build_mt_arcvgg", "build_mt_vgg", "inference_model"]
