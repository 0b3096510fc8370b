"""The people of the synthetic Aff-Wild2: per-frame labels, face parameters, masks, head motion.

Valence and arousal are smooth random trajectories, the expression is the nearest
prototype on the (valence, arousal) plane, the face parameters follow them both, and
the action units are read off the face parameters (`affectkeras.testing._faces`). The
docstring of `affectkeras.testing.dataset` says what carries the labels, and why.
"""

import dataclasses

import numpy as np

from affectkeras.constants import au_names
from affectkeras.testing._faces import _AU_RULES, _EXPRESSION_OFFSETS, _P, _PARAMS, _PROTOTYPES, _appearance


def _smooth(rng, frames, fps, periods=(1.0, 5.0), components=3):
    """A smooth random signal: a few sinusoids with periods in `periods` seconds, centred on
    zero and scaled to unit standard deviation over the clip."""
    t = np.arange(frames) / fps
    amplitudes = rng.uniform(0.5, 1.0, components)
    out = np.zeros(frames)
    for amplitude in amplitudes:
        period = rng.uniform(*periods)
        out += amplitude * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    out -= out.mean()  # no per-video offset: a person's identity must not predict labels
    return out / max(out.std(), 1e-6)


def _mode_filter(labels, num_classes, width):
    """Most frequent class in a centred window (ties: the lower class): removes flicker."""
    onehot = np.eye(num_classes)[labels]
    half = width // 2
    padded = np.concatenate([np.repeat(onehot[:1], half, 0), onehot, np.repeat(onehot[-1:], half, 0)])
    sums = np.cumsum(np.concatenate([np.zeros((1, num_classes)), padded]), axis=0)
    counts = sums[width:] - sums[:-width]
    return np.argmax(counts, axis=1)


def _unannotated(rng, frames, fraction):
    """bool (frames,): runs of 3-15 frames, about `fraction` of the frames in all."""
    mask = np.zeros(frames, bool)
    target = int(round(fraction * frames))
    while mask.sum() < target:
        length = int(min(rng.integers(3, 16), target - mask.sum()))
        start = int(rng.integers(0, frames - length + 1))
        mask[start : start + length] = True
    return mask


def _missing(rng, frames):
    """bool (frames,): 1 run of 2-4 frames per 60 frames (none under 10 frames)."""
    mask = np.zeros(frames, bool)
    if frames < 10:
        return mask
    for _ in range(max(1, frames // 60)):
        length = int(rng.integers(2, 5))
        start = int(rng.integers(1, frames - length))
        mask[start : start + length] = True
    return mask


@dataclasses.dataclass
class _Person:
    """One annotated person: appearance, per-frame labels and face parameters."""

    look: dict
    va: np.ndarray  # float (frames, 2), rounded to the 4 decimals written
    expression: np.ndarray  # int (frames,), index into EXPRESSIONS_8 / _7
    aus: np.ndarray  # int (frames, num_aus)
    params: np.ndarray  # float (frames, len(_PARAMS))
    unannotated: dict  # task -> bool (frames,)
    missing: np.ndarray  # bool (frames,): no crop
    motion: np.ndarray  # float (frames, 3): dx, dy (patch units), scale factor


def _make_person(rng, frames, fps, num_expressions, num_aus, unannotated_fraction):
    """Draws one person's look, labels, face parameters, masks and head motion."""
    look = _appearance(rng)
    # Valence / arousal: slow sinusoids around a slight per-person mood, squashed into
    # (-1, 1). A strong mood would let a network predict the labels from who is shown.
    va = np.stack(
        [np.tanh(rng.uniform(-0.15, 0.15) + 1.1 * _smooth(rng, frames, fps)) for _ in range(2)], axis=1
    )
    va = np.round(va * 0.98, 4)  # the values written to the file drive the face and voice

    # Expression: nearest prototype in (valence, arousal), noisy, then in segments.
    prototypes = _PROTOTYPES[:num_expressions]
    distance = np.sum((va[:, None, :] - prototypes[None]) ** 2, axis=-1)
    noise = np.stack([_smooth(rng, frames, fps, (0.8, 3.0), 2) for _ in range(num_expressions)], 1)
    scores = -distance / (2 * 0.3**2) + 1.2 * noise
    expression = _mode_filter(np.argmax(scores, axis=1), num_expressions, 9)

    # Face parameters: valence / arousal terms, the expression's features ramped in over
    # a few frames, smooth noise (so AUs are not a function of the labels alone).
    v, a = va[:, 0], va[:, 1]
    params = np.zeros((frames, len(_PARAMS)))
    params[:, _P["curve"]] = 0.9 * v
    params[:, _P["open"]] = 0.32 * (a + 0.35)
    params[:, _P["inner"]] = 0.45 * a
    params[:, _P["outer"]] = 0.45 * a
    params[:, _P["lower"]] = np.maximum(0.0, -0.6 * v - 0.1)
    params[:, _P["cheek"]] = np.maximum(0.0, 0.7 * v - 0.2)  # a broad smile lifts the cheeks
    params[:, _P["eye"]] = 0.6 * a
    offsets = _EXPRESSION_OFFSETS[expression]
    for t in range(1, frames):  # exponential ramp: ~3 frames to change expression
        offsets[t] = 0.45 * offsets[t - 1] + 0.55 * offsets[t]
    params += offsets
    params += 0.07 * np.stack([_smooth(rng, frames, fps, (0.5, 3.0), 2) for _ in _PARAMS], axis=1)
    low = np.array([-1.0 if name in ("curve", "inner", "outer", "eye") else 0.0 for name in _PARAMS])
    params = np.clip(params, low, 1.0)
    params[:, _P["open"]] *= 1.0 - params[:, _P["press"]]  # pressed lips close the mouth

    names = au_names(num_aus)
    aus = np.stack(
        [
            (_AU_RULES[au][2] * params[:, _P[_AU_RULES[au][0]]] > _AU_RULES[au][1]).astype(np.int64)
            for au in names
        ],
        axis=1,
    )
    unannotated = {task: _unannotated(rng, frames, unannotated_fraction) for task in ("VA", "EXPR", "AU")}
    missing = _missing(rng, frames)
    motion = np.stack(
        [
            5.0 * _smooth(rng, frames, fps, (2.0, 6.0), 2),
            3.0 * _smooth(rng, frames, fps, (2.0, 6.0), 2),
            1.0 + 0.04 * _smooth(rng, frames, fps, (2.0, 6.0), 2),
        ],
        axis=1,
    )
    return _Person(look, va, expression, aus, params, unannotated, missing, motion)
