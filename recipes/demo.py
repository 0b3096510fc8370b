"""Demo: a tiny audio-visual multi-task network trained with the masked losses, then one prediction.

    python recipes/demo.py [--epochs 4] [--train-sequences 120] [--seed 0]

Builds a small audio-visual multi-task network from affectkeras's layers (face rescaling,
a per-frame CNN, a GRU with temporal attention, valence/arousal, expression and AU heads),
trains it with the masked multi-task losses and streaming metrics on generated sequences
whose labels depend on the faces and the sound (30 % of each task's labels left
unannotated, as in Aff-Wild2), and predicts one sequence. It runs in well under a minute
on a 2-core CPU. (The full pipeline demo on videos arrives with the recipes.)
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402

import affectkeras  # noqa: E402
from affectkeras import layers, training  # noqa: E402
from affectkeras.constants import AU_MASK, EXPR_MASK, VA_MASK, expression_names  # noqa: E402

TIME, FACE, MELS, AUDIO_STEPS = 16, 32, 16, 8


def build_model():
    """A miniature A/V-MT-VGG-RNN: per-frame face CNN + audio CNN, fused, GRU, attention, 3 heads."""
    faces = keras.Input((TIME, FACE, FACE, 3), dtype="uint8", name="faces")
    audio = keras.Input((TIME, AUDIO_STEPS, MELS, 1), name="audio")
    face_cnn = keras.Sequential(
        [
            layers.FaceRescaling(),
            keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="face_cnn",
    )
    audio_cnn = keras.Sequential(
        [keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.GlobalAveragePooling2D()],
        name="audio_cnn",
    )
    x = keras.layers.Concatenate(name="fusion")(
        [keras.layers.TimeDistributed(face_cnn)(faces), keras.layers.TimeDistributed(audio_cnn)(audio)]
    )
    x = keras.layers.GRU(32, return_sequences=True, name="gru")(x)
    x = layers.TemporalAttention(attention_length=8, name="attention")(x)
    outputs = {
        "valence_arousal": keras.layers.Dense(2, activation="tanh", name="valence_arousal")(x),
        "expression": keras.layers.Dense(7, activation="softmax", name="expression")(x),
        "action_units": keras.layers.Dense(12, activation="sigmoid", name="action_units")(x),
    }
    return keras.Model({"faces": faces, "audio": audio}, outputs, name="demo_av_mt")


def make_sequences(count, rng):
    """Faces whose brightness follows valence and sound whose energy follows arousal."""
    va = np.cumsum(rng.normal(0, 0.25, (count, TIME, 2)), axis=1).clip(-1, 1).astype("float32")
    noise = rng.integers(0, 60, (count, TIME, FACE, FACE, 3))
    faces = (noise + 90 + 90 * va[..., 0, None, None, None]).clip(0, 255).astype("uint8")
    audio = (rng.normal(size=(count, TIME, AUDIO_STEPS, MELS, 1)) * (1.5 + va[..., 1, None, None, None]))
    # Valence bands to Sadness, Anger, Neutral, Happiness, Surprise (indices of EXPRESSIONS_7).
    expression = np.array([5, 1, 0, 4, 6], "float32")[np.digitize(va[..., 0], [-0.6, -0.2, 0.2, 0.6])]
    aus = np.stack([va[..., 0] > t for t in np.linspace(-0.8, 0.8, 12)], -1).astype("float32")
    for target, sentinel in ((va, VA_MASK), (expression, EXPR_MASK), (aus, AU_MASK)):
        target[rng.random((count, TIME)) < 0.3] = sentinel
    inputs = {"faces": faces, "audio": audio.astype("float32")}
    return inputs, {"valence_arousal": va, "expression": expression, "action_units": aus}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="training epochs")
    parser.add_argument("--train-sequences", type=int, default=120, help="training sequences per epoch")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build_model()
    # The papers' losses and streaming metrics for the three heads; a faster learning rate
    # than the papers' 1e-3 because the demo trains for seconds.
    training.compile_preset(model, optimizer=keras.optimizers.Adam(3e-3))
    print(f"affectkeras {affectkeras.__version__}: {model.name}, {model.count_params():,} parameters")
    train_x, train_y = make_sequences(args.train_sequences, rng)
    test_x, test_y = make_sequences(32, rng)
    model.fit(train_x, train_y, batch_size=8, epochs=args.epochs, verbose=2)
    scores = model.evaluate(test_x, test_y, batch_size=8, verbose=0, return_dict=True)
    print("held-out: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    print("(a constant predictor has a VA CCC of 0)")

    one = {name: value[:1] for name, value in test_x.items()}
    prediction = model.predict(one, verbose=0)
    names = expression_names(7)
    print("one sequence, frame by frame (valence, arousal, expression):")
    for t in range(0, TIME, 4):
        valence, arousal = prediction["valence_arousal"][0, t]
        expression = names[int(prediction["expression"][0, t].argmax())]
        print(f"  frame {t:2d}: {valence:+.2f} {arousal:+.2f} {expression}")
    return scores


if __name__ == "__main__":
    main()
