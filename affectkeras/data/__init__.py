"""Datasets: the TFRecord schema, the preprocessing jobs, the `tf.data` input pipeline.

- `records`: one `tf.train.Example` per frame (face JPEG, audio log-mel window, labels and
  masks); encoding, batch parsing and decoding in `tf.data`.
- `preprocess`: videos + annotations -> one shard per video, on a local process pool
  (`affectkeras preprocess ROOT --out DIR`), restartable, failures recorded per video.
- `beam`: the same per-video transform as an Apache Beam pipeline (extra `beam`).
- `dataset`: `make_sequence_dataset` (windows of 80 frames within one video) and
  `make_frame_dataset` (single frames), shuffled, batched and prefetched for `model.fit`.
- `downstream`: pipelines for fine-tuning on other databases (expression images, audio
  clips, continuous VA written as Aff-Wild2 annotation files).

Names are imported on first use, so `import affectkeras.data` (and the command line) does
not load TensorFlow.

Example:
    >>> from affectkeras import data
    >>> data.run_preprocess("Aff-Wild2", "records/train", workers=2)
    >>> train = data.make_sequence_dataset("records/train", modalities=("faces", "audio"), seed=0)
"""

import importlib

_EXPORTS = {
    "make_dataset": "dataset",
    "make_sequence_dataset": "dataset",
    "make_frame_dataset": "dataset",
    "list_shards": "dataset",
    "run_preprocess": "preprocess",
    "read_manifest": "preprocess",
    "run_beam": "beam",
    "process_job": "preprocess",
    "encode_frame": "records",
    "decode_frame": "records",
    "RecordInfo": "records",
    "expression_image_dataset": "downstream",
    "audio_clip_dataset": "downstream",
    "write_va_annotations": "downstream",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'affectkeras.data' has no attribute {name!r}")
    module = importlib.import_module(f"affectkeras.data.{module_name}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
