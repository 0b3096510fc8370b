"""The preprocessing job: Aff-Wild2 videos + annotations -> one TFRecord shard per video.

For every annotated video (annotation name, e.g. `10-60-1280x720_left`) of one split it
writes `<out>/<name>.tfrecord`, one record per annotated frame (`affectkeras.data.records`):

- frames: frame `k` (1-based) is the k-th frame of the video file, the numbering of the
  ABAW `cropped_aligned/<name>/%05d.jpg` crops and of annotation line `k + 1` (for the
  30-fps videos, most of Aff-Wild2, that is the papers' 30-fps grid). A record is written
  for every frame the annotation files cover (the union of the tasks' files).
- faces: the `cropped_aligned/<name>/` crops when the folder exists (JPEG bytes copied as
  they are when already `size` px, else resized and re-encoded), otherwise detected,
  tracked and aligned from the video with `affectkeras.faces` (`_left` / `_right`: the
  leftmost / rightmost face). A frame without a crop is written with `face/found = 0`.
- audio: the log-mel window centred on each frame's timestamp, from the source video's
  track (`affectkeras.audio`; silence when the video has no track). `_left` and `_right`
  share their source video, so its sound (and face detection) is computed once for both.
- labels: `affectkeras.annotations` readers, matched to frames by index, never by position;
  tasks not asked for (or without files) are written masked.

Robust restarts: every shard is written under a temporary name and renamed when complete,
then a done marker `<out>/<name>.done.json` is written. A restarted job skips the videos
whose marker and shard exist (and were made with the same settings) and redoes the others;
the per-video transform is deterministic, so a restarted job gives identical shards. A
video that fails (corrupt file, bad annotation) is recorded with its error message in
`<out>/manifest.json` while the others go on; the next run retries it.

Example:
    >>> result = run_preprocess("Aff-Wild2", "records/train", split="train", workers=2)
    >>> result.failed
    {}
    >>> ds = make_dataset("records/train")

Command line: `affectkeras preprocess ROOT --out DIR [--workers N] ...` (see `register`).
"""

import argparse
import concurrent.futures
import dataclasses
import io
import json
import multiprocessing
import os
import pathlib
import sys
import tempfile
import time
import warnings

import numpy as np

from affectkeras.constants import FPS
from affectkeras.errors import InvalidArgumentError, check_choice, check_positive, one_line
from affectkeras.files import remove_stale, write_json

# Task names on the command line / in `tasks=` (those of `affectkeras.models.heads`, which
# this module does not import: it would load Keras for `--help`) -> the annotation readers'.
TASKS = {"va": "VA", "expr": "EXPR", "au": "AU"}
SPLITS = ("train", "validation")
FACE_SOURCES = ("auto", "crops", "detect")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
MANIFEST = "manifest.json"
DONE_SUFFIX = ".done.json"
FAILED_SUFFIX = ".failed.json"
_AUDIO_CHUNK = 1024  # frames whose audio windows are cut at once (bounded memory)


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """The settings that decide the content of the records (stored in the manifest).

    A folder of records holds one config: a restart with other settings is refused.

    Attributes:
        split: str. `"train"` or `"validation"`.
        tasks: tuple of str. Among `"va"`, `"expr"`, `"au"`.
        size: int. Side of the stored face crops in pixels.
        faces: str. `"auto"` (crops when present, else detection), `"crops"` or `"detect"`.
        audio: bool. Write audio windows.
        audio_dtype: str. `"float16"` or `"float32"`.
        jpeg_quality: int. Quality of re-encoded crops (1-100).
        spectrogram: dict. `dataclasses.asdict(SpectrogramConfig)` of the audio windows.
    """

    split: str = "train"
    tasks: tuple = tuple(TASKS)
    size: int = 96
    faces: str = "auto"
    audio: bool = True
    audio_dtype: str = "float16"
    jpeg_quality: int = 95
    spectrogram: dict = None

    def as_dict(self):
        """dict. JSON-friendly form."""
        return {**dataclasses.asdict(self), "tasks": list(self.tasks)}


@dataclasses.dataclass
class VideoJob:
    """One source video and the annotation names (1, or 2 for `_left` / `_right`) it carries.

    Attributes:
        source: str. Source video name.
        video_path: str or None. The video file (None when not found).
        entries: list of `(name, FrameTable, crops_dir or None)`.
    """

    source: str
    video_path: str
    entries: list


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


# ----------------------------------------------------------------------------------------
# Planning: which videos, which files


def _check_config(config):
    check_choice("split", config.split, SPLITS)
    if not config.tasks:
        raise InvalidArgumentError(f"`tasks` must name at least one of {list(TASKS)}. Received: tasks=()")
    for task in config.tasks:
        check_choice("tasks", task, tuple(TASKS))
    check_positive("size", config.size, integer=True)
    check_choice("faces", config.faces, FACE_SOURCES)
    from affectkeras.data.records import AUDIO_DTYPES

    check_choice("audio_dtype", config.audio_dtype, AUDIO_DTYPES)
    if not (isinstance(config.jpeg_quality, int) and 1 <= config.jpeg_quality <= 100):
        raise InvalidArgumentError(
            f"`jpeg_quality` must be an int in [1, 100]. Received: jpeg_quality={config.jpeg_quality!r}"
        )


def make_config(*, split="train", tasks=tuple(TASKS), size=96, faces="auto", audio=True,
                audio_dtype="float16", jpeg_quality=95, spectrogram=None):
    """Builds and checks a `PreprocessConfig` (arguments as its attributes).

    Args:
        spectrogram: `affectkeras.audio.SpectrogramConfig` or None (defaults).
        Others: see `PreprocessConfig`.

    Returns:
        `PreprocessConfig`.
    """
    from affectkeras.audio import SpectrogramConfig

    if isinstance(tasks, str):
        tasks = tuple(t.strip() for t in tasks.split(",") if t.strip())
    spectrogram = spectrogram or SpectrogramConfig()
    config = PreprocessConfig(
        split=str(split).lower(),
        tasks=tuple(t for t in TASKS if t in {str(x).lower() for x in tasks}) if tasks else (),
        size=size,
        faces=faces,
        audio=bool(audio),
        audio_dtype=audio_dtype,
        jpeg_quality=jpeg_quality,
        spectrogram=dataclasses.asdict(spectrogram) if audio else None,
    )
    unknown = [t for t in tasks if str(t).lower() not in TASKS]
    if unknown:
        raise InvalidArgumentError(f"`tasks` must be among {list(TASKS)}. Received: tasks={list(tasks)!r}")
    _check_config(config)
    return config


def _index_videos(folder):
    """Maps video stem -> path for the video files under `folder` (recursively)."""
    found = {}
    if folder is None or not folder.is_dir():
        return found
    rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    for path in sorted(folder.rglob("*")):
        ext = path.suffix.lower()
        if ext in rank and path.is_file():
            best = found.get(path.stem)
            if best is None or rank[ext] < rank[best.suffix.lower()]:
                found[path.stem] = path
    return found


def plan(root, config, *, annotations=None, videos=None, crops=None, only=None):
    """Lists the work of a job: one `VideoJob` per source video, in name order.

    Args:
        root: str or path. The dataset folder (ABAW layout).
        config: `PreprocessConfig`.
        annotations: str, path or None. Annotations root; None = `root/annotations` if it
            exists, else `root`.
        videos: str, path or None. Folder searched (recursively) for `<source>.<ext>`
            video files; None = `root/videos` if it exists, else `root`.
        crops: str, path or None. The `cropped_aligned` folder; None = `root/cropped_aligned`.
        only: sequence of str or None. Keep only these annotation (or source video) names.

    Returns:
        `(jobs, notes)`: list of `VideoJob`, and list of str warnings (e.g. a task without files).

    Raises:
        FileNotFoundError: `root` or a given folder does not exist, or no annotation folder
            of any asked task exists for the split (one-line message).
    """
    from affectkeras import annotations as ann

    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: {root}")
    for name, folder in (("annotations", annotations), ("videos", videos), ("crops", crops)):
        if folder is not None and not pathlib.Path(folder).is_dir():
            raise FileNotFoundError(f"--{name} folder not found: {folder}")
    ann_root = pathlib.Path(annotations) if annotations else (
        root / "annotations" if (root / "annotations").is_dir() else root
    )
    video_root = pathlib.Path(videos) if videos else (root / "videos" if (root / "videos").is_dir() else root)
    crops_root = pathlib.Path(crops) if crops else root / "cropped_aligned"

    sets, notes = {}, []
    for task in config.tasks:
        try:
            sets[task] = ann.read_annotation_set(ann_root, TASKS[task], config.split)
        except FileNotFoundError:
            notes.append(f"no {TASKS[task]} {config.split} annotation folder under {ann_root}: {task} labels masked")
    if not sets:
        raise FileNotFoundError(
            f"No annotation folder for tasks {list(config.tasks)}, split {config.split!r} under {ann_root} "
            "(expected e.g. VA_Estimation_Challenge/Train_Set)"
        )
    tables = ann.merge_annotation_sets(va=sets.get("va"), expr=sets.get("expr"), au=sets.get("au"))
    if only:
        wanted = set(only)
        tables = {n: t for n, t in tables.items() if n in wanted or ann.source_video(n)[0] in wanted}
        missing = wanted - set(tables) - {ann.source_video(n)[0] for n in tables}
        if missing:
            notes.append(f"--only names without annotations: {sorted(missing)}")
    index = _index_videos(video_root)
    jobs = {}
    for name, table in tables.items():
        source = ann.source_video(name)[0]
        folder = crops_root / name
        job = jobs.setdefault(source, VideoJob(source, str(index[source]) if source in index else None, []))
        job.entries.append((name, table, str(folder) if folder.is_dir() else None))
    return [jobs[s] for s in sorted(jobs)], notes


# ----------------------------------------------------------------------------------------
# The per-video transform (shared by the local pool and the Beam pipeline)


def _encode_jpeg(image, quality):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _crop_bytes(path, size, quality):
    """A crop file as JPEG bytes of a `size` px face: copied when it already is one."""
    from PIL import Image

    data = pathlib.Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG" and image.size == (size, size) and image.mode == "RGB":
            return data
        image = image.convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)  # antialiased when shrinking
        return _encode_jpeg(np.asarray(image), quality)


class _FolderCrops:
    """The crops of a `cropped_aligned/<name>/` folder by frame k, read when asked for."""

    def __init__(self, folder, frames, size, quality):
        from affectkeras import annotations as ann

        present = set(ann.list_face_frames(folder).tolist())
        by_index = {int(p.stem): p for p in pathlib.Path(folder).iterdir() if p.stem.isdigit()}
        self._paths = {int(k): by_index[k] for k in frames if k in present}
        self._size, self._quality = size, quality

    def __contains__(self, k):
        return k in self._paths

    def get(self, k, default=None):
        return _crop_bytes(self._paths[k], self._size, self._quality) if k in self._paths else default


class _SpilledCrops:
    """Detected crops by frame k, kept in an anonymous temporary file in `folder`.

    Memory holds an offset per crop, not the JPEG (~5 KB): a long video's crops would
    otherwise grow with its length (~70 MB for 10 minutes) until its shard is written.
    """

    def __init__(self, folder=None):
        self._file = tempfile.TemporaryFile(dir=folder)  # no name: gone when closed or on a crash
        self._index = {}

    def __setitem__(self, k, data):
        self._file.seek(0, os.SEEK_END)
        self._index[k] = (self._file.tell(), len(data))
        self._file.write(data)

    def __contains__(self, k):
        return k in self._index

    def get(self, k, default=None):
        if k not in self._index:
            return default
        offset, length = self._index[k]
        self._file.seek(offset)
        return self._file.read(length)


def _detect_crops(video_path, names, size, quality, folder=None):
    """Face crops per annotation name, detected in the video: {name: `_SpilledCrops`}.

    Each name's crops (frame k -> JPEG bytes) wait in a temporary file in `folder`.
    """
    from affectkeras import faces, media
    from affectkeras.annotations import source_video

    sides = [source_video(n)[1] for n in names]
    out = {name: _SpilledCrops(folder) for name in names}
    if len(names) == 1 and sides[0] is None:
        for record in faces.iter_faces(video_path, fps=None, size=size, subject="persistent"):
            if record.crop is not None:
                out[names[0]][record.frame_index + 1] = _encode_jpeg(record.crop, quality)
        return out
    # Two people in one video: the leftmost face is `_left`, the rightmost `_right`; a lone
    # face goes to the side of the frame its centre is in.
    width = media.probe(video_path).width
    per_frame = {}
    for record in faces.iter_faces(video_path, fps=None, size=size, subject="all"):
        if record.crop is not None:
            per_frame.setdefault(record.frame_index, []).append(record)
    for index, found in per_frame.items():
        found.sort(key=lambda r: r.box[0])
        if len(found) == 1:
            centre = (found[0].box[0] + found[0].box[2]) / 2
            chosen = {"left": found[0]} if centre < width / 2 else {"right": found[0]}
        else:
            chosen = {"left": found[0], "right": found[-1]}
        for name, side in zip(names, sides):
            record = chosen.get(side or "left")
            if record is not None:
                out[name][index + 1] = _encode_jpeg(record.crop, quality)
    return out


def _frame_times(video_path, frames):
    """Seconds from the start of the file of 1-based source frames (extrapolated past the end)."""
    frames = np.asarray(frames, np.int64)
    if video_path is None:
        return (frames - 1) / float(FPS)
    from affectkeras import media

    times = np.sort(media.read_timeline(video_path, decode=False).source_times)
    if len(times) == 0:
        return (frames - 1) / float(FPS)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / FPS
    index = frames - 1
    inside = index < len(times)
    out = np.empty(len(frames), np.float64)
    out[inside] = times[index[inside]]
    out[~inside] = times[-1] + (index[~inside] - (len(times) - 1)) * step
    return out


def _spectrogram(video_path, spectrogram_config):
    """(log-mel spectrogram of the video's track, note); silence when it has no track."""
    from affectkeras import audio, media

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signal = media.read_audio(video_path, sample_rate=spectrogram_config.sample_rate)
    note = "silence: no audio track" if any("no audio stream" in str(w.message) for w in caught) else "track"
    return audio.log_mel_spectrogram(signal, spectrogram_config), note


def process_job(job, out, config):
    """Runs the per-video transform of one `VideoJob` and writes its shards.

    Never raises for a bad video: each entry comes back `done` or `failed` with the error.

    Args:
        job: `VideoJob`.
        out: str or path. The records folder.
        config: `PreprocessConfig`.

    Returns:
        list of dict, one per entry: `name`, `status` (`"done"` / `"failed"`), and either
        the shard's statistics (`frames`, `faces`, `labelled`, `seconds`, ...) or `error`.

    Example:
        >>> jobs, _ = plan("Aff-Wild2", make_config(split="validation"))
        >>> process_job(jobs[0], "records/validation", make_config(split="validation"))
    """
    import affectkeras.data.records  # noqa: F401  (TensorFlow's import is not the video's time)

    started = time.perf_counter()
    out = pathlib.Path(out)
    names = [name for name, _, _ in job.entries]
    base = {"source_video": job.source, "video_file": job.video_path}
    try:
        shared = _prepare(job, config, out)
    except Exception as error:  # noqa: BLE001 - recorded per video, the job goes on
        return [{"name": n, "status": "failed", "error": one_line(error), **base} for n in names]
    results = []
    for name, table, crops_dir in job.entries:
        try:
            stats = _write_entry(out, name, table, crops_dir, shared, config)
            results.append({"name": name, "status": "done", **base, **stats})
        except Exception as error:  # noqa: BLE001
            results.append({"name": name, "status": "failed", "error": one_line(error), **base})
    elapsed = time.perf_counter() - started
    for result in results:
        result["seconds"] = round(elapsed / len(results), 3)
    return results


def _prepare(job, config, out=None):
    """What the entries of one source video share: timeline, spectrogram, detected crops."""
    from affectkeras.audio import SpectrogramConfig

    frames = np.unique(np.concatenate([t.frame_indices for _, t, _ in job.entries]))
    needs_video = config.audio or config.faces == "detect" or (
        config.faces == "auto" and any(c is None for _, _, c in job.entries)
    )
    if job.video_path is None and needs_video:
        why = "audio" if config.audio else "face detection (no cropped_aligned folder)"
        raise FileNotFoundError(
            f"no video file named {job.source}.<{'|'.join(e[1:] for e in VIDEO_EXTENSIONS[:3])}|...> "
            f"found (needed for {why})"
        )
    if config.faces == "crops":
        missing = [name for name, _, crops in job.entries if crops is None]
        if missing:
            raise FileNotFoundError(f"no cropped_aligned folder for {', '.join(missing)} (--faces crops)")
    shared = {"times": dict(zip(frames.tolist(), _frame_times(job.video_path, frames)))}
    if config.audio:
        spec_config = SpectrogramConfig(**config.spectrogram)
        shared["spectrogram"], shared["audio_note"] = _spectrogram(job.video_path, spec_config)
        shared["spec_config"] = spec_config
    detect = [name for name, _, crops in job.entries if config.faces == "detect" or crops is None]
    shared["detected"] = (
        _detect_crops(job.video_path, detect, config.size, config.jpeg_quality, out) if detect else {}
    )
    return shared


def _write_entry(out, name, table, crops_dir, shared, config):
    from affectkeras import audio as audio_features
    from affectkeras.data.records import RECORD_SUFFIX, ShardWriter, encode_frame

    frames = table.frame_indices
    if name in shared["detected"]:
        crops, face_source = shared["detected"][name], "detected"
    else:
        crops, face_source = _FolderCrops(crops_dir, frames, config.size, config.jpeg_quality), "crops"
    times = np.array([shared["times"][int(k)] for k in frames], np.float64)
    keep = {
        "va": "va" in config.tasks,
        "expr": "expr" in config.tasks,
        "au": "au" in config.tasks,
    }
    shard = out / f"{name}{RECORD_SUFFIX}"
    labelled = 0
    with ShardWriter(shard) as writer:
        for start in range(0, len(frames), _AUDIO_CHUNK):
            stop = min(start + _AUDIO_CHUNK, len(frames))
            windows = None
            if config.audio:
                windows = audio_features.frame_windows(
                    shared["spectrogram"], times[start:stop], shared["spec_config"]
                )
            for i in range(start, stop):
                k = int(frames[i])
                va_mask = bool(table.va_mask[i]) and keep["va"]
                expr_mask = bool(table.expression_mask[i]) and keep["expr"]
                aus_mask = table.aus_mask[i] & keep["au"]
                labelled += va_mask or expr_mask or bool(aus_mask.any())
                writer.write(
                    encode_frame(
                        video=name,
                        frame_index=k,
                        time=times[i],
                        face_jpeg=crops.get(k, b""),
                        face_size=config.size,
                        audio=None if windows is None else windows[i - start],
                        audio_dtype=config.audio_dtype,
                        va=table.va[i],
                        va_mask=va_mask,
                        expression=table.expression[i],
                        expression_mask=expr_mask,
                        aus=table.aus[i],
                        aus_mask=aus_mask,
                        num_aus=len(table.au_names),
                    )
                )
    return {
        "shard": shard.name,
        "frames": int(len(frames)),
        "faces": int(sum(1 for k in frames if int(k) in crops)),
        "labelled": int(labelled),
        "face_source": face_source,
        "audio": shared.get("audio_note"),
        "expression_classes": list(table.expression_names),
        "action_units": list(table.au_names),
    }


# ----------------------------------------------------------------------------------------
# Markers and manifest


def _write_json(path, data):
    """A marker or manifest: on disk before it is visible, since later runs trust it."""
    write_json(path, data, indent=1, sort_keys=True, fsync=True)


def marker_path(out, name, *, failed=False):
    """pathlib.Path. The done (or failed) marker of one annotation name."""
    return pathlib.Path(out) / f"{name}{FAILED_SUFFIX if failed else DONE_SUFFIX}"


def read_manifest(out):
    """Returns the manifest of a records folder (dict), or None when it has none.

    Args:
        out: str or path. The records folder.

    Returns:
        dict with `schema_version`, `config`, `videos` (name -> entry with `status`
        `"done"` (`shard`, `frames`, `faces`, `labelled`, ...) or `"failed"` (`error`)) and
        `totals`; or None.
    """
    path = pathlib.Path(out) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _is_done(out, name, config):
    """True: a complete shard made with `config`; False: made with other settings; None: not done."""
    from affectkeras.data.records import RECORD_SUFFIX

    marker = marker_path(out, name)
    if not marker.is_file():
        return None
    entry = json.loads(marker.read_text())
    if entry.get("config") != config.as_dict():
        return False
    return True if (pathlib.Path(out) / f"{name}{RECORD_SUFFIX}").is_file() else None


def record_result(out, result, config):
    """Writes the marker of one finished entry (a `process_job` result).

    Done: `<name>.done.json` (with the settings, checked on restart) replaces any failed
    marker; failed: `<name>.failed.json` with the error, so the manifest lists it.
    """
    name = result["name"]
    if result["status"] == "done":
        _write_json(marker_path(out, name), {**result, "config": config.as_dict()})
        marker_path(out, name, failed=True).unlink(missing_ok=True)
    else:
        _write_json(marker_path(out, name, failed=True), result)


def build_manifest(out, config):
    """Collects the markers of a records folder into the manifest dict (see `read_manifest`)."""
    from affectkeras.data.records import SCHEMA_VERSION

    videos = {}
    for suffix in (FAILED_SUFFIX, DONE_SUFFIX):  # a done marker wins over a stale failed one
        for marker in sorted(pathlib.Path(out).glob(f"*{suffix}")):
            entry = json.loads(marker.read_text())
            entry.pop("config", None)
            videos[marker.name[: -len(suffix)]] = entry
    done = [v for v in videos.values() if v["status"] == "done"]
    return {
        "schema_version": SCHEMA_VERSION,
        "config": config.as_dict(),
        "videos": dict(sorted(videos.items())),
        "totals": {
            "done": len(done),
            "failed": len(videos) - len(done),
            "frames": sum(v["frames"] for v in done),
            "faces": sum(v["faces"] for v in done),
        },
    }


# ----------------------------------------------------------------------------------------
# The job


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
    workers=1,
    annotations=None,
    videos=None,
    crops=None,
    only=None,
    overwrite=False,
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
        workers: int. Processes working in parallel (1 = in this process).
        annotations: str, path or None. See `plan`.
        videos: str, path or None. See `plan`.
        crops: str, path or None. See `plan`.
        only: sequence of str or None. Annotation or source video names to process.
        overwrite: bool. Redo every video, also those already done (or done with other settings).
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
                         audio_dtype=audio_dtype, jpeg_quality=jpeg_quality, spectrogram=spectrogram)
    run = start_run(root, out, config, annotations=annotations, videos=videos, crops=crops, only=only,
                    overwrite=overwrite, progress=progress, workers=workers)
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
              progress=_print_progress, workers=1):
    """Plans a run: lists the videos, checks `out`'s settings, leaves out the entries already done.

    Args:
        root, annotations, videos, crops, only: see `plan`.
        out: str or path. The records folder (created).
        config: `PreprocessConfig`.
        overwrite: bool. Redo everything.
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
    previous = read_manifest(out)
    if previous is not None and previous.get("config") != config.as_dict() and not overwrite:
        raise InvalidArgumentError(
            f"{out / MANIFEST} was written with other settings ({_config_difference(previous.get('config'), config)}); "
            "use another --out, the same settings, or --overwrite"
        )
    todo, skipped = [], []
    for job in jobs:
        states = {name: (None if overwrite else _is_done(out, name, config)) for name, _, _ in job.entries}
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


# ----------------------------------------------------------------------------------------
# Command line


def _tasks_arg(text):
    tasks = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in tasks if t not in TASKS]
    if not tasks or bad:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of {', '.join(TASKS)} (received {text!r})"
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


def register(subparsers):
    """Adds the `preprocess` subcommand to the `affectkeras` command's subparsers.

    Args:
        subparsers: the object `argparse.ArgumentParser.add_subparsers()` returned.

    Returns:
        The subcommand's `argparse.ArgumentParser`.
    """
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
    parser.add_argument("--tasks", type=_tasks_arg, default=tuple(TASKS), metavar="LIST",
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

    parser.set_defaults(run=_run)
    return parser


def _run(args):
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
        workers=args.workers,
        annotations=args.annotations,
        videos=args.videos,
        crops=args.crops,
        only=args.only,
        overwrite=args.overwrite,
        progress=progress,
    )
    return 1 if result.failed else 0


__all__ = [
    "FACE_SOURCES",
    "Run",
    "build_manifest",
    "record_result",
    "start_run",
    "MANIFEST",
    "PreprocessConfig",
    "PreprocessResult",
    "SPLITS",
    "TASKS",
    "VideoJob",
    "make_config",
    "marker_path",
    "plan",
    "process_job",
    "read_manifest",
    "register",
    "run_preprocess",
]
