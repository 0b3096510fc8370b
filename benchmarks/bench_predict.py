"""The video predictor (`affectkeras predict`): each stage alone, end to end, float32 and bf16.

For the full-size A/V-MT-VGG-RNN (random weights: speed does not depend on them), or a
shipped model (`--model ferplus`), on a real video, in float32 and in `mixed_bfloat16`,
round after round interleaved, medians reported:

- faces alone: `faces.FaceStream` (detection, tracking, alignment: the predictor's face
  stage) over the whole video;
- network alone: the same network on the crops that extraction gave (sequence networks:
  the per-frame part in chunks, then the temporal part over each track), plus the audio;
- end to end: `predict_video` (faces in their own process, side by side with the network),
  with the extraction process warm from the previous video (as for every input after the
  first of one `affectkeras predict` call) and, in its own column, started afresh (as for a
  single video);

each as source frames/s and x real time (video duration / wall time), with end to end as
a share of the slower stage alone (1.0 = the stages overlap perfectly) and of what the
cores allow (the slower stage alone, or both stages' CPU time alone spread over all cores
where that is longer: side by side they share the cores). `--yield-cores` runs end to end
as `affectkeras predict` does (`predict_video(..., yield_cores=True)`: the network's
threads below the face process in priority; it cannot be undone in a process: compare two
runs). Then the largest |bf16 - float32| difference of the predictions, and with
`--ferplus DIR` the FER+ Valid and Test accuracy of the shipped model in both precisions,
with one view and over its four test-time views, as `affectkeras predict` runs it (3,555 /
3,545 faces, majority-vote protocol), after Valid over the four views for each centre crop
`pretrain.py` chooses among.

Usage:
    python benchmarks/bench_predict.py [--rounds 3] [--video PATH] [--width 1.0] [--yield-cores]
    python benchmarks/bench_predict.py --model ferplus --ferplus ../shared/data/ferplus
    python benchmarks/bench_predict.py --model ferplus --single-view
"""

import argparse
import collections
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from affectkeras import build_av_mt_vgg_rnn, media, weights  # noqa: E402
from affectkeras.faces import FaceStream, background  # noqa: E402
from affectkeras.inference import (  # noqa: E402
    DEFAULT_FRAME_BATCH,
    _audio_windows,
    as_predictor,
    distinct_crops,
    predict_video,
)

VIDEO = REPO.parent / "shared" / "data" / "video" / "WolfgangLanger_Pexels.mp4"
PRECISIONS = ("float32", "mixed_bfloat16")


def network_alone(predictor, records, audio, shown):
    """The predictor's network on already extracted faces, batched as `predict_video` batches
    (per-frame networks: only the 30-fps frames in `shown`, those the table shows)."""
    faces = [r for r in records if r.crop is not None]
    if not predictor.whole_tracks:
        faces = [r for r in faces if r.frame_index in shown]
        for start in range(0, len(faces), DEFAULT_FRAME_BATCH):
            chunk = faces[start:start + DEFAULT_FRAME_BATCH]
            crops = np.stack([r.crop for r in chunk])
            predictor.predict_batch(crops, None if audio is None else audio[[r.frame_index for r in chunk]])
        return
    chunk = DEFAULT_FRAME_BATCH
    features = []
    for start in range(0, len(faces), chunk):
        part = faces[start:start + chunk]
        crops, rows = distinct_crops(part)
        features.append(predictor.frame_features(crops, None if audio is None else audio[[r.frame_index for r in part]],
                                                 face_rows=rows))
    features = np.concatenate(features)
    # Tracks as the predictor cuts them: a new one where the track id changes or a frame is missed.
    starts = [0] + [i for i in range(1, len(faces)) if faces[i].track_id != faces[i - 1].track_id
                    or faces[i].frame_index != faces[i - 1].frame_index + 1] + [len(faces)]
    for start, stop in zip(starts[:-1], starts[1:]):
        predictor.predict_track(features[start:stop])


def cpu_seconds():
    """CPU time of this process and its ended children (ffmpeg) so far."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def ferplus_accuracy(root, precision):
    """FER+ Valid and Test accuracy of the shipped model, one view and its four (as it predicts)."""
    from affectkeras import evaluation, pretraining
    from affectkeras.models.surgery import with_precision

    data = None
    accuracy = {}
    for views in (1, 4):
        model = with_precision(weights.load_preset_model("ferplus", test_time=views == 4), precision)
        data = data or pretraining.ferplus_datasets(root, size=model.input_shape[-2], batch_size=256)
        for split in ("validation", "test"):
            accuracy[split, views] = evaluation.score_classes(model, getattr(data, split), num_classes=8,
                                                              batch_size=256)["accuracy"]
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--width", type=float, default=1.0, help="network width (1.0 = the papers')")
    parser.add_argument("--model", default="", help="a model path or shipped preset (e.g. ferplus) instead of "
                                                     "the full-size A/V-MT-VGG-RNN")
    parser.add_argument("--yield-cores", action="store_true",
                        help="end to end as `affectkeras predict` runs: predict_video(..., yield_cores=True), the "
                             "network's threads below the face process in priority (it cannot be undone in the "
                             "process: compare two runs)")
    parser.add_argument("--single-view", action="store_true",
                        help="with --model PRESET: the preset's network on each face once, without its test-time "
                             "views (affectkeras predict --single-view)")
    parser.add_argument("--ferplus", default="", help="FER+ folder: also score the shipped model's Valid and Test "
                                                       "accuracy in both precisions, one view and four")
    args = parser.parse_args(argv)

    info = media.probe(args.video)
    if args.model and args.single_view:  # a shipped preset's network alone, without its test-time views
        model, what = weights.load_preset_model(args.model), f"{args.model} (one view)"
    elif args.model:
        model, what = args.model, args.model
    else:
        model, what = build_av_mt_vgg_rnn(width=args.width, sequence_length=80), f"A/V-MT-VGG-RNN width {args.width}"
    predictors = {precision: as_predictor(model, precision=precision) for precision in PRECISIONS}
    reference = predictors["float32"]
    timeline = media.read_timeline(args.video)
    shown = set(timeline.source_to_output().tolist())
    audio = None
    if reference.audio_shape is not None:
        audio = _audio_windows(args.video, reference.audio_shape, timeline.num_output_frames)
    records = list(FaceStream(args.video, size=reference.face_size))
    tables = {precision: predict_video(args.video, predictor) for precision, predictor in predictors.items()}
    for predictor in predictors.values():  # warm-up: traces
        network_alone(predictor, records, audio, shown)

    times = collections.defaultdict(list)
    for _ in range(args.rounds):
        start, cpu = time.perf_counter(), cpu_seconds()
        list(FaceStream(args.video, size=reference.face_size))
        times["faces"].append(time.perf_counter() - start)
        times["faces cpu"].append(cpu_seconds() - cpu)
        for precision, predictor in predictors.items():
            start, cpu = time.perf_counter(), cpu_seconds()
            network_alone(predictor, records, audio, shown)
            times[f"network {precision}"].append(time.perf_counter() - start)
            times[f"network cpu {precision}"].append(cpu_seconds() - cpu)
            for stage in ("cold", "end"):
                if stage == "cold":
                    background._end_idle_workers()
                start = time.perf_counter()
                table = predict_video(args.video, predictor, yield_cores=args.yield_cores)
                times[f"{stage} {precision}"].append(time.perf_counter() - start)
                assert len(table) == info.frame_count

    median = {key: statistics.median(values) for key, values in times.items()}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = "network threads yield to the faces" if args.yield_cores else "all threads at one priority"
    print(f"{pathlib.Path(args.video).name}: {info.frame_count} frames, {info.duration:.1f} s; {what}; "
          f"{cores} cores; {threads}; median of {args.rounds} rounds\n")
    print(f"| precision | faces alone | network alone | end to end | x real time | end to end / slower stage "
          f"| end to end / {cores}-core bound | end to end, fresh face process |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for precision in PRECISIONS:
        faces, network, end = median["faces"], median[f"network {precision}"], median[f"end {precision}"]
        cold = median[f"cold {precision}"]
        # Side by side, the stages cannot beat their CPU time alone spread over every core.
        bound = max(faces, network, (median["faces cpu"] + median[f"network cpu {precision}"]) / cores)
        print(f"| {precision} | {info.frame_count / faces:.1f} frames/s | {info.frame_count / network:.1f} frames/s | "
              f"{info.frame_count / end:.1f} frames/s | {info.duration / end:.2f}x | {max(faces, network) / end:.2f} "
              f"| {bound / end:.2f} | {info.frame_count / cold:.1f} frames/s ({info.duration / cold:.2f}x) |")
    columns = reference.columns
    found = tables["float32"]["face_found"] == 1
    delta = max(np.nanmax(np.abs(tables["float32"][c][found] - tables["mixed_bfloat16"][c][found])) for c in columns)
    print(f"\nmax |bf16 - float32| over the {int(found.sum())} frames with a face and {len(columns)} outputs: {delta:.4f}")
    if args.ferplus:
        from affectkeras import pretraining

        network = weights.load_preset_model("ferplus")
        _, by_crop = pretraining.choose_test_time_crop(network, pretraining.ferplus_datasets(
            args.ferplus, size=network.input_shape[-2], batch_size=256).validation, batch_size=256)
        print("\nFER+ Valid over 4 views by centre crop (float32): "
              + ", ".join(f"{crop} {scores['accuracy']:.4f}" for crop, scores in by_crop.items())
              + f"; the preset's crop: {weights.get_preset('ferplus').test_time_crop}")
        print("FER+ accuracy of the shipped model | Valid, 1 view | Valid, 4 views | Test, 1 view | Test, 4 views")
        for precision in PRECISIONS:
            accuracy = ferplus_accuracy(args.ferplus, precision)
            print(f"{precision} | " + " | ".join(f"{accuracy[split, views]:.4f}" for split in ("validation", "test")
                                                for views in (1, 4)))


if __name__ == "__main__":
    main()
