"""affectkeras: audio-visual multi-task affect recognition in the wild, with Keras 3.

Networks of the Aff-Wild / Aff-Wild2 papers (Kollias & Zafeiriou): `build_cnn_rnn`,
`build_mt_vgg`, `build_mt_vgg_rnn`, `build_av_mt_vgg_rnn`, `build_mt_arcres`,
`build_mt_arcvgg`, with their layers (`affectkeras.layers`), losses (`affectkeras.losses`),
metrics (`affectkeras.metrics`), training presets (`affectkeras.training`) and export
(`affectkeras.export`).

The builders are imported on first use, so that `import affectkeras` (and the
`affectkeras` command) stays fast and loads no deep-learning framework by itself.
"""

import importlib

from affectkeras._version import __version__

_BUILDERS = (
    "build_av_mt_vgg_rnn",
    "build_cnn_rnn",
    "build_mt_arcres",
    "build_mt_arcvgg",
    "build_mt_vgg",
    "build_mt_vgg_rnn",
)

__all__ = ["__version__", *_BUILDERS]


def __getattr__(name):
    if name in _BUILDERS:
        return getattr(importlib.import_module("affectkeras.models"), name)
    raise AttributeError(f"module 'affectkeras' has no attribute {name!r}")
