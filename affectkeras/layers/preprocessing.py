"""Input normalisation layers for face crops."""

import keras
from keras import ops

from affectkeras.errors import InvalidArgumentError, check_choice

# keras-vggface's `preprocess_input` means, in BGR order: VGGFace (VGG16) and VGGFace2
# (ResNet-50, SENet-50).
VGGFACE_BGR_MEANS = {
    1: (93.5940, 104.7624, 129.1863),
    2: (91.4953, 103.8827, 131.0912),
}
# RGB -> luma weights of ITU-R BT.601 (Pillow's "L" conversion, how FER2013 was made grey).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@keras.saving.register_keras_serializable(package="affectkeras")
class FaceRescaling(keras.layers.Layer):
    """Scales face intensities from [0, 255] to [-1, 1]: `x / 127.5 - 1`, optionally grey.

    The input normalisation of the Aff-Wild / Aff-Wild2 networks. Accepts uint8 or float
    images and returns the layer's compute dtype. With `grayscale=True`, RGB faces first
    become their luma (ITU-R 601, as Pillow's "L" mode) on all three channels: a network
    trained on grey faces (FER+) then takes ordinary colour crops as they come.

    Args:
        grayscale: bool. Replace the colours by their luma before scaling (last axis 3).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: Faces, any shape, e.g. `(batch, time, 96, 96, 3)`, values in [0, 255].

    Returns:
        The rescaled faces, same shape, values in [-1, 1].

    Example:
        >>> faces = keras.Input((96, 96, 3), dtype="uint8")
        >>> x = FaceRescaling()(faces)

    Reference:
        Kollias, Zafeiriou, "Aff-Wild2: Extending the Aff-Wild Database for Affect
        Recognition", arXiv:1811.07770, 2018 (section III-A).
    """

    def __init__(self, grayscale=False, **kwargs):
        super().__init__(**kwargs)
        self.grayscale = bool(grayscale)

    def build(self, input_shape):
        if self.grayscale and (not input_shape or input_shape[-1] != 3):
            raise InvalidArgumentError(
                "`grayscale=True` needs RGB images with a last axis of size 3. "
                f"Received: inputs.shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.grayscale:
            luma = ops.sum(x * ops.convert_to_tensor(LUMA_WEIGHTS, self.compute_dtype), axis=-1, keepdims=True)
            x = ops.repeat(luma, 3, axis=-1)
        return x / 127.5 - 1.0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(grayscale=self.grayscale)
        return config


@keras.saving.register_keras_serializable(package="affectkeras")
class VGGFacePreprocessing(keras.layers.Layer):
    """keras-vggface's `preprocess_input`: RGB to BGR, then subtract the BGR channel means.

    The input normalisation the published VGGFace / VGGFace2 weights were trained with.

    Args:
        version: int. 1 for VGGFace (VGG16) weights, means (93.5940, 104.7624, 129.1863);
            2 for VGGFace2 (ResNet-50, SENet-50) weights, means (91.4953, 103.8827, 131.0912).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: RGB faces `(..., 3)`, e.g. `(batch, 224, 224, 3)`, values in [0, 255],
            uint8 or float.

    Returns:
        BGR faces minus the means, same shape, in the layer's compute dtype.

    Example:
        >>> faces = keras.Input((224, 224, 3))
        >>> x = VGGFacePreprocessing(version=2)(faces)

    Reference:
        Malli, "keras-vggface" (https://github.com/rcmalli/keras-vggface), `utils.py`;
        Parkhi, Vedaldi, Zisserman, "Deep Face Recognition", BMVC 2015; Cao, Shen, Xie,
        Parkhi, Zisserman, "VGGFace2: A dataset for recognising faces across pose and age",
        FG 2018.
    """

    def __init__(self, version=1, **kwargs):
        check_choice("version", version, tuple(VGGFACE_BGR_MEANS))
        super().__init__(**kwargs)
        self.version = version

    def build(self, input_shape):
        if not input_shape or input_shape[-1] != 3:
            raise InvalidArgumentError(
                "`inputs` must be RGB images with a last axis of size 3. "
                f"Received: inputs.shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        bgr = ops.flip(ops.cast(inputs, self.compute_dtype), axis=-1)
        return bgr - ops.convert_to_tensor(VGGFACE_BGR_MEANS[self.version], self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(version=self.version)
        return config


__all__ = ["LUMA_WEIGHTS", "VGGFACE_BGR_MEANS", "FaceRescaling", "VGGFacePreprocessing"]
