"""Markers and manifest: what a records folder holds, and what a restart may skip.

Each finished entry leaves `<out>/<name>.done.json` (with the settings) or
`<out>/<name>.failed.json` (with the error); `build_manifest` collects them into
`<out>/manifest.json`.
"""

import json
import pathlib

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


__all__ = [
    "DONE_SUFFIX",
    "FAILED_SUFFIX",
    "MANIFEST",
    "build_manifest",
    "marker_path",
    "read_manifest",
    "record_result",
]
