"""Test-time views of face crops (the face, mirrored, a centre crop) and their average."""

import keras
from keras import ops

from affectkeras.errors import InvalidArgumentError

# The views `FaceViews` stacks along the batch, in order.
VIEW_NAMES = ("face", "mirrored", "centre_crop", "centre_crop_mirrored")


@keras.saving.register_keras_serializable(package="affectkeras")
class FaceViews(keras.layers.Layer):
    """Stacks four views of each face along the batch: itself, mirrored, a centre crop, mirrored.

    The centre crop keeps the central `crop` of each side, resized back (bilinear) to the
    input size: the same face seen slightly closer. `ViewAverage` averages a network's
    outputs over the views again; `models.average_views` wraps a network with both.

    Args:
        crop: float in (0, 1). Side of the centre crop, as a share of the face's side.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: Faces `(batch, size, size, channels)`, uint8 or float.

    Returns:
        `(4 * batch, size, size, channels)` in the input's dtype: the faces, then the
        mirrored faces, the crops and the mirrored crops (`VIEW_NAMES`).

    Example:
        >>> FaceViews(crop=0.85)(np.zeros((2, 64, 64, 3), "uint8")).shape
        (8, 64, 64, 3)
    """

    def __init__(self, crop=0.85, **kwargs):
        super().__init__(**kwargs)
        if not 0 < crop < 1:
            raise InvalidArgumentError(
                f"`crop` must be in (0, 1): the centre crop's share of a side. Received: crop={crop}"
            )
        self.crop = float(crop)

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        top, left = round(height * (1 - self.crop) / 2), round(width * (1 - self.crop) / 2)
        crops = ops.image.resize(ops.cast(inputs[:, top:height - top, left:width - left], "float32"),
                                 (height, width), interpolation="bilinear")
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "int" in dtype:  # back to pixel values, rounded rather than truncated
            crops = ops.clip(ops.round(crops), 0, 255)
        crops = ops.cast(crops, dtype)
        return ops.concatenate([inputs, ops.flip(inputs, axis=2), crops, ops.flip(crops, axis=2)], axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else len(VIEW_NAMES) * input_shape[0]
        return (batch,) + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "crop": self.crop}


@keras.saving.register_keras_serializable(package="affectkeras")
class ViewAverage(keras.layers.Layer):
    """The mean over the views of `FaceViews`: `(views * batch, ...)` -> `(batch, ...)`.

    Args:
        views: int. Views stacked along the batch (4 for `FaceViews`).
        **kwargs: Base layer arguments.
    """

    def __init__(self, views=len(VIEW_NAMES), **kwargs):
        super().__init__(**kwargs)
        self.views = int(views)

    def call(self, inputs):
        return ops.mean(ops.reshape(inputs, (self.views, -1) + tuple(inputs.shape[1:])), axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.views
        return (batch,) + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "views": self.views}


__all__ = ["VIEW_NAMES", "FaceViews", "ViewAverage"]
