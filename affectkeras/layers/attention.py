"""Causal local (windowed) additive attention over the outputs of an RNN."""

import keras
from keras import ops

from affectkeras.errors import InvalidArgumentError, check_positive

# Score of the window positions that must get no weight; far below any real score, which
# is bounded by sum(|v|), and still finite in float32 so that no NaN can appear.
_MASKED_SCORE = -1e9
_TINY = 1e-30


@keras.saving.register_keras_serializable(package="affectkeras")
class TemporalAttention(keras.layers.Layer):
    """Each step attends over the last `attention_length` RNN outputs (itself included).

    For every step t the query is the RNN output h_t and the keys and values are the
    outputs h_{t-L+1} ... h_t (L = `attention_length`; fewer at the start of the sequence).
    Scores are Bahdanau's additive ones, `score_j = v . tanh(W_k h_j + W_q h_t + b_q)`,
    normalised by a softmax over the window (in float32), the context is
    `c_t = sum_j a_j h_j`, and the output is the projection `W_o [h_t; c_t] + b_o`.

    This is the attention of the Aff-Wild2 networks (attention length 32), taken from TF1's
    `tf.contrib.rnn.AttentionCellWrapper` (same scoring, query bias and output projection).
    It differs in one way: TF1's wrapper is recurrent, attending over its own previous L
    projected outputs (zeros at the start) and feeding the context back into the cell's
    next input, so it must run step by step; this layer attends over the RNN's outputs up
    to and including h_t, so it processes the whole sequence at once (no loop; memory
    grows with time * L, never time * time) after any Keras RNN (`GRU`, `LSTM`, `IndRNN`)
    with `return_sequences=True`.

    Keras masks are honoured: masked steps get zero attention weight, so they do not
    influence other steps; a window with no unmasked step gives a zero context. The output
    keeps the input mask.

    Args:
        attention_length: int. Window length L, counting the current step.
        attention_units: int or None. Width of the additive scoring layer; None = `dim`.
        units: int or None. Width of the output projection; None = `dim`.
        kernel_initializer: initializer. Initializer of the kernels `W_k`, `W_q`, `W_o`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: RNN outputs, shape `(batch, time, dim)`.
        mask: bool tensor or None. Valid steps, shape `(batch, time)`.

    Returns:
        Attended outputs, shape `(batch, time, units)`.

    Example:
        >>> frames = keras.Input((80, 4096))
        >>> x = keras.layers.GRU(128, return_sequences=True)(frames)
        >>> x = TemporalAttention(attention_length=32)(x)  # (batch, 80, 128)

    Reference:
        Bahdanau, Cho, Bengio, "Neural Machine Translation by Jointly Learning to Align and
        Translate", ICLR 2015; Kollias, Zafeiriou, "Aff-Wild2: Extending the Aff-Wild
        Database for Affect Recognition", arXiv:1811.07770, 2018.
    """

    def __init__(
        self,
        attention_length=32,
        attention_units=None,
        units=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        check_positive("attention_length", attention_length, integer=True)
        if attention_units is not None:
            check_positive("attention_units", attention_units, integer=True)
        if units is not None:
            check_positive("units", units, integer=True)
        super().__init__(**kwargs)
        self.attention_length = attention_length
        self.attention_units = attention_units
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise InvalidArgumentError(
                "`inputs` must have shape (batch, time, dim) with a known dim. "
                f"Received: inputs.shape={tuple(input_shape)}"
            )
        dim = input_shape[-1]
        attention_units = self.attention_units or dim
        units = self.units or dim

        def weight(name, shape, initializer):
            return self.add_weight(shape=shape, name=name, initializer=initializer)

        self.key_kernel = weight("key_kernel", (dim, attention_units), self.kernel_initializer)
        self.query_kernel = weight("query_kernel", (dim, attention_units), self.kernel_initializer)
        self.query_bias = weight("query_bias", (attention_units,), "zeros")
        self.score_vector = weight("score_vector", (attention_units,), self.kernel_initializer)
        self.output_kernel = weight("output_kernel", (2 * dim, units), self.kernel_initializer)
        self.output_bias = weight("output_bias", (units,), "zeros")

    def call(self, inputs, mask=None):
        batch, time = ops.shape(inputs)[0], ops.shape(inputs)[1]
        length = self.attention_length
        keys = ops.matmul(inputs, self.key_kernel)
        queries = ops.matmul(inputs, self.query_kernel) + self.query_bias

        # window[t, j] indexes step t - L + 1 + j in the sequences left-padded with L - 1
        # steps, which the validity mask excludes like masked steps.
        window = ops.arange(time)[:, None] + ops.arange(length)[None, :]  # (time, L)
        valid = ops.ones((batch, time), "bool") if mask is None else ops.cast(mask, "bool")
        valid = ops.pad(valid, [[0, 0], [length - 1, 0]], constant_values=False)
        valid = ops.take(valid, window, axis=1)  # (batch, time, L)

        window_keys = ops.take(self._left_pad(keys), window, axis=1)  # (batch, time, L, units)
        scores = ops.sum(
            self.score_vector * ops.tanh(window_keys + queries[:, :, None, :]), axis=-1
        )
        scores = ops.where(valid, ops.cast(scores, "float32"), _MASKED_SCORE)
        weights = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
        weights = weights * ops.cast(valid, "float32")
        weights = weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), _TINY)

        window_values = ops.take(self._left_pad(inputs), window, axis=1)  # (batch, time, L, dim)
        context = ops.einsum("btl,btld->btd", ops.cast(weights, inputs.dtype), window_values)
        outputs = ops.concatenate([inputs, context], axis=-1)
        return ops.matmul(outputs, self.output_kernel) + self.output_bias

    def _left_pad(self, x):
        return ops.pad(x, [[0, 0], [self.attention_length - 1, 0], [0, 0]])

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            attention_length=self.attention_length,
            attention_units=self.attention_units,
            units=self.units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


__all__ = ["TemporalAttention"]
