"""The `affectkeras` command.

Subcommands are thin wrappers over the library; each registers itself in `build_parser`.
Errors the user can fix (a wrong argument, a missing or malformed file) print one line and
exit with code 2 instead of a traceback.
"""

import argparse
import collections
import os
import pathlib
import sys

from affectkeras._version import __version__
from affectkeras.constants import INFERENCE_PRECISIONS, TASK_FILES  # light: no TensorFlow
from affectkeras.errors import AffectKerasError


def _tasks_arg(text):
    tasks = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in tasks if t not in TASK_FILES]
    if not tasks or bad:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of {', '.join(TASK_FILES)} (received {text!r})"
        )
    return tuple(tasks)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1 (received {text!r})")
    return value


def _quality(text):
    value = _positive_int(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"must be an integer in [1, 100] (received {text!r})")
    return value


def build_parser():
    """Returns the argument parser of the `affectkeras` command."""
    parser = argparse.ArgumentParser(
        prog="affectkeras",
        description="Audio-visual multi-task affect recognition in the wild (Keras 3).",
    )
    parser.add_argument("--version", action="version", version=f"affectkeras {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_preprocess(subparsers)
    _register_predict(subparsers)
    _register_evaluate(subparsers)
    _register_export(subparsers)
    _register_convert(subparsers)
    for command, subparser in subparsers.choices.items():
        _one_line_errors(subparser, command)
    return parser


def _register_preprocess(subparsers):
    """Adds `affectkeras preprocess ROOT --out DIR` (`affectkeras.data.preprocess.run_preprocess`)."""
    from affectkeras.data.preprocess import FACE_SOURCES, SPLITS  # light: TensorFlow loads only when a job runs

    parser = subparsers.add_parser(
        "preprocess",
        help="turn Aff-Wild2 videos + annotations into TFRecord shards",
        description=(
            "Writes one TFRecord shard per annotated video of one split (face crop, audio window and "
            "labels per frame) plus OUT/manifest.json. Re-running skips the videos already done; "
            "failed videos are listed in the manifest and retried by the next run."
        ),
    )
    parser.add_argument("root", metavar="ROOT", help="dataset folder with videos/, cropped_aligned/ and annotations/")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for the shards and manifest.json")
    parser.add_argument("--split", choices=SPLITS, default="train", help="annotation split to process (default: train)")
    parser.add_argument("--tasks", type=_tasks_arg, default=tuple(TASK_FILES), metavar="LIST",
                        help="comma-separated tasks whose labels to write: va,expr,au (default: all three)")
    parser.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                        help="videos processed in parallel by a local process pool (default: 1)")
    parser.add_argument("--size", type=_positive_int, default=96, metavar="PX",
                        help="side of the stored face crops: 96 (VGG-Face nets) or 112 (ArcFace nets) (default: 96)")
    parser.add_argument("--faces", choices=FACE_SOURCES, default="auto",
                        help="face source: cropped_aligned crops when present else detection (auto), "
                             "crops only, or always detect (default: auto)")
    parser.add_argument("--no-audio", dest="audio", action="store_false",
                        help="write no audio windows (then no video file is needed where crops exist)")
    parser.add_argument("--audio-dtype", choices=("float16", "float32"), default="float16",
                        help="storage type of the log-mel windows (default: float16)")
    parser.add_argument("--jpeg-quality", type=_quality, default=95, metavar="Q",
                        help="JPEG quality of re-encoded or detected crops (default: 95)")
    parser.add_argument("--landmarks", action="store_true",
                        help="also store dlib's 68 landmarks of every crop (AffWildNet's extra input)")
    parser.add_argument("--annotations", metavar="DIR", default=None,
                        help="annotations root with the *_Challenge folders (default: ROOT/annotations or ROOT)")
    parser.add_argument("--videos", metavar="DIR", default=None,
                        help="folder searched recursively for the video files (default: ROOT/videos or ROOT)")
    parser.add_argument("--crops", metavar="DIR", default=None,
                        help="cropped_aligned folder (default: ROOT/cropped_aligned)")
    parser.add_argument("--only", metavar="NAME", action="append", default=None,
                        help="process only this annotation or video name (repeatable)")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo every video, also those already done")
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")

    def run(args):
        from affectkeras.data.preprocess import run_preprocess
        from affectkeras.data.preprocess.runner import _print_progress

        lines = []

        def progress(message):
            if not args.quiet or message.startswith("preprocess:"):
                _print_progress(message)
            lines.append(message)

        result = run_preprocess(
            args.root,
            args.out,
            split=args.split,
            tasks=args.tasks,
            size=args.size,
            faces=args.faces,
            audio=args.audio,
            audio_dtype=args.audio_dtype,
            jpeg_quality=args.jpeg_quality,
            landmarks=args.landmarks,
            workers=args.workers,
            annotations=args.annotations,
            videos=args.videos,
            crops=args.crops,
            only=args.only,
            overwrite=args.overwrite,
            progress=progress,
        )
        return 1 if result.failed else 0

    parser.set_defaults(run=run)
    return parser


# Still images `affectkeras predict` takes (one row per face); other files are videos or audio.
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff")


def _register_predict(subparsers):
    """Adds `affectkeras predict INPUT [INPUT ...] [--model PATH] --out DIR`: videos, images, audio clips."""
    from affectkeras.audio.decode import AUDIO_EXTENSIONS  # numpy only: no TensorFlow

    parser = subparsers.add_parser(
        "predict",
        help="expressions (and valence/arousal, AUs) of videos, and the emotion of speech clips",
        description=(
            "Videos: detects, tracks and aligns the main face (--faces all: every face), runs a trained "
            "network on it (and on the sound for audio-visual networks; sequence networks over each whole "
            "face track) and writes OUT/<stem>.csv, one row per frame of the video, or per face of it "
            "(frame_index, time, face_found, face box, track_id, then the predictions; empty where no face "
            "was found), plus OUT/<stem>_expressions.png (expression probabilities over time), and "
            "OUT/<stem>_va.png and OUT/<stem>_circumplex.png for networks with valence/arousal. "
            "Images (" + ", ".join(IMAGE_EXTENSIONS) + "): OUT/<stem>.csv with one row per face (frame_index 0). "
            "Folders: every video, image and audio file in them. "
            "Audio files (" + ", ".join(AUDIO_EXTENSIONS) + "): writes OUT/<stem>.csv, the class probabilities "
            "of every 0.5 s window, and OUT/<stem>.json, the clip's {\"classes\": [...], "
            "\"probabilities\": [...]}. A file that fails is reported and the others still run; the exit "
            "code is then 1. Two inputs with the same stem are refused before anything runs: their files "
            "would replace each other's."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video files (anything ffmpeg reads), images, "
                                                                    "audio files, and folders of them")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="a .keras file, a run folder (model.keras), a SavedModel folder written by "
                             "`affectkeras.export.export_saved_model`, or a network preset shipped with "
                             "affectkeras (default: ferplus, the FER+ expression model, for videos; "
                             "ravdess_audio, the RAVDESS speech-emotion model, for audio files)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                        help="faces per network call (default: 32); windows per call for SavedModels "
                             "that run on windows only (default: 4)")
    parser.add_argument("--faces", choices=("main", "all"), default="main",
                        help="videos: the main subject's face, one row per frame (default), or every face, one "
                             "row per frame and face; track_id names the person through the clip")
    parser.add_argument("--detector", choices=("hog", "cnn"), default="hog",
                        help="face detector: dlib's HOG (default, fast) or its CNN (finds turned and small faces, "
                             "~1.7 s per detection on a CPU core)")
    _precision_argument(parser)
    parser.add_argument("--single-view", action="store_true",
                        help="a shipped face preset (ferplus) runs its first network on each face once instead of its "
                             "ensemble's networks over four views (the face, mirrored, a centre crop, mirrored): 8x "
                             "less network work, FER+ Test 83.0 instead of 84.0 %%")
    parser.add_argument("--quiet", action="store_true", help="no progress line on stderr")

    def run(args):
        if args.single_view and args.model is not None:
            from affectkeras import weights  # light: no TensorFlow

            if not (weights.is_network_preset(args.model) and weights.get_preset(args.model).test_time_crop):
                parser.error(f"--single-view changes only a shipped face preset with test-time views (ferplus); "
                             f"--model {args.model} is not one")
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            parser.error(f"--out {args.out} exists and is not a folder")
        failed = []
        models = {}  # one model per kind of input, loaded once
        inputs = []
        for given in args.inputs:
            try:
                inputs += _expand_input(given, AUDIO_EXTENSIONS)
            except OSError as error:
                failed.append(given)
                print(f"affectkeras predict: error: {error}", file=sys.stderr, flush=True)
        inputs = list({os.path.normpath(path): path for path in inputs}.values())  # a file named twice runs once
        clashes = _same_stems(inputs)
        if clashes:  # refused before anything is written: one would replace the other's files
            parser.error("; ".join(f"{' and '.join(paths)} would both write {os.path.join(args.out, stem)}.*"
                                   for stem, paths in clashes.items())
                         + ": rename one, or predict them into different --out folders")
        for number, path in enumerate(inputs, start=1):
            if len(inputs) > 1 and not args.quiet:
                print(f"[{number}/{len(inputs)}] {path}", file=sys.stderr, flush=True)
            try:
                files = _predict_one(_input_kind(path, AUDIO_EXTENSIONS), path, args, models)
            except (AffectKerasError, OSError) as error:
                failed.append(path)
                print(f"affectkeras predict: error: {error}", file=sys.stderr, flush=True)
                continue
            for written in files:
                if written is not None:
                    print(written)
        count = len(inputs) + len([path for path in failed if path not in inputs])
        if failed and count > 1:
            print(f"affectkeras predict: {len(failed)} of {count} inputs failed: {', '.join(failed)}",
                  file=sys.stderr)
        return (2 if count == 1 else 1) if failed else 0

    parser.set_defaults(run=run)
    return parser


def _input_kind(path, audio_extensions):
    """`"audio"`, `"image"` or `"video"` by the file's extension (videos: anything else ffmpeg reads)."""
    suffix = pathlib.Path(path).suffix.lower().lstrip(".")
    if suffix in audio_extensions:
        return "audio"  # audio containers are speech clips; video containers (with sound or not) are videos
    return "image" if suffix in IMAGE_EXTENSIONS else "video"


def _same_stems(paths):
    """`{stem: paths}` for the stems that more than one of `paths` has (their outputs are `OUT/<stem>.*`)."""
    by_stem = collections.defaultdict(list)
    for path in paths:
        by_stem[pathlib.Path(path).stem].append(path)
    return {stem: found for stem, found in by_stem.items() if len(found) > 1}


def _expand_input(path, audio_extensions):
    """A file as itself, a folder as its videos, images and audio files (sorted, not recursive)."""
    from affectkeras.data.preprocess.config import VIDEO_EXTENSIONS  # no TensorFlow

    folder = pathlib.Path(path)
    if not folder.is_dir():
        return [path]
    known = {*(e.lstrip(".") for e in VIDEO_EXTENSIONS), *IMAGE_EXTENSIONS, *audio_extensions}
    found = sorted(str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in known)
    if not found:
        raise FileNotFoundError(f"{path}: a folder without videos, images or audio files "
                                f"({', '.join(sorted(known))})")
    return found


def _predict_one(kind, path, args, models):
    """Predicts one input with the model of its kind (loaded on first use) and writes its files."""
    if kind == "audio":
        from affectkeras import speech

        waveform = speech.read_clip(path)  # a bad file fails before the model loads
        if kind not in models:
            models[kind] = speech.load_speech_model(args.model or speech.DEFAULT_SPEECH_MODEL)
        prediction = speech.predict_clip(waveform, models[kind])
        return speech.write_clip_prediction(prediction, args.out, pathlib.Path(path).stem)
    from affectkeras import inference, media, weights  # load TensorFlow: only when the command runs

    media.probe(path)  # a bad video or image fails before the model loads
    # Videos and images share the face model. A path is loaded once (`as_predictor` keeps it);
    # given as a path, the first video's faces are found while the network loads.
    model = models.get("visual", args.model or inference.DEFAULT_MODEL)
    if args.single_view and not isinstance(model, inference.Predictor) and weights.is_network_preset(model):
        model = inference.Predictor.from_model(weights.load_preset_model(str(model)), source=f"preset {model}",
                                               precision=args.precision)
    if kind == "image":
        model = models["visual"] = inference.as_predictor(model, precision=args.precision)
        table = inference.predict_image(path, model, detector=args.detector, batch_size=args.batch_size)
        return inference.write_predictions(table, args.out, pathlib.Path(path).stem)
    # This process only predicts: its network threads may give way to the face process for good.
    files = inference.predict_and_write(path, model, args.out, batch_size=args.batch_size, progress=not args.quiet,
                                        faces=args.faces, detector=args.detector, precision=args.precision,
                                        yield_cores=True)
    models["visual"] = inference.as_predictor(model, precision=args.precision)
    return files


def _precision_argument(parser):
    parser.add_argument("--precision", choices=INFERENCE_PRECISIONS,
                        default="auto",
                        help="the network's dtype policy: auto (default) is mixed_bfloat16 on CPUs with AMX or "
                             "AVX512-BF16 and on GPUs of compute capability 8.0+, else float32; a SavedModel "
                             "runs as exported")


def _one_line_errors(parser, command):
    """Makes `parser` report a wrong option in one line with exit code 2, like the command's other errors."""

    def error(message):
        print(f"affectkeras {command}: error: {message}", file=sys.stderr)
        sys.exit(2)

    parser.error = error


def _register_evaluate(subparsers):
    """Adds `affectkeras evaluate --model PATH --records DIR --out DIR` (`affectkeras.evaluation`)."""
    from affectkeras.constants import ABAW_EDITIONS, LATEST_EDITION  # light: no TensorFlow

    def probability(text):  # as `metrics.au_score` checks it, but before any model is loaded
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0.0 < value < 1.0:  # NaN too
            raise argparse.ArgumentTypeError(f"must be a number in (0, 1) (received {text!r})")
        return value

    parser = subparsers.add_parser(
        "evaluate",
        help="ABAW scores and a report of a trained model on preprocessed records",
        description=(
            "Predicts every frame of the records once with a trained network and scores it as an ABAW "
            "edition does (VA: CCC; EXPR: macro F1 and accuracy; AU: per-AU F1; MTL when all three). "
            "Writes OUT/metrics.json, OUT/report.md (scores, per-video CCC, confusion matrix, per-AU F1) "
            "and PNG plots. Labels marked not annotated and frames without a face count in no score."
        ),
    )
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="the trained model: a .keras file or a run folder (its model.keras)")
    parser.add_argument("--records", required=True, metavar="DIR",
                        help="folder of preprocessed records of the evaluation split (affectkeras preprocess "
                             "--split validation)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder of the report (created)")
    parser.add_argument("--tasks", type=_tasks_arg, default=None, metavar="LIST",
                        help="comma-separated tasks to score among va,expr,au (default: every task the model has)")
    parser.add_argument("--edition", type=int, choices=sorted(ABAW_EDITIONS), default=LATEST_EDITION,
                        help=f"ABAW edition whose scoring to apply (default: {LATEST_EDITION})")
    parser.add_argument("--batch-size", type=_positive_int, default=8, metavar="N",
                        help="windows (sequence networks) or frames (per-frame networks) per batch (default: 8)")
    parser.add_argument("--threshold", type=probability, default=0.5, metavar="P",
                        help="AU probability in (0, 1) from which an AU counts as present (default: 0.5)")
    parser.add_argument("--no-plots", dest="plots", action="store_false", help="write no PNG plots")
    _precision_argument(parser)

    def run(args):
        from affectkeras import evaluation  # loads TensorFlow: only when the command runs
        from affectkeras.runs import load_trained_model

        # Wrong --out or --records must fail now, not after loading the model (or after the evaluation).
        existing = next((path for path in (pathlib.Path(args.out), *pathlib.Path(args.out).parents)
                         if path.exists()), None)
        if existing is not None and not existing.is_dir():
            parser.error(f"--out {args.out}: {existing} is an existing file; --out must be a folder (created if "
                         "missing)")
        evaluation.check_records(args.records)
        model = load_trained_model(args.model)
        result = evaluation.evaluate(model, args.records, tasks=args.tasks, edition=args.edition,
                                     batch_size=args.batch_size, threshold=args.threshold, precision=args.precision)
        paths = evaluation.write_report(result, args.out, plots=args.plots)
        print(result.summary())
        print(paths["report"])
        return 0

    parser.set_defaults(run=run)
    return parser


def _register_export(subparsers):
    """Adds `affectkeras export --model PATH --out DIR` (`affectkeras.export.export_model`)."""
    parser = subparsers.add_parser(
        "export",
        help="SavedModel (and TFLite for per-frame networks) of a trained model",
        description=(
            "Writes OUT/saved_model (serving signature on raw uint8 faces and audio windows; ArcFace "
            "networks without their labels input), OUT/model.tflite for per-frame networks (sequence "
            "networks are skipped: their RNNs need TF Select ops), and OUT/export.json describing the "
            "inputs, outputs (with the class names a fine-tuning run recorded in its metrics.json) and "
            "signature."
        ),
    )
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="the trained model: a .keras file or a run folder (its model.keras)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created; must be empty)")
    parser.add_argument("--tflite", action=argparse.BooleanOptionalAction, default=True,
                        help="also write model.tflite where the network converts (default: --tflite)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export in OUT")

    def run(args):
        from affectkeras.export import export_model  # loads TensorFlow: only when the command runs
        from affectkeras.runs import load_trained_model
        from affectkeras.speech import run_classes

        model = load_trained_model(args.model)
        # A fine-tuned network's classes are its database's (metrics.json), not Aff-Wild2's.
        description = export_model(model, args.out, classes=run_classes(pathlib.Path(args.model)),
                                   tflite=args.tflite, overwrite=args.overwrite)
        print(os.path.join(args.out, description["saved_model"]))
        if description["tflite"]:
            print(os.path.join(args.out, description["tflite"]))
        else:
            print(f"tflite skipped: {description['tflite_skipped']}")
        return 0

    parser.set_defaults(run=run)
    return parser


def _register_convert(subparsers):
    """Adds `affectkeras convert CHECKPOINT --out FILE.keras` (`affectkeras.checkpoints.convert_affwildnet`)."""
    parser = subparsers.add_parser(
        "convert",
        help="the authors' released AffWildNet TF1 checkpoint as a .keras model",
        description=(
            "Reads the AffWildNet (VGG-Face + 2 x GRU, no landmarks) TensorFlow 1 checkpoint released with "
            "dkollias/Aff-Wild-models and writes the matching Keras network (96 x 96 RGB faces, valence and "
            "arousal per frame), ready for `affectkeras predict --model FILE.keras`, evaluate and export."
        ),
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="the checkpoint prefix (e.g. affwildnet-vggface-gru/model.ckpt-0) or its folder")
    parser.add_argument("--out", required=True, metavar="FILE.keras", help="the Keras model file to write")

    def run(args):
        from affectkeras.files import atomic_path
        from affectkeras.checkpoints import convert_affwildnet  # loads TensorFlow: only when the command runs

        if not args.out.endswith(".keras"):
            raise AffectKerasError(f"--out must name a .keras file. Received: --out {args.out!r}")
        model = convert_affwildnet(args.checkpoint)
        with atomic_path(args.out) as path:
            model.save(path)
        print(args.out)
        return 0

    parser.set_defaults(run=run)
    return parser


def main(argv=None):
    """Runs the command line `argv` (default: `sys.argv[1:]`) and returns the exit code."""
    # TensorFlow's C++ start-up chatter would bury the command's own one-line messages.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args) or 0
    except (AffectKerasError, FileNotFoundError) as error:
        print(f"affectkeras {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
