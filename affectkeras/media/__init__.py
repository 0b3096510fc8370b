"""Reading video frames and audio through the ffmpeg binary of `imageio-ffmpeg`.

One time origin for everything: seconds from the start of the file. Video frames come
converted to 30 fps exactly as `ffmpeg -vf fps=30:start_time=0` converts them, each with
the index of the source frame it shows; audio comes as mono float32 at 16 kHz, padded or
trimmed to the video's duration, so that frame `n` and sample `round(n / 30 * 16000)` are
the same instant.

Example:
    >>> from affectkeras import media
    >>> info = media.probe("clip.mp4")
    >>> for frame in media.iter_frames("clip.mp4", size=(320, -1)):
    ...     frame.index, frame.time, frame.source_index, frame.image.shape
    >>> signal = media.read_audio("clip.mp4")  # (round(info.duration * 16000),) float32
    >>> timeline = media.read_timeline("clip.mp4")
    >>> labels_30fps = labels_per_source_frame[timeline.output_to_source()]
"""

from affectkeras.errors import MediaError
from affectkeras.media.audio import SAMPLE_RATE, read_audio
from affectkeras.media.probe import MediaInfo, probe
from affectkeras.media.timeline import FrameTimeline
from affectkeras.media.video import (
    PIXEL_FORMATS,
    VideoFrame,
    iter_frames,
    read_timeline,
    source_frame_times,
)

__all__ = [
    "FrameTimeline",
    "MediaError",
    "MediaInfo",
    "PIXEL_FORMATS",
    "SAMPLE_RATE",
    "VideoFrame",
    "iter_frames",
    "probe",
    "read_audio",
    "read_timeline",
    "source_frame_times",
]
