"""Pretrained weight presets, and loading weights into a model by layer name.

A *preset* names a published weights file: its URL, its hash, the backbone it fits and the
input normalisation it was trained with (`WeightsPreset.expects`):

| preset | builder | file | expects |
| --- | --- | --- | --- |
| `vggface1_vgg16` | `VGGFace`, top | `rcmalli_vggface_tf_vgg16.h5` | `"vggface1"` |
| `vggface1_vgg16_notop` | `VGGFace` | `rcmalli_vggface_tf_notop_vgg16.h5` | `"vggface1"` |
| `vggface2_resnet50` | `ResNet50Face`, top | `rcmalli_vggface_tf_resnet50.h5` | `"vggface2"` |
| `vggface2_resnet50_notop` | `ResNet50Face` | `rcmalli_vggface_tf_notop_resnet50.h5` | `vggface2` |
| `imagenet_densenet121_notop` | `DenseNet121` | `densenet121_..._notop.h5` | `"imagenet_torch"` |
| `ferplus` (shipped) | the whole FER+ expression network (`load_preset_model`), averaged with `ferplus_2` (its `ensemble`, the same recipe from seed 1) when predicting; its stream fits `VGGFace` at width 0.5, 64 px | `files/ferplus.weights.h5` | `"gray"` |
| `ferplus_2` (shipped) | the second network of `ferplus`'s ensemble (int8 kernels) | `files/ferplus_2.weights.h5` | `"gray"` |
| `ravdess_audio` (shipped) | the whole RAVDESS speech-emotion network (`load_preset_model`), averaged with `ravdess_audio_2` (its `ensemble`, the same recipe from seed 1) when predicting; its stream fits `AudioCNN` at width 0.5 (`build_av_mt_vgg_rnn(audio_pretraining=...)`) | `files/ravdess_audio.weights.h5` | `"db"` (log-mel windows in dB) |
| `ravdess_audio_2` (shipped) | the second network of `ravdess_audio`'s ensemble | `files/ravdess_audio_2.weights.h5` | `"db"` |

The keras-vggface files are its release v2.0
(`https://github.com/rcmalli/keras-vggface/releases/download/v2.0/`), the DenseNet file
keras-applications' (`densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5`).

`expects` values: `"vggface1"` = `affectkeras.layers.VGGFacePreprocessing(version=1)` on RGB
faces in [0, 255]; `"vggface2"` = `VGGFacePreprocessing(version=2)`; `"imagenet_torch"` =
`keras.applications.densenet.preprocess_input` (x / 255, minus the ImageNet mean, divided
by its std); `"gray"` = `FaceRescaling(grayscale=True)` (grey, then [-1, 1]). Models trained
from scratch use the papers' `FaceRescaling` ([-1, 1]).

Network presets: a preset whose `network` names a registry network and its builder
arguments holds a whole trained network: `load_preset_model(name)` builds it and loads the
file. `ferplus` and `ravdess_audio` are two, shipped inside the package and used by
`affectkeras predict` when no `--model` is given, for videos and for audio files
(`recipes/pretrain.py` and `recipes/pretrain_speech.py` made them; the README has their
model cards). A preset is scored, and predicts, as `load_preset_model(name, test_time=True)`
builds it: its network averaged with the networks of its `ensemble` (other presets;
`load_preset_networks` gives them one by one), and for a face network with a
`test_time_crop` (`ferplus`) over four views of each face.

Bundled presets: a preset may instead name a file shipped inside the package
(`WeightsPreset(url=None, ..., package_file="files/<name>.weights.h5")`, relative to
`affectkeras/weights/` and installed as package data); `fetch_preset` and `load_weights`
read it from there without any network.

Hashes: keras-vggface publishes no checksum for its release files, so its presets have
`file_hash=None` and are downloaded unverified (with a warning); pin one with
`fetch_preset(..., file_hash=...)` or a `WeightsPreset` of your own. The DenseNet-121 preset
carries the md5 that Keras itself checks. `keras.utils.get_file` accepts an md5 (32 hex
digits) or a sha256 (64 hex digits) and tells them apart by length.

Loading by name: `load_weights(model, weights)` matches the file's layers to the model's
layers by name, so a file saved from a backbone loads into a bigger model that contains
the backbone's layers (flat or as a nested sub-model), and a file without a top loads
into a model with a new top (`allow_missing`). Three file layouts are read:

- Keras 2 / legacy HDF5 (`.h5`, as keras-vggface and keras-applications published them):
  root attribute `layer_names`, one group per layer with attribute `weight_names` (e.g.
  `conv1_1/kernel:0`), possibly under a `model_weights` group (full-model files). Keras 2
  allowed `/` in layer names (keras-vggface's `conv1/7x7_s2/bn`, `fc6/relu`); Keras 3 does
  not, so a legacy name maps to ours by replacing every `/` with `_`
  (`legacy_layer_name`): `conv1/7x7_s2` -> `conv1_7x7_s2`, `conv1/7x7_s2/bn` ->
  `conv1_7x7_s2_bn`, `conv2_1_1x1_reduce/bn` -> `conv2_1_1x1_reduce_bn`, `conv1/conv`
  -> `conv1_conv`. Kernels have the same layout in Keras 2 and 3; a layer's weights are
  matched by their short names (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`,
  `moving_variance`), in file order when those differ.
- Keras 3 weights files (`.weights.h5`), where each layer's group records its name.
- Keras 3 model archives (`.keras`), through the `model.weights.h5` they contain.

Modules: `affectkeras.weights.presets` holds the preset data (`WeightsPreset`, `PRESETS`,
`list_presets`, `get_preset`, `is_network_preset`, `PresetName`; no Keras); `affectkeras.weights.loading`
fetches presets and loads files (`fetch_preset`, `resolve_weights`, `load_weights`,
`load_preset_model`, `load_preset_networks`, `LoadReport`, `legacy_layer_name`);
`affectkeras.weights.provenance` records which layers of a network hold weights read from
a file (`mark_pretrained`, `weight_layers`: what training strategy (i) keeps fixed);
`affectkeras.weights.saving` writes a network's weights compactly and reads them back
(`save_weights(model, path, dtype="float16" | "int8")`, as the shipped presets are stored;
`read_weights(model, path)`: `model.load_weights` for any of them). All are re-exported here.
"""

import importlib

from affectkeras.weights.presets import PRESETS, PresetName, WeightsPreset, get_preset, is_network_preset, list_presets
from affectkeras.weights.saving import read_weights, save_weights

# Loaded on first use: they import Keras, and the presets are read without it (the predictor
# starts its face extraction before TensorFlow loads).
_LAZY = {
    "LoadReport": "loading",
    "fetch_preset": "loading",
    "legacy_layer_name": "loading",
    "load_preset_model": "loading",
    "load_preset_networks": "loading",
    "load_weights": "loading",
    "resolve_weights": "loading",
    "mark_pretrained": "provenance",
    "weight_layers": "provenance",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"affectkeras.weights.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'affectkeras.weights' has no attribute {name!r}")

__all__ = [
    "PRESETS",
    "LoadReport",
    "PresetName",
    "WeightsPreset",
    "fetch_preset",
    "get_preset",
    "is_network_preset",
    "legacy_layer_name",
    "list_presets",
    "load_preset_model",
    "load_preset_networks",
    "load_weights",
    "mark_pretrained",
    "read_weights",
    "resolve_weights",
    "save_weights",
    "weight_layers",
]
