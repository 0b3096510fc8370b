"""The preprocessing job as an Apache Beam pipeline (install the extra: `pip install affectkeras[beam]`).

The same per-video transform as the local process pool (`preprocess.process_job`), so the
shards are byte for byte the same: Beam only distributes the videos. The pipeline is

    Create(videos still to do) -> Reshuffle -> ParDo(transform one video, write its shard
    under a temporary name, rename, write its done / failed marker)

and the driver then collects the markers into `manifest.json`, as the local job does. A
video is one work item (`_left` / `_right` share one, as they share the video), shards are
written by the workers themselves (never through a shuffle: a 10-minute video is ~150 MB),
and a retried bundle just rewrites the same shard. DirectRunner runs it here; on another
runner `out` must be a folder every worker can write (the local-file writer of
`records.ShardWriter` is used).

Example:
    >>> from affectkeras.data.beam import run_beam
    >>> result = run_beam("Aff-Wild2", "records/train", split="train", workers=2)
"""

import logging

from affectkeras.data import preprocess as _preprocess
from affectkeras.data.preprocess.manifest import build_manifest, record_result
from affectkeras.data.preprocess.runner import _print_progress, start_run
from affectkeras.errors import AffectKerasError


def _beam():
    try:
        import apache_beam
    except ImportError:
        raise AffectKerasError(
            "The Beam pipeline needs Apache Beam: pip install 'affectkeras[beam]' (or apache-beam); "
            "the local job (`affectkeras preprocess --workers N`) needs nothing more"
        ) from None
    return apache_beam


def _transform_fn(beam):
    """The DoFn class, defined once Beam is imported (its base class comes from Beam)."""

    class TransformVideo(beam.DoFn):
        """Runs `process_job` on one `VideoJob` and records each entry's marker."""

        def __init__(self, out, config):
            super().__init__()
            self.out = out
            self.config = config

        def process(self, job):
            for result in _preprocess.process_job(job, self.out, self.config):
                record_result(self.out, result, self.config)
                yield result

    return TransformVideo


def build_pipeline(pipeline, jobs, out, config):
    """Adds the preprocessing transforms to a Beam pipeline.

    Args:
        pipeline: `apache_beam.Pipeline`.
        jobs: list of `preprocess.VideoJob` (from `preprocess.start_run(...).todo`).
        out: str. The records folder.
        config: `preprocess.PreprocessConfig`.

    Returns:
        The `PCollection` of entry results (dicts, as `preprocess.process_job` returns).
    """
    beam = _beam()
    return (
        pipeline
        | "Videos" >> beam.Create(jobs)
        | "Spread" >> beam.Reshuffle()
        | "Transform" >> beam.ParDo(_transform_fn(beam)(str(out), config))
    )


def run_beam(
    root,
    out,
    *,
    split="train",
    tasks=tuple(_preprocess.TASKS),
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
    pipeline_options=None,
    progress=_print_progress,
):
    """Runs the preprocessing job on Apache Beam (DirectRunner unless `pipeline_options` say otherwise).

    Arguments, outputs, restarts and failure handling are those of
    `affectkeras.data.preprocess.run_preprocess`; the shards are identical.

    Args:
        workers: int. DirectRunner workers (`direct_num_workers`; more than 1 runs them as
            processes, `direct_running_mode="multi_processing"`). Ignored when
            `pipeline_options` is given.
        pipeline_options: `apache_beam.options.pipeline_options.PipelineOptions` or None.
        Others: see `run_preprocess`.

    Returns:
        `preprocess.PreprocessResult`.

    Raises:
        AffectKerasError: Apache Beam is not installed.

    Example:
        >>> from apache_beam.options.pipeline_options import PipelineOptions
        >>> run_beam("Aff-Wild2", "records/train", pipeline_options=PipelineOptions(["--runner=DirectRunner"]))
    """
    beam = _beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    config = _preprocess.make_config(
        split=split, tasks=tasks, size=size, faces=faces, audio=audio, audio_dtype=audio_dtype,
        jpeg_quality=jpeg_quality, spectrogram=spectrogram,
    )
    run = start_run(
        root, out, config, annotations=annotations, videos=videos, crops=crops, only=only,
        overwrite=overwrite, progress=progress, workers=workers,
    )
    if run.todo:
        if pipeline_options is None:
            flags = ["--runner=DirectRunner", f"--direct_num_workers={workers}"]
            if workers > 1:
                flags.append("--direct_running_mode=multi_processing")
            pipeline_options = PipelineOptions(flags)
        logging.getLogger("apache_beam").setLevel(logging.WARNING)
        with beam.Pipeline(options=pipeline_options) as pipeline:
            build_pipeline(pipeline, run.todo, str(run.out), config)
        # The workers wrote the markers; report from them (results may live in other processes).
        manifest = build_manifest(run.out, config)["videos"]
        for job in run.todo:
            for name, _, _ in job.entries:
                entry = manifest.get(name) or {
                    "name": name, "status": "failed", "error": "no result (the pipeline lost it)"
                }
                run.finished({"name": name, **entry}, record=name not in manifest)
    return run.finish()


__all__ = ["build_pipeline", "run_beam"]
