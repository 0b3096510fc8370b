"""ArcFace: the additive angular margin classification head."""

import math

import keras
from keras import ops

from affectkeras.errors import InvalidArgumentError, check_positive

# Keeps sqrt(1 - cos^2) and the L2 norms away from 0, where their gradients are infinite.
_EPSILON = 1e-7


def _l2_normalize(x, axis):
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(square_sum, _EPSILON))


@keras.saving.register_keras_serializable(package="affectkeras")
class ArcFace(keras.layers.Layer):
    """Additive angular margin head: `scale * cos(theta + margin)` for the true class.

    The logits are scaled cosine similarities between the L2-normalised embeddings and the
    L2-normalised columns of `kernel` (one class centre per column). During training the
    true class's angle is enlarged by `margin`, which pulls same-class embeddings together
    and pushes class centres apart; without labels (inference) the layer returns
    `scale * cos(theta)` for every class. Train with softmax cross-entropy on the logits
    (`from_logits=True`).

    As in insightface, `cos(theta + m)` is used only where it is decreasing in theta
    (`cos(theta) > cos(pi - m)`); elsewhere the logit is `cos(theta) - m * sin(pi - m)`,
    which keeps the target logit monotonic. With `easy_margin=True` the margin applies only
    where `cos(theta) > 0`.

    Labels are integer class indices (an int tensor, or floats holding integers). A label
    of -1 means "not annotated" (the Aff-Wild2 expression sentinel): that row gets no
    margin. A label outside `[-1, num_classes)` or not an integer makes that row's logits
    NaN: raising from inside a compiled graph is backend specific, a NaN loss is not, and
    `keras.callbacks.TerminateOnNaN` stops on it.

    The margin is computed in float32: a 16-bit dtype policy (the global `mixed_float16`
    or `mixed_bfloat16` policy, or a `dtype` argument) is replaced by `"float32"`, so the
    kernel is stored and read in float32 and the logits are float32.

    Args:
        num_classes: int. Number of classes C.
        scale: float. The scale s of the logits (the radius of the hypersphere).
        margin: float. The additive angular margin m in radians, in `[0, pi)`.
        easy_margin: bool. Apply the margin only where `cos(theta) > 0`, instead of the
            threshold rule above.
        kernel_initializer: initializer. Initializer of `kernel`, shape `(dim, C)`.
        kernel_regularizer: regularizer or None. Regularizer of `kernel`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: Embeddings `(batch, dim)` or `(batch, time, dim)`; or a list
            `[embeddings]` or `[embeddings, labels]` with labels `(batch,)` /
            `(batch, time)` (a trailing axis of size 1 is accepted); labels may be None.
        labels: tensor or None. The labels, if not given in `inputs`.

    Returns:
        Logits `scale * cos`, float32, shape `(batch, C)` or `(batch, time, C)`.

    Example:
        >>> embeddings = keras.Input((512,))
        >>> labels = keras.Input((), dtype="int32")
        >>> logits = ArcFace(7, name="expression_arcface")([embeddings, labels])
        >>> model = keras.Model([embeddings, labels], logits)
        >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    Reference:
        Deng, Guo, Xue, Zafeiriou, "ArcFace: Additive Angular Margin Loss for Deep Face
        Recognition", CVPR 2019 (https://github.com/deepinsight/insightface);
        Kollias, Zafeiriou, "Expression, Affect, Action Unit Recognition: Aff-Wild2,
        Multi-Task Learning and ArcFace", BMVC 2019.
    """

    def __init__(
        self,
        num_classes,
        scale=64.0,
        margin=0.5,
        easy_margin=False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        check_positive("num_classes", num_classes, integer=True)
        check_positive("scale", scale)
        is_number = isinstance(margin, (int, float)) and not isinstance(margin, bool)
        if not (is_number and 0 <= margin < math.pi):
            raise InvalidArgumentError(
                f"`margin` must be a number in [0, pi). Received: margin={margin!r}"
            )
        if not isinstance(easy_margin, bool):
            raise InvalidArgumentError(
                f"`easy_margin` must be a bool. Received: easy_margin={easy_margin!r}"
            )
        policy = keras.dtype_policies.get(kwargs.get("dtype") or keras.config.dtype_policy())
        if policy.compute_dtype in ("float16", "bfloat16"):
            kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.scale = float(scale)
        self.margin = float(margin)
        self.easy_margin = easy_margin
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        embeddings_shape, labels_shape = _split_shapes(input_shape)
        if len(embeddings_shape) < 2 or embeddings_shape[-1] is None:
            raise InvalidArgumentError(
                "`embeddings` must have shape (batch, ..., dim) with a known dim. "
                f"Received: embeddings.shape={embeddings_shape}"
            )
        if labels_shape is not None:
            _check_labels_shape(labels_shape, embeddings_shape)
        self.kernel = self.add_weight(
            shape=(embeddings_shape[-1], self.num_classes),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )

    def call(self, inputs, labels=None):
        embeddings, list_labels = _split_inputs(inputs)
        if list_labels is not None and labels is not None:
            raise InvalidArgumentError(
                "Pass the labels either in `inputs` or as `labels`, not both. "
                f"Received: labels={labels!r}"
            )
        labels = list_labels if labels is None else labels
        cosine = ops.matmul(_l2_normalize(embeddings, -1), _l2_normalize(self.kernel, 0))
        cosine = ops.clip(cosine, -1.0, 1.0)
        if labels is None:
            return self.scale * cosine

        _check_labels_shape(tuple(labels.shape), tuple(embeddings.shape))
        labels = ops.cast(labels, "float32")
        if len(labels.shape) == len(embeddings.shape):
            labels = ops.squeeze(labels, axis=-1)
        labels = labels[..., None]
        sine = ops.sqrt(ops.clip(1.0 - ops.square(cosine), _EPSILON, 1.0))
        with_margin = cosine * math.cos(self.margin) - sine * math.sin(self.margin)
        if self.easy_margin:
            target = ops.where(cosine > 0.0, with_margin, cosine)
        else:
            target = ops.where(
                cosine > math.cos(math.pi - self.margin),
                with_margin,
                cosine - math.sin(math.pi - self.margin) * self.margin,
            )
        # A label of -1 matches no class, so that row keeps its plain cosines.
        classes = ops.arange(self.num_classes, dtype="float32")
        logits = self.scale * ops.where(ops.equal(labels, classes), target, cosine)
        valid = (labels >= -1.0) & (labels < self.num_classes) & (labels == ops.floor(labels))
        return ops.where(valid, logits, float("nan"))

    def compute_output_shape(self, input_shape):
        embeddings_shape, _ = _split_shapes(input_shape)
        return tuple(embeddings_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            scale=self.scale,
            margin=self.margin,
            easy_margin=self.easy_margin,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
        )
        return config


def _split_inputs(inputs):
    """`embeddings`, `[embeddings]` or `[embeddings, labels]` -> (embeddings, labels)."""
    if not isinstance(inputs, (list, tuple)):
        return inputs, None
    if len(inputs) not in (1, 2):
        raise InvalidArgumentError(
            "`inputs` must be `embeddings`, `[embeddings]` or `[embeddings, labels]`. "
            f"Received: inputs with {len(inputs)} elements"
        )
    return inputs[0], (inputs[1] if len(inputs) == 2 else None)


def _split_shapes(input_shape):
    """The shape counterpart of `_split_inputs`: a shape is a tuple of ints and Nones."""
    if input_shape and isinstance(input_shape[0], (list, tuple)):
        labels_shape = input_shape[1] if len(input_shape) == 2 else None
        return tuple(input_shape[0]), labels_shape
    return tuple(input_shape), None


def _check_labels_shape(labels_shape, embeddings_shape):
    leading = tuple(embeddings_shape[:-1])
    shape = tuple(labels_shape)
    if len(shape) == len(leading) + 1 and shape[-1] == 1:
        shape = shape[:-1]
    compatible = len(shape) == len(leading) and all(
        a is None or b is None or a == b for a, b in zip(shape, leading)
    )
    if not compatible:
        raise InvalidArgumentError(
            f"`labels` must have the shape of the embeddings without their last axis, "
            f"{leading}, optionally followed by 1. Received: labels.shape={tuple(labels_shape)}"
        )


__all__ = ["ArcFace"]
