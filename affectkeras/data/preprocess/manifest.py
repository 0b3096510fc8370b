"""Markers and manifest: what a records folder holds, and what a restart may skip.

Each finished entry leaves `<out>/<name>.done.json` (with the settings) or
`<out>/<name>.failed.json` (with the error); `build_manifest` collects them into
`<out>/manifest.json`. A done marker also holds its entry's source fingerprint: a restart
redoes an entry whose video, labels or crops changed since (e.g. another `--data` folder
with videos of the same names).
"""

import dataclasses
import hashlib
import json
import os
import pathlib

import numpy as np

from affectkeras.files import write_json

MANIFEST = "manifest.json"
DONE_SUFFIX = ".done.json"
FAILED_SUFFIX = ".failed.json"


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


def source_fingerprint(video_path, table, crops_dir):
    """str. What one entry's shard is made from: its video file and crop folder (path, size,
    modification time: not their bytes, which would cost a read of the whole database) and
    its labels (`FrameTable`, every value)."""
    digest = hashlib.sha256()
    for path in (video_path, crops_dir):
        if path is not None:
            try:
                stat = os.stat(path)
                digest.update(f"{os.path.realpath(path)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
            except OSError:  # gone: the entry fails when it is processed
                digest.update(f"{path}|missing\n".encode())
    for field in dataclasses.fields(table):
        value = getattr(table, field.name)
        digest.update(field.name.encode())
        digest.update(np.ascontiguousarray(value).tobytes() if isinstance(value, np.ndarray) else repr(value).encode())
    return digest.hexdigest()


def _is_done(out, name, config, source):
    """True: a complete shard made with `config` from `source` (its `source_fingerprint`);
    False: made with other settings; None: not done, or made from other sources."""
    from affectkeras.data.records import RECORD_SUFFIX

    marker = marker_path(out, name)
    if not marker.is_file():
        return None
    entry = json.loads(marker.read_text())
    if entry.get("config") != config.as_dict():
        return False
    if entry.get("source") != source:
        return None
    return True if (pathlib.Path(out) / f"{name}{RECORD_SUFFIX}").is_file() else None


def made_with_other_settings(out, config):
    """bool. Whether `out`'s manifest or a done marker there was written with settings other than `config`'s."""
    out = pathlib.Path(out)
    previous = read_manifest(out)
    if previous is not None and previous.get("config") != config.as_dict():
        return True
    return any(json.loads(marker.read_text()).get("config") != config.as_dict() for marker in out.glob(f"*{DONE_SUFFIX}"))


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
            entry.pop("source", None)
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


__all__ = [
    "DONE_SUFFIX",
    "FAILED_SUFFIX",
    "MANIFEST",
    "build_manifest",
    "made_with_other_settings",
    "marker_path",
    "read_manifest",
    "record_result",
    "source_fingerprint",
]
