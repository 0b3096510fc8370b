"""Where one FER+ training step's time goes on this CPU: oneDNN's primitives, by pass and by layer.

    python benchmarks/bench_train_step.py [--width 0.5] [--image-size 64] [--precision mixed_bfloat16]

TensorFlow runs convolutions, pooling and matmuls through oneDNN, which logs every primitive it
executes, with its shapes and milliseconds, when ONEDNN_VERBOSE=1. The script trains the
`ferplus` network (`recipes/pretrain.py`'s compile) on random faces, so the input pipeline is
left out, in two child processes: one times `--steps` steps after three untimed ones, one logs
the same steps with ONEDNN_VERBOSE=1 (logging adds a little time of its own). It prints the
step time, then each convolution pass (forward, backward to the data, backward to the
weights) and the other primitives in ms per step, with the GFLOP/s of the convolutions, and
the convolutions by layer shape.
"""

import argparse
import collections
import os
import re
import subprocess
import sys

MARK = "--- timed steps ---"
CONV_PASSES = ("forward_training", "backward_data", "backward_weights")


def child(args):
    """Trains the network on one random batch, prints MARK, then the mean seconds per step."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import time

    import keras
    import numpy as np

    from affectkeras import pretraining, training
    from affectkeras.constants import EXPR_OUTPUT

    training.set_precision(args.precision)
    model = pretraining.build_expression_network(width=args.width, input_size=args.image_size)
    pretraining.compile_soft_labels(model, total_steps=10_000)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (args.batch_size, args.image_size, args.image_size, 3)).astype("float32")
    votes = rng.dirichlet(np.ones(8), args.batch_size).astype("float32")
    batch = ({"faces": faces}, {EXPR_OUTPUT: votes})
    for _ in range(3):  # tracing, oneDNN's primitive cache
        model.train_on_batch(*batch)
    print(MARK, flush=True)
    started = time.perf_counter()
    for _ in range(args.steps):
        model.train_on_batch(*batch)
    print(f"seconds per step: {(time.perf_counter() - started) / args.steps:.4f}", flush=True)
    keras.backend.clear_session()


def run_child(args, verbose):
    command = [sys.executable, __file__, "--child", "--width", str(args.width), "--image-size", str(args.image_size),
               "--batch-size", str(args.batch_size), "--precision", args.precision, "--steps", str(args.steps)]
    env = dict(os.environ, ONEDNN_VERBOSE="1" if verbose else "0")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(f"the timed child failed:\n{result.stderr[-3000:]}")
    return result.stdout


def conv_gflop(problem):
    """Multiply-adds x 2 of a oneDNN convolution problem such as `mb64_ic32oc64_ih32oh32kh3...`."""
    size = {key: int(value) for key, value in re.findall(r"(mb|g|ic|oc|oh|ow|kh|kw)(\d+)", problem)}
    return 2 * size["mb"] * size["oc"] * size["oh"] * size["ow"] * size["ic"] // size.get("g", 1) \
        * size["kh"] * size["kw"] / 1e9


def parse(log, steps):
    """oneDNN's exec lines after MARK -> {(kind, pass, problem): ms per step}."""
    ms = collections.Counter()
    for line in log.split(MARK, 1)[1].splitlines():
        fields = line.split(",")
        if not line.startswith("onednn_verbose") or "exec" not in fields:
            continue
        at = fields.index("exec")
        try:
            ms[(fields[at + 2], fields[at + 4], fields[-2])] += float(fields[-1]) / steps
        except ValueError:  # a header or an info line
            continue
    return ms


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    step = float(run_child(args, verbose=False).split("seconds per step:")[1])
    ms = parse(run_child(args, verbose=True), args.steps)
    print(f"width {args.width}, {args.image_size} px, batch {args.batch_size}, {args.precision}: "
          f"{step * 1000:.0f} ms per step ({args.batch_size / step:.0f} images/s) without logging")
    print("| primitive | ms per step | GFLOP/s |")
    print("| --- | ---: | ---: |")
    by_pass = collections.Counter()
    gflop = collections.Counter()
    for (kind, prop, problem), value in ms.items():
        key = f"convolution {prop}" if kind == "convolution" else kind
        by_pass[key] += value
        if kind == "convolution":
            gflop[key] += conv_gflop(problem)
    for key, value in by_pass.most_common():
        rate = f"{gflop[key] / value * 1000:.0f}" if gflop[key] else ""
        print(f"| {key} | {value:.1f} | {rate} |")
    print(f"| all oneDNN | {sum(by_pass.values()):.1f} | |")
    print("\n| convolution | " + " | ".join(f"{p} ms (GFLOP/s)" for p in CONV_PASSES) + " |")
    print("| --- |" + " ---: |" * len(CONV_PASSES))
    problems = sorted({problem for kind, _, problem in ms if kind == "convolution"},
                      key=lambda problem: -sum(ms[("convolution", p, problem)] for p in CONV_PASSES))
    for problem in problems:
        cells = [f"{ms[('convolution', p, problem)]:.1f} ({conv_gflop(problem) / ms[('convolution', p, problem)] * 1000:.0f})"
                 if ms[("convolution", p, problem)] else "" for p in CONV_PASSES]
        print(f"| {problem} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
