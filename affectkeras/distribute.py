"""Training at scale with tf.distribute: one device, several GPUs, several machines.

    strategy = make_strategy("multi_worker")        # first, before any other TensorFlow op
    with strategy.scope():
        model = compile_preset(build_av_mt_vgg_rnn())
    prepare_fit(model, train, strategy)
    with strategy.scope():
        model.fit(train, ...)

`multi_worker` reads the cluster from the `TF_CONFIG` environment variable, as
`tf.distribute.MultiWorkerMirroredStrategy` does; every worker runs the same command.
Keras 3.15 has two bugs on that path that `prepare_fit` works around (see there).
"""

import json
import os

from affectkeras.constants import INFERENCE_PRECISIONS
from affectkeras.errors import InvalidArgumentError, check_choice

STRATEGIES = ("one_device", "mirrored", "multi_worker")


def default_precision():
    """The fastest precision for inference on this machine's device.

    `"mixed_bfloat16"` on a GPU of compute capability 8.0 or more (Ampere and later) and,
    without a GPU, on CPUs with AMX or AVX512-BF16 (Linux's `/proc/cpuinfo` flags); else
    `"float32"`. Measured in BENCHMARKS.md: bf16 runs the networks 2-4x faster on such CPUs
    and moves the predicted probabilities by a few hundredths.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return "mixed_bfloat16" if tuple(capability) >= (8, 0) else "float32"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            flags = set(next((line for line in file if line.startswith("flags")), "").split())
    except OSError:
        return "float32"
    return "mixed_bfloat16" if flags & {"amx_bf16", "avx512_bf16"} else "float32"


def resolve_precision(precision):
    """`precision` checked, with `"auto"` replaced by `default_precision()`."""
    check_choice("precision", precision, INFERENCE_PRECISIONS)
    return default_precision() if precision == "auto" else precision


def make_strategy(name="one_device"):
    """Creates the `tf.distribute.Strategy` called `name`.

    Args:
        name: str. `"one_device"`: the first GPU, else the CPU; `"mirrored"`: every local
            GPU (synchronous data parallelism); `"multi_worker"`: every worker listed in
            `TF_CONFIG` (synchronous, collective all-reduce).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        InvalidArgumentError: an unknown name, or `multi_worker` without `TF_CONFIG`.
    """
    check_choice("strategy", name, STRATEGIES)
    import tensorflow as tf

    if name == "multi_worker":
        cluster = _tf_config().get("cluster", {})
        if not cluster:
            raise InvalidArgumentError(
                "strategy 'multi_worker' needs the TF_CONFIG environment variable with a "
                '"cluster" and this worker\'s "task". Received: TF_CONFIG='
                f"{os.environ.get('TF_CONFIG')!r}"
            )
        _fix_multi_worker_metric_reduction()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")


def _tf_config():
    text = os.environ.get("TF_CONFIG", "")
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError as error:
        raise InvalidArgumentError(f"TF_CONFIG is not JSON ({error}). Received: TF_CONFIG={text!r}") from error


def worker_info(strategy):
    """`(is_chief, worker_index)` of this process; `(True, 0)` outside multi-worker runs.

    The chief is the `chief` task if the cluster has one, else worker 0; only it writes
    the run folder.
    """
    resolver = getattr(strategy.extended, "_cluster_resolver", None)
    if resolver is None or not _is_multi_worker(strategy):
        return True, 0
    task_type, index = resolver.task_type, resolver.task_id or 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief), index


def shard_by_data(dataset):
    """Lets tf.distribute split `dataset` by elements, not files.

    The records hold one shard per video; sharding by file would give workers unequal
    (or no) data whenever there are fewer videos than workers or they differ in length.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def prepare_fit(model, dataset, strategy):
    """Builds `model`'s training state for `strategy`; then call `fit` in `strategy.scope()`.

    Under `MultiWorkerMirroredStrategy`, Keras 3.15's `fit` first all-reduces a distributed
    input batch eagerly to build the model, which fails on the `PerReplica` values. This
    builds the model, loss, metrics and optimizer from one local batch instead, and detaches
    the model from the strategy it was created under, so that `fit` skips that step and
    takes the strategy from the enclosing `strategy.scope()`. Other strategies need nothing.

    Args:
        model: keras.Model. Built and compiled under `strategy.scope()`.
        dataset: tf.data.Dataset. The training data (one batch is read).
        strategy: tf.distribute.Strategy.
    """
    if not _is_multi_worker(strategy):
        return model
    batch = next(iter(dataset.take(1)))
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
        model.optimizer.build(model.trainable_variables)
    model._distribute_strategy = None
    return model


def _is_multi_worker(strategy):
    return getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)()


def _fix_multi_worker_metric_reduction():
    """Keras 3.15 averages each metric over workers with `axis=0`, which fails on scalars.

    The replacement reduces the same values with `axis=None` (the mean over replicas), as
    `tf.distribute` expects for scalars; every other case goes to Keras's own function.
    """
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "_affectkeras_fix", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            import tensorflow as tf

            return tf.nest.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica._affectkeras_fix = True
    trainer.reduce_per_replica = reduce_per_replica


__all__ = ["STRATEGIES", "make_strategy", "prepare_fit", "shard_by_data", "worker_info"]
