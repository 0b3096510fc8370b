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

Command line: `affectkeras preprocess ROOT --out DIR [--workers N] ...` (`affectkeras.cli`).

Data flow of `run_preprocess`, one module a step:

    config.make_config             the settings, checked
    -> runner.start_run            plan.plan: one VideoJob per source video, less the
                                   entries already done (their markers, manifest._is_done)
    -> transform.process_job       per VideoJob, on the local process pool (runner) or
                                   on Beam (`affectkeras.data.beam`): its shards
    -> manifest.record_result      a done / failed marker per entry
    -> manifest.build_manifest     `<out>/manifest.json`; the run's `PreprocessResult`

- `config`: `PreprocessConfig`, `make_config` and their checks; the accepted names.
- `plan`: `VideoJob`, `plan` (annotations, video files and crop folders of a split).
- `transform`: `process_job`, the per-video transform (crops, detection, audio windows, shard).
- `manifest`: the markers, `read_manifest`, `record_result`, `build_manifest`.
- `runner`: `run_preprocess`, the process pool, the bookkeeping of a run (`Run`, `start_run`).
"""

from affectkeras.data.preprocess.config import (
    FACE_SOURCES,
    SPLITS,
    TASKS,
    VIDEO_EXTENSIONS,
    PreprocessConfig,
    make_config,
)
from affectkeras.data.preprocess.manifest import MANIFEST, read_manifest
from affectkeras.data.preprocess.plan import VideoJob, plan
from affectkeras.data.preprocess.runner import PreprocessResult, run_preprocess
from affectkeras.data.preprocess.transform import process_job

__all__ = [
    "FACE_SOURCES",
    "MANIFEST",
    "PreprocessConfig",
    "PreprocessResult",
    "SPLITS",
    "TASKS",
    "VIDEO_EXTENSIONS",
    "VideoJob",
    "make_config",
    "plan",
    "process_job",
    "read_manifest",
    "run_preprocess",
]
