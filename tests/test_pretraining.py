"""FER+ pretraining: the network, its data, soft-label training, the recipe, and the shipped model."""

import json

import keras
import numpy as np
import pytest

from affectkeras import pretraining, training
from affectkeras.errors import InvalidArgumentError
from affectkeras.models import describe
from tests.conftest import load_recipe


def test_expression_network_takes_colour_crops_and_sees_them_grey():
    model = pretraining.build_expression_network(width=0.05, input_size=32)
    described = describe(model)
    assert (described.network, described.face_size, described.tasks, described.outputs) == (
        "mt_vgg", 32, ("expr",), {"expression": 8})
    stream = model.get_layer("visual_cnn")
    assert stream.get_layer("visual_cnn_normalization").grayscale  # colour crops become grey inside
    assert model.get_layer("head_dropout").rate == 0.5
    gray = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 1)).astype("uint8")
    as_rgb = np.repeat(gray, 3, axis=-1)
    red = as_rgb.copy()
    red[..., 0] = 255
    assert not np.allclose(model.predict_on_batch({"faces": red})["expression"],
                           model.predict_on_batch({"faces": as_rgb})["expression"])


def test_set_precision_checks_its_argument():
    training.set_precision("mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    with pytest.raises(InvalidArgumentError, match="precision"):
        training.set_precision("float16")


def test_a_short_run_on_ferplus_learns_above_chance(shared_data):
    keras.utils.set_random_seed(0)
    data = pretraining.ferplus_datasets(shared_data / "ferplus", size=32, batch_size=32, seed=0, limit=6000)
    inputs, targets = next(iter(data.train))
    assert inputs["faces"].shape == (32, 32, 32, 3) and targets["expression"].shape == (32, 8)
    np.testing.assert_allclose(targets["expression"].numpy().sum(axis=1), 1.0, atol=1e-6)
    # A plain VGG from scratch sits on the majority class for its first ~700 steps: 1,500 here.
    model = pretraining.build_expression_network(width=0.25, input_size=32)
    pretraining.compile_soft_labels(model, learning_rate=1e-3, total_steps=8 * data.steps_per_epoch)
    model.fit(data.train, epochs=8, verbose=0, shuffle=False)
    from affectkeras.evaluation import score_classes

    held_out = score_classes(model, data.validation, num_classes=8, batch_size=64)
    assert held_out["test_examples"] == data.sizes["validation"]
    # Above chance (1/8) and above always answering the most frequent class (0.37; this run: 0.45).
    assert held_out["accuracy"] > held_out["majority_accuracy"] + 0.03 > 0.125


def test_pretrain_recipe_end_to_end(shared_data, tmp_path):
    run_dir, export = tmp_path / "run", tmp_path / "ferplus.weights.h5"
    metrics = load_recipe("pretrain").main([
        "--data", str(shared_data / "ferplus"), "--run-dir", str(run_dir), "--width", "0.05", "--image-size", "32",
        "--epochs", "1", "--limit", "256", "--batch-size", "64", "--export", str(export), "--verbose", "0",
    ])
    for name in ("config.json", "model.keras", "metrics.json", "history.csv", "checkpoints/best.keras"):
        assert (run_dir / name).is_file(), name
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["images"] == {"train": 256, "validation": 256, "test": 256}
    for split in ("validation", "test"):
        assert 0.0 <= saved[split]["accuracy"] <= 1.0 and saved[split]["test_examples"] == 256
        assert np.array(saved[split]["confusion_matrix"]).shape == (8, 8)
    assert metrics["train_images_per_second"] > 0
    views = saved["test_time_views"]  # the crop is chosen on Valid: the best of those tried there
    by_crop = {float(crop): accuracy for crop, accuracy in views["validation_accuracy_by_crop"].items()}
    assert set(by_crop) == set(pretraining.FERPLUS_TEST_TIME_CROPS) and by_crop[views["crop"]] == max(by_crop.values())
    assert views["validation"]["accuracy"] == by_crop[views["crop"]] and views["test"]["test_examples"] == 256
    assert saved["weights_stored_as"] == "float16"  # the default: half the size, scored as stored
    network = pretraining.build_expression_network(width=0.05, input_size=32)
    network.load_weights(export)  # the exported file is what a preset ships
    faces = np.zeros((1, 32, 32, 3), "uint8")
    reloaded = keras.saving.load_model(run_dir / "model.keras")
    np.testing.assert_allclose(network.predict_on_batch({"faces": faces})["expression"],
                               reloaded.predict_on_batch({"faces": faces})["expression"], atol=1e-6)


def test_mixup_blends_each_example_with_one_partner_by_the_same_weight_in_inputs_and_targets():
    import tensorflow as tf

    classes = 6
    rng = np.random.default_rng(0)
    faces = rng.normal(size=(classes, 4, 3)).astype("float32")
    targets = np.eye(classes, dtype="float32")  # example i is class i: its mixed target names its partner
    dataset = tf.data.Dataset.from_tensors(({"faces": faces}, {"expression": targets})).repeat(2)
    batches = [(inputs["faces"].numpy(), out["expression"].numpy()) for inputs, out in pretraining.mixup(dataset, 0.4)]
    for mixed, soft in batches:
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
        for i in range(classes):
            weight = soft[i, i]
            partner = int(np.argmax(np.where(np.arange(classes) == i, -1, soft[i]))) if weight < 1 else i
            np.testing.assert_allclose(mixed[i], weight * faces[i] + (1 - weight) * faces[partner], atol=1e-5)
    assert not np.allclose(batches[0][1], batches[1][1])  # each batch draws its own weights
    again = [out["expression"].numpy() for _, out in pretraining.mixup(dataset, 0.4)]
    np.testing.assert_allclose(again[0], batches[0][1])  # seeded
    with pytest.raises(InvalidArgumentError, match="alpha"):
        pretraining.mixup(dataset, 0.0)
