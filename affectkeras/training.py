"""Compile presets and the papers' three training strategies.

- `compile_preset(model)`: the losses, loss weights, streaming metrics and optimiser of the
  papers (Adam 1e-3, decayed x0.97 every 400 steps) for whatever task outputs `model` has,
  so that `model.fit` works in one line.
- Strategies (Aff-Wild2 paper, section V): (i) `freeze_cnn` then train the RNN; (ii)
  train everything from a random RNN (`unfreeze_all`); (iii) `init_from` a model trained
  with (i), then train everything. Call `compile_preset` again after changing what is
  trainable (Keras fixes the trainable weights at compile time).
"""

import keras

from affectkeras import losses, metrics
from affectkeras.constants import AU_OUTPUT, EXPR_OUTPUT, VA_OUTPUT
from affectkeras.errors import InvalidArgumentError
from affectkeras.layers import ArcFace
from affectkeras.models.heads import named_outputs
from affectkeras.models.streams import AUDIO_CNN, VISUAL_CNN


# Keras dtype policies a recipe trains in: mixed_bfloat16 for CPUs with AMX / AVX512-BF16
# (2-4x float32 here) and recent GPUs, mixed_float16 for GPUs (slow on CPUs).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


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


def freeze_cnn(model, *, include_audio=False):
    """Strategy (i): makes the visual CNN (and optionally the audio CNN) non-trainable.

    Args:
        model: keras.Model. A network of `affectkeras.models`.
        include_audio: bool. Also freeze the audio CNN (it has no pretrained weights, so by
            default it keeps training).

    Returns:
        The names of the frozen layers.
    """
    names = (VISUAL_CNN, AUDIO_CNN) if include_audio else (VISUAL_CNN,)
    frozen = [layer for layer in _cnn_layers(model) if layer.name in names]
    if not frozen:
        raise InvalidArgumentError(
            f"`model` has no layer named {VISUAL_CNN!r}. Received: model.name={model.name!r}"
        )
    for layer in frozen:
        layer.trainable = False
    return [layer.name for layer in frozen]


def unfreeze_all(model):
    """Strategy (ii), and the second phase of (iii): makes every layer trainable."""
    model.trainable = True
    for layer in model.layers:
        layer.trainable = True
    return model


def init_from(model, source, *, include_cnn=False):
    """Strategy (iii): copies the RNN, attention and head weights of `source` into `model`.

    Layers are matched by name; a layer whose weights differ in shape raises.

    Args:
        model: keras.Model. The network to initialise.
        source: keras.Model. A trained network (e.g. trained with strategy (i)).
        include_cnn: bool. Also copy the CNN streams.

    Returns:
        The names of the layers that were copied.
    """
    source_layers = {layer.name: layer for layer in source.layers}
    skip = set() if include_cnn else {VISUAL_CNN, AUDIO_CNN}
    copied = []
    for layer in model.layers:
        other = source_layers.get(layer.name)
        if layer.name in skip or other is None or not layer.weights:
            continue
        mine, theirs = layer.get_weights(), other.get_weights()
        shapes, source_shapes = [w.shape for w in mine], [w.shape for w in theirs]
        if shapes != source_shapes:
            raise InvalidArgumentError(
                f"Layer {layer.name!r} has weights of shapes {shapes} but the source model's "
                f"has {source_shapes}. Received: source.name={source.name!r}"
            )
        layer.set_weights(theirs)
        copied.append(layer.name)
    return copied


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
