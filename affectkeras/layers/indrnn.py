"""IndRNN: the independently recurrent neural network, as a Keras RNN cell and layer."""

import keras
from keras import ops

from affectkeras.errors import check_positive


@keras.saving.register_keras_serializable(package="affectkeras")
class RecurrentMaxAbs(keras.constraints.Constraint):
    """Clips every weight to `[-max_abs, max_abs]`: IndRNN's recurrent weight constraint.

    The optimizer applies it after each update. Bounding IndRNN's elementwise recurrent
    weights `u` bounds the gradient through the recurrence: `u ** T` over T steps (the
    paper uses `2 ** (1 / T)` and similar bounds).

    Args:
        max_abs: float. The bound, > 0.

    Returns:
        The clipped weights, same shape.

    Example:
        >>> keras.layers.Dense(4, kernel_constraint=RecurrentMaxAbs(1.0))

    Reference:
        Li, Li, Cook, Zhu, Gao, "Independently Recurrent Neural Network (IndRNN):
        Building A Longer and Deeper RNN", CVPR 2018.
    """

    def __init__(self, max_abs=1.0):
        check_positive("max_abs", max_abs)
        self.max_abs = float(max_abs)

    def __call__(self, w):
        return ops.clip(w, -self.max_abs, self.max_abs)

    def get_config(self):
        return {"max_abs": self.max_abs}


@keras.saving.register_keras_serializable(package="affectkeras")
class IndRNNCell(keras.layers.Layer):
    """One step of IndRNN: `h_t = activation(W x_t + u * h_{t-1} + b)`.

    The recurrent weight `u` is a vector (one weight per unit): each unit sees only its
    own past, which makes the recurrence easy to bound (`recurrent_max_abs`) and lets
    ReLU IndRNNs be stacked deep and trained over long sequences. Wrap the cell in
    `keras.layers.RNN`, or use `IndRNN`.

    Args:
        units: int. Number of units (the width of the state and of the output).
        activation: activation. Default "relu", as in the paper.
        use_bias: bool. Whether to add the bias `b`.
        recurrent_max_abs: float or None. Bound of `|u|`, applied as a `RecurrentMaxAbs`
            constraint by the optimizer; None = unconstrained.
        kernel_initializer: initializer. Initializer of `W`, shape `(input_dim, units)`.
        recurrent_initializer: initializer or None. Initializer of `u`, shape `(units,)`;
            None = uniform in [0, 1), as the paper does for ReLU IndRNNs.
        bias_initializer: initializer. Initializer of `b`, shape `(units,)`.
        kernel_regularizer: regularizer or None. Regularizer of `W`.
        recurrent_regularizer: regularizer or None. Regularizer of `u`.
        bias_regularizer: regularizer or None. Regularizer of `b`.
        kernel_constraint: constraint or None. Constraint of `W`.
        bias_constraint: constraint or None. Constraint of `b`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: Inputs of one step, shape `(batch, input_dim)`.
        states: List holding the previous state, shape `(batch, units)`.

    Returns:
        `(output, [state])`, both of shape `(batch, units)` (the state is the output).

    Example:
        >>> layer = keras.layers.RNN(IndRNNCell(128), return_sequences=True)

    Reference:
        Li, Li, Cook, Zhu, Gao, "Independently Recurrent Neural Network (IndRNN):
        Building A Longer and Deeper RNN", CVPR 2018.
    """

    def __init__(
        self,
        units,
        activation="relu",
        use_bias=True,
        recurrent_max_abs=1.0,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        check_positive("units", units, integer=True)
        if recurrent_max_abs is not None:
            check_positive("recurrent_max_abs", recurrent_max_abs)
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.recurrent_max_abs = recurrent_max_abs
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer or keras.initializers.RandomUniform(0.0, 1.0)
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units,),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=(
                None
                if self.recurrent_max_abs is None
                else RecurrentMaxAbs(self.recurrent_max_abs)
            ),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs, states):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        outputs = ops.matmul(inputs, self.kernel) + self.recurrent_kernel * previous
        if self.bias is not None:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        new_states = [outputs] if isinstance(states, (list, tuple)) else outputs
        return outputs, new_states

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            recurrent_max_abs=self.recurrent_max_abs,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            recurrent_regularizer=keras.regularizers.serialize(self.recurrent_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
            kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
            bias_constraint=keras.constraints.serialize(self.bias_constraint),
        )
        return config


# The cell arguments that `IndRNN` forwards to its cell and returns in its config.
_CELL_ARGS = (
    "units",
    "activation",
    "use_bias",
    "recurrent_max_abs",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "bias_constraint",
)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


@keras.saving.register_keras_serializable(package="affectkeras")
class IndRNN(keras.layers.RNN):
    """Independently recurrent neural network layer: `keras.layers.RNN(IndRNNCell(...))`.

    Built like Keras's `SimpleRNN`: the layer creates its `IndRNNCell` from its arguments,
    and its config holds those arguments (not the cell). Masking, `return_sequences`,
    `return_state`, `go_backwards` and `stateful` work as in any Keras RNN.

    Args:
        units: int. Number of units.
        activation: activation. Default "relu", as in the paper.
        use_bias: bool. Whether to add a bias.
        recurrent_max_abs: float or None. Bound of the recurrent weights `|u|`; None =
            unconstrained.
        kernel_initializer: initializer. Initializer of the input kernel.
        recurrent_initializer: initializer or None. Initializer of `u`; None = uniform in
            [0, 1).
        bias_initializer: initializer. Initializer of the bias.
        kernel_regularizer: regularizer or None. Regularizer of the input kernel.
        recurrent_regularizer: regularizer or None. Regularizer of `u`.
        bias_regularizer: regularizer or None. Regularizer of the bias.
        kernel_constraint: constraint or None. Constraint of the input kernel.
        bias_constraint: constraint or None. Constraint of the bias.
        return_sequences: bool. Return the whole output sequence instead of the last output.
        return_state: bool. Also return the last state.
        go_backwards: bool. Process the sequence backwards (and return it reversed).
        stateful: bool. Carry the last state of each sample over to the next batch.
        unroll: bool. Unroll the loop (faster and more memory-hungry; short sequences).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: Inputs, shape `(batch, time, input_dim)`.
        initial_state: list of one tensor `(batch, units)`, or None (zeros).
        mask: bool tensor or None. Valid steps, shape `(batch, time)`.
        training: bool. Passed to the cell.

    Returns:
        `(batch, time, units)` with `return_sequences`, else `(batch, units)`; with
        `return_state`, a list `[outputs, last_state]`.

    Example:
        >>> x = keras.Input((80, 4096))
        >>> x = IndRNN(128, return_sequences=True)(x)
        >>> x = IndRNN(128, return_sequences=True)(x)  # (batch, 80, 128)

    Reference:
        Li, Li, Cook, Zhu, Gao, "Independently Recurrent Neural Network (IndRNN):
        Building A Longer and Deeper RNN", CVPR 2018.
    """

    def __init__(
        self,
        units,
        activation="relu",
        use_bias=True,
        recurrent_max_abs=1.0,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        cell = IndRNNCell(
            units,
            activation=activation,
            use_bias=use_bias,
            recurrent_max_abs=recurrent_max_abs,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="indrnn_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = [keras.layers.InputSpec(ndim=3)]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    # The cell owns the arguments; the layer reads them through, as `SimpleRNN` does.
    units = _cell_property("units")
    activation = _cell_property("activation")
    use_bias = _cell_property("use_bias")
    recurrent_max_abs = _cell_property("recurrent_max_abs")
    kernel_initializer = _cell_property("kernel_initializer")
    recurrent_initializer = _cell_property("recurrent_initializer")
    bias_initializer = _cell_property("bias_initializer")
    kernel_regularizer = _cell_property("kernel_regularizer")
    recurrent_regularizer = _cell_property("recurrent_regularizer")
    bias_regularizer = _cell_property("bias_regularizer")
    kernel_constraint = _cell_property("kernel_constraint")
    bias_constraint = _cell_property("bias_constraint")

    def get_config(self):
        cell_config = self.cell.get_config()
        config = super().get_config()
        del config["cell"]
        config.update({name: cell_config[name] for name in _CELL_ARGS})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


__all__ = ["IndRNN", "IndRNNCell", "RecurrentMaxAbs"]
