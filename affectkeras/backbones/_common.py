"""Argument checks, the pooled top and weight loading shared by the backbone builders."""

import warnings

import keras

from affectkeras.errors import InvalidArgumentError, check_choice, check_positive
from affectkeras.weights import load_weights, mark_pretrained, resolve_weights

POOLINGS = (None, "avg", "max")


def scaled(units, width):
    """`units * width`, rounded, at least 1: the filter / unit count at a given width."""
    return max(1, int(round(units * width)))


def check_image_shape(input_shape, min_size, arg="input_shape"):
    """Returns `input_shape` as a tuple `(height, width, channels)` of ints, checked."""
    ok = isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
    ok = ok and all(isinstance(d, int) and not isinstance(d, bool) for d in input_shape)
    if ok and min(input_shape) >= 1 and min(input_shape[:2]) >= min_size:
        return tuple(input_shape)
    raise InvalidArgumentError(
        f"`{arg}` must be (height, width, channels), integers with height and width "
        f">= {min_size} and channels >= 1. Received: {arg}={input_shape!r}"
    )


def check_name(name):
    if not isinstance(name, str) or not name or "/" in name:
        raise InvalidArgumentError(
            f"`name` must be a non-empty string without '/'. Received: name={name!r}"
        )
    return name


def check_head(include_top, pooling, classes, width, extra_tops=()):
    """Checks the arguments every image backbone shares."""
    if not (include_top is True or include_top is False or include_top in extra_tops):
        raise InvalidArgumentError(
            f"`include_top` must be one of {[True, False, *extra_tops]}. "
            f"Received: include_top={include_top!r}"
        )
    check_choice("pooling", pooling, POOLINGS)
    if include_top is not False and pooling is not None:
        raise InvalidArgumentError(
            "`pooling` applies only with include_top=False (the top has its own "
            f"pooling). Received: pooling={pooling!r}"
        )
    check_positive("classes", classes, integer=True)
    check_positive("width", width)


def check_weights(weights, backbone):
    return resolve_weights(weights, backbone=backbone)


def load_backbone_weights(model, weights, head_layers):
    """Loads `weights` by name; the head layers may be missing or of another shape.

    The head (fc6 / fc7 / fc8, a classifier) of a file without a top, or of a file trained
    at another input size, keeps its fresh initialisation, with a warning naming it.
    Every other layer must be in the file with the right shapes.
    """
    if weights is None:
        return mark_pretrained(model, ())
    present = {layer.name for layer in model.layers}
    head = [n for n in head_layers if n in present]
    report = load_weights(model, weights, allow_missing=head, skip_mismatch=head)
    mark_pretrained(model, report.loaded)  # what strategy (i) keeps fixed
    fresh = list(report.missing) + list(report.mismatched)
    if fresh:
        warnings.warn(
            f"Model {model.name!r}: layers {fresh} are not in the weights file "
            f"{report.path} with the model's shapes; they keep their random "
            "initialisation (train them).",
            stacklevel=3,
        )
    return model


def pooled_top(x, *, include_top, pooling, classes, head):
    """The end of a backbone: global average pooling + softmax `head`, or optional pooling."""
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return keras.layers.Dense(classes, activation="softmax", name=head)(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x
