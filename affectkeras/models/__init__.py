"""The networks of the Aff-Wild / Aff-Wild2 papers as Keras functional models.

Sequence networks (`faces` `(batch, time, 96, 96, 3)` uint8): `build_cnn_rnn` (every row
of the Aff-Wild2 paper's tables and AffWildNet), `build_mt_vgg_rnn`,
`build_av_mt_vgg_rnn` (plus `audio` windows). Per-frame networks (`faces`
`(batch, size, size, 3)` uint8): `build_mt_vgg`, `build_mt_arcres`, `build_mt_arcvgg`
(ArcFace expression head; `inference_model` drops their training-only labels input).
Outputs are named `valence_arousal`, `expression`, `action_units`.
"""

from affectkeras.models.frame import build_mt_arcres, build_mt_arcvgg, build_mt_vgg, inference_model
from affectkeras.models.heads import ALL_TASKS, check_tasks, task_heads
from affectkeras.models.sequence import build_av_mt_vgg_rnn, build_cnn_rnn, build_mt_vgg_rnn

__all__ = [
    "ALL_TASKS",
    "build_av_mt_vgg_rnn",
    "build_cnn_rnn",
    "build_mt_arcres",
    "build_mt_arcvgg",
    "build_mt_vgg",
    "build_mt_vgg_rnn",
    "check_tasks",
    "inference_model",
    "task_heads",
]
