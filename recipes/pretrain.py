"""Pretrain the expression network on FER+: the `ferplus` model that ships with affectkeras.

    python recipes/pretrain.py --data ../shared/data/ferplus --run-dir runs/ferplus \\
        --width 0.5 --image-size 64 --epochs 60 --precision mixed_bfloat16 --seed 0

The network (`affectkeras.pretraining.build_expression_network`) is MT-VGG's visual
stream (VGG-Face conv blocks + fc6 at `--width`) with dropout and an 8-class expression
head, on grey faces (the model turns colour crops grey itself). It trains on FER+ Train
with flips, small rotations / zooms / shifts and brightness / contrast changes (and, with
`--erase`, random erasing), against the 10 annotators' vote distributions (cross-entropy,
the FER+ paper's best protocol), AdamW with a warm-up and a cosine decay. The epoch with the best Valid accuracy is kept, then
the centre crop of the test-time views (`affectkeras.models.average_views`: each face,
mirrored, a centre crop, mirrored, the predictions averaged) that scores best on Valid
(Valid is the only split used for selection); Test is scored once, at the end, with one
view and with the four, under the majority-vote protocol (FER+'s contempt counts as Other).

The run folder gets `config.json`, `checkpoints/` (`best.keras`), TensorBoard `logs/`,
`history.csv`, `model.keras` (the selected epoch, one view) and `metrics.json` (Valid and
Test accuracy, macro F1 and confusion matrices, with one view and over the four views, the
crop chosen and Valid by crop; images/s). `--export FILE.weights.h5` also
writes the selected weights, as the package's `ferplus` preset holds them, stored in
`--export-dtype` (float16 by default: half the size; int8: a quarter; the network is then scored with the
rounded weights, so the figures are the shipped file's). `--resume` continues an
interrupted run from its last epoch.
"""

import dataclasses
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.pretraining import FERPLUS_WEIGHT_DECAY  # noqa: E402
from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402
from affectkeras.training import PRECISIONS  # noqa: E402
from affectkeras.weights.saving import STORAGE_DTYPES  # noqa: E402


@dataclasses.dataclass
class PretrainConfig:
    data: str = config_field("", "FER+ folder (FER2013Train/, FER2013Valid/, FER2013Test/ with label.csv)")
    run_dir: str = config_field("runs/ferplus", "run folder (config, checkpoints, logs, model, metrics)")
    width: float = config_field(0.5, "width of VGG-Face (1.0 = the papers' full size)")
    image_size: int = config_field(64, "face side in pixels (FER+ images are 48x48, resized)")
    dropout: float = config_field(0.5, "dropout on fc6 before the expression head")
    epochs: int = config_field(30, "training epochs")
    batch_size: int = config_field(64, "images per batch")
    learning_rate: float = config_field(1e-3, "peak AdamW learning rate (after a 5 % warm-up, cosine decay to 0)")
    weight_decay: float = config_field(FERPLUS_WEIGHT_DECAY, "AdamW weight decay (Keras applies weight_decay x "
                                                              "learning rate per step)")
    precision: str = config_field("mixed_bfloat16", "Keras dtype policy", choices=PRECISIONS)
    erase: float = config_field(0.0, "share of the training faces with a random patch replaced by noise "
                                     "(random erasing; 0 = off)")
    limit: int = config_field(0, "use only the first N images of each split (quick runs); 0 = all")
    export: str = config_field("", "also write the selected weights to this .weights.h5 file")
    export_dtype: str = config_field("float16", "dtype of the exported file's weights (float16: half the size, "
                                                "int8: a quarter; the run is then scored with the rounded weights)",
                                     choices=STORAGE_DTYPES)
    seed: int = config_field(0, "random seed (initialisation, shuffles, augmentation)")
    verbose: int = config_field(2, "Keras fit verbosity (0, 1 = progress bar, 2 = a line per epoch)")
    resume: bool = config_field(False, "continue the run in --run-dir from its last epoch")
    overwrite: bool = config_field(False, "replace a run already in --run-dir")


def main(argv=None):
    config = parse_config(PretrainConfig, argv, description=__doc__, prog="pretrain.py")

    from affectkeras import evaluation, pretraining, training
    from affectkeras.errors import InvalidArgumentError
    from affectkeras.models import average_views
    from affectkeras.runs import RunFolder, load_trained_model, set_seed
    from affectkeras.weights import read_weights, save_weights

    if not config.data:
        raise InvalidArgumentError("--data is required: the FER+ folder. Received: data=''")
    data = pretraining.ferplus_datasets(config.data, size=config.image_size, batch_size=config.batch_size,
                                        seed=config.seed, limit=config.limit or None, erase=config.erase)
    run = RunFolder(config.run_dir, resume=config.resume, overwrite=config.overwrite)
    run.save_config(config)
    set_seed(config.seed)
    training.set_precision(config.precision)
    model = pretraining.build_expression_network(width=config.width, input_size=config.image_size,
                                                 dropout=config.dropout)
    pretraining.compile_soft_labels(model, learning_rate=config.learning_rate, weight_decay=config.weight_decay,
                                    total_steps=config.epochs * data.steps_per_epoch)
    print(f"FER+ images: {data.sizes}; {model.count_params():,} parameters; {config.precision}", flush=True)

    started = time.perf_counter()
    history = model.fit(data.train, validation_data=data.validation_soft, epochs=config.epochs, shuffle=False,
                        callbacks=run.callbacks(monitor="val_accuracy", mode="max"), verbose=config.verbose)
    seconds = time.perf_counter() - started
    epochs_run = len(history.history.get("loss", []))  # 0: a finished run resumed to score or export again

    # The selected epoch, scored in float32 as the shipped model runs, with the weights as exported.
    training.set_precision("float32")
    best = load_trained_model(run.checkpoints_dir / "best.keras")
    selected = pretraining.build_expression_network(width=config.width, input_size=config.image_size,
                                                    dropout=config.dropout)
    selected.set_weights(best.get_weights())
    stored = config.export_dtype if config.export else "float32"
    if config.export:  # scored as read back from the exported file
        read_weights(selected, save_weights(selected, config.export, dtype=config.export_dtype))
    scores = {split: evaluation.score_classes(selected, dataset, num_classes=8, batch_size=config.batch_size)
              for split, dataset in (("validation", data.validation), ("test", data.test))}
    crop, by_crop = pretraining.choose_test_time_crop(selected, data.validation, batch_size=config.batch_size)
    views = {"validation": by_crop[crop], "test": evaluation.score_classes(
        average_views(selected, crop=crop), data.test, num_classes=8, batch_size=config.batch_size)}
    run.save_model(selected)
    metrics = {
        "protocol": "FER+ majority vote (ties to the first column of label.csv; unknown / not-a-face dropped; "
                    "contempt -> Other); selection on Valid, Test scored once",
        "images": data.sizes,
        "parameters": selected.count_params(),
        "weights_stored_as": stored,
        "train_images_per_second": round(data.sizes["train"] * epochs_run / seconds, 1) if epochs_run else None,
        **scores,
        "test_time_views": {"crop": crop, "validation_accuracy_by_crop": {c: s["accuracy"] for c, s in by_crop.items()},
                            **views},
    }
    run.write_metrics(metrics)
    print(f"Valid accuracy {scores['validation']['accuracy']:.4f}, Test accuracy {scores['test']['accuracy']:.4f} "
          f"(macro F1 {scores['test']['f1']:.4f}); {metrics['train_images_per_second']} training images/s")
    print(f"over 4 views (centre crop {crop}, chosen on Valid): Valid {views['validation']['accuracy']:.4f}, "
          f"Test {views['test']['accuracy']:.4f} (macro F1 {views['test']['f1']:.4f})")
    print(f"run folder: {run.path} (model.keras, metrics.json, checkpoints/best.keras, logs/)")
    return metrics


if __name__ == "__main__":
    sys.exit(run_recipe(main))
