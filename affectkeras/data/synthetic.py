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
    >>> from affectkeras.data.synthetic import write_dataset
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
from PIL import Image, ImageChops, ImageDraw, ImageFilter

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
from affectkeras.errors import DataFormatError, InvalidArgumentError, MediaError, check_choice
from affectkeras.media import _ffmpeg
from affectkeras.media.audio import SAMPLE_RATE

MANIFEST = "synthetic.json"
FORMAT = "affectkeras-synthetic"
FORMAT_VERSION = 1

# The entries of a dataset root that `write_dataset` owns (and replaces with overwrite=True).
ENTRIES = ("videos", "cropped_aligned", "annotations", MANIFEST)

# Frame sizes of the single-person videos, in turn (the two-person video is 640x360).
VIDEO_SIZES = ((640, 360), (480, 360))
PAIR_SIZE = (640, 360)

# Side of the canonical face patch in which faces are designed, and the part of it that a
# face crop shows: forehead to chin, little background (as Aff-Wild2's aligned crops).
_PATCH = 224.0
_CROP_CENTER = (112.0, 120.0)
_CROP_SIDE = 176.0

# x264 threads fixed so that the mp4 bytes do not depend on the machine's core count.
_X264_THREADS = 2
_JPEG_QUALITY = 90

# Face parameters, in the order of the columns of `_Person.params`.
_PARAMS = (
    "curve",  # mouth corners up (+) / down (-): valence
    "open",  # lips apart / jaw drop: arousal, surprise, fear
    "inner",  # inner brow raise: arousal, sadness, surprise, fear
    "outer",  # outer brow raise: arousal, surprise, fear
    "lower",  # brows lowered and knitted: negative valence, anger, fear
    "eye",  # eye opening: arousal, surprise, fear
    "tighten",  # lower lid raised: anger, disgust
    "cheek",  # cheeks raised, teeth shown: happiness
    "lipraise",  # nose wrinkles, nasolabial folds: disgust
    "liptight",  # thin lips: anger
    "press",  # lips pressed, chin bulge: other
    "stretch",  # mouth widened: fear
    "asym",  # lopsided mouth: other
)
_P = {name: i for i, name in enumerate(_PARAMS)}

# Expression prototypes on the (valence, arousal) plane, in the order of EXPRESSIONS_8.
_PROTOTYPES = np.array(
    [
        (0.0, -0.35),  # Neutral
        (-0.55, 0.6),  # Anger
        (-0.75, 0.1),  # Disgust
        (-0.3, 0.85),  # Fear
        (0.65, 0.3),  # Happiness
        (-0.55, -0.55),  # Sadness
        (0.2, 0.85),  # Surprise
        (0.45, -0.6),  # Other
    ]
)

# What each expression adds to the face parameters (rows: EXPRESSIONS_8).
_EXPRESSION_OFFSETS = np.zeros((8, len(_PARAMS)))
for _row, _offsets in enumerate(
    [
        {},  # Neutral
        dict(lower=0.7, tighten=0.6, liptight=0.7, curve=-0.2, inner=-0.3),  # Anger
        dict(lipraise=0.8, lower=0.35, tighten=0.45, curve=-0.3),  # Disgust
        dict(inner=0.6, outer=0.5, lower=0.45, eye=0.45, stretch=0.7, open=0.3),  # Fear
        dict(curve=0.55, cheek=0.85, open=0.2),  # Happiness
        dict(inner=0.75, outer=-0.25, curve=-0.5, eye=-0.25),  # Sadness
        dict(inner=0.7, outer=0.85, eye=0.55, open=0.6),  # Surprise
        dict(press=0.85, asym=0.8),  # Other
    ]
):
    for _name, _value in _offsets.items():
        _EXPRESSION_OFFSETS[_row, _P[_name]] = _value

# Each action unit: (face parameter, threshold, sign). AU present = sign * param > threshold.
_AU_RULES = {
    "AU1": ("inner", 0.45, 1),
    "AU2": ("outer", 0.45, 1),
    "AU4": ("lower", 0.4, 1),
    "AU6": ("cheek", 0.4, 1),
    "AU7": ("tighten", 0.35, 1),
    "AU10": ("lipraise", 0.4, 1),
    "AU12": ("curve", 0.35, 1),
    "AU15": ("curve", 0.35, -1),
    "AU20": ("stretch", 0.4, 1),
    "AU23": ("liptight", 0.4, 1),
    "AU24": ("press", 0.4, 1),
    "AU25": ("open", 0.25, 1),
    "AU26": ("open", 0.5, 1),
}

_SKIN_TONES = (
    (255, 219, 180),
    (241, 194, 160),
    (224, 172, 120),
    (198, 140, 90),
    (160, 105, 70),
    (120, 80, 55),
)
_HAIR_COLORS = ((30, 22, 18), (70, 45, 25), (120, 85, 50), (20, 20, 25), (160, 130, 90), (95, 60, 40))
_IRIS_COLORS = ((60, 40, 25), (50, 80, 110), (70, 90, 50), (35, 30, 30))


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
# Labels and face parameters


def _smooth(rng, frames, fps, periods=(1.0, 5.0), components=3):
    """A smooth random signal: a few sinusoids with periods in `periods` seconds, centred on
    zero and scaled to unit standard deviation over the clip."""
    t = np.arange(frames) / fps
    amplitudes = rng.uniform(0.5, 1.0, components)
    out = np.zeros(frames)
    for amplitude in amplitudes:
        period = rng.uniform(*periods)
        out += amplitude * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    out -= out.mean()  # no per-video offset: a person's identity must not predict labels
    return out / max(out.std(), 1e-6)


def _mode_filter(labels, num_classes, width):
    """Most frequent class in a centred window (ties: the lower class): removes flicker."""
    onehot = np.eye(num_classes)[labels]
    half = width // 2
    padded = np.concatenate([np.repeat(onehot[:1], half, 0), onehot, np.repeat(onehot[-1:], half, 0)])
    sums = np.cumsum(np.concatenate([np.zeros((1, num_classes)), padded]), axis=0)
    counts = sums[width:] - sums[:-width]
    return np.argmax(counts, axis=1)


def _unannotated(rng, frames, fraction):
    """bool (frames,): runs of 3-15 frames, about `fraction` of the frames in all."""
    mask = np.zeros(frames, bool)
    target = int(round(fraction * frames))
    while mask.sum() < target:
        length = int(min(rng.integers(3, 16), target - mask.sum()))
        start = int(rng.integers(0, frames - length + 1))
        mask[start : start + length] = True
    return mask


def _missing(rng, frames):
    """bool (frames,): 1 run of 2-4 frames per 60 frames (none under 10 frames)."""
    mask = np.zeros(frames, bool)
    if frames < 10:
        return mask
    for _ in range(max(1, frames // 60)):
        length = int(rng.integers(2, 5))
        start = int(rng.integers(1, frames - length))
        mask[start : start + length] = True
    return mask


@dataclasses.dataclass
class _Person:
    """One annotated person: appearance, per-frame labels and face parameters."""

    look: dict
    va: np.ndarray  # float (frames, 2), rounded to the 4 decimals written
    expression: np.ndarray  # int (frames,), index into EXPRESSIONS_8 / _7
    aus: np.ndarray  # int (frames, num_aus)
    params: np.ndarray  # float (frames, len(_PARAMS))
    unannotated: dict  # task -> bool (frames,)
    missing: np.ndarray  # bool (frames,): no crop
    motion: np.ndarray  # float (frames, 3): dx, dy (patch units), scale factor


def _appearance(rng):
    """A person's fixed look (canonical patch units) and voice."""
    skin = np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))]) + rng.integers(-12, 13, 3)
    skin = np.clip(skin, 0, 255)
    face_w = rng.uniform(63, 69)
    face_h = rng.uniform(87, 93)
    face_cy = rng.uniform(116, 120)
    eye_y = face_cy - rng.uniform(12, 16)
    hair = _HAIR_COLORS[rng.integers(len(_HAIR_COLORS))]
    return dict(
        skin=tuple(int(v) for v in skin),
        shade=tuple(int(v * 0.82) for v in skin),
        hand=tuple(int(v) for v in np.clip(skin * 0.92 + 10, 0, 255)),
        hair=hair,
        brow=tuple(int(v * 0.55) for v in hair),  # darker than the hair: visible on any skin
        iris=_IRIS_COLORS[rng.integers(len(_IRIS_COLORS))],
        lips=tuple(int(v) for v in 0.5 * skin * np.array([0.9, 0.5, 0.5]) + [80, 10, 15]),
        shirt=tuple(int(v) for v in rng.integers(30, 220, 3)),
        face_w=face_w,
        face_h=face_h,
        face_cy=face_cy,
        hairline=face_cy - face_h * rng.uniform(0.62, 0.78),
        eye_y=eye_y,
        eye_dx=rng.uniform(28, 31),
        eye_w=rng.uniform(12, 13.5),
        brow_w=rng.uniform(4, 7),
        nose_y=face_cy + rng.uniform(20, 24),
        mouth_y=face_cy + rng.uniform(46, 50),
        mouth_w=rng.uniform(24, 27),
        lip=rng.uniform(4, 6),
        f0=rng.uniform(100, 240),
        tilt=rng.uniform(0.8, 1.4),
    )


def _make_person(rng, frames, fps, num_expressions, num_aus, unannotated_fraction):
    """Draws one person's look, labels, face parameters, masks and head motion."""
    look = _appearance(rng)
    # Valence / arousal: slow sinusoids around a slight per-person mood, squashed into
    # (-1, 1). A strong mood would let a network predict the labels from who is shown.
    va = np.stack(
        [np.tanh(rng.uniform(-0.15, 0.15) + 1.1 * _smooth(rng, frames, fps)) for _ in range(2)], axis=1
    )
    va = np.round(va * 0.98, 4)  # the values written to the file drive the face and voice

    # Expression: nearest prototype in (valence, arousal), noisy, then in segments.
    prototypes = _PROTOTYPES[:num_expressions]
    distance = np.sum((va[:, None, :] - prototypes[None]) ** 2, axis=-1)
    noise = np.stack([_smooth(rng, frames, fps, (0.8, 3.0), 2) for _ in range(num_expressions)], 1)
    scores = -distance / (2 * 0.3**2) + 1.2 * noise
    expression = _mode_filter(np.argmax(scores, axis=1), num_expressions, 9)

    # Face parameters: valence / arousal terms, the expression's features ramped in over
    # a few frames, smooth noise (so AUs are not a function of the labels alone).
    v, a = va[:, 0], va[:, 1]
    params = np.zeros((frames, len(_PARAMS)))
    params[:, _P["curve"]] = 0.9 * v
    params[:, _P["open"]] = 0.32 * (a + 0.35)
    params[:, _P["inner"]] = 0.45 * a
    params[:, _P["outer"]] = 0.45 * a
    params[:, _P["lower"]] = np.maximum(0.0, -0.6 * v - 0.1)
    params[:, _P["cheek"]] = np.maximum(0.0, 0.7 * v - 0.2)  # a broad smile lifts the cheeks
    params[:, _P["eye"]] = 0.6 * a
    offsets = _EXPRESSION_OFFSETS[expression]
    for t in range(1, frames):  # exponential ramp: ~3 frames to change expression
        offsets[t] = 0.45 * offsets[t - 1] + 0.55 * offsets[t]
    params += offsets
    params += 0.07 * np.stack([_smooth(rng, frames, fps, (0.5, 3.0), 2) for _ in _PARAMS], axis=1)
    low = np.array([-1.0 if name in ("curve", "inner", "outer", "eye") else 0.0 for name in _PARAMS])
    params = np.clip(params, low, 1.0)
    params[:, _P["open"]] *= 1.0 - params[:, _P["press"]]  # pressed lips close the mouth

    names = au_names(num_aus)
    aus = np.stack(
        [
            (_AU_RULES[au][2] * params[:, _P[_AU_RULES[au][0]]] > _AU_RULES[au][1]).astype(np.int64)
            for au in names
        ],
        axis=1,
    )
    unannotated = {task: _unannotated(rng, frames, unannotated_fraction) for task in ("VA", "EXPR", "AU")}
    missing = _missing(rng, frames)
    motion = np.stack(
        [
            5.0 * _smooth(rng, frames, fps, (2.0, 6.0), 2),
            3.0 * _smooth(rng, frames, fps, (2.0, 6.0), 2),
            1.0 + 0.04 * _smooth(rng, frames, fps, (2.0, 6.0), 2),
        ],
        axis=1,
    )
    return _Person(look, va, expression, aus, params, unannotated, missing, motion)


# ----------------------------------------------------------------------------------------
# Drawing


_T = np.linspace(0.0, 1.0, 9)[:, None]


def _bezier(start, middle, end):
    """Points of the quadratic Bezier from `start` to `end` passing through `middle` at t=0.5."""
    start, middle, end = (np.asarray(p, float) for p in (start, middle, end))
    control = 2 * middle - 0.5 * (start + end)
    return (1 - _T) ** 2 * start + 2 * (1 - _T) * _T * control + _T**2 * end


def _draw_face(draw, look, p, ox, oy, s, covered):
    """Draws one person: patch point (x, y) lands on frame pixel (ox + x s, oy + y s).

    `draw` is an RGBA-mode `ImageDraw` on the RGB frame, so fills with alpha blend.
    `p` maps a parameter name to its value for this frame.
    """

    def box(x0, y0, x1, y1):
        return (ox + x0 * s, oy + y0 * s, ox + x1 * s, oy + y1 * s)

    def pts(array):
        return [(ox + x * s, oy + y * s) for x, y in array]

    def width(w):
        return max(1, int(round(w * s)))

    cx = _PATCH / 2
    fw, fh, fcy = look["face_w"], look["face_h"], look["face_cy"]
    eye_y, eye_dx, nose_y, mouth_y = look["eye_y"], look["eye_dx"], look["nose_y"], look["mouth_y"]
    skin, shade = look["skin"], look["shade"]

    # Shoulders, neck, hair behind the head, ears, face.
    draw.ellipse(box(cx - 1.9 * fw, fcy + 1.05 * fh, cx + 1.9 * fw, fcy + 2.6 * fh), fill=look["shirt"])
    draw.rectangle(box(cx - 0.42 * fw, fcy + 0.5 * fh, cx + 0.42 * fw, fcy + 1.25 * fh), fill=shade)
    draw.ellipse(box(cx - 1.1 * fw, fcy - 1.1 * fh, cx + 1.1 * fw, fcy + 0.4 * fh), fill=look["hair"])
    for side in (-1, 1):
        ex = cx + side * fw
        draw.ellipse(box(ex - 9, eye_y, ex + 9, eye_y + 30), fill=shade)
    draw.ellipse(box(cx - fw, fcy - fh, cx + fw, fcy + fh), fill=skin)
    top = fcy - fh - 6
    draw.chord(box(cx - fw - 2, top, cx + fw + 2, 2 * look["hairline"] - top), 180, 360, fill=look["hair"])

    # Cheeks (AU6): rosy, alpha-blended.
    if p["cheek"] > 0.05:
        alpha = int(150 * min(1.0, p["cheek"]))
        for side in (-1, 1):
            x = cx + side * (eye_dx + 4)
            draw.ellipse(box(x - 15, eye_y + 14, x + 15, eye_y + 32), fill=(225, 90, 100, alpha))

    # Eyes: socket shadow, white, iris, pupil, lids. Opening follows arousal (AU5-like),
    # narrowed by a tightened lid (AU7) and raised cheeks (AU6).
    eye_w = look["eye_w"]
    eye_h = 6.5 * (1 + 0.9 * p["eye"]) - 3.0 * p["tighten"] - 2.0 * p["cheek"]
    eye_h = float(np.clip(eye_h, 1.0, 12.5))
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse(box(ex - eye_w - 4, eye_y - eye_h - 5, ex + eye_w + 4, eye_y + eye_h + 4), fill=shade)
        draw.ellipse(box(ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), fill=(245, 245, 240))
        r = min(6.0, eye_h)
        draw.ellipse(box(ex - 6, eye_y - r, ex + 6, eye_y + r), fill=look["iris"])
        if eye_h > 2.0:
            rp = min(2.5, eye_h - 1)
            draw.ellipse(box(ex - 2.5, eye_y - rp, ex + 2.5, eye_y + rp), fill=(10, 10, 10))
        draw.arc(box(ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), 180, 360, fill=(40, 30, 30),
                 width=width(2.5))
        lower_lid = width(1 + 2.0 * p["tighten"])
        draw.arc(box(ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), 0, 180, fill=shade,
                 width=lower_lid)

    # Brows: inner ends rise (AU1), outer ends rise (AU2), lowered and knitted (AU4).
    for side in (-1, 1):
        x_in = cx + side * (13 - 5 * p["lower"])
        y_in = eye_y - 19 - 15 * p["inner"] + 11 * p["lower"]
        x_out = cx + side * (eye_dx + 17)
        y_out = eye_y - 17 - 15 * p["outer"]
        mid = ((x_in + x_out) / 2, min(y_in, y_out) - 4)
        draw.line(pts(_bezier((x_in, y_in), mid, (x_out, y_out))), fill=look["brow"],
                  width=width(look["brow_w"] * (1 + 0.3 * p["lower"])), joint="curve")

    # Nose: bridge shadow, base, nostrils; wrinkles across the bridge (AU10 / disgust).
    draw.line(pts([(cx - 2, eye_y + 4), (cx - 6, nose_y - 4)]), fill=shade, width=width(3))
    draw.ellipse(box(cx - 13, nose_y - 6, cx + 13, nose_y + 5), fill=shade)
    for side in (-1, 1):
        draw.ellipse(box(cx + side * 6 - 3, nose_y - 1, cx + side * 6 + 3, nose_y + 3), fill=(60, 35, 30))
    if p["lipraise"] > 0.05:
        alpha = int(230 * min(1.0, p["lipraise"]))
        for k in range(3):
            y = eye_y + 3 + 5 * k
            draw.line(pts([(cx - 8, y), (cx + 8, y)]), fill=(70, 40, 30, alpha), width=width(1.5))
        for side in (-1, 1):  # nasolabial folds
            draw.line(pts(_bezier((cx + side * 14, nose_y), (cx + side * 24, nose_y + 14),
                                  (cx + side * 28, mouth_y + 6))),
                      fill=(90, 50, 40, alpha), width=width(2))

    # Mouth: corners up with valence (AU12) or down (AU15), apart (AU25) and wide open
    # (AU26) with arousal, stretched (AU20), thin (AU23), pressed (AU24), lopsided.
    mouth_w = look["mouth_w"] * (1 + 0.35 * p["stretch"])
    corner_y = mouth_y - 19 * p["curve"]
    left = (cx - mouth_w, corner_y - 8 * p["asym"])
    right = (cx + mouth_w, corner_y + 8 * p["asym"])
    open_h = 36 * p["open"]
    lip = look["lip"] * (1 - 0.6 * p["liptight"]) * (1 - 0.4 * p["press"])
    if open_h >= 2.5:
        upper = _bezier(left, (cx, mouth_y - 0.3 * open_h), right)
        lower = _bezier(left, (cx, mouth_y + 0.7 * open_h + 3 * max(0.0, p["curve"])), right)
        draw.polygon(pts(np.concatenate([upper, lower[::-1]])), fill=(70, 20, 30))
        if p["cheek"] > 0.3:  # teeth of a laugh
            teeth = np.concatenate([upper, (upper + [0, 0.45 * open_h])[::-1]])
            draw.polygon(pts(teeth), fill=(240, 238, 230))
        draw.line(pts(upper), fill=look["lips"], width=width(lip), joint="curve")
        draw.line(pts(lower), fill=look["lips"], width=width(lip * 1.3), joint="curve")
    else:
        line = _bezier(left, (cx, mouth_y + 2 * max(0.0, p["curve"])), right)
        draw.line(pts(line), fill=look["lips"], width=width(lip * 1.6), joint="curve")
        draw.line(pts(line), fill=(80, 30, 35), width=width(1.5), joint="curve")
    if p["press"] > 0.05:  # chin bulge of pressed lips
        alpha = int(255 * min(1.0, p["press"]))
        draw.arc(box(cx - 14, mouth_y + 10, cx + 14, mouth_y + 24), 200, 340, fill=shade + (alpha,),
                 width=width(2))

    if covered:  # a hand over the face: no face found, no crop
        draw.rounded_rectangle(box(cx - 0.8 * fw, eye_y - 28, cx + 0.85 * fw, mouth_y + 32),
                               radius=20 * s, fill=look["hand"])
        for k in range(1, 4):
            y = eye_y - 28 + k * (mouth_y + 60 - eye_y) / 4
            draw.line(pts([(cx - 0.8 * fw, y), (cx + 0.5 * fw, y)]), fill=look["shade"], width=width(2))


def _background(rng, width, height):
    """A room-like backdrop: a vertical gradient with a few blurred shapes."""
    top, bottom = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1))
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.1, 0.5) * width, rng.uniform(0.1, 0.6) * height
        # Muted shapes: a busy backdrop that moves with the head would tell the time
        # (and so the labels) to a network trained on a few videos.
        color = tuple(int(c) for c in (top + bottom) / 4 + rng.integers(20, 120, 3))
        draw.rectangle((x0, y0, x0 + w, y0 + h), fill=color)
    return image.filter(ImageFilter.GaussianBlur(3))


# ----------------------------------------------------------------------------------------
# Sound


def _voice(person, frames, fps, sample_rate, rng):
    """A voice-like signal: harmonics of a vibrato pitch, loudness from arousal."""
    n = int(round(frames / fps * sample_rate))
    t = np.arange(n) / sample_rate
    frame_times = np.arange(frames) / fps
    v = np.interp(t, frame_times, person.va[:, 0])
    a = np.interp(t, frame_times, person.va[:, 1])
    look = person.look
    vibrato = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi))
    f0 = look["f0"] * 2 ** (v / 3) * vibrato  # +-4 semitones with valence
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    signal = np.zeros(n)
    tilt = look["tilt"] + 0.5 * (1 - a) / 2  # brighter (more high harmonics) when aroused
    norm = np.zeros(n)
    for k in range(1, 13):
        gain = k ** (-tilt) * (k * f0 < 0.45 * sample_rate)
        signal += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
        norm += gain**2
    signal /= np.sqrt(norm / 2)  # unit RMS whatever the timbre
    syllables = 0.8 + 0.2 * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + rng.uniform(0, 2 * np.pi))
    signal = signal * syllables + 0.05 * rng.standard_normal(n)  # breath
    level_db = -34 + 26 * (a + 1) / 2  # arousal -1..1 -> -34..-8 dB RMS
    return signal * 10 ** (level_db / 20)


def _write_wav(path, signal, sample_rate):
    """Writes 16-bit mono PCM; soundfile writes no variable metadata."""
    import soundfile

    soundfile.write(str(path), np.clip(signal, -1, 1), sample_rate, subtype="PCM_16")


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
    fraction = unannotated_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise InvalidArgumentError(
            "`unannotated_fraction` must be a number in [0, 1). "
            f"Received: unannotated_fraction={unannotated_fraction!r}"
        )
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
