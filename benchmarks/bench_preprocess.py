"""Preprocessing one video on one CPU core: throughput, and peak memory against video length.

1. Throughput. The whole per-video transform of `affectkeras preprocess --faces detect`
   (`run_preprocess(..., faces="detect")` on a one-video dataset: face detection every 5th
   frame + tracking + alignment, the log-mel window of every frame, JPEG encoding and the
   TFRecord shard) on the real 640x360 videos of `../shared/data/video/`, beside the same
   job with a naive face stage: HOG on every source frame (320 px gray copy, as the library's
   detector; optionally at the source size with one upsampling, face_recognition's default),
   landmarks and alignment of the largest face; audio and writing unchanged. A minimal
   Aff-Wild2 folder is made per video in a temporary folder (the video linked under
   `videos/`, a VA annotation file with one line per source frame). The process and its
   ffmpeg children are pinned to one core; methods are interleaved (one of each per round)
   and the median of the rounds is reported, as source frames per second and as a multiple
   of real time (video duration / wall time).

2. Peak memory. A ~1-minute and a 10+ minute video are made by looping the Wolfgang clip
   (`ffmpeg -stream_loop N -c copy`, no re-encoding); each is preprocessed (library
   method) in a fresh Python process. That process first runs the job once on the original
   clip (loading TensorFlow, librosa and the dlib models), resets its peak resident set to
   the current one (`echo 5 > /proc/self/clear_refs`), runs the job on the long video and
   reports its resident set before the job and its peak (`VmHWM`). The peak must not grow
   with the video's length. (The ffmpeg children stream and are left out: their
   `ru_maxrss` counts the pages they share with Python between fork and exec.)

Usage:
    python benchmarks/bench_preprocess.py [--rounds 3] [--core 0] [--video PATH ...]
        [--naive-full] [--skip-throughput] [--skip-memory] [--short-loops 3] [--long-loops 31]
"""

import argparse
import contextlib
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import imageio_ffmpeg  # noqa: E402
import numpy as np  # noqa: E402

from affectkeras import media  # noqa: E402
from affectkeras.data import preprocess  # noqa: E402
from affectkeras.data.preprocess import transform  # noqa: E402  (its face stage is swapped)
from affectkeras.faces import FaceDetector, align_face, fit_landmarks  # noqa: E402

VIDEO_DIR = REPO.parent / "shared" / "data" / "video"
VIDEOS = ("WolfgangLanger_Pexels.mp4", "short_hamilton_clip.mp4")
LOOPED = "WolfgangLanger_Pexels.mp4"


# ---------------------------------------------------------------------------- the job


def make_dataset(video, root):
    """A one-video Aff-Wild2 folder: `videos/<stem>.mp4` and one VA line per source frame."""
    video = pathlib.Path(video).resolve()
    root = pathlib.Path(root)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    link = root / "videos" / video.name
    if not link.exists():
        link.symlink_to(video)
    count = media.probe(video).frame_count
    folder = root / "annotations" / "VA_Estimation_Challenge" / "Train_Set"
    folder.mkdir(parents=True, exist_ok=True)
    rows = np.round(np.sin(np.arange(count)[:, None] / 50 + np.array([0.0, 1.0])) * 0.8, 3)
    lines = ["valence,arousal"] + [f"{v:g},{a:g}" for v, a in rows]
    (folder / f"{video.stem}.txt").write_text("\n".join(lines) + "\n")
    return root


def _naive_detect_crops(width, upsample):
    """A `transform._detect_crops` that detects on every source frame (no tracking)."""

    def detect_crops(video_path, names, size, quality, folder=None):
        if len(names) != 1:
            raise NotImplementedError("the naive face stage handles one face per video")
        detector = FaceDetector(width=width, upsample=upsample)
        crops = {}
        for frame in media.iter_frames(video_path, fps=None):
            detections = detector(frame.image)
            if detections:
                x0, y0, x1, y1 = max(detections, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])).box
                landmarks = fit_landmarks(frame.image, (x0, y0, x1, y1))
                crop = align_face(frame.image, landmarks, size)
                crops[frame.index + 1] = transform._encode_jpeg(crop, quality)
        return {names[0]: crops}

    return detect_crops


@contextlib.contextmanager
def _face_stage(method):
    """Swaps the job's face stage for a naive one (None keeps the library's)."""
    if method is None:
        yield
        return
    original = transform._detect_crops
    transform._detect_crops = method
    try:
        yield
    finally:
        transform._detect_crops = original


def run_job(root, out, face_stage=None):
    """`affectkeras preprocess ROOT --out OUT --faces detect --overwrite`; returns (frames, faces)."""
    with _face_stage(face_stage):
        result = preprocess.run_preprocess(root, out, faces="detect", overwrite=True, progress=None)
    if result.failed:
        raise RuntimeError(f"preprocessing failed: {result.failed}")
    return result.frames, sum(result.manifest["videos"][name]["faces"] for name in result.done)


# ---------------------------------------------------------------------------- throughput


def throughput(paths, rounds, naive_full, workdir):
    methods = {
        "library: detect every 5 + track + align": None,
        "naive: per-frame HOG 320 px + align": _naive_detect_crops(320, 1),
    }
    if naive_full:
        methods["naive: per-frame HOG 640 px, upsample 1 + align"] = _naive_detect_crops(None, 1)
    rows = []
    for path in paths:
        root = make_dataset(path, workdir / f"data-{path.stem}")
        info = media.probe(path)
        run_job(root, workdir / "warmup")  # dlib models, librosa, TensorFlow: outside the timings
        times = {name: [] for name in methods}
        counts = {}
        for _ in range(rounds):
            for name, stage in methods.items():
                start = time.perf_counter()
                counts[name] = run_job(root, workdir / f"out-{path.stem}", stage)
                times[name].append(time.perf_counter() - start)
        for name in methods:
            elapsed = statistics.median(times[name])
            frames, faces = counts[name]
            rows.append((path.name, name, info.frame_count / elapsed, info.duration / elapsed, elapsed,
                         frames, faces))
    return rows


# ---------------------------------------------------------------------------- memory


def _status_kib(field):
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _child(video, workdir):
    """Runs in a fresh process: preprocesses `video` once and prints its memory as JSON.

    A first job on the original clip loads everything loaded once per process (TensorFlow,
    librosa, the dlib models); then the peak is reset to the current resident set
    (`/proc/self/clear_refs`), so `peak - baseline` is what the job itself holds.
    """
    workdir = pathlib.Path(workdir)
    run_job(make_dataset(VIDEO_DIR / LOOPED, workdir / "warm-data"), workdir / "warm-out")
    root = make_dataset(video, workdir / "data")
    pathlib.Path("/proc/self/clear_refs").write_text("5")
    baseline = _status_kib("VmRSS")
    start = time.perf_counter()
    frames, faces = run_job(root, workdir / "out")
    seconds = time.perf_counter() - start
    report = {
        "frames": frames,
        "faces": faces,
        "seconds": seconds,
        "baseline_kib": baseline,
        "peak_kib": _status_kib("VmHWM"),
    }
    print("MEMORY " + json.dumps(report), flush=True)


def loop_video(source, loops, path):
    """`source` played `loops` times into `path`, streams copied (no re-encoding)."""
    if not path.exists():
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", str(loops - 1),
             "-i", str(source), "-c", "copy", str(path)],
            check=True,
        )
    return path


def memory(loops, workdir, core):
    rows = []
    for count in loops:
        path = loop_video(VIDEO_DIR / LOOPED, count, workdir / f"wolfgang_x{count}.mp4")
        info = media.probe(path)
        child_dir = workdir / f"mem-{count}"
        child_dir.mkdir(exist_ok=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--core", str(core), "--child", str(path), str(child_dir)],
            capture_output=True, text=True,
        )
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("MEMORY ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(f"memory run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        report = json.loads(line[len("MEMORY "):])
        rows.append((path.name, info.duration, info.frame_count, report))
    return rows


# ---------------------------------------------------------------------------- main


def main(argv=None):
    """Runs the benchmark and prints markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--video", nargs="*", default=None, help="videos of the throughput table")
    parser.add_argument("--naive-full", action="store_true",
                        help="also time per-frame HOG at the source size with one upsampling (slow)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--short-loops", type=int, default=3, help="plays of the Wolfgang clip (~1 min)")
    parser.add_argument("--long-loops", type=int, default=31, help="plays of the Wolfgang clip (10+ min)")
    parser.add_argument("--workdir", default=None, help="keep the made videos and records here")
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {args.core})  # inherited by the ffmpeg child processes
    if args.child:
        _child(*args.child)
        return
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = pathlib.Path(args.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_preprocess-")))
        print(f"one core (cpu {args.core}); load average before: {os.getloadavg()[0]:.2f}\n")
        if not args.skip_throughput:
            paths = [pathlib.Path(p) for p in args.video] if args.video else [VIDEO_DIR / v for v in VIDEOS]
            rows = throughput(paths, args.rounds, args.naive_full, workdir)
            print(f"### Preprocessing throughput (`--faces detect`), median of {args.rounds} interleaved rounds\n")
            print("| video | face stage | source frames/s | x real time | seconds | records | faces |")
            print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
            for video, name, fps, realtime, elapsed, frames, faces in rows:
                print(f"| {video} | {name} | {fps:.1f} | {realtime:.2f} | {elapsed:.2f} | {frames} | {faces} |")
            print(f"\nload average after: {os.getloadavg()[0]:.2f}\n")
        if not args.skip_memory:
            rows = memory((args.short_loops, args.long_loops), workdir, args.core)
            print("### Peak memory of one `--faces detect` job in a fresh process (library face stage)\n")
            print("| video | minutes | source frames | seconds | RSS before the job (MiB) | peak RSS (MiB) "
                  "| peak - before (MiB) |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            for name, duration, count, r in rows:
                print(f"| {name} | {duration / 60:.1f} | {count} | {r['seconds']:.1f} | {r['baseline_kib'] / 1024:.0f} "
                      f"| {r['peak_kib'] / 1024:.0f} | {(r['peak_kib'] - r['baseline_kib']) / 1024:.0f} |")
            (_, _, _, short), (_, _, _, long) = rows
            job_ratio = (long["peak_kib"] - long["baseline_kib"]) / max(short["peak_kib"] - short["baseline_kib"], 1)
            print(f"\npeak RSS long / short: {long['peak_kib'] / short['peak_kib']:.2f}; the job's own memory "
                  f"(peak - before) long / short: {job_ratio:.2f}; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
