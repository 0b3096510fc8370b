"""One place for the facts of the Aff-Wild2 / ABAW data: label names, AU sets, sentinels.

Every other module imports these names; none repeats a class list or a sentinel value.
"""

from affectkeras.errors import InvalidArgumentError, check_choice

# Frame rate the papers convert every video to before use.
FPS = 30

# Values that mark "not annotated" in the Aff-Wild2 annotation files.
VA_MASK = -5.0
EXPR_MASK = -1
AU_MASK = -1

# Column order of the VA files (`valence,arousal`) and of the `valence_arousal` output.
VA_NAMES = ("valence", "arousal")

# Expression classes in the order of the EXPR files' header and integer codes.
EXPRESSIONS_8 = ("Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise", "Other")
EXPRESSIONS_7 = EXPRESSIONS_8[:7]  # ABAW 2020 / 2021: no "Other"

# Action units in the order of the AU files' header.
AUS_12 = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU10", "AU12", "AU15", "AU23", "AU24", "AU25", "AU26")
AUS_8 = ("AU1", "AU2", "AU4", "AU6", "AU12", "AU15", "AU20", "AU25")  # ABAW 2020

# Names of the model outputs (and of the targets in a dataset).
VA_OUTPUT = "valence_arousal"
EXPR_OUTPUT = "expression"
AU_OUTPUT = "action_units"
OUTPUTS = (VA_OUTPUT, EXPR_OUTPUT, AU_OUTPUT)
# The tasks as requested (`tasks=("va", "expr")`) and the output each one names.
TASK_OUTPUTS = {"va": VA_OUTPUT, "expr": EXPR_OUTPUT, "au": AU_OUTPUT}
ALL_TASKS = tuple(TASK_OUTPUTS)
# The same tasks as the ABAW challenge folders and the annotation readers spell them.
TASK_FILES = {"va": "VA", "expr": "EXPR", "au": "AU"}

# Names of the model inputs (and of the input features of a dataset).
FACES_INPUT = "faces"  # uint8 face crops, (batch, [time,] size, size, 3)
AUDIO_INPUT = "audio"  # float32 log-mel windows, (batch, [time,] steps, n_mels, 1)
LABELS_INPUT = "expression_labels"  # int32 expression targets, the ArcFace networks' training input
LANDMARKS_INPUT = "landmarks"  # float32 68 facial landmarks per face, (batch, [time,] 136): x0, y0, x1, ...
MODALITIES = (FACES_INPUT, AUDIO_INPUT, LANDMARKS_INPUT)
# dlib's 68-point landmarks (iBUG 300-W order), AffWildNet's extra input: (x, y) of each in
# the aligned crop, divided by the crop's side (0..1 inside the crop).
LANDMARK_POINTS = 68
# Names of the layers holding the per-frame streams (what the training strategies freeze and copy).
VISUAL_CNN = "visual_cnn"
AUDIO_CNN = "audio_cnn"
# The clip classifiers' pooling of window embeddings (the speech predictor reuses it per window).
TEMPORAL_POOLING = "temporal_pooling"

# One video frame's log-mel window `(steps, n_mels)` under `audio.SpectrogramConfig()`'s
# defaults (0.5 s of 10-ms hops, 64 mel bands): the audio stream's input; tests check both agree.
AUDIO_WINDOW = (50, 64)

# Keras dtype policies a recipe trains in: mixed_bfloat16 for CPUs with AMX / AVX512-BF16
# (2-4x float32 here) and recent GPUs, mixed_float16 for GPUs (slow on CPUs).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# What inference accepts: those, or "auto" (the device's fastest, `distribute.default_precision`).
INFERENCE_PRECISIONS = ("auto",) + PRECISIONS

# Frames per sequence (the papers' 80): also the window in which a sequence network built
# with `sequence_length=None` is evaluated and run on videos.
SEQUENCE_LENGTH = 80


def check_tasks(tasks):
    """Returns `tasks` as a tuple of `"va"`, `"expr"`, `"au"` in that order, checking them."""
    if isinstance(tasks, str):
        tasks = (tasks,)
    canonical = {str(task).lower() for task in tasks}
    for task in canonical:
        check_choice("tasks", task, ALL_TASKS)
    if not canonical:
        raise InvalidArgumentError(f"`tasks` must name at least one task. Received: tasks={tasks!r}")
    return tuple(task for task in ALL_TASKS if task in canonical)


def expression_names(num_classes):
    """Returns the expression class names for 7 or 8 classes."""
    check_choice("num_classes", num_classes, (7, 8))
    return EXPRESSIONS_7 if num_classes == 7 else EXPRESSIONS_8


def au_names(num_aus):
    """Returns the AU names for the 8-AU (ABAW 2020) or 12-AU set."""
    check_choice("num_aus", num_aus, (8, 12))
    return AUS_8 if num_aus == 8 else AUS_12


# How each ABAW edition scores its tracks on Aff-Wild2. `expr_weights` / `au_weights` are
# the (F1, accuracy) weights of the track score.
ABAW_EDITIONS = {
    2020: dict(num_expressions=7, num_aus=8, expr_weights=(0.67, 0.33), au_weights=(0.5, 0.5)),
    2021: dict(num_expressions=7, num_aus=12, expr_weights=(0.67, 0.33), au_weights=(0.5, 0.5)),
    2022: dict(num_expressions=8, num_aus=12, expr_weights=(1.0, 0.0), au_weights=(1.0, 0.0)),
    2023: dict(num_expressions=8, num_aus=12, expr_weights=(1.0, 0.0), au_weights=(1.0, 0.0)),
    2024: dict(num_expressions=8, num_aus=12, expr_weights=(1.0, 0.0), au_weights=(1.0, 0.0)),
    2025: dict(num_expressions=8, num_aus=12, expr_weights=(1.0, 0.0), au_weights=(1.0, 0.0)),
}
LATEST_EDITION = max(ABAW_EDITIONS)

# RAVDESS emotion names, in the order of its file-name code EE = 01..08 (index = EE - 1).
RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")


__all__ = [
    "ABAW_EDITIONS",
    "ALL_TASKS",
    "AUDIO_CNN",
    "AUDIO_INPUT",
    "AUDIO_WINDOW",
    "AUS_12",
    "AUS_8",
    "AU_MASK",
    "AU_OUTPUT",
    "EXPRESSIONS_7",
    "EXPRESSIONS_8",
    "EXPR_MASK",
    "EXPR_OUTPUT",
    "FACES_INPUT",
    "FPS",
    "LABELS_INPUT",
    "LATEST_EDITION",
    "MODALITIES",
    "OUTPUTS",
    "RAVDESS_EMOTIONS",
    "SEQUENCE_LENGTH",
    "TASK_FILES",
    "TASK_OUTPUTS",
    "TEMPORAL_POOLING",
    "VA_MASK",
    "VA_NAMES",
    "VA_OUTPUT",
    "VISUAL_CNN",
    "au_names",
    "check_tasks",
    "expression_names",
]
