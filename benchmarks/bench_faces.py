"""Throughput of face extraction on one CPU core: `extract_faces` against per-frame HOG.

Compares, on the real 640x360 videos of `../shared/data/video/`:

- `extract_faces`: the library default (HOG on a 320 px gray copy with one upsampling,
  every 5th source frame and at scene cuts, landmark tracking in between, 96 px chips,
  main-subject selection with person linking; two decoding passes);
- naive per-frame HOG at 320 px: the same detector on every 30-fps frame, then landmarks
  and a 96 px chip for each face found (one decoding pass);
- naive per-frame HOG at the source size with one upsampling (face_recognition's default).

The process (and the ffmpeg processes it starts) is pinned to one core. Runs are
interleaved (one of each per round) and the median of the rounds is reported, as source
frames per second and as a multiple of real time (video duration / wall time).

Usage:
    python benchmarks/bench_faces.py [--rounds 3] [--core 0] [--video PATH ...]
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from affectkeras import media  # noqa: E402
from affectkeras.faces import FaceDetector, align_face, extract_faces, fit_landmarks  # noqa: E402

VIDEO_DIR = REPO.parent / "shared" / "data" / "video"
VIDEOS = ("WolfgangLanger_Pexels.mp4", "short_hamilton_clip.mp4")


def naive(path, width, upsample):
    """Per-frame detection, landmarks and chip; returns the number of faces cut out."""
    detector = FaceDetector(width=width, upsample=upsample)
    count = 0
    for frame in media.iter_frames(path):
        for detection in detector(frame.image):
            align_face(frame.image, fit_landmarks(frame.image, detection.box), 96)
            count += 1
    return count


def library(path):
    """`extract_faces` with its defaults; returns the number of crops."""
    return sum(r.crop is not None for r in extract_faces(path))


METHODS = {
    "extract_faces (detect every 5, track, align)": library,
    "naive per-frame HOG 320 px + align": lambda path: naive(path, 320, 1),
    "naive per-frame HOG 640 px, upsample 1 + align": lambda path: naive(path, None, 1),
}


def main(argv=None):
    """Runs the benchmark and prints a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--video", nargs="*", default=None)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {args.core})  # inherited by the ffmpeg child processes
    paths = [pathlib.Path(p) for p in args.video] if args.video else [VIDEO_DIR / v for v in VIDEOS]
    library(paths[0])  # load the dlib models outside the timings
    rows = []
    for path in paths:
        info = media.probe(path)
        times = {name: [] for name in METHODS}
        faces = {}
        for _ in range(args.rounds):
            for name, method in METHODS.items():
                start = time.perf_counter()
                faces[name] = method(path)
                times[name].append(time.perf_counter() - start)
        for name in METHODS:
            elapsed = statistics.median(times[name])
            rows.append((path.name, name, info.frame_count / elapsed,
                         info.duration / elapsed, elapsed, faces[name]))
    print(f"one core (cpu {args.core}), median of {args.rounds} interleaved rounds\n")
    print("| video | method | source frames/s | x real time | seconds | crops |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for video, name, fps, realtime, elapsed, count in rows:
        print(f"| {video} | {name} | {fps:.1f} | {realtime:.2f} | {elapsed:.2f} | {count} |")


if __name__ == "__main__":
    main()
