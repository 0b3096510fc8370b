"""FER+ pretraining in float32 vs mixed_bfloat16, side by side: training images/s (and accuracy).

    python benchmarks/bench_pretrain.py [--width 0.5] [--image-size 48] [--steps 40] [--repeats 3]
    python benchmarks/bench_pretrain.py --epochs 30   # also trains both to the end (hours)

The network and pipeline are the `ferplus` preset's (`affectkeras.pretraining`: MT-VGG
stream to fc6 on grey faces, augmented FER+ Train, cross-entropy on the vote
distributions), at 48 px by default as the first preset was (the shipped one is 64 px:
`--image-size 64`). Each precision trains `--repeats` timed epochs of `--steps` steps after an
untimed one (graph tracing, the shuffle buffer), twice in alternation so that both see the
same machine load; the median images/s and the ratio are printed.
With `--epochs N`, each precision then trains N full epochs from the same seed and the
selected epoch (best Valid accuracy) is scored on FER+ Test, as `recipes/pretrain.py` does.
"""

import argparse
import os
import pathlib
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from affectkeras import evaluation, pretraining, training  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "ferplus"
PRECISIONS = ("float32", "mixed_bfloat16")


def images_per_second(precision, data, args):
    """Median training images/s of `precision` over `--repeats` timed epochs of `--steps` steps."""
    training.set_precision(precision)
    keras.utils.set_random_seed(0)
    model = pretraining.build_expression_network(width=args.width, input_size=args.image_size)
    pretraining.compile_soft_labels(model, weight_decay=args.weight_decay, total_steps=10_000)
    seconds = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    # One fit call, so that the pipeline (and its shuffle buffer) is filled once; the first
    # epoch (tracing, the buffer) is not timed.
    model.fit(data.train.repeat(), steps_per_epoch=args.steps, epochs=args.repeats + 1, verbose=0,
              callbacks=[Timer()])
    return statistics.median(args.steps * args.batch_size / t for t in seconds[1:])


def trained_accuracy(precision, data, args):
    """FER+ Valid (selected epoch) and Test accuracy after `--epochs` epochs in `precision`."""
    training.set_precision(precision)
    keras.utils.set_random_seed(0)
    model = pretraining.build_expression_network(width=args.width, input_size=args.image_size)
    pretraining.compile_soft_labels(model, weight_decay=args.weight_decay, total_steps=args.epochs * data.steps_per_epoch)
    best = {"val_accuracy": -1.0}

    class KeepBest(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_accuracy"] > best["val_accuracy"]:
                best.update(val_accuracy=logs["val_accuracy"], weights=self.model.get_weights())

    model.fit(data.train, validation_data=data.validation_soft, epochs=args.epochs, verbose=2,
              callbacks=[KeepBest()])
    training.set_precision("float32")
    selected = pretraining.build_expression_network(width=args.width, input_size=args.image_size)
    selected.set_weights(best["weights"])
    return {split: evaluation.score_classes(selected, dataset, num_classes=8, batch_size=args.batch_size)["accuracy"]
            for split, dataset in (("validation", data.validation), ("test", data.test))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weight-decay", type=float, default=pretraining.FERPLUS_WEIGHT_DECAY,
                        help="AdamW weight decay (default: recipes/pretrain.py's)")
    parser.add_argument("--epochs", type=int, default=0, help="also train both precisions for N epochs")
    args = parser.parse_args()

    data = pretraining.ferplus_datasets(args.data, size=args.image_size, batch_size=args.batch_size, seed=0)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; width {args.width}, "
          f"{args.image_size} px, batch {args.batch_size}", flush=True)
    rates = {precision: [] for precision in PRECISIONS}
    for _ in range(2):  # alternate, so that both precisions share the machine's load
        for precision in PRECISIONS:
            rates[precision].append(images_per_second(precision, data, args))
    median = {precision: statistics.median(values) for precision, values in rates.items()}
    print("| precision | training images/s (median) | runs |")
    print("| --- | --- | --- |")
    for precision in PRECISIONS:
        print(f"| {precision} | {median[precision]:.0f} | {', '.join(f'{r:.0f}' for r in rates[precision])} |")
    print(f"bf16 / float32: {median['mixed_bfloat16'] / median['float32']:.2f}x")
    if args.epochs:
        for precision in PRECISIONS:
            accuracy = trained_accuracy(precision, data, args)
            print(f"{precision}: {args.epochs} epochs, Valid {accuracy['validation']:.4f}, "
                  f"Test {accuracy['test']:.4f}", flush=True)


if __name__ == "__main__":
    main()
