"""The Aff-Wild2 networks' attention: TF1's `AttentionCellWrapper` as a Keras RNN cell."""

import keras
from keras import ops

from affectkeras.errors import InvalidArgumentError, check_positive


@keras.saving.register_keras_serializable(package="affectkeras")
class AttentionCellWrapper(keras.layers.Layer):
    """Wraps an RNN cell with attention over its own last `attention_length` outputs.

    This is the attention of the Aff-Wild2 papers' TensorFlow code ("attention length 32"),
    TF1's `tf.contrib.rnn.AttentionCellWrapper` step for step. At step t, with the previous
    attention vector `a_{t-1}` and the window `H` of the wrapper's previous L outputs
    (zeros before the first step; those zeros take part in the softmax):

        x'_t = W_in [x_t; a_{t-1}] + b_in                  (the input projection)
        o_t, s_t = cell(x'_t, s_{t-1})
        q_t = W_q concat(flatten(s_t)) + b_q               (for 2 stacked GRUs, [h1; h2])
        e_j = v . tanh(W_k H_j + q_t),  alpha = softmax(e)  (over all L slots)
        a_t = sum_j alpha_j H_j
        y_t = W_out [o_t; a_t] + b_out                     (the step's output)
        H <- H[1:] + [y_t]

    The state is the wrapped cell's state (flattened), `a_t` and H, `L * attention_size`
    numbers. It runs step by step inside `keras.layers.RNN`; `TemporalAttention` is the
    vectorised approximation (it attends over the RNN's outputs, no feedback).

    Args:
        cell: RNN cell. The wrapped cell, e.g. `keras.layers.StackedRNNCells` of two
            `GRUCell(128, reset_after=False)` (TF1's `MultiRNNCell` of `GRUCell`s).
        attention_length: int. L, the number of previous outputs attended over (papers: 32).
        attention_size: int or None. Size of the outputs and attention vectors; None = the
            cell's output size.
        attention_vec_size: int or None. Width of the additive scoring layer; None =
            `attention_size`.
        input_size: int or None. Width of the input projection; None = the input's.
        kernel_initializer: initializer. Of every kernel (TF1: glorot uniform); biases start
            at zero, as TF1's.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:
        >>> cells = keras.layers.StackedRNNCells([keras.layers.GRUCell(128) for _ in range(2)])
        >>> rnn = keras.layers.RNN(AttentionCellWrapper(cells, 32), return_sequences=True)

    Reference:
        TensorFlow 1.x, `tensorflow/contrib/rnn/python/ops/rnn_cell.py`,
        `AttentionCellWrapper`; Kollias, Zafeiriou, "Aff-Wild2: Extending the Aff-Wild
        Database for Affect Recognition", arXiv:1811.07770, 2018.
    """

    def __init__(
        self,
        cell,
        attention_length=32,
        attention_size=None,
        attention_vec_size=None,
        input_size=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        check_positive("attention_length", attention_length, integer=True)
        for arg, value in (("attention_size", attention_size), ("attention_vec_size", attention_vec_size),
                           ("input_size", input_size)):
            if value is not None:
                check_positive(arg, value, integer=True)
        if not hasattr(cell, "state_size") or not callable(cell):
            raise InvalidArgumentError(f"`cell` must be a Keras RNN cell (with a `state_size`). Received: cell={cell!r}")
        # Keras's RNN resets the dropout masks of the cell it runs, not of cells wrapped inside it.
        for inner in getattr(cell, "cells", [cell]):
            if getattr(inner, "dropout", 0) or getattr(inner, "recurrent_dropout", 0):
                raise InvalidArgumentError(
                    f"The wrapped cell {inner.name!r} has dropout, which a wrapper cannot reset per sequence: "
                    "use dropout outside the RNN. Received: dropout > 0"
                )
        super().__init__(**kwargs)
        self.cell = cell
        self.attention_length = attention_length
        self.attention_size = attention_size or _output_size(cell)
        self.attention_vec_size = attention_vec_size or self.attention_size
        self.input_size = input_size
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._cell_state_sizes = keras.tree.flatten(cell.state_size)
        self.state_size = [*self._cell_state_sizes, self.attention_size, attention_length * self.attention_size]
        self.output_size = self.attention_size

    def build(self, input_shape):
        input_dim = input_shape[-1]
        input_size = self.input_size or input_dim
        if not self.cell.built:
            self.cell.build((input_shape[0], input_size))

        def weight(name, shape, initializer=None):
            return self.add_weight(shape=shape, name=name, initializer=initializer or self.kernel_initializer)

        size, vec = self.attention_size, self.attention_vec_size
        self.input_kernel = weight("input_kernel", (input_dim + size, input_size))
        self.input_bias = weight("input_bias", (input_size,), "zeros")
        self.attention_kernel = weight("attention_kernel", (size, vec))
        self.attention_vector = weight("attention_vector", (vec,))
        self.query_kernel = weight("query_kernel", (sum(self._cell_state_sizes), vec))
        self.query_bias = weight("query_bias", (vec,), "zeros")
        self.output_kernel = weight("output_kernel", (_output_size(self.cell) + size, size))
        self.output_bias = weight("output_bias", (size,), "zeros")

    def call(self, inputs, states, training=None):
        count = len(self._cell_state_sizes)
        cell_states = keras.tree.pack_sequence_as(self.cell.state_size, list(states[:count]))
        attention, history = states[count], states[count + 1]
        history = ops.reshape(history, (-1, self.attention_length, self.attention_size))

        cell_inputs = ops.matmul(ops.concatenate([inputs, attention], axis=-1), self.input_kernel) + self.input_bias
        kwargs = {"training": training} if getattr(self.cell, "_call_has_training_arg", False) else {}
        cell_output, new_cell_states = self.cell(cell_inputs, cell_states, **kwargs)
        new_cell_states = keras.tree.flatten(new_cell_states)

        query = ops.matmul(ops.concatenate(new_cell_states, axis=-1), self.query_kernel) + self.query_bias
        keys = ops.einsum("bld,dv->blv", history, self.attention_kernel)
        scores = ops.sum(self.attention_vector * ops.tanh(keys + query[:, None, :]), axis=-1)
        weights = ops.softmax(ops.cast(scores, "float32"), axis=-1)  # every slot, zeros included
        new_attention = ops.einsum("bl,bld->bd", ops.cast(weights, history.dtype), history)

        output = ops.matmul(ops.concatenate([cell_output, new_attention], axis=-1), self.output_kernel)
        output = output + self.output_bias
        new_history = ops.concatenate([history[:, 1:], output[:, None, :]], axis=1)
        new_history = ops.reshape(new_history, (-1, self.attention_length * self.attention_size))
        return output, [*new_cell_states, new_attention, new_history]

    def get_config(self):
        config = super().get_config()
        config.update(
            cell=keras.saving.serialize_keras_object(self.cell),
            attention_length=self.attention_length,
            attention_size=self.attention_size,
            attention_vec_size=self.attention_vec_size,
            input_size=self.input_size,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cell = keras.saving.deserialize_keras_object(config.pop("cell"))
        return cls(cell, **config)


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is None:
        size = keras.tree.flatten(cell.state_size)[0]
    return size


__all__ = ["AttentionCellWrapper"]
