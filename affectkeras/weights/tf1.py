"""TensorFlow 1's GRU cell in Keras: the layout that `affectkeras.checkpoints` converts.

TF1's `GRUCell` computes, with `[a; b]` a concatenation,

    r, u = split(sigmoid([x; h] G + g), 2)       G: (in + units, 2 units), gates [r, u]
    c = tanh([x; r * h] C + c_b)                  C: (in + units, units)
    h' = u * h + (1 - u) * c

which is Keras's `GRUCell(reset_after=False)` with update gate z = u, whose kernel
`(in, 3 units)`, recurrent kernel `(units, 3 units)` and bias `(3 units,)` hold the gates in
the order [z, r, candidate].
"""

import numpy as np

from affectkeras.errors import InvalidArgumentError


def keras_gru_weights(gates_kernel, gates_bias, candidate_kernel, candidate_bias):
    """TF1 `GRUCell` variables -> `[kernel, recurrent_kernel, bias]` of `GRUCell(reset_after=False)`.

    Args:
        gates_kernel: array `(input_dim + units, 2 * units)` (`gates/kernel`, or `gates/weights`
            before TF 1.2).
        gates_bias: array `(2 * units,)`.
        candidate_kernel: array `(input_dim + units, units)`.
        candidate_bias: array `(units,)`.

    Returns:
        The three arrays for `keras.layers.GRUCell(units, reset_after=False).set_weights`.
    """
    gates_kernel, candidate_kernel = np.asarray(gates_kernel), np.asarray(candidate_kernel)
    units = candidate_kernel.shape[-1]
    input_dim = candidate_kernel.shape[0] - units
    expected = {"gates_kernel": (input_dim + units, 2 * units), "gates_bias": (2 * units,),
                "candidate_bias": (units,)}
    for arg, array in (("gates_kernel", gates_kernel), ("gates_bias", gates_bias), ("candidate_bias", candidate_bias)):
        if np.shape(array) != expected[arg]:
            raise InvalidArgumentError(
                f"`{arg}` must have shape {expected[arg]} for a GRU of {units} units on {input_dim} inputs "
                f"(from candidate_kernel {candidate_kernel.shape}). Received: {arg}.shape={np.shape(array)}"
            )
    reset, update = np.split(gates_kernel, 2, axis=1)
    reset_bias, update_bias = np.split(np.asarray(gates_bias), 2)
    stacked = np.concatenate([update, reset, candidate_kernel], axis=1)  # Keras's order: z, r, h
    bias = np.concatenate([update_bias, reset_bias, candidate_bias])
    return [stacked[:input_dim], stacked[input_dim:], bias]


__all__ = ["keras_gru_weights"]
