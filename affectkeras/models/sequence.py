"""The CNN-RNN networks: a per-frame CNN stream, a recurrent stack, optional attention, heads.

`build_cnn_rnn` covers every configuration of the Aff-Wild2 paper's tables (VGG-Face /
ResNet-50 / DenseNet-121 x pretraining x GRU / LSTM / IndRNN x attention) and AffWildNet;
`build_mt_vgg_rnn` and `build_av_mt_vgg_rnn` are the multi-task VGG-RNN networks of the
Aff-Wild2 multi-task paper, the latter with the audio stream fused per frame.
"""

import keras

from affectkeras.constants import AUDIO_INPUT, AUDIO_WINDOW, FACES_INPUT, LANDMARK_POINTS, LANDMARKS_INPUT
from affectkeras.errors import check_choice, check_positive
from affectkeras.layers import AttentionCellWrapper, FoldedTimeDistributed, IndRNN, IndRNNCell, TemporalAttention
from affectkeras.models.heads import ALL_TASKS, check_dropout, check_label_space, check_tasks, task_heads
from affectkeras.models.streams import AUDIO_CNN, VISUAL_CNN, audio_cnn, finish_model, scaled, visual_cnn

RNNS = ("gru", "lstm", "indrnn")
# `attention=`: "cell" is the papers' (TF1's recurrent AttentionCellWrapper), "window" the
# vectorised TemporalAttention over the RNN's outputs; True means "cell".
ATTENTIONS = ("cell", "window")


def check_attention(attention):
    """`attention=` as "cell", "window" or None (False / None = no attention, True = "cell")."""
    if attention in (True, False, None):
        return "cell" if attention else None
    check_choice("attention", attention, ATTENTIONS)
    return attention


def recurrent_stack(x, *, rnn, units, num_layers, attention, attention_length, sequence_length,
                    gru_reset_after=False):
    """`num_layers` RNNs returning sequences, with optional attention (see `build_cnn_rnn`).

    Without attention or with `"window"` the RNNs are layers `rnn_1`, `rnn_2`, ... (then
    `attention`); with `"cell"` the stacked cells run inside one RNN layer, `rnn_attention`,
    wrapped by `AttentionCellWrapper` as TF1's `MultiRNNCell` was.
    """
    attention = check_attention(attention)

    # The IndRNN paper bounds |u| by 2 ** (1 / T) for sequences of T steps.
    bound = 2.0 ** (1.0 / sequence_length) if sequence_length else 1.0

    def cell(name):
        if rnn == "gru":
            return keras.layers.GRUCell(units, reset_after=gru_reset_after, name=name)
        if rnn == "lstm":
            return keras.layers.LSTMCell(units, name=name)
        return IndRNNCell(units, recurrent_max_abs=bound, name=name)

    if attention == "cell":
        cells = [cell(f"cell_{index}") for index in range(num_layers)]
        stack = cells[0] if num_layers == 1 else keras.layers.StackedRNNCells(cells, name="multi_rnn_cell")
        wrapped = AttentionCellWrapper(stack, attention_length=attention_length, name="attention_cell_wrapper")
        return keras.layers.RNN(wrapped, return_sequences=True, name="rnn_attention")(x)
    for index in range(1, num_layers + 1):
        name = f"rnn_{index}"
        if rnn == "gru":
            layer = keras.layers.GRU(units, return_sequences=True, reset_after=gru_reset_after, name=name)
        elif rnn == "lstm":
            layer = keras.layers.LSTM(units, return_sequences=True, name=name)
        else:
            layer = IndRNN(units, return_sequences=True, recurrent_max_abs=bound, name=name)
        x = layer(x)
    if attention == "window":
        x = TemporalAttention(attention_length=attention_length, name="attention")(x)
    return x


def _check_sequence_args(rnn, rnn_units, rnn_layers, attention, attention_length, sequence_length, width):
    check_choice("rnn", rnn, RNNS)
    check_attention(attention)
    check_positive("rnn_units", rnn_units, integer=True)
    check_positive("rnn_layers", rnn_layers, integer=True)
    check_positive("attention_length", attention_length, integer=True)
    if sequence_length is not None:
        check_positive("sequence_length", sequence_length, integer=True)
    check_positive("width", width)


def build_cnn_rnn(
    *,
    backbone="vggface",
    pretraining=None,
    feature_layer=None,
    rnn="gru",
    rnn_units=128,
    rnn_layers=2,
    attention=False,
    attention_length=32,
    gru_reset_after=False,
    sequence_length=80,
    input_size=96,
    tasks=("va",),
    num_expressions=8,
    num_aus=12,
    va_activation="tanh",
    normalization=None,
    dropout=0.0,
    landmarks=False,
    width=1.0,
    weights=None,
    name=None,
):
    """Builds a CNN-RNN network of the Aff-Wild2 paper (tables IV-VII) or AffWildNet.

    faces `(batch, time, size, size, 3)` uint8 -> normalisation + CNN per frame
    (`visual_cnn`) -> [dropout] -> [with the 68 landmarks] -> `rnn_layers` x RNN(`rnn_units`)
    -> optional temporal attention -> one output per frame and task.

    AffWildNet (IJCV 2019) is `build_cnn_rnn(va_activation="linear", dropout=0.5,
    landmarks=True)`; the variant whose weights the authors released has no landmarks
    (`affectkeras.checkpoints.convert_affwildnet` loads them).

    Args:
        backbone: str. `"vggface"`, `"resnet50"` or `"densenet121"`.
        pretraining: str or None. `"vggface1"` (VGGFace), `"vggface2"` (ResNet-50),
            `"imagenet"` (DenseNet-121), a preset of `affectkeras.weights` or a file; None =
            random. See `affectkeras.models.streams.visual_cnn`.
        feature_layer: str or None. What the CNN feeds to the RNN: VGGFace `"fc6"` (the
            papers' default), `"fc7"`, `"pool5"`; the others `"pool5"`.
        rnn: str. `"gru"`, `"lstm"` or `"indrnn"`.
        rnn_units: int. Units per RNN layer (papers: 128).
        rnn_layers: int. Number of RNN layers (papers: 2).
        attention: bool or str. `"cell"` (or True): the papers' attention, TF1's
            `AttentionCellWrapper` around the RNN stack (`layers.AttentionCellWrapper`: each
            step attends over its own previous `attention_length` outputs and feeds the
            result back into its input; runs step by step). `"window"`: the vectorised
            `layers.TemporalAttention` over the RNN's outputs, an approximation of it
            (no feedback, attends over h_{t-L+1..t}; faster to train). False: none.
        attention_length: int. Number of past outputs each step attends over (papers: 32).
        gru_reset_after: bool. Keras's GRU variant (reset gate after the recurrent matmul,
            cuDNN's) if True; False (default) is TF1's `GRUCell`, the papers' code.
        sequence_length: int or None. Frames per sequence (papers: 80); None accepts any
            length (e.g. a whole video at inference).
        input_size: int. Face crop size (papers: 96).
        tasks: sequence of str. Subset of `"va"`, `"expr"`, `"au"`.
        num_expressions: int. 7 or 8 expression classes.
        num_aus: int. 8 or 12 AUs.
        va_activation: str. `"tanh"`, or `"linear"` as AffWildNet's output layer.
        normalization: str or None. Face normalisation (see `streams.face_normalization`).
        dropout: float. Dropout on the CNN's per-frame features in training (AffWildNet's fc:
            0.5).
        landmarks: bool. Also take the faces' 68 landmarks, input `landmarks` `(batch, time,
            136)` (x, y per point in the aligned crop, divided by its side, as the records
            and `predict` give them), concatenated with the CNN's features before the RNN,
            as AffWildNet does.
        width: float. Multiplies every filter and unit count (tiny test models).
        weights: str or None. A `.weights.h5` file saved from the same network.
        name: str or None. Model name; None = `"<backbone>_<rnn>[_attention]"`.

    Returns:
        A `keras.Model` with input `faces` and outputs among `valence_arousal`
        `(batch, time, 2)`, `expression` `(batch, time, C)`, `action_units` `(batch, time, K)`.

    Example:
        >>> affwildnet = build_cnn_rnn(backbone="vggface", rnn="gru", va_activation="linear")
        >>> vggface_gru_attention = build_cnn_rnn(pretraining="vggface1", attention=True)

    Reference:
        Kollias, Zafeiriou, "Aff-Wild2: Extending the Aff-Wild Database for Affect
        Recognition", arXiv:1811.07770, 2018; Kollias et al., "Deep Affect Prediction
        in-the-wild: Aff-Wild Database and Challenge, Deep Architectures, and Beyond",
        IJCV 2019 (AffWildNet).
    """
    _check_sequence_args(rnn, rnn_units, rnn_layers, attention, attention_length, sequence_length, width)
    tasks = check_tasks(tasks)
    check_label_space(num_expressions, num_aus)
    check_dropout(dropout)

    faces = keras.Input((sequence_length, input_size, input_size, 3), dtype="uint8", name=FACES_INPUT)
    cnn = visual_cnn(
        backbone,
        input_size=input_size,
        feature_layer=feature_layer,
        pretraining=pretraining,
        normalization=normalization,
        width=width,
        name=backbone,
    )
    inputs = {FACES_INPUT: faces}
    x = FoldedTimeDistributed(cnn, name=VISUAL_CNN)(faces)
    if dropout:
        x = keras.layers.Dropout(dropout, name="feature_dropout")(x)
    if landmarks:
        inputs[LANDMARKS_INPUT] = keras.Input((sequence_length, 2 * LANDMARK_POINTS), name=LANDMARKS_INPUT)
        x = keras.layers.Concatenate(name="landmark_fusion")([x, inputs[LANDMARKS_INPUT]])
    x = recurrent_stack(
        x,
        rnn=rnn,
        units=scaled(rnn_units, width),
        num_layers=rnn_layers,
        attention=attention,
        attention_length=attention_length,
        sequence_length=sequence_length,
        gru_reset_after=gru_reset_after,
    )
    outputs = task_heads(
        x, tasks=tasks, num_expressions=num_expressions, num_aus=num_aus, va_activation=va_activation
    )
    default_name = f"{backbone}_{rnn}" + ("_attention" if check_attention(attention) else "")
    return finish_model(inputs, outputs, name or default_name, weights)


def build_mt_vgg_rnn(
    *,
    pretraining=None,
    rnn="gru",
    rnn_units=128,
    rnn_layers=2,
    attention=False,
    attention_length=32,
    gru_reset_after=False,
    sequence_length=80,
    input_size=96,
    tasks=ALL_TASKS,
    num_expressions=8,
    num_aus=12,
    width=1.0,
    weights=None,
    name="mt_vgg_rnn",
):
    """Builds MT-VGG-RNN: VGG-Face fc6 per frame, 2 x GRU(128), the three task heads.

    The arguments are those of `build_cnn_rnn` with the VGG-Face backbone and all three
    tasks by default.

    Reference:
        Kollias, Zafeiriou, "Expression, Affect, Action Unit Recognition: Aff-Wild2,
        Multi-Task Learning and ArcFace", BMVC 2019.
    """
    return build_cnn_rnn(
        backbone="vggface",
        pretraining=pretraining,
        feature_layer="fc6",
        rnn=rnn,
        rnn_units=rnn_units,
        rnn_layers=rnn_layers,
        attention=attention,
        attention_length=attention_length,
        gru_reset_after=gru_reset_after,
        sequence_length=sequence_length,
        input_size=input_size,
        tasks=tasks,
        num_expressions=num_expressions,
        num_aus=num_aus,
        width=width,
        weights=weights,
        name=name,
    )


def build_av_mt_vgg_rnn(
    *,
    pretraining=None,
    audio_pretraining=None,
    rnn="gru",
    rnn_units=128,
    rnn_layers=2,
    attention=False,
    attention_length=32,
    gru_reset_after=False,
    sequence_length=80,
    input_size=96,
    audio_window_steps=AUDIO_WINDOW[0],
    n_mels=AUDIO_WINDOW[1],
    audio_embedding_dim=128,
    tasks=ALL_TASKS,
    num_expressions=8,
    num_aus=12,
    width=1.0,
    weights=None,
    name="av_mt_vgg_rnn",
):
    """Builds A/V-MT-VGG-RNN: visual VGG-Face and audio CNN streams fused per frame, RNN, heads.

    Per frame, the face goes through VGG-Face up to fc6 (`visual_cnn`) and the log-mel
    window centred on the frame through the audio CNN (`audio_cnn`); the two feature
    vectors are concatenated (`fusion`) and the sequence goes through the RNN stack and
    the three task heads.

    Both streams can start from the networks that ship with affectkeras, where the shapes
    match: `pretraining="ferplus"` (the visual stream trained on FER+ at width 0.5 and 64 px
    faces) and `audio_pretraining="ravdess_audio"` (the audio stream trained on RAVDESS speech).

    Args:
        pretraining: str or None. The visual stream's pretraining (see `build_cnn_rnn`),
            e.g. `"vggface1"` or the `"ferplus"` preset.
        audio_pretraining: str, Path or None. The audio stream to start from: the
            `"ravdess_audio"` preset, or a `.keras` file / run folder of a network with an
            audio stream of the same width (`streams.audio_cnn`); None = random.
        audio_window_steps: int. Spectrogram steps per frame window (see
            `affectkeras.audio`).
        n_mels: int. Mel bands of the window.
        audio_embedding_dim: int. Size of the audio stream's embedding.
        Others: as `build_cnn_rnn`.

    Returns:
        A `keras.Model` with inputs `faces` `(batch, time, size, size, 3)` uint8 and
        `audio` `(batch, time, audio_window_steps, n_mels, 1)` float32, and the task outputs.

    Example:
        >>> model = build_av_mt_vgg_rnn(width=0.05, rnn_units=16)
        >>> sorted(model.output_names)
        ['action_units', 'expression', 'valence_arousal']

    Reference:
        Kollias, Zafeiriou, "Expression, Affect, Action Unit Recognition: Aff-Wild2,
        Multi-Task Learning and ArcFace", BMVC 2019.
    """
    _check_sequence_args(rnn, rnn_units, rnn_layers, attention, attention_length, sequence_length, width)
    tasks = check_tasks(tasks)
    check_label_space(num_expressions, num_aus)

    faces = keras.Input((sequence_length, input_size, input_size, 3), dtype="uint8", name=FACES_INPUT)
    audio = keras.Input((sequence_length, audio_window_steps, n_mels, 1), name=AUDIO_INPUT)
    face_cnn = visual_cnn(
        "vggface", input_size=input_size, feature_layer="fc6", pretraining=pretraining, width=width, name="vggface"
    )
    sound_cnn = audio_cnn(
        window_steps=audio_window_steps, n_mels=n_mels, embedding_dim=audio_embedding_dim, width=width,
        pretraining=audio_pretraining,
    )
    x = keras.layers.Concatenate(name="fusion")(
        [
            FoldedTimeDistributed(face_cnn, name=VISUAL_CNN)(faces),
            FoldedTimeDistributed(sound_cnn, name=AUDIO_CNN)(audio),
        ]
    )
    x = recurrent_stack(
        x,
        rnn=rnn,
        units=scaled(rnn_units, width),
        num_layers=rnn_layers,
        attention=attention,
        attention_length=attention_length,
        sequence_length=sequence_length,
        gru_reset_after=gru_reset_after,
    )
    outputs = task_heads(x, tasks=tasks, num_expressions=num_expressions, num_aus=num_aus)
    return finish_model({FACES_INPUT: faces, AUDIO_INPUT: audio}, outputs, name, weights)


__all__ = ["ATTENTIONS", "RNNS", "build_av_mt_vgg_rnn", "build_cnn_rnn", "build_mt_vgg_rnn", "check_attention",
           "recurrent_stack"]
