"""Installs affectkeras. `pip install -e ".[test]"` for development."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
version = {}
exec((HERE / "affectkeras" / "_version.py").read_text(), version)

# The base requirements live in requirements.txt (one place: CI checks their wheels too).
REQUIREMENTS = [
    line.split(" #")[0].strip()
    for line in (HERE / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
TF = next(r for r in REQUIREMENTS if r.startswith("tensorflow>"))

setup(
    name="affectkeras",
    version=version["__version__"],
    description="Keras 3 audio-visual multi-task affect recognition in the wild (Aff-Wild / Aff-Wild2 networks)",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.14",
    packages=find_packages(include=["affectkeras", "affectkeras.*"]),
    # Weights files shipped in the package (bundled presets, affectkeras/weights/files/).
    package_data={"affectkeras.weights": ["files/*"]},
    install_requires=REQUIREMENTS,
    extras_require={
        "cuda": [TF.replace("tensorflow", "tensorflow[and-cuda]", 1)],
        "test": ["pytest>=8", "scikit-image>=0.24", "jax[cpu]>=0.4.30"],
        # tensorflow-io 0.37.1 (its last release) loads on TensorFlow 2.16 only: in-graph
        # audio decoding inside tf.data, for a TF 2.16 environment (see README, limits).
        "tfio": ["tensorflow-io==0.37.1"],
        "beam": ["apache-beam>=2.50"],
    },
    entry_points={"console_scripts": ["affectkeras=affectkeras.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
