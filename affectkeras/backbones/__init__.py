"""CNN backbones of the Aff-Wild / Aff-Wild2 networks.

`VGGFace` (VGG-16, keras-vggface names: `conv1_1` ... `conv5_3`, `fc6`, `fc7`, `fc8`),
`ResNet50Face` (keras-vggface's RESNET50 names with `/` -> `_`), `DenseNet121`
(keras.applications names) and `AudioCNN` (the audio stream). Each is a builder with
keyword-only arguments returning a functional `keras.Model`; `weights` takes None, a
preset of `affectkeras.weights.PRESETS` or a file, loaded by layer name. `width` scales
the filter counts for tiny test models. The backbones take images already normalised:
put `affectkeras.layers.FaceRescaling` (papers, [-1, 1]) or `VGGFacePreprocessing`
(the VGGFace presets; `WeightsPreset.expects` says which) in front.
"""

from affectkeras.backbones.audio import AudioCNN
from affectkeras.backbones.densenet import DenseNet121
from affectkeras.backbones.resnet import ResNet50Face
from affectkeras.backbones.vggface import VGGFace

__all__ = ["AudioCNN", "DenseNet121", "ResNet50Face", "VGGFace"]
