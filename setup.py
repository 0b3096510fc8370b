"""Installs affectkeras. `pip install -e ".[test]"` for development."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
version = {}
exec((HERE / "affectkeras" / "_version.py").read_text(), version)

# TensorFlow is pinned to 2.16.x because tensorflow-io 0.37.1 (its newest release) is built
# against TF 2.16: on TF >= 2.17 its compiled audio ops fail to load. keras 3.15.1 is the
# Keras release measured to work with TF 2.16.2 (DESIGN section 6). TF 2.16 needs numpy < 2,
# and pip then picks the librosa / scikit-learn releases that still support numpy 1.x.
TF = "tensorflow>=2.16.1,<2.17"

setup(
    name="affectkeras",
    version=version["__version__"],
    description="Keras 3 audio-visual multi-task affect recognition in the wild (Aff-Wild / Aff-Wild2 networks)",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9,<3.13",
    packages=find_packages(include=["affectkeras", "affectkeras.*"]),
    install_requires=[
        TF,
        "keras>=3.15.1,<3.16",
        "tensorflow-io==0.37.1",
        "numpy>=1.23,<2",
        "librosa>=0.10",
        "dlib-bin>=19.24",  # prebuilt dlib wheel (imports as `dlib`): seconds instead of a 12-min build
        "face-recognition-models>=0.3.0",  # dlib's detector and landmark model files
        "scikit-learn>=1.3",
        "soundfile>=0.12",
        "imageio-ffmpeg>=0.5",  # ships an ffmpeg binary for video and audio decoding
        "matplotlib>=3.7",
        "h5py>=3.8",
        "pillow>=9",
    ],
    extras_require={
        "cuda": [TF.replace("tensorflow", "tensorflow[and-cuda]", 1)],
        "test": ["pytest>=7.4", "scikit-image>=0.21"],
        "beam": ["apache-beam>=2.50"],
    },
    entry_points={"console_scripts": ["affectkeras=affectkeras.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
