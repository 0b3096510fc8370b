"""Writing a network's weights as a compact Keras weights file (the shipped presets).

`save_weights(model, path, dtype="float16")` is `model.save_weights(path)` with the float32
arrays stored as float16: half the size, which keeps a shipped network small (FER+'s 5.8 M
weights: 11.6 MB instead of 23 MB). Keras casts them back to the variables' float32 when
it loads the file (`model.load_weights`, `weights.load_weights` by layer name); the
rounding (a relative 2^-11) is measured on the shipped model (README, FER+ Test accuracy).
"""

import os
import tempfile

import numpy as np

from affectkeras.errors import check_choice
from affectkeras.files import atomic_path

STORAGE_DTYPES = ("float32", "float16")


def save_weights(model, path, *, dtype="float32"):
    """Writes `model`'s weights to a Keras `.weights.h5` file, floats stored in `dtype`.

    Args:
        model: keras.Model.
        path: str or Path. The file; written atomically (a failed write leaves any
            earlier file as it was).
        dtype: str. `"float32"` (as Keras writes it) or `"float16"` (half the size;
            integer arrays, such as optimizer counters, are kept as they are).

    Returns:
        The path, as written.

    Example:
        >>> save_weights(model, "ferplus.weights.h5", dtype="float16")
        >>> model.load_weights("ferplus.weights.h5")  # back in float32
    """
    import h5py

    check_choice("dtype", dtype, STORAGE_DTYPES)
    with atomic_path(path, keep_suffix=".weights.h5") as staging:
        if dtype == "float32":
            model.save_weights(staging)
            return path
        # A copy, not datasets replaced in place: HDF5 never gives a deleted dataset's space back.
        with tempfile.TemporaryDirectory() as folder:
            full = os.path.join(folder, "full.weights.h5")
            model.save_weights(full)
            with h5py.File(full, "r") as source, h5py.File(staging, "w") as target:
                _copy(source, target, np.dtype(dtype))
    return path


def _copy(source, target, dtype):
    """Copies an HDF5 group into `target` with its attributes, float32 datasets as `dtype`."""
    import h5py

    target.attrs.update(dict(source.attrs))
    for name, item in source.items():
        if isinstance(item, h5py.Group):
            _copy(item, target.create_group(name), dtype)
        else:
            data = item[()]
            target.create_dataset(name, data=data.astype(dtype) if item.dtype == np.float32 else data)
            target[name].attrs.update(dict(item.attrs))


__all__ = ["STORAGE_DTYPES", "save_weights"]
