"""The job: `run_preprocess` on a local process pool, and the bookkeeping of a run (`Run`).

`start_run` plans a run and leaves out the entries already done; `Run` records every entry
result (its marker), reports progress and writes the manifest at the end. The Beam pipeline
(`affectkeras.data.beam`) uses the same bookkeeping.
"""

import concurrent.futures
import dataclasses
import multiprocessing
import os
import pathlib
import shutil
import sys
import time

from affectkeras.data.preprocess.config import TASKS, make_config
from affectkeras.data.preprocess.manifest import (
    MANIFEST,
    _is_done,
    _write_json,
    build_manifest,
    made_with_other_settings,
    marker_path,
    read_manifest,
    record_result,
    source_fingerprint,
)
from affectkeras.data.preprocess.plan import VideoJob, plan
from affectkeras.data.preprocess.transform import process_job
from affectkeras.errors import InvalidArgumentError, check_positive, one_line
from affectkeras.files import remove_stale


@dataclasses.dataclass
class PreprocessResult:
    """What a `preprocess` run did.

    Attributes:
        out: pathlib.Path. The records folder.
        done: list of str. Names written in this run.
        skipped: list of str. Names already done before this run.
        failed: dict name -> error message.
        frames: int. Frames written in this run.
        seconds: float. Wall time.
        manifest: dict. The manifest written to `out/manifest.json`.
    """

    out: pathlib.Path
    done: list
    skipped: list
    failed: dict
    frames: int
    seconds: float
    manifest: dict


def _worker_init():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before the worker imports TensorFlow
    import affectkeras.data.records  # noqa: F401  (loads TensorFlow once, before the first video)


def _run_jobs(jobs, out, config, workers):
    """Yields the results of every job as they finish (a pool of `workers` processes)."""
    if workers == 1:
        for job in jobs:
            yield job, process_job(job, out, config)
        return
    # "spawn": a fresh interpreter per worker (forking a process that has TensorFlow
    # loaded may deadlock).
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        futures = {pool.submit(process_job, job, str(out), config): job for job in jobs}
        try:
            for future in concurrent.futures.as_completed(futures):
                job = futures[future]
                try:
                    yield job, future.result()
                except Exception as error:  # noqa: BLE001 - e.g. a worker killed by the OS
                    yield job, [
                        {"name": n, "status": "failed", "error": f"worker process failed: {one_line(error)}",
                         "source_video": job.source, "video_file": job.video_path}
                        for n, _, _ in job.entries
                    ]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _print_progress(message):
    print(message, file=sys.stderr, flush=True)


def run_preprocess(
    root,
    out,
    *,
    split="train",
    tasks=tuple(TASKS),
    size=96,
    faces="auto",
    audio=True,
    audio_dtype="float16",
    jpeg_quality=95,
    spectrogram=None,
    landmarks=False,
    workers=1,
    annotations=None,
    videos=None,
    crops=None,
    only=None,
    overwrite=False,
    replace_other_settings=False,
    progress=_print_progress,
):
    """Turns an Aff-Wild2 split into TFRecord shards, one per annotated video (see the module notes).

    Args:
        root: str or path. Dataset folder: `videos/`, `cropped_aligned/`, `annotations/`
            (or the challenge folders directly under `root`).
        out: str or path. Output folder (created).
        split: str. `"train"` or `"validation"`.
        tasks: sequence of str or str. Among `"va"`, `"expr"`, `"au"` (`"va,expr"` works too).
        size: int. Side of the stored face crops (96 for the VGG-Face networks, 112 for ArcFace).
        faces: str. `"auto"`: `cropped_aligned/<name>/` crops when present, else detection;
            `"crops"`: crops only (a video without a crop folder fails); `"detect"`: always detect.
        audio: bool. Write the log-mel window of every frame.
        audio_dtype: str. `"float16"` (default, half the size) or `"float32"`.
        jpeg_quality: int. Quality of re-encoded and detected crops.
        spectrogram: `affectkeras.audio.SpectrogramConfig` or None (defaults: 50 x 64 windows).
        landmarks: bool. Also write each crop's 68 landmarks (AffWildNet's extra input).
        workers: int. Processes working in parallel (1 = in this process).
        annotations: str, path or None. See `plan`.
        videos: str, path or None. See `plan`.
        crops: str, path or None. See `plan`.
        only: sequence of str or None. Annotation or source video names to process.
        overwrite: bool. Redo every video, also those already done (or done with other settings).
        replace_other_settings: bool. `out` is a cache: when it holds records made with other
            settings, empty it first (instead of refusing); records made with these are kept.
        progress: callable or None. Called with one line of text per finished video and at
            the start and end; default prints to stderr.

    Returns:
        `PreprocessResult`.

    Raises:
        FileNotFoundError: `root` or the annotation folders are missing.
        InvalidArgumentError: a wrong argument, or `out` holds records made with other
            settings (and not `overwrite`).

    Example:
        >>> result = run_preprocess("Aff-Wild2", "records/va_train", tasks="va", workers=2)
        >>> print(result.manifest["totals"])
    """
    check_positive("workers", workers, integer=True)
    config = make_config(split=split, tasks=tasks, size=size, faces=faces, audio=audio,
                         audio_dtype=audio_dtype, jpeg_quality=jpeg_quality, spectrogram=spectrogram,
                         landmarks=landmarks)
    run = start_run(root, out, config, annotations=annotations, videos=videos, crops=crops, only=only,
                    overwrite=overwrite, replace_other_settings=replace_other_settings, progress=progress,
                    workers=workers)
    for _, results in _run_jobs(run.todo, run.out, config, workers):
        for result in results:
            run.finished(result)
    return run.finish()


class Run:
    """The bookkeeping of one job run, shared by the local pool and the Beam pipeline.

    Build it with `start_run`; call `finished(result)` for every entry result and
    `finish()` at the end.

    Attributes:
        out: pathlib.Path. The records folder.
        config: `PreprocessConfig`.
        todo: list of `VideoJob`. The entries still to do.
        skipped: list of str. Entries already done.
    """

    def __init__(self, out, config, todo, skipped, progress):
        self.out, self.config, self.todo, self.skipped = out, config, todo, skipped
        self.progress = progress
        self.total = sum(len(job.entries) for job in todo)
        self.done, self.failed, self.frames = [], {}, 0
        self.started = time.perf_counter()

    def finished(self, result, *, record=True):
        """Records (unless `record=False`: already recorded) and reports one entry result."""
        if record:
            record_result(self.out, result, self.config)
        count = len(self.done) + len(self.failed) + 1
        name = result["name"]
        if result["status"] == "done":
            self.done.append(name)
            self.frames += result["frames"]
            rate = result["frames"] / max(result["seconds"], 1e-9)
            self.progress(
                f"[{count}/{self.total}] {name}: done, {result['frames']} frames ({result['faces']} faces, "
                f"{result['face_source']}) in {result['seconds']:.1f} s, {rate:.0f} frames/s"
            )
        else:
            self.failed[name] = result["error"]
            self.progress(f"[{count}/{self.total}] {name}: FAILED: {result['error']}")

    def finish(self):
        """Writes the manifest and returns the `PreprocessResult`."""
        manifest = build_manifest(self.out, self.config)
        _write_json(self.out / MANIFEST, manifest)
        seconds = time.perf_counter() - self.started
        self.progress(
            f"preprocess: {len(self.done)} done, {len(self.failed)} failed, {len(self.skipped)} skipped; "
            f"{self.frames} frames in {seconds:.1f} s ({self.frames / max(seconds, 1e-9):.0f} frames/s); "
            f"manifest: {self.out / MANIFEST}"
        )
        return PreprocessResult(self.out, self.done, self.skipped, dict(self.failed), self.frames, seconds, manifest)


def start_run(root, out, config, *, annotations=None, videos=None, crops=None, only=None, overwrite=False,
              replace_other_settings=False, progress=_print_progress, workers=1):
    """Plans a run: lists the videos, checks `out`'s settings, leaves out the entries already done.

    Args:
        root, annotations, videos, crops, only: see `plan`.
        out: str or path. The records folder (created).
        config: `PreprocessConfig`.
        overwrite: bool. Redo everything.
        replace_other_settings: bool. Empty `out` first when it holds records made with other settings.
        progress: callable or None. Receives one line of text per event.
        workers: int. Only reported.

    Returns:
        `Run`.

    Raises:
        InvalidArgumentError: `out` holds records made with other settings (and not `overwrite`).
    """
    progress = progress or (lambda message: None)
    out = pathlib.Path(out)
    jobs, notes = plan(root, config, annotations=annotations, videos=videos, crops=crops, only=only)
    for note in notes:
        progress(f"note: {note}")
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out)  # left by a crashed run (one job per folder at a time)
    if replace_other_settings and made_with_other_settings(out, config):
        progress(f"note: {out} holds records made with other settings; they are made again")
        shutil.rmtree(out)
        out.mkdir()
    previous = read_manifest(out)
    if previous is not None and previous.get("config") != config.as_dict() and not overwrite:
        raise InvalidArgumentError(
            f"{out / MANIFEST} was written with other settings ({_config_difference(previous.get('config'), config)}); "
            "use another --out, the same settings, or --overwrite"
        )
    todo, skipped = [], []
    for job in jobs:
        states = {name: None if overwrite else _is_done(out, name, config, source_fingerprint(job.video_path, table, crops))
                  for name, table, crops in job.entries}
        if any(state is False for state in states.values()):
            raise InvalidArgumentError(
                f"{out} holds records of {job.source} made with other settings; use another --out or --overwrite"
            )
        skipped += [name for name, state in states.items() if state]
        pending = [entry for entry in job.entries if not states[entry[0]]]
        for name, _, _ in pending:  # a stale marker must not outlive a redo that fails
            marker_path(out, name).unlink(missing_ok=True)
        if pending:
            todo.append(VideoJob(job.source, job.video_path, pending))
    run = Run(out, config, todo, skipped, progress)
    progress(f"preprocess: {run.total} video(s) to do, {len(skipped)} already done, {workers} worker(s) -> {out}")
    return run


def _config_difference(old, config):
    new = config.as_dict()
    if not isinstance(old, dict):
        return "unknown settings"
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys) or "unknown settings"


__all__ = ["PreprocessResult", "Run", "run_preprocess", "start_run"]
