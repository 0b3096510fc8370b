"""The temporal part alone: 2 x GRU(128) without attention, with the papers' cell, with the window.

    python benchmarks/bench_attention.py [--repeats 5] [--batch 4] [--frames 80]

The per-frame CNN dominates a whole network's time (see bench_models.py), so this times
only what `attention=` changes: `models.sequence.recurrent_stack` on fc6 features
`(batch, frames, 4096)` plus a VA head, at the papers' sizes (GRU 128, attention length 32),
float32. It reports parameters, the inference time of one batch and the time of one training
step (forward + backward + Adam), medians of `--repeats` after a warm-up, all three variants
in one run.
"""

import argparse
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from affectkeras.models.sequence import recurrent_stack  # noqa: E402
from bench_models import median_seconds  # noqa: E402 (same timing: median after a warm-up)

VARIANTS = {"none": None, "cell (TF1's, the papers')": "cell", "window (vectorised)": "window"}


def temporal_model(attention, frames):
    features = keras.Input((frames, 4096))
    x = recurrent_stack(features, rnn="gru", units=128, num_layers=2, attention=attention, attention_length=32,
                        sequence_length=frames)
    return keras.Model(features, keras.layers.Dense(2, name="valence_arousal")(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per variant (median)")
    parser.add_argument("--batch", type=int, default=4, help="sequences per batch (papers: 4)")
    parser.add_argument("--frames", type=int, default=80, help="frames per sequence (papers: 80)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.frames, 4096)).astype("float32")
    y = rng.uniform(-1, 1, (args.batch, args.frames, 2)).astype("float32")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TensorFlow {tf.__version__}; batch {args.batch} x {args.frames} frames of 4096 features, float32\n")
    print("| attention | parameters | inference ms / batch | training step ms |")
    print("| --- | ---: | ---: | ---: |")
    for label, attention in VARIANTS.items():
        model = temporal_model(attention, args.frames)
        model.compile(optimizer="adam", loss="mse")
        predict = tf.function(lambda v, model=model: model(v, training=False))
        infer = median_seconds(lambda: predict(x).numpy(), args.repeats)
        step = median_seconds(lambda: model.train_on_batch(x, y), args.repeats)
        print(f"| {label} | {model.count_params():,} | {infer * 1e3:.1f} | {step * 1e3:.1f} |", flush=True)


if __name__ == "__main__":
    main()
