"""Stream information of a media file: duration, size, frame rate, frame count, audio.

The bundled ffmpeg has no ffprobe, and the rounded figures of `ffmpeg -i` ("23.98 fps")
are not exact. `probe` instead lists every packet of the first video and audio stream with
ffmpeg's `framecrc` muxer (`-c copy`: demuxing only, no decoding, milliseconds for a
short clip): its header gives exact time bases, codecs, size and sample rate, its lines the
exact timestamps. Times are seconds from the start of the file (ffmpeg subtracts the
container's start time), the origin that `iter_frames` and `read_audio` use too.
"""

import collections
import dataclasses
import fractions
import functools
import os
import re

from affectkeras.errors import MediaError
from affectkeras.media import _ffmpeg
from affectkeras.media.timeline import STANDARD_RATES

# ffmpeg prints a missing timestamp (AV_NOPTS_VALUE) as INT64_MIN.
_NOPTS = -(2**63)
# Packets the demuxer marks to be dropped after decoding (edit lists): AV_PKT_FLAG_DISCARD.
_FLAG_DISCARD = 0x4

_HEADER = re.compile(r"^#(\w+) (\d+): (.*)$")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_CHANNELS = re.compile(r"(\d+) channels")
# Named channel layouts that do not spell their count as "X.Y".
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6, "octagonal": 8}


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    """What `probe` found in a media file. Times are seconds from the start of the file.

    Attributes:
        path: str. The file.
        duration: float. End of the video stream (its last frame's timestamp plus duration);
            for a file without video, end of the audio stream. `iter_frames` yields
            `round(duration * fps)` frames and `read_audio` returns
            `round(duration * sample_rate)` samples for a video file.
        has_video: bool. Whether the file has a video stream (cover art does not count).
        video_codec: str or None. e.g. `"h264"`, `"hevc"`.
        width: int or None. Width of the decoded (upright) frames.
        height: int or None. Height of the decoded (upright) frames.
        rotation: int. Display rotation in degrees that ffmpeg applies when decoding; width
            and height above already account for it.
        frame_count: int or None. Number of source frames (the container's video packets).
        avg_frame_rate: fractions.Fraction or None. `frame_count` over the video's span.
        r_frame_rate: fractions.Fraction or None. Base rate: the inverse of the most common
            frame interval (equal to `avg_frame_rate` for a constant-rate video).
        is_vfr: bool. Whether the frame intervals vary (variable frame rate).
        video_start: float or None. Timestamp of the first video frame; a video that starts
            after its audio has `video_start > 0` (the first frame then fills that gap).
        time_base: fractions.Fraction or None. The video stream's time base.
        has_audio: bool. Whether the file has an audio stream.
        audio_codec: str or None.
        sample_rate: int or None. Source sample rate in Hz.
        channels: int or None. Source channel count.
        audio_duration: float or None. End of the audio stream.
    """

    path: str
    duration: float
    has_video: bool
    video_codec: str = None
    width: int = None
    height: int = None
    rotation: int = 0
    frame_count: int = None
    avg_frame_rate: fractions.Fraction = None
    r_frame_rate: fractions.Fraction = None
    is_vfr: bool = False
    video_start: float = None
    time_base: fractions.Fraction = None
    has_audio: bool = False
    audio_codec: str = None
    sample_rate: int = None
    channels: int = None
    audio_duration: float = None


def probe(path, *, require_video=True):
    """Reads the stream information of a video (or audio) file.

    Args:
        path: str or path-like. A video file (or, with `require_video=False`, an audio file).
        require_video: bool. Whether a file without a video stream is an error.

    Returns:
        `MediaInfo`.

    Raises:
        FileNotFoundError: the file does not exist.
        MediaError: ffmpeg cannot read the file (corrupt, truncated, empty, not media), or
            it has no video stream while `require_video` is set.

    Example:
        >>> info = probe("clip.mp4")
        >>> info.width, info.height, float(info.avg_frame_rate), info.has_audio
        (640, 360, 23.976023976023978, True)
    """
    return probe_packets(path, require_video=require_video)[0]


def probe_packets(path, *, require_video=True):
    """`probe`, plus the video packets' timestamps: `(MediaInfo, pts, end_pts)`.

    `pts` is the sorted list of video packet timestamps in `MediaInfo.time_base` units and
    `end_pts` the end of the last one (both None without video). For ordinary files they
    are the decoded frames' timestamps; `video.read_timeline(decode=False)` uses them.
    """
    path = _ffmpeg.check_media_path(path)
    stat = os.stat(path)
    if stat.st_size == 0:
        raise MediaError(path, "file is empty (0 bytes)")
    # The predictor probes a video several times in two processes (~0.1 s each, a whole
    # read of the file's packets); the same unchanged file is read once per process.
    info, pts, end_pts, has_video = _read_packets(path, stat.st_size, stat.st_mtime_ns)
    if not has_video and require_video:
        raise MediaError(path, "no video stream" if info.has_audio else "no video or audio stream")
    return info, None if pts is None else list(pts), end_pts


@functools.lru_cache(maxsize=32)
def _read_packets(path, size, mtime_ns):
    """`(MediaInfo, pts tuple or None, end_pts, has video)` of `path` at that size and time."""
    out, lines, code = _ffmpeg.run(
        ["-i", path, "-map", "0:V:0?", "-map", "0:a:0?", "-c", "copy", "-f", "framecrc", "-"]
    )
    if code != 0:
        raise _ffmpeg.media_error(path, "cannot read media", lines, code)
    if any("partial file" in line for line in lines):
        raise _ffmpeg.media_error(path, "file is truncated", lines)
    streams = _parse_framecrc(out.decode("utf-8", "replace"))
    video = next((s for s in streams.values() if s["media_type"] == "video"), None)
    audio = next((s for s in streams.values() if s["media_type"] == "audio"), None)
    if video is not None and not video["pts"]:
        raise _ffmpeg.media_error(path, "video stream has no frames", lines)
    if audio is not None and not audio["pts"]:
        audio = None  # a declared but empty audio track: treat the file as silent
    if video is None and audio is None:
        raise MediaError(path, "no video or audio stream")

    fields = dict(path=path, has_video=video is not None, has_audio=audio is not None)
    if audio is not None:
        fields.update(
            audio_codec=audio.get("codec_id"),
            sample_rate=int(audio["sample_rate"]) if "sample_rate" in audio else None,
            channels=_channel_count(audio.get("channel_layout_name", "")),
            audio_duration=float(_span(audio)[1] * audio["tb"]),
        )
        fields["duration"] = fields["audio_duration"]
    if video is None:
        return MediaInfo(**fields), None, None, False
    fields.update(_video_fields(video, lines))
    return MediaInfo(**fields), tuple(sorted(video["pts"])), _span(video)[1], True


def _parse_framecrc(text):
    """Parses framecrc output into `{stream index: {header fields, tb, pts, dur}}`."""
    streams = collections.defaultdict(lambda: {"pts": [], "dur": [], "media_type": None})
    for line in text.splitlines():
        if line.startswith("#"):
            match = _HEADER.match(line)
            if match:
                key, index, value = match.groups()
                streams[int(index)][key] = value.strip()
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 6:
            continue
        flags = next((p[2:] for p in parts[6:] if p.startswith("F=")), "0x1")
        if int(flags, 16) & _FLAG_DISCARD:
            continue
        dts, pts, duration = int(parts[1]), int(parts[2]), int(parts[3])
        pts = pts if pts != _NOPTS else dts
        if pts == _NOPTS:  # no timestamp at all: nothing to place it with
            continue
        stream = streams[int(parts[0])]
        stream["pts"].append(pts)
        stream["dur"].append(max(duration, 0))
    for stream in streams.values():
        num, _, den = stream.get("tb", "1/1").partition("/")
        stream["tb"] = fractions.Fraction(int(num), int(den or 1))
    return streams


def _typical_interval(pts):
    """Most common positive interval between sorted timestamps (None for one frame)."""
    deltas = [b - a for a, b in zip(pts, pts[1:]) if b > a]
    if not deltas:
        return None
    return collections.Counter(deltas).most_common(1)[0][0]


def _span(stream):
    """Returns `(first pts, end pts)`: the end is the last frame's pts plus its duration."""
    order = sorted(range(len(stream["pts"])), key=stream["pts"].__getitem__)
    last = order[-1]
    last_duration = stream["dur"][last] or _typical_interval(sorted(stream["pts"])) or 0
    return stream["pts"][order[0]], stream["pts"][last] + last_duration


def _video_fields(video, lines):
    tb = video["tb"]
    pts = sorted(video["pts"])
    start, end = _span(video)
    count = len(pts)
    interval = _typical_interval(pts)
    # One tick of slack: rates like 30 fps in a 1/1000 time base alternate 33 and 34 ms.
    slack = max(1, interval // 200) if interval else 0
    is_vfr = interval is not None and any(
        abs((b - a) - interval) > slack for a, b in zip(pts, pts[1:])
    )
    width, height = (int(v) for v in video["dimensions"].split("x"))
    rotation = _rotation(lines)
    if rotation % 180 == 90:  # ffmpeg turns the frames upright when decoding
        width, height = height, width
    return dict(
        duration=float(end * tb),
        video_codec=video.get("codec_id"),
        width=width,
        height=height,
        rotation=rotation,
        frame_count=count,
        avg_frame_rate=fractions.Fraction(count) / ((end - start) * tb) if end > start else None,
        r_frame_rate=_base_rate(pts, interval, slack, tb),
        is_vfr=is_vfr,
        video_start=float(start * tb),
        time_base=tb,
    )


def _base_rate(pts, interval, slack, tb):
    """Inverse of the typical frame interval, snapped to a standard rate within 0.05 %.

    Averaging the intervals near the most common one undoes the rounding of coarse time
    bases (60 fps in milliseconds is 16, 17, 17, ...); the snap gives 60 instead of 59.9988.
    """
    if not interval:
        return None
    near = [b - a for a, b in zip(pts, pts[1:]) if abs((b - a) - interval) <= slack]
    rate = len(near) / (sum(near) * tb)
    nearest = min(STANDARD_RATES, key=lambda standard: abs(rate - standard))
    if abs(rate - nearest) <= nearest / 2000:  # NTSC and integer rates differ by 1/1001
        return nearest
    return 1 / (interval * tb)


def _rotation(lines):
    """Display rotation of the first video stream, from ffmpeg's `displaymatrix` side data."""
    for line in lines:
        match = _ROTATION.search(line)
        if match:
            return int(round(float(match.group(1)))) % 360
    return 0


def _channel_count(layout):
    """Channel count of an ffmpeg layout name: "mono", "stereo", "5.1(side)", "3 channels"."""
    layout = layout.strip()
    if layout in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[layout]
    match = _CHANNELS.search(layout)
    if match:
        return int(match.group(1))
    match = re.match(r"(\d+)\.(\d+)", layout)
    if match:
        return int(match.group(1)) + int(match.group(2))
    return None


__all__ = ["MediaInfo", "probe", "probe_packets"]
