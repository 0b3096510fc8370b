"""Running the ffmpeg binary: locating it, checking inputs, draining stderr, wording errors.

Everything in `affectkeras.media` goes through the ffmpeg executable shipped by the
`imageio-ffmpeg` wheel (tensorflow-io's video readers do not work on this stack, DESIGN 6).
"""

import atexit
import collections
import errno
import functools
import os
import re
import subprocess
import threading
import weakref

from affectkeras.errors import AffectKerasError, MediaError

# Options every call starts with: no banner, never read the terminal, no progress lines.
BASE_ARGS = ("-hide_banner", "-nostdin", "-nostats")

# ffmpeg prefixes log lines with the emitting context, e.g. "[in#0/mov,mp4 @ 0x55d0] ".
_CONTEXT_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")

# Phrases that mark the line worth quoting when a file cannot be read, best first.
_ERROR_HINTS = (
    "moov atom not found",
    "partial file",
    "invalid data found",
    "no such file",
    "permission denied",
    "matches no streams",
    "does not contain any stream",
    "could not find codec parameters",
    "corrupt",
    "invalid",
    "error",
    "failed",
)

# Lines of ffmpeg's final summary, never the reason of a failure.
_NOISE = ("frame=", "size=", "video:", "Conversion failed", "Press [q]")


@functools.lru_cache(maxsize=None)
def ffmpeg_exe():
    """Returns the path of the ffmpeg executable (imageio-ffmpeg's, or `IMAGEIO_FFMPEG_EXE`).

    Returns:
        str. An executable path.

    Example:
        >>> import subprocess
        >>> subprocess.run([ffmpeg_exe(), "-version"], capture_output=True).returncode
        0
    """
    try:
        import imageio_ffmpeg
    except ImportError as error:  # pragma: no cover - a dependency of the package
        raise AffectKerasError(
            "Reading video and audio needs the ffmpeg binary of `imageio-ffmpeg`: "
            "pip install imageio-ffmpeg"
        ) from error
    return imageio_ffmpeg.get_ffmpeg_exe()


def check_media_path(path):
    """Returns `path` as a string after checking that it names an existing file.

    Args:
        path: str or path-like. A media file.

    Returns:
        str. The path.

    Raises:
        FileNotFoundError: `path` does not exist (the message names it).
        IsADirectoryError: `path` is a folder.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such media file", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Expected a media file, got a folder", path)
    return path


def strip_context(line):
    """Removes ffmpeg's `[ctx @ 0x...]` prefixes from a log line."""
    return _CONTEXT_PREFIX.sub("", line).strip()


def summarize(lines):
    """Returns the one or two lines of an ffmpeg log that say why it failed.

    Args:
        lines: iterable of str. ffmpeg's stderr lines (the last ones suffice).

    Returns:
        str. One line; empty when no line looks like an error.
    """
    cleaned = [strip_context(line) for line in lines]
    cleaned = [line for line in cleaned if line and not line.startswith(_NOISE)]
    picked = []
    for hint in _ERROR_HINTS:
        for line in cleaned:
            if hint in line.lower() and line not in picked:
                picked.append(line)
                break
        if len(picked) == 2:
            break
    return "; ".join(picked)


def media_error(path, what, lines, returncode=None):
    """Builds the `MediaError` for a failed ffmpeg call: file, what failed, ffmpeg's reason."""
    reason = summarize(lines) or "ffmpeg gave no reason"
    code = f" (ffmpeg exit code {returncode})" if returncode else ""
    return MediaError(path, f"{what}: {reason}{code}")


def popen(args, stdout):
    """Starts ffmpeg with `args`, stdin closed, stderr piped (read it with `StderrDrain`).

    `-loglevel info` keeps the `showinfo` filter's lines even where a user's ffmpeg
    configuration lowers the default level.
    """
    proc = subprocess.Popen(
        [ffmpeg_exe(), *BASE_ARGS, "-loglevel", "info", *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
    )
    _STARTED.add(proc)
    return proc


# ffmpeg processes and their stderr readers, for `_end_at_exit`.
_STARTED = weakref.WeakSet()
_DRAINS = weakref.WeakSet()


@atexit.register
def _end_at_exit():
    """Ends the ffmpeg processes that a generator left suspended (`next(iter_frames(...))`)
    while their reader threads can still see the pipe end: Python freezes daemon threads
    after the exit handlers, and closing a pipe that a frozen reader holds aborts the
    interpreter ("could not acquire lock ... at interpreter shutdown")."""
    for proc in list(_STARTED):
        if proc.poll() is None:
            proc.kill()
    for drain in list(_DRAINS):
        drain.join(timeout=5)


def run(args):
    """Runs ffmpeg to completion and returns `(stdout bytes, stderr lines, return code)`.

    `communicate` reads both pipes at once, so a chatty stderr cannot block stdout.

    Args:
        args: list of str. Arguments after the executable (without `BASE_ARGS`).

    Returns:
        tuple `(bytes, list of str, int)`.
    """
    proc = subprocess.Popen(
        [ffmpeg_exe(), *BASE_ARGS, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate()
    return out, err.decode("utf-8", "replace").splitlines(), proc.returncode


class StderrDrain(threading.Thread):
    """Reads a process's stderr on a thread so that ffmpeg never blocks on a full pipe.

    Each line goes to `on_line` (called on this thread); the last `keep` lines that
    `on_line` does not claim (it returns True for the lines it consumed) are kept for
    error messages.

    Args:
        stream: binary file. The process's stderr.
        on_line: callable `str -> bool` or None. Called with every line.
        on_end: callable `() -> None` or None. Called once at end of stream.
        keep: int. How many unclaimed lines to keep.
    """

    def __init__(self, stream, on_line=None, on_end=None, keep=60):
        super().__init__(daemon=True)
        _DRAINS.add(self)
        self._stream = stream
        self._on_line = on_line
        self._on_end = on_end
        self.tail = collections.deque(maxlen=keep)

    def run(self):
        try:
            for raw in self._stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not (self._on_line and self._on_line(line)):
                    self.tail.append(line)
        except (OSError, ValueError):  # the pipe was closed under us: the reader gave up
            pass
        finally:
            if self._on_end:
                self._on_end()
