"""Compile presets and the papers' three training strategies.

- `compile_preset(model)`: the losses, loss weights, streaming metrics and optimiser of the
  papers (Adam 1e-3, decayed x0.97 every 400 steps) for whatever task outputs `model` has,
  so that `model.fit` works in one line.
- Strategies (Aff-Wild2 paper, section V): (i) `freeze_cnn` keeps the CNN's pretrained
  layers fixed and trains the rest (the RNN, and fc6 where no pretrained weights fit it);
  (ii) train everything from a random RNN (`unfreeze_all`); (iii) `init_from` a model
  trained with (i) (its RNN, heads and every non-pretrained CNN layer), then train
  everything. Call `compile_preset` again after changing what is trainable (Keras fixes
  the trainable weights at compile time).
"""

import keras

from affectkeras import losses, metrics
from affectkeras.constants import AU_OUTPUT, EXPR_OUTPUT, PRECISIONS, VA_OUTPUT
from affectkeras.errors import InvalidArgumentError
from affectkeras.layers import ArcFace
from affectkeras.models.heads import named_outputs
from affectkeras.models.streams import AUDIO_CNN, VISUAL_CNN
from affectkeras.weights import weight_layers

# PRECISIONS (from constants) is re-exported here, beside `set_precision` that takes one.


def set_precision(precision):
    """Sets Keras's global dtype policy (`PRECISIONS`) for the models built after it.

    The task heads compute in float32 under any policy (`affectkeras.models.heads`), so
    losses and metrics see float32.
    """
    from affectkeras.errors import check_choice

    check_choice("precision", precision, PRECISIONS)
    keras.mixed_precision.set_global_policy(precision)


def default_optimizer(*, learning_rate=1e-3, decay_rate=0.97, decay_steps=400, staircase=True):
    """Adam with the papers' exponential learning-rate decay (x0.97 every 400 steps).

    The Aff-Wild2 paper gives "exponential decay for the learning rate in fixed number of
    epochs", initial rate 0.001, decay steps 400, factor 0.97, on TensorFlow; it does not
    say whether the decay was a staircase, and TF1's `tf.train.exponential_decay` defaults
    to `staircase=False` (a smooth `0.97 ** (step / 400)`). The default here is the
    staircase (the rate drops at fixed intervals, as "in fixed number of epochs" reads);
    the two never differ by more than the one factor 0.97. `staircase=False` gives TF1's
    default.
    """
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=decay_steps, decay_rate=decay_rate, staircase=staircase
    )
    return keras.optimizers.Adam(schedule)


def task_losses(model, *, class_weights=None, pos_weight=None, label_smoothing=0.0):
    """The masked loss of each task output of `model`, keyed by output name.

    An expression output produced by an `ArcFace` layer holds logits (`from_logits=True`).
    """
    outputs = named_outputs(model)
    found = {}
    if VA_OUTPUT in outputs:
        found[VA_OUTPUT] = losses.CCCLoss()
    if EXPR_OUTPUT in outputs:
        found[EXPR_OUTPUT] = losses.MaskedCategoricalCrossentropy(
            from_logits=isinstance(outputs[EXPR_OUTPUT]._keras_history.operation, ArcFace),
            class_weights=class_weights,
            label_smoothing=label_smoothing,
        )
    if AU_OUTPUT in outputs:
        found[AU_OUTPUT] = losses.MaskedBinaryCrossentropy(pos_weight=pos_weight)
    if not found:
        raise InvalidArgumentError(
            f"`model` has no output named {VA_OUTPUT!r}, {EXPR_OUTPUT!r} or {AU_OUTPUT!r}. "
            f"Received: outputs {sorted(outputs)}"
        )
    return found


def task_metrics(model):
    """The streaming metrics of each task output of `model`, keyed by output name."""
    shapes = {name: tuple(tensor.shape) for name, tensor in named_outputs(model).items()}
    found = {}
    if VA_OUTPUT in shapes:
        found[VA_OUTPUT] = [
            metrics.ConcordanceCorrelation("valence", name="ccc_valence"),
            metrics.ConcordanceCorrelation("arousal", name="ccc_arousal"),
            metrics.ConcordanceCorrelation("mean", name="ccc"),
        ]
    if EXPR_OUTPUT in shapes:
        classes = shapes[EXPR_OUTPUT][-1]
        found[EXPR_OUTPUT] = [metrics.ExpressionF1(classes, name="f1"), metrics.ExpressionAccuracy(classes, name="accuracy")]
    if AU_OUTPUT in shapes:
        aus = shapes[AU_OUTPUT][-1]
        found[AU_OUTPUT] = [metrics.AUF1(aus, name="f1"), metrics.AUAccuracy(aus, name="accuracy")]
    return found


def compile_preset(
    model,
    *,
    optimizer=None,
    loss_weights=None,
    class_weights=None,
    pos_weight=None,
    label_smoothing=0.0,
    **compile_kwargs,
):
    """Compiles `model` with the papers' losses, metrics and optimiser for its outputs.

    The multi-task loss is the sum of the task losses (CCC for VA, cross-entropy for
    expressions, binary cross-entropy for AUs), each masked by the Aff-Wild2 sentinels.

    Args:
        model: keras.Model. A network with outputs among `valence_arousal`, `expression`,
            `action_units`.
        optimizer: keras optimizer or None. None = `default_optimizer()`.
        loss_weights: dict or None. Weight of each output's loss; None = 1 each.
        class_weights: list or None. Expression class weights.
        pos_weight: list or None. Per-AU positive weights.
        label_smoothing: float. Expression label smoothing.
        **compile_kwargs: passed on to `model.compile` (e.g. `jit_compile`, `steps_per_execution`).

    Returns:
        The compiled `model`.

    Example:
        >>> model = compile_preset(build_mt_vgg_rnn(width=0.05))
        >>> model.fit(dataset, epochs=10)
    """
    task_loss = task_losses(
        model, class_weights=class_weights, pos_weight=pos_weight, label_smoothing=label_smoothing
    )
    model.compile(
        optimizer=optimizer or default_optimizer(),
        loss=task_loss,
        loss_weights=loss_weights or {name: 1.0 for name in task_loss},
        metrics=task_metrics(model),
        **compile_kwargs,
    )
    return model


def _cnn_layers(model):
    return [layer for layer in model.layers if layer.name in (VISUAL_CNN, AUDIO_CNN)]


def freeze_cnn(model):
    """Strategy (i): keeps the CNN streams' pretrained layers fixed; the rest trains.

    The paper keeps "the CNN weights fixed to their pre-trained values". A layer is frozen
    when its weights came from a file (`affectkeras.weights.provenance`): the conv stack a
    `pretraining=` file or preset set, or a whole stream read back from a `.keras` file, a
    run folder or a network preset. Layers that started random keep training with the RNN:
    VGG-Face's fc6 at 96 px (no published weights fit it), a randomly initialised audio
    stream.

    Args:
        model: keras.Model. A network of `affectkeras.models` (layers `visual_cnn` and / or
            `audio_cnn`).

    Returns:
        The paths of the frozen layers (`"visual_cnn/vggface/vggface/conv1_1"`, ...: the
        stream, the stream model, the backbone, the layer).

    Raises:
        InvalidArgumentError: `model` has no CNN stream, or none of its layers holds
            pretrained weights (strategy (i) would then fix a random projection; train
            everything instead).
    """
    streams = _cnn_layers(model)
    if not streams:
        raise InvalidArgumentError(
            f"`model` has no layer named {VISUAL_CNN!r} or {AUDIO_CNN!r}. Received: model.name={model.name!r}"
        )
    frozen = []
    for stream in streams:
        for path, layer, pretrained in weight_layers(stream):
            if pretrained:
                layer.trainable = False
                frozen.append(f"{stream.name}/{path}")
    if not frozen:
        raise InvalidArgumentError(
            f"No layer of {[s.name for s in streams]} holds pretrained weights (the network was built with "
            "pretraining=None), so strategy (i) has nothing to keep fixed: build it with `pretraining=` "
            f"(a preset or a weights file), or train every layer. Received: model.name={model.name!r}"
        )
    return frozen


def unfreeze_all(model):
    """Strategy (ii), and the second phase of (iii): makes every layer trainable."""
    model.trainable = True
    for layer in model.layers:
        layer.trainable = True
    return model


def init_from(model, source, *, include_cnn=False):
    """Strategy (iii): starts `model` from what `source` (trained with (i)) learned.

    Copies the RNN, attention and head weights, and every CNN layer of `model` that holds no
    pretrained weights (VGG-Face's fc6 at 96 px, a random audio stream): those trained in
    (i) with the RNN, and `model` would otherwise pair the copied RNN with a new random fc6.
    Pretrained CNN layers keep the values `model` loaded itself. Layers are matched by name
    (CNN layers by their path in the stream); a layer whose weights differ in shape raises.

    Args:
        model: keras.Model. The network to initialise, built as `source` was.
        source: keras.Model. A trained network (e.g. trained with strategy (i)).
        include_cnn: bool. Copy the CNN streams whole, pretrained layers included.

    Returns:
        The names of the copied layers (CNN layers by path, `"visual_cnn/vggface/vggface/fc6"`).

    Raises:
        InvalidArgumentError: a layer's weights differ in shape, or a CNN layer to copy is
            not in `source`.
    """
    source_layers = {layer.name: layer for layer in source.layers}
    copied = []
    for layer in model.layers:
        other = source_layers.get(layer.name)
        if layer.name in (VISUAL_CNN, AUDIO_CNN):
            copied += _copy_trained_cnn_layers(layer, other, source, include_cnn)
        elif other is not None and layer.weights:
            _copy_weights(layer.name, layer, other, source)
            copied.append(layer.name)
    return copied


def _copy_trained_cnn_layers(stream, source_stream, source, include_cnn):
    targets = [(path, layer) for path, layer, pretrained in weight_layers(stream) if include_cnn or not pretrained]
    trained = {} if source_stream is None else {path: layer for path, layer, _ in weight_layers(source_stream)}
    copied = []
    for path, layer in targets:
        name = f"{stream.name}/{path}"
        if path not in trained:
            raise InvalidArgumentError(
                f"CNN layer {name!r} (not pretrained, so trained with the RNN in strategy (i)) is not in the "
                f"source model. Build `model` as the source was built. Received: source.name={source.name!r}"
            )
        _copy_weights(name, layer, trained[path], source)
        copied.append(name)
    return copied


def _copy_weights(name, layer, other, source):
    mine, theirs = layer.get_weights(), other.get_weights()
    shapes, source_shapes = [w.shape for w in mine], [w.shape for w in theirs]
    if shapes != source_shapes:
        raise InvalidArgumentError(
            f"Layer {name!r} has weights of shapes {shapes} but the source model's "
            f"has {source_shapes}. Received: source.name={source.name!r}"
        )
    layer.set_weights(theirs)


__all__ = [
    "PRECISIONS",
    "compile_preset",
    "default_optimizer",
    "freeze_cnn",
    "init_from",
    "set_precision",
    "task_losses",
    "task_metrics",
    "unfreeze_all",
]
