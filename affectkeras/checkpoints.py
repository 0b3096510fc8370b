"""The authors' released AffWildNet TF1 checkpoint as a Keras network (`affectkeras convert`).

`convert_affwildnet(checkpoint)` reads the checkpoint of `affwildnet/vggface_gru.py` in
dkollias/Aff-Wild-models (TensorFlow 1.8; the Aff-Wild-trained VGG-Face + GRU network, no
landmarks) and returns the matching `build_cnn_rnn` network. That code names its variables
by layer count, not by VGG-Face's names:

| TF1 variable | shape | Keras layer |
| --- | --- | --- |
| `conv_1/weights`, `conv_1/biases` ... `conv_13/...` | `(3, 3, in, out)` | `conv1_1` ... `conv5_3` |
| `linear_1/weights`, `linear_1/biases` | `(4608, 4096)` | `fc6` (at 96 px) |
| `rnn_1/rnn/multi_rnn_cell/cell_{k}/gru_cell/gates/kernel`, `gates/bias` | `(in + 128, 256)` | `rnn_{k+1}` |
| `.../cell_{k}/gru_cell/candidate/kernel`, `candidate/bias` | `(in + 128, 128)` | `rnn_{k+1}` |
| `rnn_1/weights_rnn`, `rnn_1/biases_rnn` | `(128, 2)` | `valence_arousal` (linear) |

(`gates/weights` / `gates/biases` as TF < 1.2 spelled them are read too; the GRU layout
is mapped by `affectkeras.weights.tf1.keras_gru_weights`.) Its inputs are RGB crops of
96 x 96 scaled by `(x - 128) / 128` (normalisation `"affwildnet"`); valence is output
column 0, arousal column 1; the GRUs see every frame of 80-frame sequences.
"""

import pathlib

from affectkeras.errors import WeightsError
from affectkeras.weights.tf1 import keras_gru_weights

_VGG_CONVS = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
              "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3")
_GRU_SCOPE = "rnn_1/rnn/multi_rnn_cell/cell_{}/gru_cell/"
# TF >= 1.2 spelling first, then the older one.
_SPELLINGS = (("kernel", "bias"), ("weights", "biases"))


def convert_affwildnet(checkpoint):
    """The released AffWildNet (VGG-Face + 2 x GRU) TF1 checkpoint as a Keras network.

    Args:
        checkpoint: str or Path. The checkpoint prefix (`.../model.ckpt-0`, beside its
            `.index` and `.data-*` files) or its folder.

    Returns:
        `build_cnn_rnn(va_activation="linear", gru_reset_after=False, normalization=
        "affwildnet", dropout=0.5, sequence_length=None)` named `affwildnet`, holding the
        checkpoint's weights: input `faces` `(batch, time, 96, 96, 3)` uint8 RGB, output
        `valence_arousal`. Save it (`model.save("affwildnet.keras")`) for `affectkeras
        predict --model` and the recipes.

    Raises:
        WeightsError: not a readable checkpoint, or one that lacks a variable or holds one
            of another shape (named, with the expected shape).
    """
    from affectkeras.models import build_cnn_rnn
    from affectkeras.weights.provenance import mark_pretrained, weight_layers

    reader = _CheckpointReader(checkpoint)
    units = reader.shape(_GRU_SCOPE.format(0) + "candidate/{bias}")[0]
    cells = 0
    while reader.has(_GRU_SCOPE.format(cells) + "candidate/{bias}"):
        cells += 1
    model = build_cnn_rnn(backbone="vggface", feature_layer="fc6", rnn="gru", rnn_units=units, rnn_layers=cells,
                          gru_reset_after=False, va_activation="linear", normalization="affwildnet", dropout=0.5,
                          sequence_length=None, input_size=96, tasks=("va",), name="affwildnet")
    layers = {path.rsplit("/", 1)[-1]: layer for path, layer, _ in weight_layers(model)}
    dense = [(f"conv_{index}/", ("weights", "biases"), name) for index, name in enumerate(_VGG_CONVS, start=1)]
    dense += [("linear_1/", ("weights", "biases"), "fc6"), ("rnn_1/", ("weights_rnn", "biases_rnn"), "valence_arousal")]
    for scope, names, layer in dense:  # same layouts in TF1 and Keras: HWIO kernels, (in, out) matrices
        layers[layer].set_weights([reader.get(scope + name, tuple(w.shape))
                                   for name, w in zip(names, layers[layer].weights)])
    for k in range(cells):
        gru = layers[f"rnn_{k + 1}"]
        kernel, recurrent, _ = (tuple(w.shape) for w in gru.weights)
        gates = reader.gru_pair(_GRU_SCOPE.format(k) + "gates/", (kernel[0] + recurrent[0], 2 * units))
        candidate = reader.gru_pair(_GRU_SCOPE.format(k) + "candidate/", (kernel[0] + recurrent[0], units))
        gru.set_weights(keras_gru_weights(*gates, *candidate))
    return mark_pretrained(model)


class _CheckpointReader:
    """A TF checkpoint's variables by name, with errors that name the checkpoint and variable."""

    def __init__(self, path):
        import tensorflow as tf

        self.path = str(path)
        folder = pathlib.Path(path)
        if folder.is_dir() and tf.train.latest_checkpoint(str(folder)) is None:
            # A folder without TF's `checkpoint` index file (as released archives come): its one checkpoint.
            indexes = sorted(folder.glob("*.index"))
            if len(indexes) == 1:
                self.path = str(indexes[0].with_suffix(""))
        try:
            self._reader = tf.train.load_checkpoint(self.path)
        except (ValueError, tf.errors.OpError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise WeightsError(f"{self.path}: not a readable TensorFlow checkpoint ({message})") from None
        self._shapes = self._reader.get_variable_to_shape_map()

    def has(self, template):
        return any(template.format(bias=bias) in self._shapes for _, bias in _SPELLINGS)

    def shape(self, template):
        for _, bias in _SPELLINGS:
            if template.format(bias=bias) in self._shapes:
                return tuple(self._shapes[template.format(bias=bias)])
        raise WeightsError(f"{self.path}: the checkpoint has no variable {template.format(bias='bias')!r} "
                           "(AffWildNet's first GRU cell): not an AffWildNet VGG-Face + GRU checkpoint")

    def get(self, name, expected):
        if name not in self._shapes:
            raise WeightsError(f"{self.path}: the checkpoint has no variable {name!r} (expected shape {expected})")
        if tuple(self._shapes[name]) != tuple(expected):
            raise WeightsError(f"{self.path}: variable {name!r} has shape {tuple(self._shapes[name])}, "
                               f"expected {tuple(expected)}")
        return self._reader.get_tensor(name)

    def gru_pair(self, scope, kernel_shape):
        for kernel, bias in _SPELLINGS:
            if scope + kernel in self._shapes:
                return self.get(scope + kernel, kernel_shape), self.get(scope + bias, kernel_shape[1:])
        return self.get(scope + "kernel", kernel_shape), None  # raises: names the missing kernel


__all__ = ["convert_affwildnet"]
