"""Pretraining on real data: the networks that ship with affectkeras, and how they were trained.

The papers pretrain on a large database, then fine-tune on small ones. Two real databases
fit on this machine and give the two shipped presets (`affectkeras.weights`):

- `ferplus`: the face stream learns expressions from FER+ (`pretraining.ferplus`,
  `recipes/pretrain.py`);
- `ravdess_audio`: the audio stream learns speech emotions from RAVDESS, speaker-independent,
  actors 21-24 held out (`pretraining.ravdess`, `recipes/pretrain_speech.py`).

Both train with a cross-entropy on target distributions (FER+'s vote distributions;
RAVDESS's one-hot labels, optionally mixed: `mixup`), AdamW and a cosine decay
(`compile_soft_labels`).
"""

from affectkeras.pretraining.ferplus import (
    FERPLUS_NETWORK,
    FERPLUS_TEST_TIME_CROPS,
    FERPLUS_WEIGHT_DECAY,
    FerPlusData,
    build_expression_network,
    choose_test_time_crop,
    ferplus_datasets,
)
from affectkeras.pretraining.ravdess import (
    RAVDESS_CLIP_WINDOWS,
    RAVDESS_TEST_ACTORS,
    SpeechData,
    build_speech_network,
    speech_datasets,
    split_ravdess,
)
from affectkeras.pretraining.soft_labels import compile_soft_labels, mixup

__all__ = [
    "FERPLUS_NETWORK",
    "FERPLUS_TEST_TIME_CROPS",
    "FERPLUS_WEIGHT_DECAY",
    "RAVDESS_CLIP_WINDOWS",
    "RAVDESS_TEST_ACTORS",
    "FerPlusData",
    "SpeechData",
    "build_expression_network",
    "build_speech_network",
    "choose_test_time_crop",
    "compile_soft_labels",
    "ferplus_datasets",
    "mixup",
    "speech_datasets",
    "split_ravdess",
]
