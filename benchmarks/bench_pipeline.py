"""Throughput of the `make_dataset` input pipeline beside the machine's raw JPEG decode rate.

Makes a synthetic Aff-Wild2 (`affectkeras.testing.write_dataset`), preprocesses it
into TFRecords with the local job (its frames/s is reported too), then reads the records
with `make_dataset` in several configurations, each for at least `--frames` frames, and
prints frames per second (the median of `--rounds` rounds, configurations interleaved in
each round). For comparison, "raw JPEG decode" decodes the very same 96 px crops from
memory (no files, no parsing, no labels): the ceiling for anything that decodes the faces.

Usage:
    python benchmarks/bench_pipeline.py [--rounds 3] [--frames 20000] [--videos 5]
        [--video-frames 600] [--records DIR] [--keep DIR]
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tensorflow as tf  # noqa: E402

from affectkeras.data import records  # noqa: E402
from affectkeras.data.dataset import list_shards, make_dataset  # noqa: E402
from affectkeras.data.preprocess import run_preprocess  # noqa: E402


def _crops(files):
    """The face crops (JPEG bytes) of the shards, in memory."""
    found = []
    for path in files:
        for serialized in tf.data.TFRecordDataset(path):
            frame = records.decode_frame(serialized.numpy())
            if frame["face_found"]:
                found.append(frame["face_jpeg"])
    return found


def _raw_decode(jpegs, batch):
    """Decodes in-memory JPEGs as fast as tf.data can: batched `map_fn`, parallel map."""
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(jpegs)).repeat()
    size = records.RecordInfo(96, 12).face_size

    def decode(data):
        return tf.map_fn(
            lambda x: tf.ensure_shape(tf.io.decode_jpeg(x, channels=3), [size, size, 3]),
            data,
            fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8),
            parallel_iterations=16,
        )

    return ds.batch(batch).map(decode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _raw_decode_per_frame(jpegs, batch):
    """The textbook form: a parallel per-frame `map(decode_jpeg)`, then `batch`."""
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(jpegs)).repeat()
    ds = ds.map(lambda x: tf.io.decode_jpeg(x, channels=3), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)


def _frames_in(element):
    inputs = element[0] if isinstance(element, tuple) else {"faces": element}
    shape = inputs["faces"].shape if "faces" in inputs else inputs["audio"].shape
    return int(shape[0]) * (int(shape[1]) if len(shape) == 5 else 1)


def _rate(dataset, frames):
    """Frames per second over at least `frames` frames (after one warm-up batch)."""
    iterator = iter(dataset)
    next(iterator)
    count, start = 0, time.perf_counter()
    while count < frames:
        count += _frames_in(next(iterator))
    return count / (time.perf_counter() - start)


def main(argv=None):
    """Runs the benchmark and prints a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=20000, help="frames read per measurement")
    parser.add_argument("--videos", type=int, default=5, help="synthetic videos to generate")
    parser.add_argument("--video-frames", type=int, default=600, help="frames per synthetic video")
    parser.add_argument("--records", default=None, help="existing records folder (skips generation)")
    parser.add_argument("--keep", default=None, help="folder to generate into and keep (default: a temp dir)")
    args = parser.parse_args(argv)

    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="bench-pipeline-"))
    notes = []
    if args.records:
        out = pathlib.Path(args.records)
    else:
        from affectkeras.testing import write_dataset

        dataset = write_dataset(work / "synth", num_videos=args.videos, frames=args.video_frames,
                                validation_videos=0, overwrite=True)
        out = work / "records"
        result = run_preprocess(dataset.root, out, workers=os.cpu_count() or 1, overwrite=True, progress=None)
        notes.append(
            f"preprocess (`run_preprocess`, crops + audio, {os.cpu_count()} workers, incl. worker start-up): "
            f"{result.frames} frames in {result.seconds:.1f} s = {result.frames / result.seconds:.0f} frames/s"
        )
    files = list_shards(out)
    jpegs = _crops(files)
    size_kb = sum(len(j) for j in jpegs) / len(jpegs) / 1024

    configs = {
        "raw JPEG decode, 96 px (batched map_fn)": lambda: _raw_decode(jpegs, 320),
        "raw JPEG decode, 96 px (per-frame map)": lambda: _raw_decode_per_frame(jpegs, 320),
        "make_dataset sequence 4x80, faces": lambda: make_dataset(
            out, seq_len=80, batch_size=4, repeat=True, seed=0),
        "make_dataset sequence 4x80, faces + audio": lambda: make_dataset(
            out, seq_len=80, batch_size=4, modalities=("faces", "audio"), repeat=True, seed=0),
        "make_dataset sequence 4x80 stride 40, faces + audio": lambda: make_dataset(
            out, seq_len=80, stride=40, batch_size=4, modalities=("faces", "audio"), repeat=True, seed=0),
        "make_dataset frame 256, faces + audio": lambda: make_dataset(
            out, mode="frame", batch_size=256, modalities=("faces", "audio"), repeat=True, seed=0),
        "make_dataset frame 256, faces 112 px (resized)": lambda: make_dataset(
            out, mode="frame", batch_size=256, face_size=112, repeat=True, seed=0),
    }
    rates = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, build in configs.items():
            rates[name].append(_rate(build(), args.frames))
    print(f"{os.cpu_count()} cores, tensorflow {tf.__version__}; {len(files)} shards, {len(jpegs)} crops "
          f"(mean {size_kb:.1f} KiB); median of {args.rounds} interleaved rounds of >= {args.frames} frames\n")
    for note in notes:
        print(f"- {note}")
    print("\n| pipeline | frames/s | rounds |")
    print("| --- | ---: | --- |")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {', '.join(f'{v:,.0f}' for v in values)} |")


if __name__ == "__main__":
    main()
