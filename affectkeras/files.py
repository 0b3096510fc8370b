"""Files and folders that appear whole or not at all: every writer in affectkeras uses these.

Each is written under a hidden temporary name in its own folder and renamed over the final
name once complete (a rename within one file system is atomic), so a reader, a resumed job
or a second run never sees half a file, and an error leaves the previous file untouched.
Where a later run trusts the file's existence (shards and job markers), `fsync=True` also
puts the bytes on disk before the rename makes the file visible.

Temporary names start with "." and contain `TEMP_MARK`; `remove_stale` clears those a
crashed process left behind.
"""

import contextlib
import json
import os
import pathlib
import secrets
import shutil

TEMP_MARK = ".partial"


def _staging_name(path, keep_suffix):
    # Unique per process and call; the suffix is kept where a writer insists on it (Keras
    # saves only to `.keras`), dropped where a glob for the final suffix must not see it.
    tag = f"{os.getpid()}.{secrets.token_hex(4)}{TEMP_MARK}"
    if keep_suffix:
        suffix = keep_suffix if isinstance(keep_suffix, str) else path.suffix
        base = path.name[: -len(suffix)] if suffix and path.name.endswith(suffix) else path.stem
        return path.with_name(f".{base}.{tag}{suffix}")
    return path.with_name(f".{path.name}.{tag}")


def _fsync(path):
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path, *, keep_suffix=True, fsync=False):
    """Yields a temporary path beside `path`; renames it to `path` only if the block completes.

    The writer creates the file itself, so it gets the usual permissions (`mkstemp` would
    make it private to the owner). Whatever the block leaves there on an error is removed.

    Args:
        path: str or Path. The final file; its folder is created.
        keep_suffix: bool or str. End the temporary name with `path`'s suffix (Keras wants
            `.keras`), or with this suffix (`".weights.h5"`); False hides it from globs
            such as `*.tfrecord`.
        fsync: bool. Flush the file to disk before the rename.

    Example:
        >>> with atomic_path("out/clip.csv") as staging:
        ...     write_rows(staging)
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_name(path, keep_suffix)
    try:
        yield str(staging)
        if fsync:
            _fsync(staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def atomic_write(path, data, *, fsync=False):
    """Writes `data` (str or bytes) to `path` atomically; returns `path` as a Path."""
    with atomic_path(path, fsync=fsync) as staging, open(staging, "wb") as file:
        file.write(data.encode("utf-8") if isinstance(data, str) else data)
    return pathlib.Path(path)


def _json_default(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, pathlib.Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_json(path, data, *, indent=2, sort_keys=False, fsync=False):
    """Writes `data` as JSON (numpy values and paths allowed) to `path`, atomically."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=_json_default) + "\n"
    return atomic_write(path, text, fsync=fsync)


@contextlib.contextmanager
def atomic_folder(path, *, overwrite=False):
    """Yields a temporary folder beside `path`; it replaces `path` only if the block completes.

    Args:
        path: str or Path. The final folder; its parent is created.
        overwrite: bool. Replace a folder (or file) already at `path`; without it an
            existing `path` raises `FileExistsError` before anything is written.

    Example:
        >>> with atomic_folder("deploy/saved_model", overwrite=True) as staging:
        ...     archive.write_out(staging)
    """
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_name(path, keep_suffix=False)
    staging.mkdir()
    try:
        yield staging
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale(folder):
    """Removes the temporary files and folders a crashed writer left in `folder`.

    Only safe while no other process writes there (one job per folder at a time).

    Returns:
        int. How many entries were removed.
    """
    removed = 0
    for entry in pathlib.Path(folder).glob(f".*{TEMP_MARK}*"):
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink(missing_ok=True)
        removed += 1
    return removed


__all__ = ["TEMP_MARK", "atomic_folder", "atomic_path", "atomic_write", "remove_stale", "write_json"]
