"""Model surgery for fine-tuning on other databases: new heads on a trained trunk, single streams.

A network trained on Aff-Wild2 is reused on a downstream database in one of three ways:

- `replace_heads`: the same network (same inputs) with new task heads, for another label
  space (e.g. 7 instead of 8 expressions, VA only for RECOLA);
- `frame_classifier`: the visual stream of a sequence (or per-frame) network as a per-image
  model with new heads, for expression image databases (AffectNet, RAF-DB, CK+, FER2013);
- `audio_classifier`: the audio stream of the A/V network (or a standalone audio CNN) run
  over the log-mel windows of a whole clip, embeddings pooled over time, and a new softmax
  head, for clip databases (RAVDESS, CREMA-D).

The new models *share* the trained layers with the source model (Keras transfer learning:
no copy is made), so training the new model changes the source model's weights too; load
the source again if both are needed. The shared streams keep the layer names the training
strategies look for (`visual_cnn`, `audio_cnn`), so `affectkeras.training.freeze_cnn`
freezes them, and the heads keep the output names (`expression`, ...) that
`affectkeras.training.compile_preset` compiles.

Example:
    >>> source = affectkeras.build_av_mt_vgg_rnn(width=0.05)
    >>> clips = audio_classifier(source, num_classes=8, time_windows=8)
    >>> clips.input["audio"].shape, clips.output["expression"].shape
    ((None, 8, 50, 64, 1), (None, 8))
"""

import warnings

import keras

from affectkeras.constants import (
    AU_OUTPUT,
    AUDIO_INPUT,
    EXPR_OUTPUT,
    FACES_INPUT,
    LABELS_INPUT,
    PRECISIONS,
    TEMPORAL_POOLING,
    VA_OUTPUT,
)
from affectkeras.errors import InvalidArgumentError, check_choice, check_positive
from affectkeras.layers import ArcFace, FoldedTimeDistributed
from affectkeras.layers.views import VIEW_NAMES, FaceViews, ViewAverage
from affectkeras.models.heads import ALL_TASKS, TASK_OUTPUTS, check_dropout, check_tasks, named_outputs, task_heads
from affectkeras.models.streams import AUDIO_CNN, VISUAL_CNN

POOLINGS = ("mean", "max")
_OUTPUT_TASKS = {output: task for task, output in TASK_OUTPUTS.items()}


# ----------------------------------------------------------------------------------------
# Finding the parts of a trained network


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise InvalidArgumentError(f"`model` must be a keras.Model. Received: model={model!r}")


def _inner(layer):
    """The stream model a layer holds: a `TimeDistributed`'s inner model, or the layer itself."""
    return layer.layer if isinstance(layer, keras.layers.TimeDistributed) else layer


def _layer(model, name):
    for layer in model.layers:
        if layer.name == name:
            return layer
    return None


def audio_stream(model):
    """The trained audio stream of a network: log-mel window `(steps, n_mels, 1)` -> embedding.

    Args:
        model: keras.Model. A network with an `audio_cnn` layer (the A/V network's
            `TimeDistributed` audio stream, or an `audio_classifier`), or a standalone audio
            CNN (`affectkeras.models.streams.audio_cnn`, `affectkeras.backbones.AudioCNN`).

    Returns:
        The stream `keras.Model` (shared, not copied) from `(batch, steps, n_mels, 1)` to
        `(batch, dim)`.

    Raises:
        InvalidArgumentError: `model` has no audio stream.

    Example:
        >>> audio_stream(build_av_mt_vgg_rnn(width=0.05)).input.shape
        (None, 50, 64, 1)
    """
    _check_model(model)
    layer = _layer(model, AUDIO_CNN)
    if layer is not None:
        return _inner(layer)
    if len(model.inputs) == 1 and len(model.outputs) == 1:
        shape, out = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
        if len(shape) == 4 and shape[-1] == 1 and len(out) == 2:
            return model
    raise InvalidArgumentError(
        f"`model` has no layer named {AUDIO_CNN!r} and is not an audio CNN "
        "((batch, steps, n_mels, 1) -> (batch, dim)). "
        f"Received: model.name={model.name!r} with inputs {[tuple(t.shape) for t in model.inputs]}"
    )


def visual_stream(model):
    """The trained visual stream of a network: uint8 face `(size, size, 3)` -> features.

    Args:
        model: keras.Model. A network of `affectkeras.models` (its `visual_cnn` layer: the
            `TimeDistributed` stream of a sequence network, or the nested CNN of a
            per-frame network), or a `frame_classifier`.

    Returns:
        The stream `keras.Model` (shared, not copied) from `(batch, size, size, 3)` faces to
        `(batch, features)`.

    Raises:
        InvalidArgumentError: `model` has no `visual_cnn` layer.

    Example:
        >>> visual_stream(build_mt_vgg_rnn(width=0.05)).input.shape
        (None, 96, 96, 3)
    """
    _check_model(model)
    layer = _layer(model, VISUAL_CNN)
    if layer is None:
        raise InvalidArgumentError(
            f"`model` has no layer named {VISUAL_CNN!r} (the visual stream of the networks of "
            f"affectkeras.models). Received: model.name={model.name!r}"
        )
    return _inner(layer)


def recurrent_layers(model):
    """The top-level recurrent layers of `model` (GRU, LSTM, IndRNN, an attention cell's RNN)."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def split_sequence_network(model):
    """A sequence network as its per-frame part and its temporal part, both for any length.

    The per-frame part maps the inputs (`faces`, and `audio` / `landmarks` where the network
    takes them) `(batch, time, ...)` to what the first RNN reads, `(batch, time, dim)`: the
    CNN streams, their fusion, landmarks, dropout. The temporal part maps that to the
    outputs: RNNs, attention, heads. Both share the network's layers (no copy) and take
    sequences of any length, so a video's frames can go through the first in batches and a
    whole face track through the second in one pass, which gives exactly what the network
    gives on the whole track at once (no window starts, no seams).

    Args:
        model: keras.Model. A sequence network of `affectkeras.models` (or one loaded back).

    Returns:
        `(per_frame, temporal)`, two `keras.Model`s.

    Raises:
        InvalidArgumentError: `model` has no recurrent layer.

    Example:
        >>> per_frame, temporal = split_sequence_network(build_mt_vgg_rnn(width=0.05))
        >>> temporal.input.shape
        (None, None, 205)
    """
    _check_model(model)
    recurrent = recurrent_layers(model)
    if not recurrent:
        raise InvalidArgumentError(
            f"`model` has no recurrent layer: it is not a sequence network. Received: model.name={model.name!r}"
        )
    boundary = recurrent[0].input
    per_frame = keras.models.clone_model(
        keras.Model(model.input, boundary), input_tensors=keras.tree.map_structure(_any_length, model.input),
        clone_function=_same_layer,
    )
    temporal = keras.models.clone_model(
        keras.Model(boundary, model.output), input_tensors=keras.Input((None, boundary.shape[-1])),
        clone_function=_same_layer,
    )
    return per_frame, temporal


def _same_layer(layer):
    """`clone_model`'s function that re-calls the trained layers themselves (no copy)."""
    return layer


def _any_length(tensor, name=None):
    """A new input like the sequence tensor `tensor`, `(batch, time, ...)`, of any length."""
    return keras.Input((None,) + tuple(tensor.shape[2:]), dtype=tensor.dtype, name=name or tensor.name)


def split_face_stream(model):
    """The per-frame part of a sequence network as its face stream and the rest, any length.

    A video at 24 or 25 fps shows some source frames at two 30-fps ticks: the same face
    crop twice, beside two different audio windows. Split this way, the predictor runs the
    visual stream (the bulk of the per-frame cost) once per crop and the rest per tick.

    Args:
        model: keras.Model. A sequence network of `affectkeras.models` (or one loaded back).

    Returns:
        `(face_stream, rest)`, or None when the faces feed more than the `visual_cnn` layer.
        `face_stream` maps `faces` `(batch, time, size, size, 3)` to the visual features
        `(batch, time, d)`; `rest` maps `[features, *other inputs]` (the network's inputs
        other than `faces`, in order) to what the first RNN reads, or is None when that is
        the features themselves (a visual-only network).

    Example:
        >>> face_stream, rest = split_face_stream(build_av_mt_vgg_rnn(width=0.05))
        >>> [tensor.name for tensor in rest.inputs]
        ['face_features', 'audio']
    """
    _check_model(model)
    recurrent = recurrent_layers(model)
    if not recurrent:
        return None
    inputs = {tensor.name: tensor for tensor in keras.tree.flatten(model.input)}
    try:
        visual = model.get_layer(VISUAL_CNN)
    except ValueError:
        return None
    faces = inputs.get(FACES_INPUT)
    if faces is None:
        return None
    consumers = [layer for layer in model.layers for node in layer._inbound_nodes
                 if any(tensor is faces for tensor in keras.tree.flatten(node.input_tensors))]
    if consumers != [visual]:
        return None  # the faces reach the RNN by another path too
    boundary, features = recurrent[0].input, visual.output
    face_stream = keras.models.clone_model(keras.Model(faces, features), input_tensors=_any_length(faces),
                                           clone_function=_same_layer)
    if boundary is features:
        return face_stream, None
    # The rest: the per-frame part again, its visual stream standing aside for features fed in.
    # (A Keras model from the intermediate `features` and the `audio` Input would rewrite that
    # Input's history and break saving the network.)
    feature_input = _any_length(features, "face_features")
    new_inputs = keras.tree.map_structure(
        lambda tensor: feature_input if tensor is faces else _any_length(tensor), model.input)
    stand_in = keras.layers.Identity(name=VISUAL_CNN, dtype=visual.dtype_policy)
    with warnings.catch_warnings():  # the features come in where the faces did, under another name
        warnings.filterwarnings("ignore", message="When providing `inputs` as a dict")
        rest = keras.models.clone_model(keras.Model(model.input, boundary), input_tensors=new_inputs,
                                        clone_function=lambda layer: stand_in if layer is visual else layer)
    others = [tensor for tensor in keras.tree.flatten(rest.inputs) if tensor is not feature_input]
    return face_stream, keras.Model([feature_input, *others], rest.output)


def with_precision(model, precision):
    """`model` rebuilt under a Keras dtype policy, with its weights: e.g. bf16 inference.

    Every layer computes under `precision` except the layers that give the model's outputs
    (the task heads, an inference model's softmax), which stay float32 as the builders make
    the heads (`affectkeras.models.heads`); variables stay float32. The model is rebuilt
    from its config, so this works on networks read back from `.keras` files.

    Args:
        model: keras.Model. A network of `affectkeras.models`.
        precision: str. `"float32"`, `"mixed_bfloat16"` or `"mixed_float16"`.

    Returns:
        A new `keras.Model` (the same model when it already computes under `precision`).
    """
    _check_model(model)
    check_choice("precision", precision, PRECISIONS)
    outputs = set(model.output_names) | set(_OUTPUT_TASKS)
    # The layers that compute: a nested stream model keeps a float32 policy of its own.
    computing = [layer for layer in model._flatten_layers(include_self=False)
                 if layer.name not in outputs and layer.weights and not isinstance(layer, keras.Model)]
    if all(layer.dtype_policy.name == precision for layer in computing):
        return model
    config = model.get_config()
    _set_policies(config, precision, outputs)
    rebuilt = model.__class__.from_config(config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def average_views(model, *, crop=0.85):
    """`model` run on four views of each face and its outputs averaged (test-time augmentation).

    The views (`layers.FaceViews`) are the face, its mirror image, a centre crop of side
    `crop` resized back, and the crop's mirror image; every output (probabilities, VA) is the
    mean over the four. The network computes 4x as much per face. The shipped `ferplus`
    model is scored and predicts this way (`WeightsPreset.test_time_crop`): FER+ Valid
    83.1 % -> 84.8 % (README, "Results").

    Args:
        model: keras.Model. A per-frame network whose only input is `faces`
            `(batch, size, size, 3)` (`build_mt_vgg`, `inference_model(...)`, a preset).
        crop: float in (0, 1). Side of the centre crop, as a share of the face's side.

    Returns:
        A `keras.Model` with the same input and output names, sharing `model`'s layers.

    Raises:
        InvalidArgumentError: a network with other inputs than per-frame `faces`.
    """
    _check_model(model)
    inputs = {tensor.name: tensor for tensor in keras.tree.flatten(model.inputs)}
    if list(inputs) != [FACES_INPUT] or len(inputs[FACES_INPUT].shape) != 4:
        raise InvalidArgumentError(
            f"`average_views` takes a per-frame network whose only input is `{FACES_INPUT}` (batch, size, size, 3). "
            f"Received: {model.name} with inputs {({name: tuple(t.shape) for name, t in inputs.items()})}"
        )
    faces = keras.Input(inputs[FACES_INPUT].shape[1:], dtype=inputs[FACES_INPUT].dtype, name=FACES_INPUT)
    views = FaceViews(crop, name="face_views")(faces)
    outputs = model({FACES_INPUT: views} if isinstance(model.input, dict) else views)
    outputs = outputs if isinstance(outputs, dict) else dict(zip(model.output_names, keras.tree.flatten(outputs)))
    averaged = {name: ViewAverage(len(VIEW_NAMES), dtype="float32", name=name)(tensor)
                for name, tensor in outputs.items()}
    return keras.Model({FACES_INPUT: faces}, averaged, name=model.name)


def average_models(members, *, name=None):
    """An ensemble: every network of `members` run on the same inputs, each output averaged.

    The members are networks of the same inputs and outputs (e.g. the same network trained
    from other seeds, or on other folds); each output (probabilities, VA) is the mean of
    theirs. A preset with an `ensemble` is scored and predicts so
    (`weights.load_preset_model(name, test_time=True)`).

    Args:
        members: sequence of keras.Model, distinct names, the same input names and shapes
            and the same output names.
        name: str or None. The ensemble's name; None = the first member's.

    Returns:
        A `keras.Model` with the members' input and output names, sharing their layers; the
        first member itself when it is the only one.

    Raises:
        InvalidArgumentError: no member, members whose inputs or outputs differ, or two
            members of the same name.
    """
    members = list(members)
    if not members:
        raise InvalidArgumentError("`average_models` needs at least one network. Received: members=[]")
    for model in members:
        _check_model(model)
    if len(members) == 1:
        return members[0]

    def signature(model):
        inputs = {tensor.name: tuple(tensor.shape[1:]) for tensor in keras.tree.flatten(model.inputs)}
        return inputs, sorted(model.output_names)

    first = members[0]
    for model in members[1:]:
        if signature(model) != signature(first):
            raise InvalidArgumentError(
                f"`average_models` needs networks of the same inputs and outputs: {first.name} has "
                f"{signature(first)}, {model.name} has {signature(model)}."
            )
    names = [model.name for model in members]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"The networks of an ensemble need distinct names. Received: {names}")
    inputs = {tensor.name: keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=tensor.name)
              for tensor in keras.tree.flatten(first.inputs)}
    outputs = [model(inputs if isinstance(model.input, dict) else list(inputs.values())[0]) for model in members]
    outputs = [out if isinstance(out, dict) else dict(zip(model.output_names, keras.tree.flatten(out)))
               for model, out in zip(members, outputs)]
    averaged = {output: keras.layers.Average(dtype="float32", name=output)([out[output] for out in outputs])
                for output in first.output_names}
    return keras.Model(inputs, averaged, name=name or first.name)


def _set_policies(config, precision, keep):
    """Sets the dtype policy of every layer config inside `config` but those named in `keep`."""
    if isinstance(config, dict):
        policy = config.get("dtype")
        if isinstance(policy, dict) and policy.get("class_name") == "DTypePolicy" and config.get("name") not in keep:
            config["dtype"] = {**policy, "config": {**policy.get("config", {}), "name": precision}}
        for value in config.values():
            _set_policies(value, precision, keep)
    elif isinstance(config, list):
        for value in config:
            _set_policies(value, precision, keep)


def _as_named(stream, name):
    """`stream` under the layer name `name`: itself, or a model sharing its layers."""
    if stream.name == name:
        return stream
    return keras.Model(stream.inputs[0], stream.outputs[0], name=name)


# ----------------------------------------------------------------------------------------
# New heads on the same network


def _head_features(model, heads):
    """The tensor the task heads of `model` read (the trunk's output), and the ArcFace labels."""
    features, labels = None, None
    for output_name, layer in heads.items():
        if isinstance(layer, ArcFace):
            inputs = layer.input
            found, labels = inputs[0], inputs[1]
        else:
            found = layer.input
        if features is not None and found is not features:
            raise InvalidArgumentError(
                f"The heads of `model` read different tensors ({output_name!r} does not read what "
                f"the others read), so there is no single trunk to put new heads on. "
                f"Received: model.name={model.name!r}"
            )
        features = found
    return features, labels


def replace_heads(model, *, num_expressions=None, num_aus=None, tasks=None, keep_matching=True, name=None):
    """A network with new task heads on the trained trunk of `model`, for another label space.

    The new model has the inputs of `model` and shares every layer up to the heads (the
    features the heads read). A head whose task and size are unchanged is kept with its
    trained weights when `keep_matching`; every other head is new (randomly initialised):
    a `Dense` like `task_heads` makes (VA keeps its activation), or a new `ArcFace` with
    the same scale and margin for an ArcFace network's expression head.

    Args:
        model: keras.Model. A network of `affectkeras.models` (outputs among
            `valence_arousal`, `expression`, `action_units`), trained or not.
        num_expressions: int or None. Expression classes of the new head; None = as
            `model` (8 when it has no expression head).
        num_aus: int or None. AUs of the new head; None = as `model` (12 when none).
        tasks: sequence of str or None. Tasks of the new model among `"va"`, `"expr"`,
            `"au"`; None = the tasks of `model`.
        keep_matching: bool. Keep the trained heads whose task and size do not change;
            False makes every head new.
        name: str or None. Model name; None = `"<model.name>_new_heads"`.

    Returns:
        A `keras.Model` with the inputs of `model` (an ArcFace network keeps its
        `expression_labels` input only while it has an ArcFace head) and the new outputs
        by name.

    Raises:
        InvalidArgumentError: `model` has no task head, a wrong argument.

    Example:
        >>> recola = replace_heads(trained_mt_vgg_rnn, tasks=("va",))
        >>> seven = replace_heads(trained_mt_vgg_rnn, num_expressions=7)
    """
    _check_model(model)
    outputs = {n: t for n, t in named_outputs(model).items() if n in _OUTPUT_TASKS}
    if not outputs:
        raise InvalidArgumentError(
            f"`model` has no output named {VA_OUTPUT!r}, {EXPR_OUTPUT!r} or {AU_OUTPUT!r}. "
            f"Received: outputs {sorted(named_outputs(model))}"
        )
    heads = {n: t._keras_history.operation for n, t in outputs.items()}
    features, labels = _head_features(model, heads)
    old_tasks = tuple(task for task in ALL_TASKS if TASK_OUTPUTS[task] in outputs)
    tasks = old_tasks if tasks is None else check_tasks(tasks)
    old_expression = heads.get(EXPR_OUTPUT)
    old_sizes = {n: (layer.num_classes if isinstance(layer, ArcFace) else layer.units) for n, layer in heads.items()}
    if num_expressions is None:
        num_expressions = old_sizes.get(EXPR_OUTPUT, 8)
    if num_aus is None:
        num_aus = old_sizes.get(AU_OUTPUT, 12)
    check_positive("num_expressions", num_expressions, integer=True)
    check_positive("num_aus", num_aus, integer=True)
    check_choice("keep_matching", keep_matching, (True, False))
    sizes = {VA_OUTPUT: 2, EXPR_OUTPUT: num_expressions, AU_OUTPUT: num_aus}

    new_outputs = {}
    for task in tasks:
        output = TASK_OUTPUTS[task]
        if keep_matching and old_sizes.get(output) == sizes[output]:
            new_outputs[output] = outputs[output]  # the trained head, shared
        elif output == EXPR_OUTPUT and isinstance(old_expression, ArcFace):
            head = ArcFace(
                num_expressions, scale=old_expression.scale, margin=old_expression.margin, name=EXPR_OUTPUT
            )
            new_outputs[output] = head([features, labels])
        else:
            activation = "tanh"
            if output == VA_OUTPUT and output in heads:  # AffWildNet's linear VA stays linear
                activation = getattr(heads[output].activation, "__name__", "tanh")
            new_outputs.update(
                task_heads(
                    features,
                    tasks=(task,),
                    num_expressions=num_expressions,
                    num_aus=num_aus,
                    va_activation="linear" if activation == "linear" else "tanh",
                )
            )
    uses_labels = any(isinstance(t._keras_history.operation, ArcFace) for t in new_outputs.values())
    inputs = {t.name: t for t in model.inputs if uses_labels or t.name != LABELS_INPUT}
    return keras.Model(inputs, new_outputs, name=name or f"{model.name}_new_heads")


# ----------------------------------------------------------------------------------------
# Single streams as downstream classifiers


def frame_classifier(
    model,
    *,
    tasks=("expr",),
    num_expressions=8,
    num_aus=12,
    dropout=0.0,
    name="frame_classifier",
):
    """The trained visual stream of `model` as a per-image network with new heads.

    For expression image databases: the face CNN that a sequence network runs on every
    frame (`TimeDistributed` layer `visual_cnn`) is applied to single faces, and new task
    heads read its features (VGG-Face fc6 for the papers' sequence networks).

    Args:
        model: keras.Model. A network of `affectkeras.models` with a `visual_cnn` layer
            (sequence or per-frame network, or another `frame_classifier`).
        tasks: sequence of str. Heads to add, among `"va"`, `"expr"`, `"au"`.
        num_expressions: int. Expression classes of the new head (the database's).
        num_aus: int. AUs of the new head.
        dropout: float. Dropout rate on the features before the heads, in [0, 1).
        name: str. Model name.

    Returns:
        A `keras.Model` from `faces` `(batch, size, size, 3)` uint8 to the new outputs by
        name (`expression` `(batch, num_expressions)` softmax, ...). Its stream layer is
        named `visual_cnn` (shared with `model`), so `training.freeze_cnn` freezes it.

    Raises:
        InvalidArgumentError: `model` has no visual stream, a wrong argument.

    Example:
        >>> images = frame_classifier(trained_mt_vgg_rnn, num_expressions=7)
        >>> training.compile_preset(images)
        >>> images.fit(expression_image_dataset(records, size=96, batch_size=32))
    """
    stream = visual_stream(model)
    tasks = check_tasks(tasks)
    check_positive("num_expressions", num_expressions, integer=True)
    check_positive("num_aus", num_aus, integer=True)
    check_dropout(dropout)
    faces = keras.Input(tuple(stream.inputs[0].shape[1:]), dtype="uint8", name=FACES_INPUT)
    x = _as_named(stream, VISUAL_CNN)(faces)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = task_heads(x, tasks=tasks, num_expressions=num_expressions, num_aus=num_aus)
    return keras.Model({FACES_INPUT: faces}, outputs, name=name)


def audio_classifier(
    model,
    *,
    num_classes,
    time_windows=None,
    pooling="mean",
    dropout=0.3,
    name="audio_classifier",
):
    """The trained audio stream of `model` as a clip classifier with a new softmax head.

    A clip is a sequence of log-mel windows (`affectkeras.data.downstream.audio_clip_dataset`
    cuts them); the audio stream embeds every window (under `TimeDistributed`, as in the
    A/V network), the embeddings are pooled over time, and a new `Dense` softmax named
    `expression` classifies the clip, so `training.compile_preset` compiles it with the
    masked cross-entropy and the expression F1 / accuracy metrics.

    Args:
        model: keras.Model. A network with an `audio_cnn` layer (A/V-MT-VGG-RNN, another
            `audio_classifier`) or a standalone audio CNN (see `audio_stream`).
        num_classes: int. Classes of the clip database (RAVDESS: 8).
        time_windows: int or None. Windows per clip; None accepts any number.
        pooling: str. `"mean"` or `"max"` over the windows' embeddings.
        dropout: float. Dropout rate on the pooled embedding, in [0, 1).
        name: str. Model name.

    Returns:
        A `keras.Model` from `audio` `(batch, time_windows, steps, n_mels, 1)` float32 (dB)
        to `expression` `(batch, num_classes)` probabilities. Its stream layer is named
        `audio_cnn` (shared with `model`): `training.freeze_cnn(m)` freezes its
        pretrained layers.

    Raises:
        InvalidArgumentError: `model` has no audio stream, a wrong argument.

    Example:
        >>> clips = audio_classifier(trained_av_network, num_classes=8, time_windows=8)
        >>> training.compile_preset(clips)
        >>> clips.fit(audio_clip_dataset(read_ravdess("RAVDESS"), num_windows=8, training=True))
    """
    stream = audio_stream(model)
    check_positive("num_classes", num_classes, integer=True)
    if time_windows is not None:
        check_positive("time_windows", time_windows, integer=True)
    check_choice("pooling", pooling, POOLINGS)
    check_dropout(dropout)
    audio = keras.Input((time_windows,) + tuple(stream.inputs[0].shape[1:]), name=AUDIO_INPUT)
    x = FoldedTimeDistributed(stream, name=AUDIO_CNN)(audio)
    if pooling == "mean":
        x = keras.layers.GlobalAveragePooling1D(name=TEMPORAL_POOLING)(x)
    else:
        x = keras.layers.GlobalMaxPooling1D(name=TEMPORAL_POOLING)(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name=EXPR_OUTPUT)(x)
    return keras.Model({AUDIO_INPUT: audio}, {EXPR_OUTPUT: probabilities}, name=name)


# ----------------------------------------------------------------------------------------
# Batch-norm statistics after a short fine-tuning


def _batch_norm_layers(layer):
    """Every `BatchNormalization` inside `layer` (nested models and wrappers included)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return [layer]
    children = list(getattr(layer, "layers", None) or [])
    if isinstance(layer, keras.layers.Wrapper):
        children.append(layer.layer)
    found = []
    for child in children:
        found.extend(b for b in _batch_norm_layers(child) if all(b is not f for f in found))
    return found


def recalibrate_batch_norm(model, dataset, *, steps=None):
    """Recomputes the moving statistics of the trainable batch-norm layers with the final weights.

    A fine-tuning of a few hundred steps leaves the moving means and variances (momentum
    0.99) behind the weights that changed under them; the error compounds layer after
    layer, and at inference a network that is fine in training mode can predict one class
    for everything. This pass ("precise BN", Wu & Johnson 2021) runs the training data
    through the network in training mode, without any weight update, and sets each
    moving statistic to the average of its batch statistics over the pass. Frozen
    (non-trainable) batch-norm layers keep theirs. It uses no label: pass the training
    data, not the test data, and preferably without augmentation.

    Args:
        model: keras.Model. A trained network.
        dataset: iterable of `(inputs, targets)` or `inputs` batches (e.g. a `tf.data`
            pipeline of the training set without shuffling or augmentation).
        steps: int or None. Batches to use; None = the whole dataset.

    Returns:
        int. The number of batch-norm layers recalibrated (0: nothing to do, `dataset`
        is not read).

    Example:
        >>> model.fit(train_augmented, epochs=20)
        >>> recalibrate_batch_norm(model, audio_clip_dataset(train, training=False))
    """
    _check_model(model)
    if steps is not None:
        check_positive("steps", steps, integer=True)
    layers = [b for b in _batch_norm_layers(model) if b.trainable]
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    seen = 0
    try:
        for batch in dataset:
            if steps is not None and seen >= steps:
                break
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            for layer in layers:
                layer.momentum = seen / (seen + 1.0)  # running average of the batch statistics
            model(inputs, training=True)
            seen += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if seen == 0:
        raise InvalidArgumentError("`dataset` gave no batch to recalibrate with. Received: an empty dataset")
    return len(layers)


__all__ = [
    "audio_classifier",
    "audio_stream",
    "average_models",
    "average_views",
    "frame_classifier",
    "recalibrate_batch_norm",
    "recurrent_layers",
    "replace_heads",
    "split_sequence_network",
    "split_face_stream",
    "visual_stream",
    "with_precision",
]
