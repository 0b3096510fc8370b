"""Full-size networks: parameters, FLOPs per frame, CPU inference throughput, share of peak.

    python benchmarks/bench_models.py [--repeats 5] [--frames 32] [--only "MT-VGG,..."]

For every network of `affectkeras.models` at the papers' full size it reports the
parameter count, the floating-point operations per frame (TensorFlow's profiler on the
frozen inference graph, 1 multiply-add = 2 FLOPs), and the inference throughput in frames/s
on a batch of 32 frames (per-frame networks: 32 faces; sequence networks: one sequence of 32
frames), median of `--repeats` timed calls after a warm-up. The achieved GFLOP/s is given as
a share of the machine's measured peak: the best of a few 4096 x 4096 float32 matmuls timed in
the same run.
Prints a markdown table (the one in BENCHMARKS.md).
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import affectkeras  # noqa: E402
from affectkeras.models import inference_model  # noqa: E402
from affectkeras.weights import load_preset_model  # noqa: E402

NETWORKS = {
    "AffWildNet (VGG-Face fc6 + 2xGRU)": lambda: affectkeras.build_cnn_rnn(va_activation="linear", sequence_length=None),
    "VGGFace-GRU-attention (cell: TF1's; the papers')": lambda: affectkeras.build_cnn_rnn(
        attention="cell", sequence_length=None),
    "VGGFace-GRU-attention (window: vectorised)": lambda: affectkeras.build_cnn_rnn(
        attention="window", sequence_length=None),
    "ResNet50-GRU": lambda: affectkeras.build_cnn_rnn(backbone="resnet50", sequence_length=None),
    "DenseNet121-GRU": lambda: affectkeras.build_cnn_rnn(backbone="densenet121", sequence_length=None),
    "VGGFace-IndRNN": lambda: affectkeras.build_cnn_rnn(rnn="indrnn", sequence_length=None),
    "MT-VGG": lambda: affectkeras.build_mt_vgg(),
    "MT-VGG-RNN": lambda: affectkeras.build_mt_vgg_rnn(sequence_length=None),
    "A/V-MT-VGG-RNN": lambda: affectkeras.build_av_mt_vgg_rnn(sequence_length=None),
    "MT-ArcRes (112 px)": lambda: inference_model(affectkeras.build_mt_arcres()),
    "MT-ArcVGG (112 px)": lambda: inference_model(affectkeras.build_mt_arcvgg()),
    "ferplus (shipped; width 0.5; 64 px)": lambda: load_preset_model("ferplus"),
    "ferplus over its 4 test-time views (as predict runs it)": lambda: load_preset_model("ferplus", test_time=True),
}


def batch_for(model, frames, rng):
    """32 frames: a batch of 32 faces, or one sequence of 32 frames."""
    inputs = {}
    for tensor in model.inputs:
        per_item = tuple(tensor.shape[1:])
        sequence = per_item[0] is None
        shape = (1, frames) + per_item[1:] if sequence else (frames,) + per_item
        if tensor.dtype == "uint8":
            inputs[tensor.name] = rng.integers(0, 256, shape).astype("uint8")
        else:
            inputs[tensor.name] = rng.normal(size=shape).astype("float32")
    return inputs


def flops_per_frame(model, inputs, frames):
    """FLOPs of one inference call on `inputs`, from the frozen graph, divided by `frames`."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    specs = {name: tf.TensorSpec(value.shape, tf.as_dtype(value.dtype), name=name) for name, value in inputs.items()}
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs)
    frozen = convert_variables_to_constants_v2(function)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options)
    return profile.total_float_ops / frames


def median_seconds(fn, repeats):
    fn()  # warm-up: tracing, allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_gflops(repeats, n=4096):
    """The best of `repeats` timed 4096 x 4096 float32 matmuls: the machine's practical peak."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per network (median)")
    parser.add_argument("--frames", type=int, default=32, help="frames per inference call")
    parser.add_argument("--only", default=None, help="comma-separated subset of the network names")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    names = [n for n in NETWORKS if args.only is None or n in args.only.split(",")]
    peak = peak_gflops(max(args.repeats, 5))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TensorFlow {tf.__version__}; float32 matmul peak {peak:.1f} GFLOP/s\n")
    print("| network | parameters | GFLOPs / frame | frames/s (batch 32) | GFLOP/s | share of peak |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        model = NETWORKS[name]()
        inputs = batch_for(model, args.frames, rng)
        predict = tf.function(lambda x, model=model: model(x, training=False))
        seconds = median_seconds(lambda: {k: v.numpy() for k, v in predict(inputs).items()}, args.repeats)
        fps = args.frames / seconds
        flops = flops_per_frame(model, inputs, args.frames)
        achieved = flops * fps / 1e9
        print(f"| {name} | {model.count_params():,} | {flops / 1e9:.2f} | {fps:.1f} | {achieved:.1f} | "
              f"{achieved / peak:.0%} |", flush=True)


if __name__ == "__main__":
    main()
