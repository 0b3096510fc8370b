"""A small synthetic Aff-Wild2: the real on-disk layout, with labels a network can learn.

`write_dataset` writes videos, face crops and annotation files exactly as Aff-Wild2 is
distributed for the ABAW challenges (see DESIGN 3), so every reader, preprocessing job,
training recipe and test can run end to end on a laptop in seconds:

```
root/videos/<video>.mp4                       h264 yuv420p at `fps`, AAC mono 16 kHz audio
root/cropped_aligned/<name>/00001.jpg ...     `size` x `size` face crops, 1-based frame number
root/annotations/VA_Estimation_Challenge/{Train_Set,Validation_Set}/<name>.txt
root/annotations/EXPR_Recognition_Challenge/{Train_Set,Validation_Set}/<name>.txt
root/annotations/AU_Detection_Challenge/{Train_Set,Validation_Set}/<name>.txt
root/synthetic.json                           what was generated (written last)
```

Video names look like Aff-Wild2's (`synth-002-480x360`: number, frame size); the first
video shows two annotated people, `synth-001-640x360_left` and `_right`, who share the
video file and its audio track, as in Aff-Wild2.

What carries the labels (so that a model must use the face and the sound):

- Valence and arousal are smooth random trajectories in [-1, 1] (sums of sinusoids with
  periods of 1-5 s, centred on each video, squashed by tanh): who is shown does not
  predict the labels, only what the face does. The expression is the (valence, arousal)
  region nearest the frame (prototypes on the circumplex) with smooth per-class noise,
  mode-filtered into segments.
- The face is drawn with PIL from 13 muscle-like parameters that follow valence, arousal
  and the expression plus smooth noise: mouth curvature follows valence, eye opening,
  brow height and mouth opening follow arousal, and each expression adds its own features
  (anger: lowered knitted brows, narrowed eyes, thin lips; disgust: nose wrinkles and
  nasolabial folds; fear: raised knitted brows, wide eyes, stretched mouth; happiness:
  smile, cheeks, teeth; sadness: inner brows up, mouth corners down; surprise: raised
  brows, wide eyes, open mouth; other: pressed lips, a lopsided mouth).
- Each action unit is a threshold on the parameter that draws it (AU12 = mouth corners
  up, AU25 = lips apart, AU26 = mouth wide open, AU1 / AU2 = inner / outer brow raised,
  AU4 = brows lowered, ...), so the AU labels are exactly what the face shows.
- Each person has their own face (skin tone, hair, face shape, feature positions), so a
  held-out video tests generalisation to a new face. The frame adds a muted background,
  mild noise, illumination changes (+-4 %) and small head motion; crops follow the face
  (forehead to chin, little background, as Aff-Wild2's `cropped_aligned`) with a pixel or
  two of alignment noise. A busy backdrop moving with the head would tell a network the
  time, and so the labels, of a training video: with a few videos it then memorises
  instead of reading the face.
- The sound is a voice-like harmonic tone with vibrato and syllable-rate modulation:
  its loudness follows arousal (-34 dB to -8 dB) and its pitch follows valence (+-4
  semitones around the person's own pitch).
- A few short runs of frames show the face covered by a hand: those frames have no crop
  (as where Aff-Wild2's detector found no face), yet keep their labels. Each task leaves
  runs of frames unannotated (`-5`, `-1`), about `unannotated_fraction` of the frames.

Everything is drawn from `numpy.random.default_rng([seed, video number])`: the same seed
gives byte-identical annotation files, crops and (with ffmpeg's bitexact flags and a fixed
encoder thread count) mp4 files. Video `k` does not depend on `num_videos` (except that
video 1 is the two-person one only when `num_videos >= 2`).

Example:
    >>> from affectkeras.testing import write_dataset
    >>> dataset = write_dataset("/tmp/affwild2-synth")
    >>> dataset.train, dataset.validation
    (('synth-001-640x360_left', 'synth-001-640x360_right', 'synth-002-480x360', ...), (...))
"""

import concurrent.futures
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from affectkeras.annotations.affwild2 import SPLIT_FOLDERS, TASK_FOLDERS
from affectkeras.constants import (
    AU_MASK,
    EXPR_MASK,
    FPS,
    VA_MASK,
    VA_NAMES,
    au_names,
    expression_names,
)
from affectkeras.errors import DataFormatError, InvalidArgumentError, MediaError, check_choice, check_fraction
from affectkeras.media import _ffmpeg
from affectkeras.media.audio import SAMPLE_RATE
from affectkeras.testing._faces import _CROP_CENTER, _CROP_SIDE, _PARAMS, _PATCH, _background, _draw_face
from affectkeras.testing._people import _make_person, _smooth
from affectkeras.testing._voice import _voice, _write_wav

MANIFEST = "synthetic.json"
FORMAT = "affectkeras-synthetic"
FORMAT_VERSION = 1

# The entries of a dataset root that `write_dataset` owns (and replaces with overwrite=True).
ENTRIES = ("videos", "cropped_aligned", "annotations", MANIFEST)

# Frame sizes of the single-person videos, in turn (the two-person video is 640x360).
VIDEO_SIZES = ((640, 360), (480, 360))
PAIR_SIZE = (640, 360)

# x264 threads fixed so that the mp4 bytes do not depend on the machine's core count.
_X264_THREADS = 2
_JPEG_QUALITY = 90


@dataclasses.dataclass
class SyntheticDataset:
    """What `write_dataset` wrote: names, splits and paths of a synthetic Aff-Wild2.

    Attributes:
        root: pathlib.Path. The dataset root.
        videos: tuple of str. Every annotation name (a person in a video), sorted.
        train: tuple of str. The annotation names of `Train_Set`.
        validation: tuple of str. The annotation names of `Validation_Set`.
        video_files: dict str -> pathlib.Path. Annotation name -> its mp4 (`_left` and
            `_right` share one).
        crop_folders: dict str -> pathlib.Path. Annotation name -> `cropped_aligned/<name>`.
        annotation_files: dict str -> dict str -> pathlib.Path. Task (`"VA"`, `"EXPR"`,
            `"AU"`) -> annotation name -> its `.txt` file.
        missing_frames: dict str -> tuple of int. Annotation name -> the 1-based frames
            that have no face crop (the face is covered there).
        frames: int. Frames per video.
        fps: int. Frame rate of the videos and the labels.
        size: int. Side of the face crops in pixels.
        num_expressions: int. 7 or 8 expression classes.
        num_aus: int. 8 or 12 action units.
        seed: int. The seed it was generated with.

    Example:
        >>> dataset = write_dataset(tmp_path)
        >>> read_annotation_set(dataset.annotations_root, "VA", "train").keys() == set(dataset.train)
        True
    """

    root: pathlib.Path
    videos: tuple
    train: tuple
    validation: tuple
    video_files: dict
    crop_folders: dict
    annotation_files: dict
    missing_frames: dict
    frames: int
    fps: int
    size: int
    num_expressions: int
    num_aus: int
    seed: int

    @property
    def annotations_root(self):
        """pathlib.Path. `root/annotations`, the folder `read_annotation_set` takes."""
        return self.root / "annotations"

    @property
    def crops_root(self):
        """pathlib.Path. `root/cropped_aligned`."""
        return self.root / "cropped_aligned"

    @property
    def videos_root(self):
        """pathlib.Path. `root/videos`."""
        return self.root / "videos"

    def split_of(self, name):
        """Returns `"train"` or `"validation"` for an annotation name."""
        if name in self.train:
            return "train"
        if name in self.validation:
            return "validation"
        raise InvalidArgumentError(f"`name` is not a video of this dataset. Received: name={name!r}")

    @classmethod
    def load(cls, root):
        """Reads back the description of a dataset that `write_dataset` completed.

        Args:
            root: str or path. The dataset root (holding `synthetic.json`).

        Returns:
            A `SyntheticDataset`.

        Raises:
            FileNotFoundError: `root/synthetic.json` does not exist (no complete dataset).
            DataFormatError: the manifest is not one `write_dataset` wrote.

        Example:
            >>> dataset = SyntheticDataset.load("/tmp/affwild2-synth")
        """
        root = pathlib.Path(root)
        path = root / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"No synthetic dataset manifest: {path}")
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("format") != FORMAT:
            raise DataFormatError(path, None, f"not a manifest of write_dataset (format {FORMAT!r})")
        return _describe(root, manifest)


def _describe(root, manifest):
    """Builds the `SyntheticDataset` of a manifest dict."""
    p = manifest["parameters"]
    entries = manifest["videos"]
    names = tuple(sorted(entries))
    split_folder = {"train": SPLIT_FOLDERS["train"][0], "validation": SPLIT_FOLDERS["validation"][0]}
    annotation_files = {
        task: {
            name: root / "annotations" / TASK_FOLDERS[task][0] / split_folder[entries[name]["split"]]
            / f"{name}.txt"
            for name in names
        }
        for task in ("VA", "EXPR", "AU")
    }
    return SyntheticDataset(
        root=root,
        videos=names,
        train=tuple(n for n in names if entries[n]["split"] == "train"),
        validation=tuple(n for n in names if entries[n]["split"] == "validation"),
        video_files={n: root / entries[n]["video"] for n in names},
        crop_folders={n: root / "cropped_aligned" / n for n in names},
        annotation_files=annotation_files,
        missing_frames={n: tuple(entries[n]["missing_frames"]) for n in names},
        frames=p["frames"],
        fps=p["fps"],
        size=p["size"],
        num_expressions=p["num_expressions"],
        num_aus=p["num_aus"],
        seed=p["seed"],
    )


# ----------------------------------------------------------------------------------------
# One video


def _video_name(index, pair):
    width, height = PAIR_SIZE if pair else VIDEO_SIZES[(index - 1) % len(VIDEO_SIZES)]
    return f"synth-{index:03d}-{width}x{height}", (width, height)


def _ffmpeg_encoder(path, width, height, fps, wav_path):
    args = [
        _ffmpeg.ffmpeg_exe(), *_ffmpeg.BASE_ARGS, "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
        "-framerate", str(fps), "-i", "pipe:0",
        "-i", str(wav_path),
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
        "-r", str(fps), "-threads", str(_X264_THREADS),
        "-c:a", "aac", "-b:a", "64k", "-ar", str(SAMPLE_RATE), "-ac", "1",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-flags:a", "+bitexact", "-f", "mp4", str(path),
    ]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _write_video(plan, staging):
    """Generates one video (one or two people): labels, crops, mp4. Returns its manifest entries."""
    rng = np.random.default_rng([plan["seed"], plan["index"]])
    frames, fps, size = plan["frames"], plan["fps"], plan["size"]
    pair = plan["pair"]
    video, (width, height) = _video_name(plan["index"], pair)
    people = [
        _make_person(rng, frames, fps, plan["num_expressions"], plan["num_aus"],
                     plan["unannotated_fraction"])
        for _ in range(2 if pair else 1)
    ]
    names = [f"{video}_left", f"{video}_right"] if pair else [video]

    # Where each face sits: patch side in frame pixels and the patch's top-left corner.
    side = height * (0.5 if pair else 0.62)
    scale = side / _PATCH
    centers = [(0.27 * width, 0.5 * height), (0.73 * width, 0.5 * height)] if pair else [
        (width * (0.5 + rng.uniform(-0.08, 0.08)), height * (0.5 + rng.uniform(-0.04, 0.04)))
    ]
    background = _background(rng, width, height)
    # Pixel noise: values 0..16 added with offset -8 by one `ImageChops.add` (signed noise).
    noise = [
        Image.fromarray(np.clip(rng.normal(8, 2.5, (height, width, 3)), 0, 16).astype(np.uint8))
        for _ in range(4)
    ]
    light = 1 + 0.04 * _smooth(rng, frames, fps, (2.0, 8.0), 2)
    crop_jitter = rng.uniform(-1.5, 1.5, (len(people), frames, 2))
    noise_pick = rng.integers(len(noise), size=frames)
    signal = sum(_voice(person, frames, fps, SAMPLE_RATE, rng) for person in people)
    if pair:
        signal = signal * 0.75

    crop_dirs = [staging / "cropped_aligned" / name for name in names]
    for folder in crop_dirs:
        folder.mkdir(parents=True)
    (staging / "videos").mkdir(exist_ok=True)
    wav_path = staging / "videos" / f".{video}.wav"
    _write_wav(wav_path, signal, SAMPLE_RATE)
    mp4_path = staging / "videos" / f"{video}.mp4"
    encoder = _ffmpeg_encoder(mp4_path, width, height, fps, wav_path)
    drain = _ffmpeg.StderrDrain(encoder.stderr)
    drain.start()
    try:
        for t in range(frames):
            frame = background.copy()
            draw = ImageDraw.Draw(frame, "RGBA")
            boxes = []
            for k, person in enumerate(people):
                dx, dy, zoom = person.motion[t]
                s = scale * zoom
                ox = centers[k][0] + dx * scale - _PATCH / 2 * s
                oy = centers[k][1] + dy * scale - _PATCH / 2 * s
                p = dict(zip(_PARAMS, person.params[t]))
                _draw_face(draw, person.look, p, ox, oy, s, bool(person.missing[t]))
                x0 = ox + (_CROP_CENTER[0] - _CROP_SIDE / 2 + crop_jitter[k, t, 0]) * s
                y0 = oy + (_CROP_CENTER[1] - _CROP_SIDE / 2 + crop_jitter[k, t, 1]) * s
                boxes.append((x0, y0, x0 + _CROP_SIDE * s, y0 + _CROP_SIDE * s))
            frame = ImageChops.add(frame, noise[noise_pick[t]], offset=-8)
            lut = np.clip(np.arange(256) * light[t], 0, 255).astype(np.uint8).tolist()
            frame = frame.point(lut * 3)
            for k, person in enumerate(people):
                if person.missing[t]:
                    continue
                crop = frame.resize((size, size), Image.BILINEAR, box=boxes[k])
                crop.save(crop_dirs[k] / f"{t + 1:05d}.jpg", quality=_JPEG_QUALITY)
            encoder.stdin.write(frame.tobytes())
        encoder.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg died: its message is in the drain, reported below
    except BaseException:
        encoder.kill()  # never leave an encoder waiting on a pipe nobody writes
        encoder.wait()
        raise
    code = encoder.wait()
    drain.join()
    encoder.stderr.close()
    if code != 0:
        final = pathlib.Path(plan["root"]) / "videos" / mp4_path.name  # the staging folder goes
        raise MediaError(final, f"ffmpeg could not encode the video: {_ffmpeg.summarize(drain.tail)}"
                         f" (exit code {code})")
    wav_path.unlink()

    entries = {}
    for name, person in zip(names, people):
        _write_annotations(staging / "annotations", name, plan["split"], person,
                           plan["num_expressions"], plan["num_aus"])
        entries[name] = dict(
            split=plan["split"],
            video=f"videos/{video}.mp4",
            missing_frames=[int(i) + 1 for i in np.flatnonzero(person.missing)],
        )
    return entries


def _write_annotations(folder, name, split, person, num_expressions, num_aus):
    """Writes the VA, EXPR and AU files of one person, sentinels on unannotated runs."""
    split_folder = SPLIT_FOLDERS[split][0]
    va_lines = [
        f"{VA_MASK:g},{VA_MASK:g}" if hidden else f"{v:.4f},{a:.4f}"
        for (v, a), hidden in zip(person.va, person.unannotated["VA"])
    ]
    expr_lines = [
        str(EXPR_MASK) if hidden else str(int(e))
        for e, hidden in zip(person.expression, person.unannotated["EXPR"])
    ]
    au_lines = [
        ",".join([str(AU_MASK)] * num_aus) if hidden else ",".join(str(int(x)) for x in row)
        for row, hidden in zip(person.aus, person.unannotated["AU"])
    ]
    for task, header, lines in (
        ("VA", VA_NAMES, va_lines),
        ("EXPR", expression_names(num_expressions), expr_lines),
        ("AU", au_names(num_aus), au_lines),
    ):
        path = folder / TASK_FOLDERS[task][0] / split_folder / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(",".join(header) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------
# The dataset


def _check_int(name, value, minimum, maximum=None):
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    ok = ok and value >= minimum and (maximum is None or value <= maximum)
    if not ok:
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InvalidArgumentError(f"`{name}` must be an integer {bound}. Received: {name}={value!r}")
    return int(value)


def _prepare_root(root, overwrite):
    """Checks `root` and returns the entries of an earlier dataset to replace."""
    if root.exists() and not root.is_dir():
        raise InvalidArgumentError(f"`root` must be a folder. Received: root={str(root)!r} (a file)")
    present = [entry for entry in ENTRIES if (root / entry).exists()]
    if not present:
        return []
    if not overwrite:
        raise FileExistsError(
            f"{root} already holds a dataset ({', '.join(present)}); pass overwrite=True to "
            "replace it, or choose another root"
        )
    if not (root / MANIFEST).is_file():
        raise FileExistsError(
            f"{root} holds {', '.join(present)} but no {MANIFEST}: not a complete dataset of "
            "write_dataset (an interrupted run, or real data?); overwrite=True only replaces "
            "datasets that write_dataset completed. Delete those entries yourself"
        )
    return present


def write_dataset(root, *, num_videos=6, frames=150, size=112, fps=FPS, num_expressions=8,
                  num_aus=12, unannotated_fraction=0.1, validation_videos=2, seed=0,
                  overwrite=False, workers=None):
    """Writes a small synthetic Aff-Wild2 (videos, face crops, annotations) under `root`.

    The layout, file formats, names and sentinels are Aff-Wild2's as distributed for ABAW
    (see the module docstring); labels follow drawn faces and a voice, so a network trained
    on the training videos reaches a high CCC on the validation videos. Video 1 shows two
    annotated people (`_left`, `_right`) when `num_videos >= 2`. The last
    `validation_videos` videos form `Validation_Set`, the others `Train_Set`.

    Everything is written under a temporary folder inside `root` and moved into place when
    complete, `synthetic.json` last; an interrupted run leaves no partial dataset behind.

    Args:
        root: str or path. The dataset root (created if missing).
        num_videos: int. Number of video files, >= 1 (annotated people: one more when
            >= 2, for the `_left` / `_right` pair).
        frames: int. Frames per video, >= 1 (150 = 5 s at 30 fps).
        size: int. Side of the face crops in pixels, >= 16 (112 as Aff-Wild2's).
        fps: int. Frame rate of the videos and labels (30 as in the papers).
        num_expressions: int. 8 classes (ABAW 2022+) or 7 (no "Other": ABAW 2020 / 2021).
        num_aus: int. 12 AUs (ABAW 2021+) or 8 (ABAW 2020).
        unannotated_fraction: float. In [0, 1): about this fraction of each task's frames
            is left unannotated, in runs of 3-15 frames (`-5` VA, `-1` EXPR and AU).
        validation_videos: int. Videos in `Validation_Set`, in [0, num_videos - 1].
        seed: int. >= 0. Same seed, same files.
        overwrite: bool. Replace the dataset already under `root` (one that `write_dataset`
            completed); False (default) refuses with `FileExistsError`.
        workers: int or None. Processes generating videos in parallel; None: up to the
            number of CPU cores (at most 4); 1 generates in this process.

    Returns:
        A `SyntheticDataset`.

    Raises:
        InvalidArgumentError: an argument is invalid (the message names it).
        FileExistsError: `root` already holds a dataset and `overwrite` is False, or holds
            something that is not a completed synthetic dataset.
        MediaError: ffmpeg failed to encode a video.

    Example:
        >>> dataset = write_dataset("/tmp/affwild2-synth", num_videos=6, frames=150)
        >>> from affectkeras.annotations import read_annotation_set
        >>> va = read_annotation_set(dataset.annotations_root, "VA", "validation")
        >>> sorted(va) == list(dataset.validation)
        True
    """
    if not isinstance(root, (str, os.PathLike)):
        raise InvalidArgumentError(f"`root` must be a str or a path. Received: root={root!r}")
    num_videos = _check_int("num_videos", num_videos, 1)
    frames = _check_int("frames", frames, 1)
    size = _check_int("size", size, 16)
    fps = _check_int("fps", fps, 1)
    check_choice("num_expressions", num_expressions, (7, 8))
    check_choice("num_aus", num_aus, (8, 12))
    check_fraction("unannotated_fraction", unannotated_fraction)
    validation_videos = _check_int("validation_videos", validation_videos, 0, num_videos - 1)
    seed = _check_int("seed", seed, 0)
    if not isinstance(overwrite, bool):
        raise InvalidArgumentError(f"`overwrite` must be a bool. Received: overwrite={overwrite!r}")
    if workers is not None:
        workers = _check_int("workers", workers, 1)

    root = pathlib.Path(root)
    replace = _prepare_root(root, overwrite)
    root.mkdir(parents=True, exist_ok=True)
    plans = [
        dict(
            root=str(root), index=index, seed=seed, frames=frames, fps=fps, size=size,
            num_expressions=num_expressions, num_aus=num_aus,
            unannotated_fraction=float(unannotated_fraction),
            pair=index == 1 and num_videos >= 2,
            split="validation" if index > num_videos - validation_videos else "train",
        )
        for index in range(1, num_videos + 1)
    ]
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".synthetic-", suffix=".tmp", dir=root))
    try:
        for task in ("VA", "EXPR", "AU"):  # both splits exist even when one is empty
            for split in ("train", "validation"):
                (staging / "annotations" / TASK_FOLDERS[task][0] / SPLIT_FOLDERS[split][0]).mkdir(
                    parents=True
                )
        (staging / "videos").mkdir()
        (staging / "cropped_aligned").mkdir()
        entries = {}
        for result in _run(plans, staging, workers):
            entries.update(result)
        manifest = dict(
            format=FORMAT,
            version=FORMAT_VERSION,
            parameters=dict(
                num_videos=num_videos, frames=frames, size=size, fps=fps,
                num_expressions=num_expressions, num_aus=num_aus,
                unannotated_fraction=float(unannotated_fraction),
                validation_videos=validation_videos, seed=seed,
            ),
            videos={name: entries[name] for name in sorted(entries)},
        )
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        # Swap in: old entries out (manifest first, so a crash never leaves a manifest that
        # describes missing files), new ones in (manifest last: it marks completion).
        for entry in sorted(replace, key=lambda e: e != MANIFEST):
            target = root / entry
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        for entry in ENTRIES:
            os.replace(staging / entry, root / entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _describe(root, manifest)


def _run(plans, staging, workers):
    """Generates the videos, several at a time when there are several cores.

    Threads suffice: PIL's resampling, compositing and JPEG encoding release the GIL, and
    each video's ffmpeg encoder is a process of its own.
    """
    if workers is None:
        workers = min(4, os.cpu_count() or 1, len(plans))
    if workers <= 1 or len(plans) <= 1:
        return [_write_video(plan, staging) for plan in plans]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_write_video, plans, [staging] * len(plans)))


__all__ = ["SyntheticDataset", "write_dataset"]
