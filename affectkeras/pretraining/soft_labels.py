"""Compiling a classifier for soft targets (vote distributions, mixup): AdamW, warm-up, cosine decay."""

from affectkeras.constants import EXPR_OUTPUT


def compile_soft_labels(model, *, learning_rate=1e-3, total_steps, warmup_steps=None, weight_decay=1e-4,
                        jit_compile="auto"):
    """Compiles `model` for vote-distribution targets: cross-entropy, AdamW, cosine decay.

    Args:
        model: keras.Model with an `expression` softmax output.
        learning_rate: float. Peak learning rate, reached after the warm-up.
        total_steps: int. Training steps of the whole run (the cosine reaches 0 there).
        warmup_steps: int or None. Linear warm-up from 0; None = 5 % of `total_steps`.
        weight_decay: float. AdamW's decoupled weight decay.
        jit_compile: bool or "auto". As `keras.Model.compile`.

    Returns:
        `model`, compiled; it reports `accuracy` (the top predicted class against the top
        voted one).
    """
    import keras

    warmup_steps = max(1, int(0.05 * total_steps)) if warmup_steps is None else warmup_steps
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total_steps - warmup_steps), warmup_target=learning_rate, warmup_steps=warmup_steps
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        loss={EXPR_OUTPUT: keras.losses.CategoricalCrossentropy()},
        metrics={EXPR_OUTPUT: [keras.metrics.CategoricalAccuracy(name="accuracy")]},
        jit_compile=jit_compile,
    )
    return model


def mixup(dataset, alpha, *, seed=0):
    """Mixup (Zhang et al. 2018) on a dataset of `(inputs, {"expression": soft targets})` batches.

    Each example is mixed with another of its batch: `lam * x_i + (1 - lam) * x_j` for every
    input and for the targets, `lam ~ Beta(alpha, alpha)` per example, seeded per batch.

    Args:
        dataset: tf.data.Dataset of batches; inputs a dict of float tensors, targets a dict
            with the `expression` distributions `(batch, classes)`.
        alpha: float > 0. Beta's parameter (0.2-0.4 mixes lightly; 1 = uniform mixing weights).
        seed: int.

    Returns:
        The mixed dataset.
    """
    import tensorflow as tf

    from affectkeras.errors import check_positive

    check_positive("alpha", alpha)

    def mix(batch_seed, batch):
        inputs, targets = batch
        seeds = tf.random.experimental.stateless_split(tf.stack([batch_seed, tf.constant(seed, tf.int64)]), 3)
        size = tf.shape(targets[EXPR_OUTPUT])[0]
        first, second = (tf.random.stateless_gamma([size], s, alpha) for s in tf.unstack(seeds[:2]))
        lam = first / (first + second)
        partner = tf.argsort(tf.random.stateless_uniform([size], seeds[2]))

        def blend(tensor):
            weight = tf.reshape(tf.cast(lam, tensor.dtype), [-1] + [1] * (tensor.shape.rank - 1))
            return weight * tensor + (1 - weight) * tf.gather(tensor, partner)

        return ({name: blend(tensor) for name, tensor in inputs.items()},
                {**targets, EXPR_OUTPUT: blend(targets[EXPR_OUTPUT])})

    batch_seeds = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)  # new partners every epoch
    return tf.data.Dataset.zip(batch_seeds, dataset).map(mix, num_parallel_calls=tf.data.AUTOTUNE)


__all__ = ["compile_soft_labels", "mixup"]
