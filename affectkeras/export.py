"""Export trained models for deployment: a TensorFlow SavedModel with a named serving
signature, and (for the per-frame networks) TFLite.

The networks take raw uint8 face crops (and float32 audio windows for the audio-visual
ones); their input normalisation is a layer inside the model, so a served model needs no
client-side preprocessing. The signature returns the named outputs (`valence_arousal`,
`expression`, `action_units`). Files are written under a temporary name and renamed
when complete, so an interrupted export never leaves something that looks finished.
"""

import os
import pathlib
import shutil
import tempfile

import keras

from affectkeras.errors import InvalidArgumentError
from affectkeras.models.heads import named_outputs

SIGNATURE = "serving_default"


def _input_specs(model, tf):
    """One `tf.TensorSpec` per model input, named like the input, batch axis left free."""
    return [
        tf.TensorSpec((None,) + tuple(tensor.shape[1:]), dtype=tensor.dtype, name=tensor.name)
        for tensor in model.inputs
    ]


def _serving_function(model):
    """Calls `model` on positional tensors (in `model.inputs` order), returns a dict."""
    input_names = [tensor.name for tensor in model.inputs]
    output_names = list(named_outputs(model))

    def serve(*tensors):
        if isinstance(model.input, dict):
            inputs = dict(zip(input_names, tensors))
        else:
            inputs = tensors[0] if len(tensors) == 1 else list(tensors)
        outputs = model(inputs, training=False)
        if isinstance(outputs, dict):
            return outputs
        return dict(zip(output_names, outputs if isinstance(outputs, (list, tuple)) else [outputs]))

    return serve


def _atomic_directory(path, overwrite):
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise InvalidArgumentError(
            f"{path} exists; pass overwrite=True to replace it. Received: path={str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))


def export_saved_model(model, path, *, signature_name=SIGNATURE, overwrite=False):
    """Writes `model` as a SavedModel whose serving signature takes raw inputs.

    Args:
        model: keras.Model. A network of `affectkeras.models` (for ArcFace networks, the
            inference model without the labels input).
        path: str or Path. Folder to create.
        signature_name: str. Name of the serving signature.
        overwrite: bool. Replace an existing folder at `path`.

    Returns:
        The `pathlib.Path` of the SavedModel.

    Example:
        >>> export_saved_model(model, "runs/av_mt/saved_model")
        >>> served = tf.saved_model.load("runs/av_mt/saved_model")
        >>> outputs = served.signatures["serving_default"](faces=faces_uint8, audio=audio)
    """
    import tensorflow as tf

    path, staging = _atomic_directory(path, overwrite)
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(signature_name, _serving_function(model), input_signature=_input_specs(model, tf))
        archive.write_out(str(staging), verbose=False)
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def export_tflite(model, path, *, overwrite=False):
    """Writes `model` as a TFLite flat buffer (per-frame networks; float32 weights).

    Args:
        model: keras.Model. A per-frame network (sequence networks with RNNs convert too,
            but only with TF Select ops).
        path: str or Path. File to create, ending in `.tflite`.
        overwrite: bool. Replace an existing file.

    Returns:
        The `pathlib.Path` of the file.
    """
    import tensorflow as tf

    path = pathlib.Path(path)
    if path.suffix != ".tflite":
        raise InvalidArgumentError(f"`path` must end in .tflite. Received: path={str(path)!r}")
    if path.exists() and not overwrite:
        raise InvalidArgumentError(f"{path} exists; pass overwrite=True to replace it. Received: path={str(path)!r}")
    with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as scratch:
        saved = export_saved_model(model, pathlib.Path(scratch) / "saved_model")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[SIGNATURE])
        flat_buffer = converter.convert()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    staging.write_bytes(flat_buffer)
    os.replace(staging, path)
    return path
