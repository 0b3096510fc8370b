"""Compact Keras weights files (the shipped presets): writing them and reading them back.

`save_weights(model, path, dtype=...)` is `model.save_weights(path)` with the float32 arrays
stored smaller:

- `"float16"`: half the size (FER+'s 5.8 M weights: 11.6 MB instead of 23 MB); Keras casts
  them back when it loads the file. Rounding: a relative 2^-11.
- `"int8"`: a quarter of the size, so an ensemble of shipped networks still fits the package.
  Each kernel (an array of 2 or more dimensions) is stored as int8 with one float32 scale per
  output channel (its last axis; symmetric, the scale is the channel's largest |weight| / 127,
  kept in the dataset's `int8_scale` attribute); biases and normalisation statistics stay
  float32. Rounding: half a scale step at most, about 0.4 % of the channel's largest weight.
  Keras does not know the attribute: read such a file with `read_weights(model, path)` (or
  `weights.load_weights` by layer name), never with `model.load_weights`.

The effect of the rounding on the shipped networks' accuracy is measured (README, "Results").
"""

import os
import re
import tempfile

import numpy as np

from affectkeras.errors import WeightsError, check_choice, one_line
from affectkeras.files import atomic_path

STORAGE_DTYPES = ("float32", "float16", "int8")
# The attribute holding an int8 kernel's per-channel scales.
INT8_SCALE = "int8_scale"


def save_weights(model, path, *, dtype="float32"):
    """Writes `model`'s weights to a Keras `.weights.h5` file, floats stored in `dtype`.

    Args:
        model: keras.Model.
        path: str or Path. The file; written atomically (a failed write leaves any
            earlier file as it was).
        dtype: str. `"float32"` (as Keras writes it), `"float16"` (half the size) or
            `"int8"` (kernels quantised per output channel: a quarter of the size; read
            back with `read_weights`). Integer arrays, such as counters, are kept as they are.

    Returns:
        The path, as written.

    Example:
        >>> save_weights(model, "ferplus.weights.h5", dtype="int8")
        >>> read_weights(model, "ferplus.weights.h5")  # back in float32
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
                _copy(source, target, _STORE[dtype])
    return path


def read_weights(model, path):
    """`model.load_weights(path)` for a file `save_weights` wrote in any storage dtype.

    Args:
        model: keras.Model, built as the file's network was.
        path: str or Path. A `.weights.h5` file.

    Returns:
        `model`, its weights loaded (int8 kernels multiplied back by their scales).

    Raises:
        WeightsError: `path` is no weights file, or one of another network (the message
            names the file).
    """
    import h5py

    try:
        with h5py.File(path, "r") as source:
            quantized = _has_quantized(source)
    except OSError as error:  # missing, or not HDF5
        raise WeightsError(f"{path}: cannot be read as a weights file ({one_line(error)})") from None
    if not quantized:
        return _load_or_explain(model, path, path)
    with tempfile.TemporaryDirectory() as folder:
        full = os.path.join(folder, "full.weights.h5")
        with h5py.File(path, "r") as source, h5py.File(full, "w") as target:
            _copy(source, target, lambda dataset: (stored_array(dataset), {}))
        return _load_or_explain(model, full, path)


def _load_or_explain(model, file, path):
    """`model.load_weights(file)`; Keras's error for a file of another network names `path`."""
    try:
        model.load_weights(file)
    except ValueError as error:  # Keras's text prints whole variables: their shapes say enough
        reason = re.sub(r", value=[^>]*>", ">", one_line(error))
        raise WeightsError(f"{path}: does not fit model {model.name!r}: {reason}") from None
    return model


def stored_array(dataset):
    """The array an HDF5 dataset of a weights file holds, an int8 kernel multiplied back by its scales."""
    array = dataset[()]
    if INT8_SCALE not in dataset.attrs:
        return array
    scale = np.asarray(dataset.attrs[INT8_SCALE], dtype=np.float32)
    if array.dtype != np.int8 or scale.shape != array.shape[-1:]:
        raise WeightsError(
            f"{dataset.file.filename}: dataset {dataset.name} has {INT8_SCALE} of shape {scale.shape} for an "
            f"array {array.dtype} {array.shape}; expected int8 with one scale per channel of the last axis."
        )
    return array.astype(np.float32) * scale


def quantize_int8(array):
    """`(int8 array, float32 scales)`: symmetric, one scale per channel of the last axis.

    Each channel's largest |value| maps to 127; an all-zero channel gets the scale 1.
    """
    array = np.asarray(array, dtype=np.float32)
    largest = np.abs(array.reshape(-1, array.shape[-1])).max(axis=0)
    scale = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
    return np.clip(np.round(array / scale), -127, 127).astype(np.int8), scale


def _float16(dataset):
    data = dataset[()]
    return (data.astype(np.float16) if dataset.dtype == np.float32 else data), {}


def _int8(dataset):
    data = dataset[()]
    if dataset.dtype != np.float32 or data.ndim < 2:  # biases and statistics: small, kept exact
        return data, {}
    quantized, scale = quantize_int8(data)
    return quantized, {INT8_SCALE: scale}


_STORE = {"float16": _float16, "int8": _int8}


def _copy(source, target, store):
    """Copies an HDF5 group into `target` with its attributes; `store(dataset)` -> (array, extra attributes)."""
    import h5py

    target.attrs.update(dict(source.attrs))
    for name, item in source.items():
        if isinstance(item, h5py.Group):
            _copy(item, target.create_group(name), store)
        else:
            data, extra = store(item)
            target.create_dataset(name, data=data)
            attributes = {key: value for key, value in item.attrs.items() if key != INT8_SCALE}
            target[name].attrs.update({**attributes, **extra})


def _has_quantized(group):
    """True when a dataset under `group` holds an int8 kernel."""
    import h5py

    found = []
    group.visititems(lambda name, item: found.append(name) if isinstance(item, h5py.Dataset)
                     and INT8_SCALE in item.attrs else None)
    return bool(found)


__all__ = ["INT8_SCALE", "STORAGE_DTYPES", "quantize_int8", "read_weights", "save_weights", "stored_array"]
