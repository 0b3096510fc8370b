"""Fine-tuning on downstream databases: model surgery, downstream datasets, the recipe."""

import json
import pathlib
import wave

import keras
import numpy as np
import pytest

from affectkeras import annotations, models, training, weights
from affectkeras.annotations import ContinuousLabels
from affectkeras.data import downstream
from affectkeras.errors import DataFormatError, InvalidArgumentError, MediaError
from affectkeras.models.streams import AUDIO_CNN, VISUAL_CNN
from tests.conftest import load_recipe, no_keras_warnings

REPO = pathlib.Path(__file__).resolve().parents[1]
WIDTH = 0.05


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


# ----------------------------------------------------------------------------------------
# Tiny databases written by the tests


def _write_image_folder(root, classes=("happy", "sad", "neutral"), subjects=("S01", "S02", "S03"), per=2, size=24):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for subject in subjects:
            for k in range(per):
                pixels = rng.integers(0, 255, (size, size + 6, 3), dtype=np.uint8)  # not square
                Image.fromarray(pixels).save(folder / f"{subject}_{name}_{k}.png")
    return root


def _write_ravdess(root, actors=(1, 2), emotions=(1, 3, 5), seconds=0.8, rate=16000):
    rng = np.random.default_rng(1)
    for actor in actors:
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for emotion in emotions:
            for repetition in (1, 2):
                t = np.arange(int(seconds * rate)) / rate
                signal = 0.3 * np.sin(2 * np.pi * 200 * emotion * t) + 0.05 * rng.standard_normal(len(t))
                name = f"03-01-{emotion:02d}-01-01-{repetition:02d}-{actor:02d}.wav"
                with wave.open(str(folder / name), "wb") as f:
                    f.setnchannels(1)
                    f.setsampwidth(2)
                    f.setframerate(rate)
                    f.writeframes((np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes())
    return root


# ----------------------------------------------------------------------------------------
# Model surgery


def test_replace_heads_new_label_space_keeps_trunk_and_matching_heads():
    source = models.build_mt_vgg_rnn(width=WIDTH, rnn_units=8, sequence_length=4, input_size=32)
    new = models.replace_heads(source, num_expressions=7, tasks=("va", "expr"))
    assert set(new.output) == {"valence_arousal", "expression"}
    assert new.output["expression"].shape == (None, 4, 7)
    assert new.get_layer("valence_arousal") is source.get_layer("valence_arousal")  # same size: kept
    assert new.get_layer("expression") is not source.get_layer("expression")
    assert new.get_layer(VISUAL_CNN) is source.get_layer(VISUAL_CNN)
    assert _same_weights(new.get_layer("rnn_2"), source.get_layer("rnn_2"))
    fresh = models.replace_heads(source, keep_matching=False)
    assert fresh.get_layer("valence_arousal") is not source.get_layer("valence_arousal")
    faces = np.zeros((1, 4, 32, 32, 3), np.uint8)
    assert new.predict({"faces": faces}, verbose=0)["expression"].shape == (1, 4, 7)


def test_replace_heads_arcface_network():
    source = models.build_mt_arcres(width=WIDTH, input_size=32)
    seven = models.replace_heads(source, num_expressions=7)
    assert seven.get_layer("expression").num_classes == 7
    assert set(seven.input) == {"faces", "expression_labels"}
    va_only = models.replace_heads(source, tasks=("va",))
    assert set(va_only.input) == {"faces"} and set(va_only.output) == {"valence_arousal"}
    with pytest.raises(InvalidArgumentError, match="num_expressions"):
        models.replace_heads(source, num_expressions=0)


def test_audio_classifier_shares_the_trained_audio_stream(tmp_path):
    source = weights.mark_pretrained(  # as a trained network read back from disk
        models.build_av_mt_vgg_rnn(width=WIDTH, rnn_units=8, sequence_length=4, input_size=32)
    )
    clips = models.audio_classifier(source, num_classes=8, time_windows=3)
    assert clips.input["audio"].shape == (None, 3, 50, 64, 1)
    assert clips.output["expression"].shape == (None, 8)
    stream = source.get_layer(AUDIO_CNN).layer
    assert clips.get_layer(AUDIO_CNN).layer is stream and _same_weights(clips.get_layer(AUDIO_CNN), stream)
    assert all(path.startswith(f"{AUDIO_CNN}/") for path in training.freeze_cnn(clips))
    assert not clips.get_layer(AUDIO_CNN).trainable_weights
    training.compile_preset(clips)
    x = np.random.default_rng(0).normal(-40, 10, (4, 3, 50, 64, 1)).astype("float32")
    clips.fit({"audio": x}, {"expression": np.array([0, 1, 2, 3])}, epochs=1, verbose=0)
    path = tmp_path / "clips.keras"
    clips.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict({"audio": x}, verbose=0)["expression"], clips.predict({"audio": x}, verbose=0)["expression"],
        atol=1e-5,
    )
    again = models.audio_classifier(loaded, num_classes=4, pooling="max")  # from a classifier: any length
    assert again.input["audio"].shape == (None, None, 50, 64, 1)


def test_folded_time_distributed_normalises_over_all_windows():
    stream = models.streams.audio_cnn(window_steps=8, n_mels=8, width=WIDTH)
    clips = models.audio_classifier(stream, num_classes=3, time_windows=4, dropout=0.0)
    x = np.random.default_rng(0).normal(0, 1, (2, 4, 8, 8, 1)).astype("float32")
    x[:, 0] = 0.0  # a silent first window in every clip: per-step batch statistics would differ
    layer = clips.get_layer(AUDIO_CNN)
    for training_mode in (False, True):
        folded = keras.ops.convert_to_numpy(layer(x, training=training_mode))
        flat = keras.ops.convert_to_numpy(stream(x.reshape(8, 8, 8, 1), training=training_mode))
        np.testing.assert_allclose(folded, flat.reshape(2, 4, -1), atol=1e-5)


def test_recalibrate_batch_norm_sets_population_statistics():
    inputs = keras.Input((3,))
    normalized = keras.layers.BatchNormalization(name="bn")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(normalized))
    x = np.random.default_rng(0).normal(5.0, 2.0, (64, 3)).astype("float32")
    batches = [(x[i : i + 16], None) for i in range(0, 64, 16)]
    assert models.recalibrate_batch_norm(model, batches) == 1
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(axis=0), rtol=1e-5)
    per_batch = np.mean([b.var(axis=0) for b, _ in batches], axis=0)
    np.testing.assert_allclose(bn.moving_variance.numpy(), per_batch, rtol=1e-4)
    assert bn.momentum == 0.99  # restored
    bn.trainable = False  # frozen layers keep their statistics
    assert models.recalibrate_batch_norm(model, batches) == 0
    with pytest.raises(InvalidArgumentError, match="empty"):
        bn.trainable = True
        models.recalibrate_batch_norm(model, [])


def test_audio_classifier_standalone_stream_and_errors():
    stream = models.streams.audio_cnn(window_steps=50, n_mels=64, width=WIDTH)
    clips = models.audio_classifier(stream, num_classes=8, time_windows=2, dropout=0.0)
    assert clips.get_layer(AUDIO_CNN).layer is stream
    with pytest.raises(InvalidArgumentError, match="audio_cnn"):
        models.audio_classifier(models.build_mt_vgg(width=WIDTH, input_size=32), num_classes=8)
    with pytest.raises(InvalidArgumentError, match="pooling"):
        models.audio_classifier(stream, num_classes=8, pooling="median")


def test_frame_classifier_from_a_sequence_network():
    source = weights.mark_pretrained(
        models.build_cnn_rnn(width=WIDTH, rnn_units=8, sequence_length=4, input_size=32, tasks=("va",))
    )
    images = models.frame_classifier(source, num_expressions=7, dropout=0.2)
    assert images.input["faces"].shape == (None, 32, 32, 3)
    assert images.output["expression"].shape == (None, 7)
    trained = source.get_layer(VISUAL_CNN).layer
    assert _same_weights(images.get_layer(VISUAL_CNN), trained)
    assert len(training.freeze_cnn(images)) == 14  # 13 convs and fc6
    assert not images.get_layer(VISUAL_CNN).trainable_weights and images.trainable_weights
    faces = np.zeros((2, 32, 32, 3), np.uint8)
    np.testing.assert_allclose(images.get_layer(VISUAL_CNN)(faces), trained(faces), atol=1e-6)
    with pytest.raises(InvalidArgumentError, match="visual_cnn"):
        models.frame_classifier(models.streams.audio_cnn(width=WIDTH))


# ----------------------------------------------------------------------------------------
# Downstream datasets


def test_expression_images_dataset_and_subject_split(tmp_path):
    root = _write_image_folder(tmp_path / "db")
    records = annotations.read_expression_folder(root, subject_pattern=r"/(S\d+)_")
    assert len(records) == 18 and {r.subject for r in records} == {"S01", "S02", "S03"}
    train, test = annotations.split_by_subject(records, test_fraction=0.34, seed=0)
    assert not {r.subject for r in train} & {r.subject for r in test}
    ds = downstream.expression_image_dataset(test, size=16, batch_size=4)
    faces, labels = [], []
    for inputs, targets in ds:
        faces.append(inputs["faces"].numpy())
        labels.append(targets["expression"].numpy())
    faces, labels = np.concatenate(faces), np.concatenate(labels)
    assert faces.shape == (len(test), 16, 16, 3) and faces.dtype == np.uint8
    assert labels.tolist() == [r.label for r in test]
    flipped = downstream.expression_image_dataset(train, size=16, batch_size=32, shuffle=True, seed=1, flip=True)
    inputs, targets = next(iter(flipped))
    assert inputs["faces"].shape == (len(train), 16, 16, 3)
    assert sorted(targets["expression"].numpy().tolist()) == sorted(r.label for r in train)


def test_expression_images_with_soft_labels_and_augmentation(tmp_path):
    root = _write_image_folder(tmp_path / "db")
    records = annotations.read_expression_folder(root, subject_pattern=r"/(S\d+)_")
    rng = np.random.default_rng(0)
    for record in records:  # vote distributions, as FER+ records carry them
        record.distribution = rng.dirichlet(np.ones(8)).astype(np.float32)
    plain = downstream.expression_image_dataset(records, size=16, batch_size=64, soft_labels=True)
    augmented = downstream.expression_image_dataset(records, size=16, batch_size=64, soft_labels=True,
                                                    augment=True, shuffle=False, seed=0)
    (faces, targets), (moved, same_targets) = next(iter(plain)), next(iter(augmented))
    np.testing.assert_allclose(targets["expression"].numpy(), [r.distribution for r in records])
    np.testing.assert_allclose(same_targets["expression"].numpy(), targets["expression"].numpy())
    assert moved["faces"].dtype == np.uint8 and moved["faces"].shape == faces["faces"].shape
    changed = np.abs(moved["faces"].numpy().astype(int) - faces["faces"].numpy()).mean(axis=(1, 2, 3))
    assert (changed > 1.0).mean() > 0.8  # nearly every face is moved or relit


def test_face_augmentation_random_erasing_patches_the_chosen_share_of_faces():
    # Uniform faces stay uniform under every other transform switched off (or a flip), so the
    # pixels that change are the erased patch's.
    augment = downstream.face_augmentation(rotation=0.0, zoom=0.0, shift=0.0, brightness=0.0, contrast=0.0,
                                           erase=0.5, seed=0)
    faces = np.full((400, 32, 32, 3), 128, np.uint8)
    out = augment(faces).numpy()
    assert out.dtype == np.uint8 and out.shape == faces.shape
    patched = (out != 128).any(axis=-1).mean(axis=(1, 2))  # share of each face's pixels erased
    erased = patched > 0
    assert 0.4 < erased.mean() < 0.6
    assert 0.005 < patched[erased].min() and patched[erased].max() < 0.45  # patches of 2-33 % of the area
    assert (patched[~erased] == 0).all()
    np.testing.assert_array_equal(augment(faces, training=False).numpy(), faces)
    with pytest.raises(InvalidArgumentError, match="erase"):
        downstream.face_augmentation(erase=1.0)
    with pytest.raises(InvalidArgumentError, match="augment=True"):
        downstream.expression_image_dataset([object()], erase=0.5)


def test_load_face_image_arrays_alignment_fallback_and_errors(tmp_path):
    gray = np.arange(48 * 60, dtype=np.uint8).reshape(48, 60)  # FER2013-like pixels
    assert downstream.load_face_image(gray, size=32).shape == (32, 32, 3)
    noise = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    # No face in noise: the aligned path falls back to the centre crop.
    np.testing.assert_array_equal(
        downstream.load_face_image(noise, size=20, align=True), downstream.load_face_image(noise, size=20)
    )
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataFormatError, match="broken.png"):
        downstream.load_face_image(bad)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        downstream.load_face_image(tmp_path / "missing.png")


def test_read_database_takes_a_subject_column_and_a_database_numbering(tmp_path):
    from affectkeras import finetuning

    root = _write_image_folder(tmp_path / "db", classes=("1", "7"))  # RAF-DB's Surprise and Neutral
    database = finetuning.read_database("expression_images", root, subject_pattern=r"/(S\d+)_", class_map="rafdb")
    assert {r.label_name for r in database.records} == {"Surprise", "Neutral"}
    rows = ["path,label,subject"] + [f"{pathlib.Path(r.image).relative_to(root)},{r.label_name},{r.subject}"
                                     for r in database.records]
    (root / "list.csv").write_text("\n".join(rows) + "\n")
    listed = finetuning.read_database("expression_images", root / "list.csv")  # no --subject-pattern needed
    assert [(r.label_name, r.subject) for r in listed.records] == [(r.label_name, r.subject) for r in database.records]
    (root / "plain.csv").write_text("\n".join(row.rsplit(",", 1)[0] for row in rows) + "\n")
    with pytest.raises(InvalidArgumentError, match="--subject-pattern is required.*`subject` column"):
        finetuning.read_database("expression_images", root / "plain.csv")
    with pytest.raises(InvalidArgumentError, match="class_map"):
        finetuning.read_database("expression_images", root, subject_pattern=r"/(S\d+)_", class_map="ckplus")


def test_load_face_image_scales_deep_images_and_turns_photos_upright(tmp_path):
    from PIL import Image

    ramp = np.tile(np.linspace(0, 1, 32), (32, 1))  # dark left, bright right
    Image.fromarray((ramp * 65535).astype(np.uint16)).save(tmp_path / "deep.png")  # 16-bit grey
    Image.fromarray(ramp.astype(np.float32)).save(tmp_path / "float.tif")  # floats in [0, 1]
    expected = np.repeat(np.rint(ramp * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    for name in ("deep.png", "float.tif"):  # Pillow's convert("RGB") would clip them to white / black
        np.testing.assert_allclose(downstream.load_face_image(tmp_path / name, size=32), expected, atol=1)
    # A phone photo stored sideways: EXIF orientation 6 (shown turned 90 degrees clockwise).
    stored = np.zeros((32, 32, 3), np.uint8)
    stored[:8] = 255  # a white band at the top of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=100)
    shown = downstream.load_face_image(tmp_path / "phone.jpg", size=32)
    assert shown[:, -8:].mean() > 200 and shown[:, :8].mean() < 50  # the band is on the right as shown


def test_audio_clip_dataset_windows_labels_and_determinism(tmp_path):
    root = _write_ravdess(tmp_path / "ravdess")
    records = annotations.read_ravdess(root)
    folds = annotations.kfold_by_subject(records, 2, key=lambda r: r.actor)
    for train, test in folds:
        assert not {r.actor for r in train} & {r.actor for r in test}
    test = folds[0][1]
    evaluation = downstream.audio_clip_dataset(test, num_windows=3, batch_size=4)
    first = [(x["audio"].numpy(), y["expression"].numpy()) for x, y in evaluation]
    second = [x["audio"].numpy() for x, _ in evaluation]
    audio = np.concatenate([a for a, _ in first])
    assert audio.shape == (len(test), 3, 50, 64, 1) and audio.dtype == np.float32
    assert np.concatenate([y for _, y in first]).tolist() == [r.emotion for r in test]
    np.testing.assert_array_equal(audio, np.concatenate(second))  # centred: the same every time
    assert audio[:, -1].min() == -100.0  # 0.8 s clips padded with silence to 1.5 s
    # The first clip against librosa's spectrogram of soundfile's samples, centred by hand.
    import librosa
    import soundfile

    samples, rate = soundfile.read(test[0].path, dtype="float32")
    power = np.abs(librosa.stft(samples, n_fft=512, hop_length=160, win_length=400)) ** 2
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=rate, n_mels=64), ref=1.0, amin=1e-10, top_db=None).T
    start = (len(mel) - 150) // 2  # negative: padding before
    expected = np.full((150, 64), -100.0, np.float32)
    expected[-start : -start + len(mel)] = mel
    np.testing.assert_allclose(audio[0].reshape(150, 64), expected, atol=2e-3)


def test_audio_clip_dataset_names_a_damaged_clip(tmp_path):
    records = annotations.read_ravdess(_write_ravdess(tmp_path / "ravdess", actors=(1,)))
    damaged = pathlib.Path(records[2].path)
    damaged.write_bytes(damaged.read_bytes()[:30])  # a truncated header
    with pytest.raises(MediaError, match=damaged.name):
        downstream.audio_clip_dataset(records)
    with pytest.raises(InvalidArgumentError, match="decoder"):
        downstream.audio_clip_dataset(records, decoder="librosa")


@pytest.mark.slow
def test_audio_clip_dataset_training_crops_are_seeded(tmp_path):
    records = annotations.read_ravdess(_write_ravdess(tmp_path / "ravdess", actors=(1,)))
    train = records

    def epochs(seed):
        ds = downstream.audio_clip_dataset(train, num_windows=1, batch_size=16, training=True, seed=seed)
        return [next(iter(ds))[0]["audio"].numpy() for _ in range(2)]

    run_a, run_b = epochs(3), epochs(3)
    np.testing.assert_array_equal(run_a[0], run_b[0])  # seeded: reproducible
    assert not np.array_equal(run_a[0], run_a[1])  # new crops and masks each epoch
    # Mel shifts: reproducible too; without masks, some clips moved along the mel axis only.
    shifted = [next(iter(downstream.audio_clip_dataset(train, num_windows=1, batch_size=16, training=True, seed=3,
                                                       spec_augment=False, mel_shift=4)))[0]["audio"].numpy()
               for _ in range(2)]
    np.testing.assert_array_equal(shifted[0], shifted[1])
    plain = next(iter(downstream.audio_clip_dataset(train, num_windows=1, batch_size=16, training=True, seed=3,
                                                     spec_augment=False)))[0]["audio"].numpy()
    moved = [not np.array_equal(a, b) for a, b in zip(plain, shifted[0])]
    assert any(moved)
    with pytest.raises(InvalidArgumentError, match="mel_shift"):
        downstream.audio_clip_dataset(train, training=True, mel_shift=-1)
    # Speed changes: reproducible, and they move some clips' windows.
    stretched = [next(iter(downstream.audio_clip_dataset(train, num_windows=1, batch_size=16, training=True, seed=3,
                                                         spec_augment=False, time_stretch=0.2)))[0]["audio"].numpy()
                 for _ in range(2)]
    np.testing.assert_array_equal(stretched[0], stretched[1])
    assert any(not np.array_equal(a, b) for a, b in zip(plain, stretched[0]))
    with pytest.raises(InvalidArgumentError, match="time_stretch"):
        downstream.audio_clip_dataset(train, training=True, time_stretch=1.5)
    normalized = downstream.audio_clip_dataset(train, num_windows=3, batch_size=16, normalize="clip")
    audio = next(iter(normalized))[0]["audio"].numpy()
    assert audio.shape == (len(train), 3, 50, 64, 1) and (audio[:, -1, -30:] == 0).all()  # padded with the mean
    with pytest.raises(InvalidArgumentError, match="normalize"):
        downstream.audio_clip_dataset(train, normalize="global")


def test_normalize_clip_per_band():
    import tensorflow as tf

    spec = tf.constant(np.random.default_rng(0).normal(-50, 20, (120, 64)), tf.float32)
    out = downstream.normalize_clip(spec).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)


def test_write_va_annotations_resamples_to_30_fps(tmp_path):
    times = np.arange(50) / 25.0 + 0.2  # RECOLA: 25 fps, first value at 0.2 s
    values = np.stack([np.linspace(-1, 1, 50), np.linspace(0, 0.5, 50)], axis=1).astype(np.float32)
    mask = np.ones_like(values, bool)
    mask[10, 1] = False
    labels = ContinuousLabels(("valence", "arousal"), times, values, mask, 25.0)
    (path,) = downstream.write_va_annotations({"dev_1": labels}, tmp_path, split="validation")
    assert path == tmp_path / "VA_Estimation_Challenge" / "Validation_Set" / "dev_1.txt"
    read = annotations.read_annotation_file(path)
    rows = np.asarray(read.values)
    assert len(rows) == 6 + 60  # 0.2 s of masked frames, then 2 s at 30 fps
    assert (rows[:6] == -5).all() and rows[6, 0] == pytest.approx(-1.0)
    with pytest.raises(InvalidArgumentError, match="arousal"):
        downstream.write_va_annotations({"x": ContinuousLabels(("valence",), times, values[:, :1], mask[:, :1], 25.0)},
                                        tmp_path)


# ----------------------------------------------------------------------------------------
# The recipe


def _check_run(run_dir, folds):
    run_dir = pathlib.Path(run_dir)
    assert (run_dir / "config.json").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["folds"]) == folds
    for index in range(1, folds + 1):
        fold = run_dir / f"fold_{index}"
        assert (fold / "model.keras").is_file() and (fold / "metrics.json").is_file()
        assert (fold / "checkpoints" / "last.keras").is_file() and (fold / "history.csv").is_file()
    return metrics


@pytest.mark.slow
def test_recipe_expression_images_end_to_end(tmp_path):
    root = _write_image_folder(tmp_path / "db")
    run_dir = tmp_path / "run"
    with no_keras_warnings():
        metrics = load_recipe("finetune").main([
            "--kind", "expression_images", "--data", str(root), "--subject-pattern", r"/(S\d+)_",
            "--model", "none", "--width", str(WIDTH), "--image-size", "32", "--epochs", "1",
            "--batch-size", "4", "--test-fraction", "0.34", "--run-dir", str(run_dir), "--verbose", "0",
        ])
    assert _check_run(run_dir, 1) == json.loads((run_dir / "metrics.json").read_text()) == metrics
    fold = metrics["folds"][0]
    assert len(fold["test_subjects"]) == 1 and fold["test_examples"] == 6 and 0 <= fold["accuracy"] <= 1
    assert set(metrics["summary"]) == {"accuracy", "f1"}


@pytest.mark.filterwarnings("ignore:fold 1.*collapsed")  # noise images: one class is a fair answer
def test_recipe_expression_images_from_the_shipped_ferplus_network(tmp_path):
    root = _write_image_folder(tmp_path / "db")
    metrics = load_recipe("finetune").main([
        "--kind", "expression_images", "--data", str(root), "--subject-pattern", r"/(S\d+)_", "--model", "ferplus",
        "--epochs", "1", "--batch-size", "4", "--test-fraction", "0.34", "--run-dir", str(tmp_path / "run"),
        "--verbose", "0",
    ])
    _check_run(tmp_path / "run", 1)
    import keras

    fold_model = keras.saving.load_model(tmp_path / "run" / "fold_1" / "model.keras", compile=False)
    size = weights.get_preset("ferplus").network["input_size"]
    assert fold_model.input["faces"].shape == (None, size, size, 3)  # the preset's face size
    assert fold_model.get_layer("visual_cnn").get_layer("visual_cnn_normalization").grayscale
    assert metrics["folds"][0]["test_examples"] == 6


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:fold.*collapsed")  # one epoch of a tiny network
def test_recipe_audio_clips_leave_one_subject_out(tmp_path):
    root = _write_ravdess(tmp_path / "ravdess")
    run_dir = tmp_path / "run"
    recipe = load_recipe("finetune")
    argv = [
        "--kind", "audio_clips", "--data", str(root), "--model", "none", "--width", str(WIDTH),
        "--leave-one-subject-out", "--num-windows", "2", "--epochs", "1", "--batch-size", "4",
        "--run-dir", str(run_dir), "--verbose", "0",
    ]
    with no_keras_warnings():
        metrics = recipe.main(argv)
    _check_run(run_dir, 2)
    assert [fold["test_subjects"] for fold in metrics["folds"]] == [[1], [2]]
    assert metrics["classes"][0] == "neutral" and metrics["folds"][0]["chance_accuracy"] == 1 / 8
    # From the trained fold model (a run folder), with a frozen stream; --resume skips nothing new.
    again = recipe.main([
        "--kind", "audio_clips", "--data", str(root), "--model", str(run_dir / "fold_1"), "--freeze-backbone",
        "--folds", "2", "--num-windows", "3", "--epochs", "1", "--run-dir", str(tmp_path / "run2"), "--verbose", "0",
    ])
    assert len(again["folds"]) == 2
    resumed = recipe.main(argv + ["--resume"])
    assert resumed["folds"] == metrics["folds"]


def test_resumed_folds_must_hold_out_the_subjects_they_held_out_before(tmp_path, capsys):
    from affectkeras.finetuning import run_folds
    from affectkeras.runs import RunFolder

    records = [{"subject": subject} for subject in "aabbcc"]

    def split(*held_out):
        return [([r for r in records if r["subject"] != held], [r for r in records if r["subject"] == held])
                for held in held_out]

    def train_fold(index, train, test, fold):
        return {"accuracy": 0.25 * index}

    run = RunFolder(tmp_path / "run")
    shared = dict(subject_of=lambda record: record["subject"], config={})
    first = run_folds(split("a", "b"), run, train_fold, **shared)
    assert run_folds(split("a", "b"), run, None, resume=True, **shared) == first  # nothing trained again
    with pytest.raises(InvalidArgumentError, match=r"fold 1 of this run held out \['a'\].*\['c'\]"):
        run_folds(split("c", "a", "b"), run, train_fold, resume=True, **shared)


def _write_clip_list(root):
    """RAVDESS-like clips listed in a CSV with free class names and speakers, as EMO-DB or CREMA-D are."""
    ravdess = _write_ravdess(root / "clips")
    names = {1: "calm speech", 3: "joy", 5: "ärger"}
    lines = ["path,label,subject"]
    for clip in sorted(ravdess.rglob("*.wav")):
        emotion, actor = int(clip.stem.split("-")[2]), int(clip.stem.split("-")[6])
        lines.append(f"{clip.relative_to(root)},{names[emotion]},speaker{actor}")
    (root / "list.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "list.csv"


def test_read_clip_csv_free_labels_and_bad_rows(tmp_path):
    listing = _write_clip_list(tmp_path)
    records, classes = annotations.read_clip_csv(listing)
    assert classes == ("calm speech", "joy", "ärger") and len(records) == 12
    assert {r.subject for r in records} == {"speaker1", "speaker2"}
    assert all(classes[r.label] == r.label_name for r in records)
    text = listing.read_text(encoding="utf-8").splitlines()
    for name, lines, message in [
        ("no_subject.csv", ["path,label"] + [",".join(l.split(",")[:2]) for l in text[1:]], r"no_subject\.csv:1: no column 'subject'"),
        ("missing.csv", text[:3] + ["clips/nowhere.wav,joy,speaker1"], r"missing\.csv:4: .*nowhere\.wav.*not found"),
        ("empty_label.csv", text[:2] + [text[2].rsplit(",", 2)[0] + ",,speaker1"], r"empty_label\.csv:3: empty label"),
    ]:
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(DataFormatError, match=message):
            annotations.read_clip_csv(tmp_path / name)
    with pytest.raises(DataFormatError, match="'joy' is not one of the classes"):
        annotations.read_clip_csv(listing, classes=("calm speech", "ärger"))
    shouted = tmp_path / "shouted.csv"  # one class however it is written
    shouted.write_text("\n".join(text[:2] + [line.replace(",joy,", ",JOY ,") for line in text[2:]]) + "\n")
    records, classes = annotations.read_clip_csv(shouted)
    assert [name.casefold() for name in classes] == ["calm speech", "joy", "ärger"]
    assert {r.label_name for r in records} == set(classes) and len(records) == 12


def test_collapse_to_one_class_is_detected_and_warned(tmp_path, capsys):
    import keras

    from affectkeras import finetuning
    from affectkeras.evaluation import score_classes
    from affectkeras.runs import RunFolder

    faces = keras.Input((4,), name="faces")
    bias = keras.initializers.Constant([0.0, 0.0, 5.0])  # always class 2, whatever the input
    always = keras.Model({"faces": faces}, {"expression": keras.layers.Dense(
        3, activation="softmax", kernel_initializer="zeros", bias_initializer=bias, name="expression")(faces)})
    data = [({"faces": np.random.default_rng(0).normal(size=(6, 4)).astype("float32")},
             {"expression": np.array([0, 1, 2, 0, 1, 2])})]
    scores = score_classes(always, data, num_classes=3, batch_size=6)
    assert scores["collapsed"] == 2 and scores["accuracy"] == pytest.approx(1 / 3)
    run = RunFolder(tmp_path / "run")
    with pytest.warns(UserWarning, match="'sad'.*collapsed to one class"):
        results = finetuning.run_folds([([1, 2], [3])], run, lambda *args: {"accuracy": 0.3, **scores},
                                       subject_of=lambda r: r, config={}, classes=("happy", "neutral", "sad"))
    assert "collapsed to one class" in results[0]["warning"] and "WARNING" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "fold_1" / "metrics.json").read_text())["warning"] == results[0]["warning"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:fold.*collapsed")  # one epoch of a tiny network
def test_recipe_audio_clips_from_a_csv_corpus(tmp_path):
    listing = _write_clip_list(tmp_path)
    metrics = load_recipe("finetune").main([
        "--kind", "audio_clips", "--data", str(listing), "--model", "none", "--width", str(WIDTH),
        "--leave-one-subject-out", "--num-windows", "2", "--epochs", "1", "--batch-size", "4",
        "--precision", "mixed_bfloat16", "--run-dir", str(tmp_path / "run"), "--verbose", "0",
    ])
    _check_run(tmp_path / "run", 2)
    assert metrics["classes"] == ["calm speech", "joy", "ärger"]
    assert [fold["test_subjects"] for fold in metrics["folds"]] == [["speaker1"], ["speaker2"]]
    assert metrics["folds"][0]["chance_accuracy"] == pytest.approx(1 / 3)


@pytest.mark.filterwarnings("ignore:fold.*collapsed")  # one epoch
def test_recipe_audio_clips_from_the_shipped_ravdess_audio_network(tmp_path):
    listing = _write_clip_list(tmp_path)
    metrics = load_recipe("finetune").main([
        "--kind", "audio_clips", "--data", str(listing), "--model", "ravdess_audio", "--folds", "2",
        "--num-windows", "2", "--epochs", "1", "--batch-size", "4", "--run-dir", str(tmp_path / "run"),
        "--verbose", "0",
    ])
    _check_run(tmp_path / "run", 2)
    import keras

    fold_model = keras.saving.load_model(tmp_path / "run" / "fold_1" / "model.keras", compile=False)
    assert fold_model.output["expression"].shape == (None, 3)  # a new head for the corpus' classes
    shipped = models.audio_stream(weights.load_preset_model("ravdess_audio"))
    first = models.audio_stream(fold_model).get_layer(index=1)  # the first conv, trained one epoch from the preset
    assert first.kernel.shape == shipped.get_layer(index=1).kernel.shape
    assert metrics["classes"] == ["calm speech", "joy", "ärger"]


def test_recipe_bad_input_names_the_problem(tmp_path):
    recipe = load_recipe("finetune")
    base = ["--model", "none", "--width", str(WIDTH), "--epochs", "1", "--verbose", "0"]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        recipe.main(["--kind", "audio_clips", "--data", str(tmp_path / "nowhere"),
                     "--run-dir", str(tmp_path / "r1")] + base)
    root = _write_image_folder(tmp_path / "db", classes=("happy",), subjects=("S01",), per=1)
    with pytest.raises(DataFormatError, match=r"S01_happy_0\.png.*does not match --subject-pattern"):
        recipe.main(["--kind", "expression_images", "--data", str(root), "--subject-pattern", r"/(P\d+)_",
                     "--run-dir", str(tmp_path / "r2")] + base)
    (root / "contempt").mkdir()
    with pytest.raises(DataFormatError, match="contempt.*unknown expression class"):
        recipe.main(["--kind", "expression_images", "--data", str(root), "--subject-pattern", r"/(S\d+)_",
                     "--run-dir", str(tmp_path / "r3")] + base)
    with pytest.raises(InvalidArgumentError, match="subject_pattern"):
        recipe.main(["--kind", "expression_images", "--data", str(root), "--run-dir", str(tmp_path / "r4")] + base)
    with pytest.raises(SystemExit):  # an option error: argparse's one line (see the next test)
        recipe.main(["--kind", "expression_images", "--data", str(root), "--subject-pattern", r"(S\d+",
                     "--run-dir", str(tmp_path / "r6")] + base)
    assert not (tmp_path / "r1").exists()  # no run folder for a run that could not start
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no audio file"):
        recipe.main(["--kind", "audio_clips", "--data", str(empty), "--run-dir", str(tmp_path / "r5")] + base)


def test_recipe_option_errors_name_the_options(tmp_path, capsys):
    # Library checks name their own parameters (`k`, unknown='drop'); the recipe's errors
    # name the option typed, in one line, and exit 2 before anything is read or written.
    recipe = load_recipe("finetune")
    clips = _write_ravdess(tmp_path / "ravdess", emotions=(1,))
    images = _write_image_folder(tmp_path / "db", classes=("happy",), subjects=("S01", "S02"), per=1)
    audio = ["--kind", "audio_clips", "--data", str(clips)]
    for argv, message in [
        (audio + ["--folds", "1"], "--folds must be 0 (one split, --test-fraction) or a number of folds >= 2"),
        (audio + ["--folds", "3"], "--folds must be at most the number of subjects, 2 in --data"),
        (audio + ["--epochs", "0"], "--epochs must be an integer >= 1. Received: --epochs 0"),
        (audio + ["--batch-size", "0"], "--batch-size must be an integer >= 1"),
        (audio + ["--learning-rate", "-1"], "--learning-rate must be a number > 0, or 0 for the kind's default"),
        (audio + ["--test-fraction", "1"], "--test-fraction must be a fraction of the subjects in (0, 1)"),
        (audio + ["--class-map", "affectnet"], "--class-map applies to --kind expression_images only"),
        (audio + ["--unknown-classes", "drop"], "--unknown-classes applies to --kind expression_images only"),
        (audio + ["--value-range=1,9"], "--value-range applies to --kind continuous_va only"),
        (["--kind", "continuous_va", "--data", str(tmp_path), "--value-range=9,1"],
         "--value-range must be two numbers LOW,HIGH with LOW < HIGH"),
        (["--kind", "expression_images", "--data", str(images), "--subject-pattern", r"S\d+"],
         "--subject-pattern needs a group around the subject id"),
        (["--kind", "expression_images", "--data", str(images), "--subject-pattern", r"/(S)\d+_"],
         "--data " + str(images) + " holds one subject (S) (check --subject-pattern)"),
    ]:
        run_dir = tmp_path / "run"
        with pytest.raises(SystemExit) as exited:
            recipe.main(argv + ["--model", "none", "--run-dir", str(run_dir), "--verbose", "0"])
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert exited.value.code == 2 and error.startswith("finetune.py: error: "), (argv, error)
        assert message in error and "k=" not in error and "Received: k" not in error, (argv, error)
        assert not run_dir.exists()
    (images / "contempt").mkdir()  # a data error: the advice names the recipe's options too
    with pytest.raises(DataFormatError, match="contempt") as error:
        recipe.main(["--kind", "expression_images", "--data", str(images), "--subject-pattern", r"/(S\d+)_",
                     "--run-dir", str(tmp_path / "run")])
    assert "--unknown-classes drop" in str(error.value) and "unknown=" not in str(error.value)


def test_recipe_damaged_audio_clip_or_missing_video_fails_before_the_run_folder(tmp_path):
    recipe = load_recipe("finetune")
    clips = _write_ravdess(tmp_path / "ravdess", emotions=(1, 3))
    damaged = clips / "Actor_02" / "03-01-03-01-01-01-02.wav"
    damaged.write_bytes(b"this is text, not audio\n" * 40)
    run_dir = tmp_path / "run"
    with pytest.raises(MediaError, match=damaged.name):
        recipe.main(["--kind", "audio_clips", "--data", str(clips), "--model", "none", "--width", str(WIDTH),
                     "--epochs", "1", "--run-dir", str(run_dir), "--verbose", "0"])
    assert not run_dir.exists()  # fixed data reruns without --overwrite
    data = tmp_path / "recola"  # labels, but neither videos nor face crops
    (data / "labels").mkdir(parents=True)
    for name in ("p1", "p2"):
        (data / "labels" / f"{name}.csv").write_text("time,valence,arousal\n0.0,0.1,0.2\n0.04,0.1,0.2\n")
    argv = ["--kind", "continuous_va", "--data", str(data), "--model", "none", "--width", str(WIDTH),
            "--seq-len", "4", "--epochs", "1", "--run-dir", str(run_dir), "--verbose", "0"]
    with pytest.raises(FileNotFoundError, match=r"no video file for p1, p2 .*face detection"):
        recipe.main(argv)
    assert not run_dir.exists()
    (data / "p1.mp4").write_bytes(b"not a video" * 100)  # present, but damaged
    (data / "p2.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(MediaError, match=r"p1\.mp4"):
        recipe.main(argv)
    assert not run_dir.exists()


def test_recipe_damaged_image_fails_before_training(tmp_path):
    recipe = load_recipe("finetune")
    root = _write_image_folder(tmp_path / "db", classes=("happy", "sad"), subjects=("S01", "S02"), per=1)
    damaged = root / "sad" / "S02_sad_0.png"
    damaged.write_bytes(damaged.read_bytes()[:60])  # a truncated PNG: its header still reads
    run_dir = tmp_path / "run"
    base = ["--kind", "expression_images", "--subject-pattern", r"/(S\d+)_", "--model", "none", "--width",
            str(WIDTH), "--image-size", "32", "--epochs", "1", "--run-dir", str(run_dir), "--verbose", "0"]
    with pytest.raises(DataFormatError, match=r"S02_sad_0\.png: cannot read the image"):
        recipe.main(base + ["--data", str(root)])
    assert not run_dir.exists()
    rows = ["path,label"] + [f"{p.parent.name}/{p.name},{p.parent.name}" for p in sorted(root.rglob("*.png"))]
    (root / "list.csv").write_text("\n".join(rows) + "\n")
    line = 1 + next(i for i, row in enumerate(rows) if row.startswith("sad/S02_sad_0.png"))
    with pytest.raises(DataFormatError, match=rf"list\.csv:{line}: image 'sad/S02_sad_0\.png': cannot read"):
        recipe.main(base + ["--data", str(root / "list.csv")])
    assert not run_dir.exists()


def test_verify_image_finds_damaged_pngs_and_jpegs(tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    for name in ("face.png", "face.jpg", "grey.jpg"):
        Image.fromarray(pixels if name != "grey.jpg" else pixels[:, :, 0]).save(tmp_path / name)
        assert annotations.images.verify_image(tmp_path / name) == tmp_path / name
        whole = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(whole[: len(whole) * 2 // 3])  # header intact, data cut
        with pytest.raises(DataFormatError, match=f"cut_{name}: cannot read the image"):
            annotations.images.verify_image(tmp_path / f"cut_{name}")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataFormatError, match="text.png: cannot read the image"):
        annotations.images.verify_image(tmp_path / "text.png")


def test_audio_clip_dataset_takes_clips_decoded_once(tmp_path):
    records = annotations.read_ravdess(_write_ravdess(tmp_path / "ravdess", actors=(1,), emotions=(1,)))
    decoded = downstream.decode_clips(records)
    assert list(decoded) == [r.path for r in records] and decoded[records[0].path].shape[1] == 64
    direct = next(iter(downstream.audio_clip_dataset(records, num_windows=2)))[0]["audio"].numpy()
    for record in records:  # the dataset must not decode them again
        pathlib.Path(record.path).write_bytes(b"gone")
    again = next(iter(downstream.audio_clip_dataset(records, num_windows=2, spectrograms=decoded)))[0]["audio"]
    np.testing.assert_array_equal(again.numpy(), direct)
    with pytest.raises(InvalidArgumentError, match="n_mels=64"):
        downstream.audio_clip_dataset(records, spectrograms={r.path: np.zeros((9, 40), np.float32) for r in records})


@pytest.mark.slow
def test_recipe_continuous_va_end_to_end(tmp_path):
    from affectkeras.testing import write_dataset

    root = tmp_path / "recola"
    synthetic = write_dataset(root, num_videos=3, frames=45, size=32, validation_videos=0, workers=1)
    labels = root / "labels"  # RECOLA-style CSVs at 25 fps from the synthetic 30-fps VA files
    labels.mkdir()
    for name, table in annotations.read_annotation_set(synthetic.annotations_root, "VA", "train").items():
        values = np.where(table.mask[:, None], np.asarray(table.values, float), np.nan)  # no label: empty cells
        t30, t25 = np.arange(len(values)) / 30.0, np.arange(len(values) * 25 // 30) / 25.0
        cell = lambda v: "" if np.isnan(v) else f"{v:.4f}"  # noqa: E731
        rows = [f"{t:.2f},{cell(np.interp(t, t30, values[:, 0]))},{cell(np.interp(t, t30, values[:, 1]))}\n"
                for t in t25]
        (labels / f"{name}.csv").write_text("time,valence,arousal\n" + "".join(rows))
    import shutil

    shutil.rmtree(synthetic.annotations_root)  # only the CSVs label the videos
    run_dir = tmp_path / "run"
    with no_keras_warnings():
        metrics = load_recipe("finetune").main([
            "--kind", "continuous_va", "--data", str(root), "--model", "none", "--width", str(WIDTH),
            "--seq-len", "8", "--batch-size", "2", "--test-fraction", "0.5", "--epochs", "1",
            "--run-dir", str(run_dir), "--verbose", "0",
        ])
    _check_run(run_dir, 1)
    assert set(metrics["summary"]) == {"ccc_valence", "ccc_arousal", "ccc"}
    assert (run_dir / "annotations" / "VA_Estimation_Challenge" / "Train_Set").is_dir()
    assert any((run_dir / "records").glob("*.tfrecord"))


def test_read_database_maps_continuous_labels_of_another_scale(tmp_path):
    labels = tmp_path / "semaine" / "labels"
    labels.mkdir(parents=True)
    for name in ("s1_a", "s2_a"):  # rated on [0, 100]: 50 is neutral
        (labels / f"{name}.csv").write_text("time,valence,arousal\n0.00,50,100\n0.04,25,0\n")
    from affectkeras import finetuning

    database = finetuning.read_database("continuous_va", tmp_path / "semaine", value_range=(0, 100))
    values = database.records[0]["labels"].values
    assert values.min() >= -1 and values.max() <= 1
    np.testing.assert_allclose(values[0], [0.0, 1.0])  # the first frame, as rated
    with pytest.raises(DataFormatError, match=r"s1_a.csv:2: valence = 50 is not valid; expected a number in \[-1, 1\]"):
        finetuning.read_database("continuous_va", tmp_path / "semaine")  # the default scale
