"""The networks of the Aff-Wild / Aff-Wild2 papers as Keras functional models.

Sequence networks (`faces` `(batch, time, 96, 96, 3)` uint8): `build_cnn_rnn` (every row
of the Aff-Wild2 paper's tables and AffWildNet), `build_mt_vgg_rnn`,
`build_av_mt_vgg_rnn` (plus `audio` windows). Per-frame networks (`faces`
`(batch, size, size, 3)` uint8): `build_mt_vgg`, `build_mt_arcres`, `build_mt_arcvgg`
(ArcFace expression head; `inference_model` drops their training-only labels input).
Outputs are named `valence_arousal`, `expression`, `action_units`. Fine-tuning on other
databases (`surgery`): `replace_heads`, `frame_classifier`, `audio_classifier`,
`recalibrate_batch_norm`; `average_views` averages a per-frame network over test-time
views of each face, `average_models` several networks (an ensemble). `NETWORKS` names
every network (`registry`); `describe(model)` says what a built or loaded one is (family,
window, face size, audio, tasks).
"""

from affectkeras.models.frame import build_mt_arcres, build_mt_arcvgg, build_mt_vgg, inference_model
from affectkeras.models.heads import ALL_TASKS, check_tasks, task_heads
from affectkeras.models.registry import NETWORKS, ModelDescription, Network, describe, get_network
from affectkeras.models.sequence import build_av_mt_vgg_rnn, build_cnn_rnn, build_mt_vgg_rnn
from affectkeras.models.surgery import (
    audio_classifier,
    audio_stream,
    average_models,
    average_views,
    frame_classifier,
    recalibrate_batch_norm,
    replace_heads,
    visual_stream,
)

__all__ = [
    "ALL_TASKS",
    "NETWORKS",
    "ModelDescription",
    "Network",
    "audio_classifier",
    "audio_stream",
    "average_models",
    "average_views",
    "build_av_mt_vgg_rnn",
    "build_cnn_rnn",
    "build_mt_arcres",
    "build_mt_arcvgg",
    "build_mt_vgg",
    "build_mt_vgg_rnn",
    "check_tasks",
    "describe",
    "frame_classifier",
    "get_network",
    "inference_model",
    "recalibrate_batch_norm",
    "replace_heads",
    "task_heads",
    "visual_stream",
]
