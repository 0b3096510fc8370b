"""Which layers of a network hold weights read from a file: what strategy (i) keeps fixed.

The Aff-Wild2 paper's strategy (i) keeps "the CNN weights fixed to their pre-trained values"
and trains the rest. Which layers those are depends on the file, not on the architecture:
VGG-Face's fc6 at 96 px maps 3x3x512 inputs, not the 7x7x512 of the published 224 px
weights, so it starts random and must train; the `ferplus` preset fits fc6 at 64 px.

So a backbone that loads a file records the layers the file set (`mark_pretrained(model,
names)`); a backbone built without one records none. A layer under no record counts as
pretrained: a network read back from a file (`.keras`, a run folder, a network preset)
carries no record, and every weight in it came from that file. Call
`mark_pretrained(layer)` after setting a network's weights yourself (`set_weights`,
Keras's own `load_weights`).
"""

import keras

# The attribute a model keeps its record in: the names of its direct sub-layers whose weights
# came from a file. Absent = all of them (or no record needed).
_RECORD = "pretrained_layers"


def mark_pretrained(layer, names=None):
    """Records that `layer`'s weights came from a file: all of them, or only `names`' layers.

    Args:
        layer: keras.Layer or keras.Model.
        names: iterable of str or None. The direct sub-layers of `layer` (a model) that a
            file set; None = every weight under `layer` (any older record is dropped).

    Returns:
        `layer`.
    """
    if names is not None:
        object.__setattr__(layer, _RECORD, frozenset(names))  # untracked by Keras
        return layer
    for _, sublayer in _walk(layer):
        if _RECORD in vars(sublayer):
            object.__delattr__(sublayer, _RECORD)
    return layer


def weight_layers(layer):
    """Every layer with weights under `layer`: `(path, layer, pretrained)` in model order.

    `path` joins the names below `layer` (`"visual_cnn/vggface/vggface/fc6"` in a sequence
    network), so that two networks built alike give the same paths; `layer`'s own name
    when it has no sub-layers. `pretrained` is True where the layer's weights came from a
    file (see the module's docstring).
    """
    found = []
    for path, leaf, pretrained in _leaves(layer, "", True):
        if leaf.weights:
            found.append((path, leaf, pretrained))
    return found


def _children(layer):
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    inner = getattr(layer, "layer", None)  # wrappers: TimeDistributed, Bidirectional, ...
    return [inner] if isinstance(inner, keras.layers.Layer) else []


def _leaves(layer, path, pretrained):
    children = _children(layer)
    if not children:
        yield path or layer.name, layer, pretrained
        return
    record = vars(layer).get(_RECORD)
    for child in children:
        verdict = pretrained if record is None else pretrained and child.name in record
        yield from _leaves(child, f"{path}/{child.name}" if path else child.name, verdict)


def _walk(layer):
    yield layer.name, layer
    for child in _children(layer):
        yield from _walk(child)


__all__ = ["mark_pretrained", "weight_layers"]
