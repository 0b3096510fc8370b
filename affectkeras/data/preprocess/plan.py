"""Planning a job: which videos, which files (one `VideoJob` per source video)."""

import dataclasses
import pathlib

from affectkeras.data.preprocess.config import TASKS, VIDEO_EXTENSIONS


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


__all__ = ["plan", "VideoJob"]
