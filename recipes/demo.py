"""Demo: the whole chain on a bundled default, on the CPU, in a few minutes.

    python recipes/demo.py --out runs/demo

1. writes a small synthetic Aff-Wild2 (videos with a drawn face and a voice, face crops,
   VA / EXPR / AU annotation files in the ABAW layout) whose labels follow the faces and
   the sound;
2. preprocesses its training and validation splits into TFRecords (faces + log-mel audio);
3. trains a small A/V-MT-VGG-RNN (VGG-Face and audio CNN streams at a reduced width,
   fused per frame, GRU) with the papers' multi-task losses;
4. evaluates it on the held-out videos with the ABAW metrics, beside a constant predictor;
5. exports a SavedModel;
6. predicts a real face video (`assets/astronaut.mp4`) from the SavedModel: a CSV with
   one row per frame, the valence/arousal plots and the expression plot;
7. predicts the same video with the expression model that ships with affectkeras (trained
   on FER+'s real faces, `affectkeras.weights` preset `ferplus`): the expression
   probabilities of every frame and their plot.

Everything goes under `--out`. Running the demo again replaces an earlier demo there
(`--no-overwrite` refuses instead); `--resume` continues an interrupted one.
"""

import dataclasses
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402
from affectkeras.training import PRECISIONS  # noqa: E402

ASSETS = pathlib.Path(__file__).resolve().parents[1] / "assets"


@dataclasses.dataclass
class DemoConfig:
    out: str = config_field("runs/demo", "folder of everything the demo writes")
    videos: int = config_field(10, "synthetic videos (2 of them held out for validation)")
    frames: int = config_field(150, "frames per synthetic video (30 fps)")
    face_size: int = config_field(64, "face crop side given to the network")
    width: float = config_field(0.15, "width of the CNN streams relative to the papers'")
    rnn_units: int = config_field(32, "GRU units")
    seq_len: int = config_field(30, "frames per training sequence")
    batch_size: int = config_field(4, "sequences per batch (the papers': 4)")
    epochs: int = config_field(10, "training epochs")
    learning_rate: float = config_field(2e-3, "Adam learning rate")
    video: str = config_field(str(ASSETS / "astronaut.mp4"), "video to predict at the end")
    precision: str = config_field("float32", "Keras dtype policy of the training (mixed_bfloat16: CPUs with AMX)",
                                  choices=PRECISIONS)
    seed: int = config_field(0, "random seed")
    resume: bool = config_field(False, "continue an interrupted demo in --out")
    overwrite: bool = config_field(True, "replace an earlier demo in --out (--no-overwrite: refuse)")


def main(argv=None):
    config = parse_config(DemoConfig, argv, description=__doc__, prog="demo.py")

    import numpy as np

    from affectkeras import build_av_mt_vgg_rnn, evaluation, export, inference, training
    from affectkeras.data import make_sequence_dataset, run_preprocess
    from affectkeras.metrics import ccc
    from affectkeras.runs import RunFolder, set_seed
    from affectkeras.testing import SyntheticDataset, write_dataset

    out = pathlib.Path(config.out)
    run = RunFolder(out / "run", resume=config.resume, overwrite=config.overwrite)
    run.save_config(config)
    set_seed(config.seed)
    training.set_precision(config.precision)

    print(f"1/7 synthetic Aff-Wild2 ({config.videos} videos) -> {out / 'data'}", flush=True)
    data = out / "data"
    if config.resume and (data / "synthetic.json").is_file():
        dataset = SyntheticDataset.load(data)
    else:
        dataset = write_dataset(data, num_videos=config.videos, frames=config.frames, seed=config.seed,
                                overwrite=True)

    print("2/7 preprocessing into TFRecords (faces + audio)", flush=True)
    records = {split: out / "records" / split for split in ("train", "validation")}
    for split, folder in records.items():
        run_preprocess(dataset.root, folder, split=split, size=config.face_size, progress=None,
                       overwrite=not config.resume)

    print(f"3/7 training a small A/V-MT-VGG-RNN for {config.epochs} epochs", flush=True)
    shared = dict(seq_len=config.seq_len, modalities=("faces", "audio"), face_size=config.face_size)
    train = make_sequence_dataset(records["train"], batch_size=config.batch_size, stride=config.seq_len // 2,
                                  seed=config.seed, deterministic=True, count=True, **shared)
    validation = make_sequence_dataset(records["validation"], batch_size=config.batch_size, shuffle=False,
                                       pad_remainder=True, count=True, **shared)
    model = build_av_mt_vgg_rnn(width=config.width, rnn_units=config.rnn_units, rnn_layers=1,
                                sequence_length=config.seq_len, input_size=config.face_size)
    training.compile_preset(model, optimizer=training.default_optimizer(learning_rate=config.learning_rate))
    model.fit(train, validation_data=validation, epochs=config.epochs, verbose=2, shuffle=False,  # shuffled by the dataset
              callbacks=run.callbacks(monitor="val_valence_arousal_ccc", mode="max"))
    run.save_model(model)

    print("4/7 evaluating on the held-out videos", flush=True)
    result = evaluation.evaluate(model, records["validation"], batch_size=config.batch_size)
    report = evaluation.write_report(result, run.path / "evaluation")
    va = result.scores["va"]
    # A constant predictor (any constant, e.g. the training mean) has CCC 0 by definition.
    targets = np.concatenate([video.targets["valence_arousal"] for video in result.videos.values()])
    targets = targets[(targets != -5).all(axis=1)]
    constant = ccc(targets[:, 0], np.full(len(targets), targets[:, 0].mean()))
    run.write_metrics({**result.to_dict(), "constant_predictor_ccc": float(constant)})
    print(f"    held-out CCC valence {va['valence']:.3f}, arousal {va['arousal']:.3f} "
          f"(mean {va['score']:.3f}); a constant predictor scores {constant:.3f}", flush=True)
    print(f"    {result.summary()}", flush=True)
    verdict = "clearly above" if va["score"] > 0.3 else "NOT clearly above"
    print(f"    the network is {verdict} the constant predictor", flush=True)

    print("5/7 exporting a SavedModel", flush=True)
    exported = out / "export"
    export.export_model(model, exported, overwrite=True)

    print(f"6/7 predicting {config.video} with the SavedModel", flush=True)
    files = inference.predict_and_write(config.video, exported / "saved_model", out / "predictions", progress=True)

    print(f"7/7 predicting {config.video} with the expression model shipped with affectkeras "
          f"({inference.DEFAULT_MODEL!r}, trained on FER+)", flush=True)
    shipped = inference.predict_and_write(config.video, inference.DEFAULT_MODEL, out / "expressions", progress=True)

    print("\noutputs:")
    for what, path in [
        ("synthetic dataset", data), ("records", out / "records"), ("run folder", run.path),
        ("trained model", run.model_path), ("TensorBoard logs", run.logs_dir),
        ("evaluation report", report["report"]),
        ("metrics", run.metrics_path), ("SavedModel", exported / "saved_model"),
        ("predictions", files.csv), ("valence/arousal plot", files.va_plot),
        ("circumplex plot", files.circumplex_plot), ("expression plot", files.expression_plot),
        ("shipped model: CSV", shipped.csv), ("shipped model: plot", shipped.expression_plot),
    ]:
        print(f"  {what:22s} {path}")
    return {"va": va, "constant_predictor_ccc": float(constant), "files": files, "shipped": shipped}


if __name__ == "__main__":
    sys.exit(run_recipe(main))
