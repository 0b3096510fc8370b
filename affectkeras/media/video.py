"""Video frames through an ffmpeg pipe, converted to 30 fps with a map back to source frames.

ffmpeg decodes the first video stream and writes raw frames at the *source* rate to a pipe,
with a `showinfo` filter as the last step that logs each frame's number, timestamp and size
on stderr. A thread drains stderr into a queue (so neither pipe can block the other); the
generator reads one frame's bytes at a time (bounded memory) and converts to the output
rate with the rule of ffmpeg's `fps` filter (`timeline.RateConverter`). Doing the rate
conversion here rather than in ffmpeg gives, for every output frame, the exact source frame
it came from; the frames are identical to `ffmpeg -vf fps=30:start_time=0`.
"""

import collections
import fractions
import queue
import re
import subprocess
import typing

import numpy as np

from affectkeras.constants import FPS
from affectkeras.errors import InvalidArgumentError, check_choice
from affectkeras.media import _ffmpeg
from affectkeras.media.probe import probe, probe_packets
from affectkeras.media.timeline import (
    NO_TIMESTAMP,
    FrameTimeline,
    RateConverter,
    as_fraction,
    grid_index,
)

PIXEL_FORMATS = {"rgb24": 3, "bgr24": 3, "gray": 1}

_SHOWINFO = re.compile(
    r"\[Parsed_showinfo_\d+ @ [^\]]*\]\s*n:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:\S*"
    r"(?:\s+duration:\s*(\S+))?.*?\ss:(\d+)x(\d+)"
)
_SHOWINFO_TIMEBASE = re.compile(
    r"\[Parsed_showinfo_\d+ @ [^\]]*\]\s*config in time_base:\s*(\d+)/(\d+)"
)


class VideoFrame(typing.NamedTuple):
    """One frame yielded by `iter_frames`.

    Attributes:
        index: int. Output frame index, 0-based.
        time: float. Output time in seconds from the start of the file: `index / fps`
            (the source timestamp when reading at the source rate).
        source_index: int. Index of the decoded source frame shown (0-based).
        source_time: float. Timestamp of that source frame in seconds.
        image: np.ndarray of uint8, `(height, width, 3)` (`(height, width)` for "gray").
            Read-only: a source frame repeated at several output ticks is one array.
    """

    index: int
    time: float
    source_index: int
    source_time: float
    image: np.ndarray


def iter_frames(path, *, fps=FPS, size=None, pixel_format="rgb24", threads=None):
    """Streams the frames of a video, converted to a constant frame rate.

    Output frame `n` is at time `n / fps` from the start of the file (the origin of
    `read_audio` too) and shows the source frame ffmpeg's `fps` filter shows there: a
    video whose first frame comes late starts with copies of it, and the last frame lasts
    until `round(duration * fps)`. Memory holds two frames at a time, whatever the video's
    length. Stopping early kills and reaps the ffmpeg process: `close()` the generator, or
    let it be garbage-collected (as after `break` in `for f in iter_frames(...)`).

    Args:
        path: str or path-like. A video file (any container and codec ffmpeg reads).
        fps: number, Fraction or None. Output frame rate (default 30, as in the papers);
            None yields every decoded source frame at its own timestamp.
        size: tuple `(width, height)` or None. Scales the frames in ffmpeg (area
            averaging), which is much faster than scaling afterwards; one of the two may be
            -1 to keep the aspect ratio. None keeps the source size.
        pixel_format: str. "rgb24" (default), "bgr24" (OpenCV order) or "gray".
        threads: int or None. ffmpeg decoding and filtering threads; None lets ffmpeg pick.

    Returns:
        A generator of `VideoFrame(index, time, source_index, source_time, image)`.

    Raises:
        FileNotFoundError: the file does not exist.
        MediaError: the file is not a readable video (raised by this call), or ffmpeg
            fails while decoding (raised after the frames decoded before the damage).

    Example:
        >>> for frame in iter_frames("clip.mp4", size=(320, -1)):
        ...     detect_faces(frame.image)  # (180, 320, 3) uint8 RGB at 30 fps
    """
    fps = None if fps is None else as_fraction("fps", fps)
    size = _check_size(size)
    check_choice("pixel_format", pixel_format, tuple(PIXEL_FORMATS))
    bad_threads = isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    if threads is not None and bad_threads:
        raise InvalidArgumentError(
            f"`threads` must be None or an int >= 1. Received: threads={threads!r}"
        )
    # Checked here, not at the first `next()`: a bad file fails where the reader is opened.
    info = probe(path)
    filters = []
    if size is not None:
        filters.append(f"scale={size[0]}:{size[1]}:flags=area")
    filters += [f"format={pixel_format}", "showinfo=checksum=0"]
    args = [] if threads is None else ["-threads", str(threads), "-filter_threads", str(threads)]
    args += ["-i", info.path, "-map", "0:V:0", "-an", "-sn", "-dn", "-vf", ",".join(filters)]
    args += ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", pixel_format, "-"]
    frames = _decode(info, args, PIXEL_FORMATS[pixel_format])
    return _source_frames(frames) if fps is None else _convert_rate(frames, fps)


def read_timeline(path, *, fps=FPS, decode=True):
    """Reads a video's source frame timestamps and maps them to `fps`.

    With `decode=True` the timestamps are those of the decoded frames (in the stream's
    own time base; no pixels leave ffmpeg), so the mapping names the very source frames
    `iter_frames` yields, whatever the file. `decode=False` reads the container's packet
    timestamps instead: about 20x faster (no decoding) and identical for ordinary files,
    but a file whose packets do not all decode to frames (damage, edit lists that drop
    frames, field-coded streams) may then disagree with `iter_frames`.

    Args:
        path: str or path-like. A video file.
        fps: number or Fraction. Output frame rate of the mapping.
        decode: bool. Decode the frames (exact) or read packet timestamps (fast).

    Returns:
        `FrameTimeline`.

    Example:
        >>> timeline = read_timeline("clip.mp4")
        >>> labels_30fps = per_source_frame_labels[timeline.output_to_source()]
    """
    fps = as_fraction("fps", fps)
    if not decode:
        info, pts, end_pts = probe_packets(path)
        return FrameTimeline(pts, info.time_base, end_pts, fps)
    info = probe(path)
    args = ["-i", info.path, "-map", "0:V:0", "-an", "-sn", "-dn", "-vf", "showinfo=checksum=0"]
    args += ["-fps_mode", "passthrough", "-f", "null", "-"]
    parser = _ShowinfoParser()
    records = []

    def on_line(line):  # parsed as it comes: a long video's log is never held whole
        record = parser.parse(line)
        if isinstance(record, tuple):
            records.append(record[:3])
        return record is not None

    proc = _ffmpeg.popen(args, stdout=subprocess.DEVNULL)
    drain = _ffmpeg.StderrDrain(proc.stderr, on_line=on_line)
    drain.start()
    code = proc.wait()
    drain.join()
    proc.stderr.close()
    if code != 0 or not records:
        raise _ffmpeg.media_error(info.path, "cannot decode video", drain.tail, code)
    pts = [record[1] for record in records]
    return FrameTimeline(pts, parser.time_base or info.time_base, _end_pts(records), fps)


def source_frame_times(path):
    """Timestamps in seconds (from the start of the file) of every decoded source frame.

    Args:
        path: str or path-like. A video file.

    Returns:
        np.ndarray of float64, `(num_source_frames,)`.

    Example:
        >>> source_frame_times("clip_23.976fps.mp4")[:3]
        array([0.        , 0.04170833, 0.08341667])
    """
    return read_timeline(path).source_times


def _check_size(size):
    if size is None:
        return None
    ok = isinstance(size, (tuple, list)) and len(size) == 2
    ok = ok and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
    ok = ok and all(v > 0 or v == -1 for v in size) and tuple(size) != (-1, -1)
    if not ok:
        raise InvalidArgumentError(
            "`size` must be None or (width, height) with positive ints, one of which may be -1 "
            f"to keep the aspect ratio. Received: size={size!r}"
        )
    return int(size[0]), int(size[1])


class _ShowinfoParser:
    """Parses showinfo's log lines: `(n, pts, duration, width, height)` per frame."""

    def __init__(self):
        self.time_base = None

    def parse(self, line):
        """Returns a frame record, True for another showinfo line, or None for other lines."""
        if "Parsed_showinfo_" not in line:
            return None
        match = _SHOWINFO.search(line)
        if match:
            n, pts, duration, width, height = match.groups()
            pts = int(pts) if pts.lstrip("-").isdigit() else NO_TIMESTAMP
            duration = int(duration) if duration and duration.isdigit() else 0
            return int(n), pts, duration, int(width), int(height)
        match = _SHOWINFO_TIMEBASE.search(line)
        if match and self.time_base is None:
            self.time_base = fractions.Fraction(int(match.group(1)), int(match.group(2)))
        return True


def _end_pts(records):
    """End of the last frame: its pts plus its duration (else the typical frame interval)."""
    pts = [r[1] for r in records if r[1] != NO_TIMESTAMP]
    if not pts:
        return 0
    duration = records[-1][2]
    if duration <= 0:
        steps = np.diff(pts)
        steps = steps[steps > 0]
        duration = int(np.median(steps)) if len(steps) else 0
    return max(pts) + duration


def _decode(info, args, channels):
    """Yields source frames `VideoFrame(j, t_j, j, t_j, image)`; returns the end pts.

    The ffmpeg process is killed and reaped however the generator ends.
    """
    records = queue.SimpleQueue()
    parser = _ShowinfoParser()

    def on_line(line):
        record = parser.parse(line)
        if isinstance(record, tuple):
            records.put(record)
        return record is not None

    proc = _ffmpeg.popen(args, stdout=subprocess.PIPE)
    drain = _ffmpeg.StderrDrain(proc.stderr, on_line=on_line, on_end=lambda: records.put(None))
    drain.start()
    recent = collections.deque(maxlen=16)  # for the end time: last frame's duration or interval
    try:
        while True:
            # showinfo logs a frame before ffmpeg writes it, so its record always comes first.
            record = records.get()
            if record is None:
                break
            n, pts, _, width, height = record
            nbytes = width * height * channels
            data = proc.stdout.read(nbytes)
            if len(data) < nbytes:
                proc.wait()
                drain.join()
                raise _ffmpeg.media_error(
                    info.path, f"ffmpeg stopped inside frame {n}", drain.tail, proc.returncode
                )
            shape = (height, width) if channels == 1 else (height, width, channels)
            image = np.frombuffer(data, np.uint8).reshape(shape)
            time_base = parser.time_base or info.time_base
            time = float(pts * time_base) if pts != NO_TIMESTAMP else float("nan")
            recent.append(record)
            yield VideoFrame(n, time, n, time, image), pts, time_base
        code = proc.wait()
        drain.join()
        if code != 0 or not recent:
            raise _ffmpeg.media_error(info.path, "cannot decode video", drain.tail, code)
        if any("partial file" in line for line in drain.tail):
            raise _ffmpeg.media_error(info.path, "file is truncated", drain.tail)
        return _end_pts(list(recent))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        drain.join()
        proc.stderr.close()


def _source_frames(frames):
    """Yields the decoded source frames as they are (`fps=None`)."""
    try:
        for frame, _, _ in frames:
            yield frame
    finally:
        frames.close()


def _convert_rate(frames, fps):
    """Turns source frames into output frames at `fps` (ffmpeg's `fps` filter rule)."""
    conv = RateConverter()
    previous = None
    time_base = None
    end_pts = None
    try:
        while True:
            frame, pts, time_base = next(frames)
            count = conv.push(grid_index(pts, time_base, fps))
            if previous is not None:
                yield from _repeat(previous, conv.next_index - count, count, fps)
            previous = frame
    except StopIteration as stop:
        end_pts = stop.value
    finally:
        frames.close()
    if previous is not None:
        count = conv.finish(grid_index(end_pts, time_base, fps))
        yield from _repeat(previous, conv.next_index - count, count, fps)


def _repeat(frame, first, count, fps):
    for index in range(first, first + count):
        yield frame._replace(index=index, time=float(index / fps))


__all__ = ["PIXEL_FORMATS", "iter_frames", "read_timeline", "source_frame_times", "VideoFrame"]
