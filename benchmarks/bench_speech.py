"""Speech-emotion prediction of audio files: clips/s and x real time, decoding included.

    python benchmarks/bench_speech.py [--model ravdess_audio] [--clips 48] [--repeats 3]

Runs `affectkeras.speech.predict_clip` (decode + resample to 16 kHz, log-mel spectrogram,
the network on every 0.5 s window and on the clip) over `--clips` RAVDESS clips of the
held-out actors 21-24 (`../shared/data/ravdess_speech_16k`), `--repeats` times after one
untimed pass; prints the median seconds per pass, clips/s, x real time, and the network
alone (all windows of all clips, one call per clip).
"""

import argparse
import os
import pathlib
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from affectkeras import pretraining, speech  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess_speech_16k"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=speech.DEFAULT_SPEECH_MODEL)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    folders = [pathlib.Path(args.data) / f"Actor_{actor:02d}" for actor in pretraining.RAVDESS_TEST_ACTORS]
    clips = sorted(path for folder in folders for path in folder.glob("*.flac"))
    clips = clips[::max(1, len(clips) // args.clips)][:args.clips]
    model = speech.load_speech_model(args.model)
    waveforms = [speech.read_clip(p) for p in clips]  # 16 kHz
    seconds_of_audio = sum(len(w) for w in waveforms) / 16000
    windows = [speech.clip_windows(w) for w in waveforms]

    def end_to_end():
        for path in clips:
            speech.predict_clip(path, model)

    def network_alone():
        for w in windows:
            model.predict_windows(w)

    timings = {}
    for name, job in (("end to end", end_to_end), ("network alone", network_alone)):
        job()  # untimed: tracing
        runs = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            job()
            runs.append(time.perf_counter() - started)
        timings[name] = statistics.median(runs)
    total_windows = int(np.sum([len(w) for w in windows]))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; model {model.source}, "
          f"{model.count_params():,} parameters")
    print(f"{len(clips)} clips, {seconds_of_audio:.1f} s of audio, {total_windows} windows of 0.5 s")
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.2f} s per pass (median of {args.repeats}), {len(clips) / seconds:.1f} clips/s, "
              f"{seconds_of_audio / seconds:.0f}x real time, {total_windows / seconds:.0f} windows/s")


if __name__ == "__main__":
    main()
