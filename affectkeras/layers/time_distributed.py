"""`FoldedTimeDistributed`: apply a per-frame layer to every step of a sequence in one call."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="affectkeras")
class FoldedTimeDistributed(keras.layers.TimeDistributed):
    """`TimeDistributed` that runs its layer once on all `batch * time` steps together.

    Keras 3's `TimeDistributed` calls the inner layer once per time step (a Python loop
    over a static time axis). That makes 80 small convolutions of 4 frames instead of one
    of 320, a graph 80 times larger to trace, and a batch-norm layer inside normalising
    each step with the statistics of that step alone (updating its moving statistics step
    by step): for clips whose edge windows are silence and middle windows speech, those
    differ wildly from the moving statistics used at inference. Folding time into the
    batch, as Keras 2 did, computes every step in one call and normalises over all of them.

    Args:
        layer: keras.layers.Layer. The per-step layer (e.g. a CNN stream model).
        **kwargs: as `keras.layers.TimeDistributed`.
    """

    def call(self, inputs, training=None, mask=None):
        shape = ops.shape(inputs)
        steps = ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        outputs = self.layer(steps, **kwargs)
        return ops.reshape(outputs, (shape[0], shape[1]) + tuple(outputs.shape[1:]))


__all__ = ["FoldedTimeDistributed"]
