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


__all__ = ["compile_soft_labels"]
