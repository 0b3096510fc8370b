"""Export trained models for deployment: a TensorFlow SavedModel with a named serving
signature, and (for the per-frame networks) TFLite.

The networks take raw uint8 face crops (and float32 audio windows for the audio-visual
ones); their input normalisation is a layer inside the model, so a served model needs no
client-side preprocessing. The signature returns the named outputs (`valence_arousal`,
`expression`, `action_units`). Files are written under a temporary name and renamed
when complete, so an interrupted export never leaves something that looks finished.
"""

import contextlib
import os
import pathlib
import shutil
import tempfile

import keras

from affectkeras.errors import InvalidArgumentError
from affectkeras.files import atomic_folder, atomic_write, write_json
from affectkeras.models.heads import named_outputs, output_dict
from affectkeras.models.surgery import recurrent_layers, split_sequence_network

SIGNATURE = "serving_default"
# Sequence networks also get their two parts, for any number of frames, so that a predictor
# runs the temporal part over whole face tracks: `frame_features` (the inputs ->
# `features` `(batch, time, dim)`, what the first RNN reads) and `track` (`features` -> the
# outputs), see `affectkeras.models.surgery.split_sequence_network`.
FRAME_SIGNATURE = "frame_features"
TRACK_SIGNATURE = "track"
FEATURES_INPUT = FEATURES_OUTPUT = "features"


def _input_specs(model, tf):
    """One `tf.TensorSpec` per model input, named like the input, batch axis left free."""
    return [
        tf.TensorSpec((None,) + tuple(tensor.shape[1:]), dtype=tensor.dtype, name=tensor.name)
        for tensor in model.inputs
    ]


def _serving_function(model):
    """Calls `model` on positional tensors (in `model.inputs` order), returns a dict."""
    input_names = [tensor.name for tensor in model.inputs]

    def serve(*tensors):
        if isinstance(model.input, dict):
            inputs = dict(zip(input_names, tensors))
        else:
            inputs = tensors[0] if len(tensors) == 1 else list(tensors)
        return output_dict(model, model(inputs, training=False))

    return serve


def call_signature(signature, inputs):
    """Calls a loaded SavedModel signature on numpy inputs (cast to its dtypes); numpy outputs."""
    import tensorflow as tf

    specs = signature.structured_input_signature[1]
    tensors = {name: tf.constant(value, dtype=specs[name].dtype) for name, value in inputs.items()}
    return {name: value.numpy() for name, value in signature(**tensors).items()}


# Characters TensorFlow's file globbing treats as a pattern: the SavedModel loader globs its
# `variables/variables` path, so a folder named `model[v2]` matches nothing.
_GLOB_CHARACTERS = frozenset("*?[]{}\\")


@contextlib.contextmanager
def _glob_free(path):
    """Yields `path`, or a symlink to it with a plain name while `path` holds glob characters."""
    path = pathlib.Path(path)
    if not _GLOB_CHARACTERS & set(str(path.absolute())):
        yield path
        return
    scratch = tempfile.mkdtemp(prefix="affectkeras_saved_model_")
    try:
        link = pathlib.Path(scratch) / "saved_model"
        os.symlink(path.resolve(), link, target_is_directory=True)
        yield link
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the link only, never its target


def load_saved_model(path):
    """`tf.saved_model.load(path)`, also for folders whose path holds glob characters.

    TensorFlow globs the variables' path of a SavedModel, so one under `out/model[v2]`
    would not load; such a folder is loaded through a temporary symlink with a plain name
    (the variables are read while loading; the link is removed afterwards).

    Args:
        path: str or Path. A SavedModel folder.

    Returns:
        The loaded object (`.signatures` holds its signatures).

    Example:
        >>> served = load_saved_model("deploy/model[v2]/saved_model").signatures["serving_default"]
    """
    import tensorflow as tf

    with _glob_free(path) as plain:
        return tf.saved_model.load(str(plain))


def export_saved_model(model, path, *, signature_name=SIGNATURE, overwrite=False):
    """Writes `model` as a SavedModel whose serving signature takes raw inputs.

    A sequence network also gets the signatures `frame_features` and `track`, its
    per-frame and temporal parts for any number of frames (`FRAME_SIGNATURE`,
    `TRACK_SIGNATURE`), with which `affectkeras.inference` predicts whole tracks.

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

    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise InvalidArgumentError(f"{path} exists; pass overwrite=True to replace it. Received: path={str(path)!r}")
    with atomic_folder(path, overwrite=True) as staging:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(signature_name, _serving_function(model), input_signature=_input_specs(model, tf))
        if recurrent_layers(model):
            _add_sequence_parts(archive, model, tf)
        archive.write_out(str(staging), verbose=False)
    return path


def _add_sequence_parts(archive, model, tf):
    per_frame, temporal = split_sequence_network(model)
    names = [tensor.name for tensor in per_frame.inputs]
    specs = [tf.TensorSpec((None, None) + tuple(t.shape[2:]), dtype=t.dtype, name=t.name) for t in per_frame.inputs]

    def frame_features(*tensors):
        inputs = dict(zip(names, tensors)) if isinstance(per_frame.input, dict) else list(tensors)
        return {FEATURES_OUTPUT: per_frame(inputs, training=False)}

    def track(features):
        return output_dict(temporal, temporal(features, training=False))

    archive.track(per_frame)
    archive.track(temporal)
    archive.add_endpoint(FRAME_SIGNATURE, frame_features, input_signature=specs)
    dim = temporal.inputs[0].shape[-1]
    archive.add_endpoint(TRACK_SIGNATURE, track,
                         input_signature=[tf.TensorSpec((None, None, dim), "float32", name=FEATURES_INPUT)])


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
    from affectkeras.models.surgery import with_precision

    model = with_precision(model, "float32")  # a bf16-trained network: TFLite's builtin kernels have no bf16
    with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as scratch:
        saved = export_saved_model(model, pathlib.Path(scratch) / "saved_model")
        with _glob_free(saved) as plain:  # the scratch lies in `path`'s folder, which may be `out/model[v2]`
            converter = tf.lite.TFLiteConverter.from_saved_model(str(plain), signature_keys=[SIGNATURE])
            flat_buffer = converter.convert()
    return atomic_write(path, flat_buffer)


# ---------------------------------------------------------------------------- deployment folder

SAVED_MODEL_DIR = "saved_model"
SAVED_MODEL_FILE = "saved_model.pb"  # what makes a folder a SavedModel
TFLITE_FILE = "model.tflite"
DESCRIPTION_FILE = "export.json"


def find_saved_model(path):
    """The SavedModel folder `path` is, or holds as `saved_model/` (an export folder), or None.

    Args:
        path: str or Path.

    Returns:
        `pathlib.Path` or None.

    Example:
        >>> find_saved_model("deploy/mt_vgg")
        PosixPath('deploy/mt_vgg/saved_model')
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        return None
    return next((folder for folder in (path, path / SAVED_MODEL_DIR) if (folder / SAVED_MODEL_FILE).is_file()), None)


def _labels(name, size, classes=None, clip_classifier=False):
    """Names of the columns of output `name` (None when its size fits no known set).

    `classes` name the expression output's columns; without them a clip classifier's
    expression columns are unnamed: its classes are a clip database's, not Aff-Wild2's.
    """
    from affectkeras.constants import AU_OUTPUT, EXPR_OUTPUT, VA_NAMES, VA_OUTPUT, au_names, expression_names

    try:
        if name == VA_OUTPUT:
            return list(VA_NAMES)
        if name == EXPR_OUTPUT:
            if classes is not None:
                return list(classes)
            return None if clip_classifier else list(expression_names(size))
        if name == AU_OUTPUT:
            return list(au_names(size))
    except InvalidArgumentError:
        pass
    return None


def _checked_classes(classes, outputs):
    """`classes` as a list of str, checked against the size of the `expression` output."""
    from affectkeras.constants import EXPR_OUTPUT

    if classes is None:
        return None
    if isinstance(classes, str) or not all(isinstance(name, str) and name for name in classes):
        raise InvalidArgumentError(f"`classes` must be a sequence of class names. Received: classes={classes!r}")
    classes = list(classes)
    if EXPR_OUTPUT not in outputs:
        raise InvalidArgumentError(
            f"`classes` name the columns of the `{EXPR_OUTPUT}` output, which this model lacks (outputs: "
            f"{sorted(outputs)}). Received: classes={classes!r}"
        )
    size = outputs[EXPR_OUTPUT].shape[-1]
    if len(classes) != size:
        raise InvalidArgumentError(
            f"`classes` must name the {size} columns of the `{EXPR_OUTPUT}` output. Received: "
            f"classes={classes!r} ({len(classes)} names)"
        )
    return classes


def _spec(tensor):
    shape = [None] + [None if dim is None else int(dim) for dim in tensor.shape[1:]]
    return {"shape": shape, "dtype": str(tensor.dtype)}


def export_model(model, out_dir, *, classes=None, tflite=True, overwrite=False):
    """Writes a deployment folder: SavedModel, TFLite where it works, and a JSON description.

    - `out_dir/saved_model/`: `export_saved_model` of the inference network (ArcFace
      networks lose their training-only labels input, see `affectkeras.models.inference_model`).
    - `out_dir/model.tflite`: per-frame networks only. Sequence (RNN) networks are skipped:
      their GRU / LSTM / IndRNN loops need TF Select ops, which the builtin TFLite runtime
      lacks; the description says so.
    - `out_dir/export.json`: inputs and outputs (shape, dtype, column names), the signature
      name, the files written and why TFLite was skipped; written last. The columns of
      `expression` are named by `classes`; without them, by `constants.expression_names`
      (Aff-Wild2's classes), except a clip classifier's (`models.audio_classifier`), whose
      classes are unknown then (null).

    Args:
        model: keras.Model. A network of `affectkeras.models`.
        out_dir: str or Path. Folder to create.
        classes: sequence of str or None. Names of the `expression` output's columns, e.g.
            the classes a fine-tuning run recorded in its `metrics.json` or a preset's
            `weights.get_preset(name).classes`.
        tflite: bool. Also convert to TFLite where the network allows it.
        overwrite: bool. Replace what an earlier export left in `out_dir`; False refuses a
            folder that is not empty.

    Returns:
        dict: the content of `export.json`.

    Raises:
        InvalidArgumentError: `out_dir` is not empty and `overwrite` is False, or
            `classes` do not match the `expression` output.

    Example:
        >>> export_model(load_trained_model("runs/mt_vgg"), "deploy/mt_vgg")["tflite"]
        'model.tflite'
        >>> classes = json.loads(pathlib.Path("runs/emodb/metrics.json").read_text())["classes"]
        >>> export_model(load_trained_model("runs/emodb"), "deploy/emodb", classes=classes)["outputs"][
        ...     "expression"]["labels"] == classes
        True
    """
    from affectkeras._version import __version__
    from affectkeras.models import describe, inference_model
    from affectkeras.speech import is_clip_classifier

    out_dir = pathlib.Path(out_dir)
    if out_dir.is_file() or (out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite):
        raise InvalidArgumentError(
            f"{out_dir} exists and is not an empty folder; pass overwrite=True (--overwrite) to replace "
            f"the export in it. Received: out_dir={str(out_dir)!r}"
        )
    model = inference_model(model)
    network = describe(model)
    outputs = named_outputs(model)
    classes = _checked_classes(classes, outputs)  # before anything is written
    clip_classifier = is_clip_classifier(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in (DESCRIPTION_FILE, TFLITE_FILE):  # an earlier export's files must not outlive this one
        (out_dir / old).unlink(missing_ok=True)
    export_saved_model(model, out_dir / SAVED_MODEL_DIR, overwrite=overwrite)
    skipped = None
    if not tflite:
        skipped = "not requested"
    elif network.sequence:
        skipped = (
            f"{model.name} is a sequence (RNN) network: its recurrent loops need TF Select ops, which "
            "the builtin TFLite runtime lacks; serve the SavedModel instead"
        )
    if skipped is None:
        export_tflite(model, out_dir / TFLITE_FILE)
    description = {
        "model": model.name,
        "network": network.network,
        "kind": "sequence" if network.sequence else "frame",
        "signature": SIGNATURE,
        "inputs": {tensor.name: _spec(tensor) for tensor in model.inputs},
        "outputs": {
            name: {**_spec(tensor), "labels": _labels(name, tensor.shape[-1], classes, clip_classifier)}
            for name, tensor in outputs.items()
        },
        "saved_model": SAVED_MODEL_DIR,
        "tflite": None if skipped else TFLITE_FILE,
        "tflite_skipped": skipped,
        "affectkeras_version": __version__,
        "keras_version": keras.__version__,
    }
    write_json(out_dir / DESCRIPTION_FILE, description)
    return description


__all__ = [
    "DESCRIPTION_FILE",
    "SAVED_MODEL_DIR",
    "SIGNATURE",
    "TFLITE_FILE",
    "export_model",
    "export_saved_model",
    "export_tflite",
    "find_saved_model",
    "load_saved_model",
]
