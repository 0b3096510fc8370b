"""Throughput of the video predictor (`affectkeras predict`) with a full-size network.

Runs `affectkeras.inference.predict_video` on a real video with the full-size
A/V-MT-VGG-RNN (random weights: speed does not depend on them), once with its default
batching (4 windows of 80 frames per call) and once one window per call, interleaved
round by round; reports the median wall time of the rounds as source frames per second
and as a multiple of real time (video duration / wall time). Face extraction is part of
both (the predictor's whole job), so the ratio shows what batching buys end to end.

Usage:
    python benchmarks/bench_predict.py [--rounds 3] [--video PATH] [--width 1.0]
    python benchmarks/bench_predict.py --model ferplus   # the shipped expression network
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from affectkeras import build_av_mt_vgg_rnn, media  # noqa: E402
from affectkeras.inference import Predictor, as_predictor, predict_video  # noqa: E402

VIDEO = REPO.parent / "shared" / "data" / "video" / "WolfgangLanger_Pexels.mp4"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--width", type=float, default=1.0, help="network width (1.0 = the papers')")
    parser.add_argument("--model", default="", help="a model path or shipped preset (e.g. ferplus) instead of "
                                                     "the full-size A/V-MT-VGG-RNN")
    args = parser.parse_args(argv)

    info = media.probe(args.video)
    if args.model:
        predictor, what = as_predictor(args.model), args.model
    else:
        predictor = Predictor.from_model(build_av_mt_vgg_rnn(width=args.width, sequence_length=80))
        what = f"A/V-MT-VGG-RNN width {args.width}"
    unit, batched = ("windows", 4) if predictor.window else ("frames", 32)
    settings = {f"batched ({batched} {unit} per call)": batched, f"unbatched (1 {unit[:-1]} per call)": 1}
    for batch_size in settings.values():  # warm-up: traces the predict function
        predict_video(args.video, predictor, batch_size=batch_size)
    times = {name: [] for name in settings}
    for _ in range(args.rounds):
        for name, batch_size in settings.items():
            start = time.perf_counter()
            table = predict_video(args.video, predictor, batch_size=batch_size)
            times[name].append(time.perf_counter() - start)
            assert len(table) == info.frame_count
    print(f"{pathlib.Path(args.video).name}: {info.frame_count} frames, {info.duration:.1f} s, "
          f"{what}, {os.cpu_count()} cores, median of {args.rounds} rounds")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:30s} {median:6.1f} s  {info.frame_count / median:6.1f} frames/s  "
              f"{info.duration / median:5.2f}x real time")
    batched_name, unbatched_name = settings
    ratio = statistics.median(times[unbatched_name]) / statistics.median(times[batched_name])
    print(f"  batched / unbatched speed: {ratio:.2f}x")


if __name__ == "__main__":
    main()
