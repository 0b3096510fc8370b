"""Per-frame CNNs over sequences: `FoldedTimeDistributed` against Keras 3's `TimeDistributed`.

Keras 3.15's `TimeDistributed` calls its layer once per time step when the time axis is
static (80 small convolutions of 4 frames for a 4 x 80 batch); affectkeras's
`FoldedTimeDistributed` folds time into the batch and calls it once. This builds the
A/V-MT-VGG-RNN with each (same seed, so the same weights), on 4 x 80-frame sequences as in
training, and reports: the first `predict` call (graph tracing + one batch), the median of
the timed calls after it, a training step (`train_on_batch`, median), and the largest
output difference.

Usage:
    python benchmarks/bench_time_distributed.py [--width 0.25] [--repeats 5]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import affectkeras.models.sequence as sequence  # noqa: E402
from affectkeras import build_av_mt_vgg_rnn, training  # noqa: E402
from affectkeras.layers import FoldedTimeDistributed  # noqa: E402

WRAPPERS = {"FoldedTimeDistributed (affectkeras)": FoldedTimeDistributed,
            "keras.layers.TimeDistributed": keras.layers.TimeDistributed}


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    inputs = {"faces": rng.integers(0, 256, (4, 80, 96, 96, 3), dtype="uint8"),
              "audio": rng.normal(size=(4, 80, 50, 64, 1)).astype("float32")}
    targets = {"valence_arousal": rng.uniform(-1, 1, (4, 80, 2)).astype("float32"),
               "expression": rng.integers(0, 8, (4, 80)), "action_units": rng.integers(0, 2, (4, 80, 12))}
    outputs = {}
    print(f"A/V-MT-VGG-RNN width {args.width}, 4 x 80 frames, {os.cpu_count()} cores, median of {args.repeats}")
    print("| wrapper | first predict (trace + run) | predict | train step |")
    print("| --- | --- | --- | --- |")
    for name, wrapper in WRAPPERS.items():
        sequence.FoldedTimeDistributed = wrapper  # the builder's per-frame wrapper
        keras.utils.set_random_seed(0)
        model = build_av_mt_vgg_rnn(width=args.width, sequence_length=80)
        start = time.perf_counter()
        outputs[name] = model.predict(inputs, verbose=0)
        first = time.perf_counter() - start
        predict = timed(lambda: model.predict(inputs, verbose=0), args.repeats)
        training.compile_preset(model)
        model.train_on_batch(inputs, targets)  # traces the train step
        step = timed(lambda: model.train_on_batch(inputs, targets), args.repeats)
        print(f"| {name} | {first:.1f} s | {predict:.2f} s | {step:.2f} s |", flush=True)
    sequence.FoldedTimeDistributed = FoldedTimeDistributed
    folded, looped = outputs.values()
    print(f"largest output difference: {max(float(np.abs(folded[k] - looped[k]).max()) for k in folded):.2e}")


if __name__ == "__main__":
    main()
