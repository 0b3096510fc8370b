"""Fixtures for tests, benchmarks and the demo: a small Aff-Wild2-like dataset with known labels.

`write_dataset` writes videos, face crops and annotation files in Aff-Wild2's on-disk
layout, with labels that drawn faces and a voice carry, so that every reader,
preprocessing job, training recipe and test runs end to end on a laptop in seconds.
Not part of the modelling API: `affectkeras.data` does not import it.

- `dataset`: `write_dataset`, `SyntheticDataset` (what was written, reloadable from the
  `MANIFEST` file), the ffmpeg video encoding and the annotation files.
- `_people`: each annotated person's per-frame labels, face parameters, masks and motion.
- `_faces`: the face parameters, expression prototypes and AU rules, and the drawing.
- `_voice`: the voice-like sound track that follows valence and arousal.

Importing it loads no deep-learning framework.

Example:
    >>> from affectkeras.testing import SyntheticDataset, write_dataset
    >>> dataset = write_dataset("/tmp/affwild2-synth", num_videos=3, frames=60)
    >>> SyntheticDataset.load("/tmp/affwild2-synth").train == dataset.train
    True
"""

from affectkeras.testing.dataset import MANIFEST, SyntheticDataset, write_dataset

__all__ = ["MANIFEST", "SyntheticDataset", "write_dataset"]
