"""The per-video transform (shared by the local pool and the Beam pipeline).

`process_job` turns one `VideoJob` into its shards: face crops (copied from
`cropped_aligned/` or detected), the log-mel window of every frame, optionally the 68
landmarks fitted on each crop, the labels, written
with `records.ShardWriter` (temporary name, renamed when complete).
"""

import io
import os
import pathlib
import tempfile
import time
import warnings

import numpy as np

from affectkeras.constants import FPS, LANDMARK_POINTS
from affectkeras.data.preprocess.config import VIDEO_EXTENSIONS
from affectkeras.data.preprocess.manifest import source_fingerprint
from affectkeras.errors import one_line

_AUDIO_CHUNK = 1024  # frames whose audio windows are cut at once (bounded memory)


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


def _crop_landmarks(jpeg):
    """The 68 landmarks of a stored crop, fitted on the crop as the network will see it."""
    from PIL import Image

    from affectkeras.faces import crop_landmarks

    with Image.open(io.BytesIO(jpeg)) as image:
        return crop_landmarks(np.asarray(image.convert("RGB")))


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
        source = source_fingerprint(job.video_path, table, crops_dir)  # before the files are read
        try:
            stats = _write_entry(out, name, table, crops_dir, shared, config)
            results.append({"name": name, "status": "done", **base, **stats, "source": source})
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
    no_face = np.zeros((LANDMARK_POINTS, 2), np.float32)
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
                jpeg = crops.get(k, b"")
                va_mask = bool(table.va_mask[i]) and keep["va"]
                expr_mask = bool(table.expression_mask[i]) and keep["expr"]
                aus_mask = table.aus_mask[i] & keep["au"]
                labelled += va_mask or expr_mask or bool(aus_mask.any())
                writer.write(
                    encode_frame(
                        video=name,
                        frame_index=k,
                        time=times[i],
                        face_jpeg=jpeg,
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
                        landmarks=(_crop_landmarks(jpeg) if jpeg else no_face) if config.landmarks else None,
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


__all__ = ["process_job"]
