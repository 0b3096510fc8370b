"""Keras layers of the Aff-Wild / Aff-Wild2 networks.

`ArcFace` is the additive angular margin expression head, `AttentionCellWrapper` the
papers' attention (TF1's recurrent attention cell), `TemporalAttention` a vectorised causal
windowed approximation of it stacked on the RNN, `IndRNN` / `IndRNNCell` (with the
`RecurrentMaxAbs` constraint) the independently recurrent RNN, `FaceRescaling` /
`VGGFacePreprocessing` the input normalisations of the papers and of the VGGFace weights,
`FoldedTimeDistributed` runs a per-frame CNN on all frames of a batch in one call, and
`FaceViews` / `ViewAverage` average a network over test-time views of each face. All are
written with `keras.ops` only, so they run on the TensorFlow, JAX and PyTorch backends, and all are
registered for `.keras` saving under the package name "affectkeras".
"""

from affectkeras.layers.arcface import ArcFace
from affectkeras.layers.attention import TemporalAttention
from affectkeras.layers.attention_cell import AttentionCellWrapper
from affectkeras.layers.indrnn import IndRNN, IndRNNCell, RecurrentMaxAbs
from affectkeras.layers.preprocessing import FaceRescaling, VGGFacePreprocessing
from affectkeras.layers.time_distributed import FoldedTimeDistributed
from affectkeras.layers.views import FaceViews, ViewAverage

__all__ = [
    "ArcFace",
    "AttentionCellWrapper",
    "FaceRescaling",
    "FaceViews",
    "FoldedTimeDistributed",
    "IndRNN",
    "IndRNNCell",
    "RecurrentMaxAbs",
    "TemporalAttention",
    "VGGFacePreprocessing",
    "ViewAverage",
]
