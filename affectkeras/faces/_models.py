"""Loading dlib and the model files of `face_recognition_models` (once per process),
and handing dlib arrays it reads fast."""

import functools
import importlib.util
import pathlib

import numpy as np

from affectkeras.errors import AffectKerasError


def dlib():
    """Returns the `dlib` module, or raises an error saying how to install it."""
    try:
        import dlib as module
    except ImportError as error:  # pragma: no cover - a dependency of the package
        raise AffectKerasError(
            "Face detection needs dlib: pip install dlib-bin face-recognition-models"
        ) from error
    return module


def _model_path(file_name):
    """The path of one of `face_recognition_models`' files.

    Found without importing the package: its `__init__` imports `pkg_resources` (0.13 s
    of every extraction process's start, and deprecated by setuptools).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a dependency
        raise AffectKerasError("Face detection needs dlib's model files: pip install face-recognition-models")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "models" / file_name
    if not path.is_file():  # pragma: no cover - a damaged installation
        raise AffectKerasError(f"{path} is missing: pip install --force-reinstall face-recognition-models")
    return str(path)


@functools.lru_cache(maxsize=None)
def hog_detector():
    """dlib's HOG + linear SVM frontal face detector."""
    return dlib().get_frontal_face_detector()


@functools.lru_cache(maxsize=None)
def cnn_detector():
    """dlib's mmod CNN face detector."""
    return dlib().cnn_face_detection_model_v1(_model_path("mmod_human_face_detector.dat"))


@functools.lru_cache(maxsize=None)
def shape_predictor():
    """dlib's 5-point face landmark model."""
    return dlib().shape_predictor(_model_path("shape_predictor_5_face_landmarks.dat"))


@functools.lru_cache(maxsize=None)
def shape_predictor_68():
    """dlib's 68-point (iBUG 300-W) face landmark model."""
    return dlib().shape_predictor(_model_path("shape_predictor_68_face_landmarks.dat"))


@functools.lru_cache(maxsize=None)
def face_encoder():
    """dlib's ResNet face descriptor (128-D, same person below ~0.6 euclidean distance)."""
    return dlib().face_recognition_model_v1(_model_path("dlib_face_recognition_resnet_model_v1.dat"))


def writable(image):
    """Returns `image` itself if writable and C-contiguous, else a copy that is.

    dlib's Python bindings convert read-only arrays (such as the frames of `iter_frames`
    and `np.asarray(PIL image)`) through a slow path: landmarks take 1.4 ms instead of
    0.27 ms and HOG detection twice as long.
    """
    image = np.asarray(image)
    if image.flags.writeable and image.flags.c_contiguous:
        return image
    return np.array(image, order="C")
