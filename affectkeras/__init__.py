"""affectkeras: audio-visual multi-task affect recognition in the wild, with Keras 3.

Networks of the Aff-Wild / Aff-Wild2 papers (Kollias & Zafeiriou) with their losses
(`affectkeras.losses`), metrics (`affectkeras.metrics`) and layers (`affectkeras.layers`).
"""

from affectkeras._version import __version__

__all__ = ["__version__"]
