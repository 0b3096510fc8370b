"""The task heads shared by every network, and the one place that names the tasks.

Tasks are requested as `"va"`, `"expr"`, `"au"` (or the ABAW spellings `"VA"`, `"EXPR"`,
`"AU"`); their outputs are always named `valence_arousal` (2, tanh), `expression`
(softmax over 7 or 8 classes) and `action_units` (sigmoid over 8 or 12 AUs). Heads compute
in float32 so that losses and metrics see float32 under `mixed_float16`.
"""

import keras

from affectkeras.constants import ALL_TASKS, AU_OUTPUT, EXPR_OUTPUT, TASK_OUTPUTS, VA_OUTPUT, check_tasks
from affectkeras.errors import check_choice, check_fraction


def check_label_space(num_expressions, num_aus):
    """Checks the expression / AU set sizes (7 or 8 classes; 8 or 12 AUs)."""
    check_choice("num_expressions", num_expressions, (7, 8))
    check_choice("num_aus", num_aus, (8, 12))


def check_dropout(dropout):
    """Checks a dropout rate on the features before the heads: a number in [0, 1)."""
    check_fraction("dropout", dropout)


def task_heads(features, *, tasks, num_expressions=8, num_aus=12, va_activation="tanh"):
    """Adds the output layers of `tasks` on `features` (`(..., dim)`) and returns them by name.

    Args:
        features: KerasTensor. Shared features, `(batch, dim)` or `(batch, time, dim)`.
        tasks: sequence of str. Subset of `"va"`, `"expr"`, `"au"`.
        num_expressions: int. 7 or 8 expression classes.
        num_aus: int. 8 or 12 action units.
        va_activation: str. `"tanh"` (valence/arousal in [-1, 1]) or `"linear"` (AffWildNet).

    Returns:
        dict from output name to KerasTensor.
    """
    check_choice("va_activation", va_activation, ("tanh", "linear"))
    heads = {
        "va": lambda: keras.layers.Dense(2, activation=va_activation, dtype="float32", name=VA_OUTPUT),
        "expr": lambda: keras.layers.Dense(num_expressions, activation="softmax", dtype="float32", name=EXPR_OUTPUT),
        "au": lambda: keras.layers.Dense(num_aus, activation="sigmoid", dtype="float32", name=AU_OUTPUT),
    }
    return {TASK_OUTPUTS[task]: heads[task]()(features) for task in check_tasks(tasks)}


def named_outputs(model):
    """The outputs of `model` by name: the keys of a dict output, else the output layer names.

    Keras's `model.output_names` gives layer names, which differ from the dict keys when an
    output comes from a layer named otherwise (e.g. `inference_model`'s expression softmax).
    """
    if isinstance(model.output, dict):
        return dict(model.output)
    return dict(zip(model.output_names, model.outputs))


def output_dict(model, outputs):
    """`model`'s outputs as Keras returns them (a dict, a list or one value), keyed by name."""
    if isinstance(outputs, dict):
        return outputs
    return dict(zip(named_outputs(model), outputs if isinstance(outputs, (list, tuple)) else [outputs]))


__all__ = ["ALL_TASKS", "check_dropout", "check_label_space", "check_tasks", "named_outputs", "output_dict",
           "task_heads"]
